//! `dream train`: the reference DREAM Trainer (ARCHITECTURE.md §4) with checkpoints and resume.
//!
//! Determinism: the shuffle of epoch `e` is seeded by `(seed, e)` and the backend RNG (dropout) is
//! re-seeded before every step with `(seed, step)`, so a run resumed from a checkpoint replays
//! exactly what an uninterrupted run does (CPU backend). Checkpoints are written to a temporary
//! directory and renamed into place, so a kill never leaves a half-written one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::module::{AutodiffModule, Module};
use burn::optim::{adaptor::OptimizerAdaptor, GradientsParams, Optimizer};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use indicatif::{ProgressBar, ProgressStyle};
use prixfixe::blocks::FinalBlock;
use prixfixe::metrics::{mse, pearson, spearman};
use prixfixe::model::{ModelPreset, PrixFixeNet};
use prixfixe::training::{kl_loss, CyclicAdamW, OneCycle, SharedBeta1, Shuffler, TrainingSet};
use prixfixe::weights::Precision;
use prixfixe::DataProcessor;
use serde::{Deserialize, Serialize};

use crate::model_io::{RunConfig, BEST_WEIGHTS, RUN_CONFIG};
use crate::DeviceKind;

/// Arguments of `dream train`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct TrainArgs {
    /// dream-cnn, dream-rnn or dream-attn.
    #[arg(long, value_parser = crate::parse_preset)]
    pub model: ModelPreset,
    /// Training data: sequence<TAB>expression per line (DREAM format); .gz accepted.
    #[arg(long)]
    pub train: PathBuf,
    /// Validation data (same format). Default: a random --val-fraction of --train.
    #[arg(long)]
    pub val: Option<PathBuf>,
    /// Fraction of --train held out for validation when --val is not given.
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Output directory (config, metrics.csv, curves.svg, model_best.safetensors, checkpoint/).
    #[arg(long)]
    pub out: PathBuf,
    /// Epochs (reference: 80).
    #[arg(long, default_value_t = 80)]
    pub epochs: usize,
    /// Batch size (reference: 1024).
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,
    /// OneCycle peak learning rate (default: 0.005; 0.001 for dream-attn).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Cap on optimizer steps per epoch (default: all batches of the RC-doubled set).
    #[arg(long)]
    pub steps_per_epoch: Option<usize>,
    /// Seed for the validation split, shuffling and dropout.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// cpu, cuda or wgpu.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceKind,
    /// Continue from OUT/checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Load and check the data, print row counts, load time and peak memory, then stop (writes nothing).
    #[arg(long)]
    #[serde(default)]
    pub dry_run: bool,
    /// Stop as if interrupted after this many optimizer steps of this invocation (testing).
    #[arg(long, hide = true)]
    pub stop_after_steps: Option<usize>,
}

/// JSON has no NaN: serde_json writes it as `null`; read `null` back as NaN.
fn nan_from_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// One row of metrics.csv.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub steps: usize,
    #[serde(deserialize_with = "nan_from_null")]
    pub train_kl: f64,
    #[serde(deserialize_with = "nan_from_null")]
    pub val_pearson_r: f64,
    #[serde(deserialize_with = "nan_from_null")]
    pub val_spearman_rho: f64,
    #[serde(deserialize_with = "nan_from_null")]
    pub val_mse: f64,
    #[serde(deserialize_with = "nan_from_null")]
    pub seconds: f64,
}

/// Where training stands; saved with every checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
struct TrainState {
    epoch: usize,
    step_in_epoch: usize,
    global_step: usize,
    loss_sum: f64,
    loss_count: usize,
    epoch_seconds: f64,
    best_val_r: Option<f64>,
    history: Vec<EpochMetrics>,
}

fn mix(a: u64, b: u64) -> u64 {
    a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_add(0xD1B5_4A32_D192_ED03).rotate_left(17)
}

/// Entry point of `dream train`.
pub fn run(args: TrainArgs) -> Result<()> {
    match args.device {
        DeviceKind::Cpu => train::<burn::backend::Autodiff<burn::backend::Flex>>(args, Default::default()),
        DeviceKind::Cuda => {
            #[cfg(feature = "cuda")]
            {
                let device = burn::backend::cuda::CudaDevice::default();
                return std::panic::catch_unwind(|| train::<burn::backend::Autodiff<burn::backend::Cuda>>(args, device))
                    .unwrap_or_else(|_| bail!("CUDA could not be initialised: is an NVIDIA GPU with its driver (libcuda) present?"));
            }
            #[cfg(not(feature = "cuda"))]
            bail!("this `dream` was built without CUDA support; rebuild with `cargo build --release -p dream-trainer --features cuda`")
        }
        DeviceKind::Wgpu => {
            #[cfg(feature = "wgpu")]
            {
                return train::<burn::backend::Autodiff<burn::backend::Wgpu>>(args, Default::default());
            }
            #[cfg(not(feature = "wgpu"))]
            bail!("this `dream` was built without wgpu support; rebuild with `--features wgpu`")
        }
    }
}

/// Peak resident set size of this process (Linux `VmHWM`), in bytes.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// "the last good checkpoint is …" or "no checkpoint was saved yet", for error messages.
fn last_good(out: &Path) -> String {
    let dir = out.join("checkpoint");
    if dir.is_dir() {
        format!("the last good checkpoint is {}", dir.display())
    } else {
        "no checkpoint was saved yet".to_string()
    }
}

/// Streams a `sequence<TAB>expression` file (gzip or not) straight into packed windows: no
/// per-row `String` is kept, so the 6.7 M-row challenge file stays within the packed size.
fn load_table(path: &Path, processor: &DataProcessor) -> Result<TrainingSet> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).with_context(|| format!("reading {name}"))?;
    let reader = prixfixe::seqio::open_maybe_gz_read(file).with_context(|| format!("reading {name}"))?;
    let mut set = TrainingSet::new(processor.seq_len());
    let (mut out_of_range, mut first_out) = (0usize, 0usize);
    prixfixe::seqio::for_each_expression_row_at(&name, reader, |line, seq, e| {
        if !(0.0..=17.0).contains(&e) {
            out_of_range += 1;
            if first_out == 0 {
                first_out = line;
            }
        }
        let padded = processor
            .pad(seq)
            .map_err(|err| prixfixe::seqio::InputError::from_sequence_error(&name, line, 0, None, err))?;
        set.push(&padded, e);
        Ok(())
    })?;
    if out_of_range > 0 {
        eprintln!(
            "warning: {name}: {out_of_range} expression values lie outside 0-17 (first at line {first_out}); the 18-bin soft targets \
             (DREAM scale) clip them to the end bins. Rescale your measurements to 0-17 to use the whole output range."
        );
    }
    Ok(set)
}

fn validate<B: Backend>(
    model: &PrixFixeNet<B>,
    val: &TrainingSet,
    processor: &DataProcessor,
    device: &B::Device,
) -> (f64, f64, f64) {
    // Reference Trainer.validate(): both strands scored separately, true singleton flags.
    let samples: Vec<usize> = (0..val.doubled_len()).collect();
    let mut preds = Vec::with_capacity(samples.len());
    let mut truth = Vec::with_capacity(samples.len());
    for chunk in samples.chunks(512) {
        let (x, _, e) = val.batch::<B>(processor, chunk, device);
        let p = FinalBlock::expectation(FinalBlock::probs(model.forward_logits(x)));
        let data = p.into_data().convert::<f32>();
        preds.extend(data.as_slice::<f32>().expect("f32").iter().map(|&v| v as f64));
        truth.extend(e.iter().map(|&v| v as f64));
    }
    (
        pearson(&preds, &truth).unwrap_or(f64::NAN),
        spearman(&preds, &truth).unwrap_or(f64::NAN),
        mse(&preds, &truth).unwrap_or(f64::NAN),
    )
}

fn write_metrics(out: &Path, history: &[EpochMetrics]) -> Result<()> {
    // Wall time goes to its own file so that metrics.csv of a resumed run equals an uninterrupted one.
    let mut csv = String::from("epoch,steps,train_kl,val_pearson_r,val_spearman_rho,val_mse\n");
    let mut timing = String::from("epoch,seconds\n");
    for m in history {
        csv.push_str(&format!(
            "{},{},{:.6},{:.6},{:.6},{:.6}\n",
            m.epoch, m.steps, m.train_kl, m.val_pearson_r, m.val_spearman_rho, m.val_mse
        ));
        timing.push_str(&format!("{},{:.1}\n", m.epoch, m.seconds));
    }
    write_atomic(&out.join("metrics.csv"), csv.as_bytes())?;
    write_atomic(&out.join("timing.csv"), timing.as_bytes())?;
    plot_curves(&out.join("curves.svg"), history)
}

fn plot_curves(path: &Path, history: &[EpochMetrics]) -> Result<()> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (900, 380)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(450);
    let n = history.len().max(1) as f64;
    let kl_max = history.iter().map(|m| m.train_kl).fold(0.0, f64::max).max(1e-3) * 1.1;
    let mut c = ChartBuilder::on(&left)
        .caption("training KL divergence", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(0.5..n + 0.5, 0.0..kl_max)?;
    c.configure_mesh().x_desc("epoch").draw()?;
    c.draw_series(LineSeries::new(history.iter().map(|m| (m.epoch as f64, m.train_kl)), &RED))?;
    // Markers too, so that a one-epoch run shows its point.
    c.draw_series(history.iter().map(|m| Circle::new((m.epoch as f64, m.train_kl), 3, RED.filled())))?;
    let lowest = history
        .iter()
        .flat_map(|m| [m.val_pearson_r, m.val_spearman_rho])
        .filter(|v| v.is_finite())
        .fold(0.0, f64::min);
    let mut c = ChartBuilder::on(&right)
        .caption("validation (RC-doubled)", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(0.5..n + 0.5, (lowest * 1.1).max(-1.0)..1.0)?;
    c.configure_mesh().x_desc("epoch").draw()?;
    c.draw_series(LineSeries::new(history.iter().map(|m| (m.epoch as f64, m.val_pearson_r)), &BLUE))?
        .label("Pearson r")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], BLUE));
    c.draw_series(LineSeries::new(history.iter().map(|m| (m.epoch as f64, m.val_spearman_rho)), &GREEN))?
        .label("Spearman ρ")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], GREEN));
    c.draw_series(history.iter().filter(|m| m.val_pearson_r.is_finite()).map(|m| Circle::new((m.epoch as f64, m.val_pearson_r), 3, BLUE.filled())))?;
    c.draw_series(history.iter().filter(|m| m.val_spearman_rho.is_finite()).map(|m| Circle::new((m.epoch as f64, m.val_spearman_rho), 3, GREEN.filled())))?;
    c.configure_series_labels().border_style(BLACK).position(SeriesLabelPosition::LowerRight).draw()?;
    root.present()?;
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file next to it (unique name) and a rename, so
/// a reader never sees a half-written file and no other file is touched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

type Optim<B> = OptimizerAdaptor<CyclicAdamW, PrixFixeNet<B>, B>;

fn save_checkpoint<B: AutodiffBackend>(out: &Path, model: &PrixFixeNet<B>, optim: &Optim<B>, state: &TrainState) -> Result<()> {
    let dir = out.join("checkpoint");
    let tmp = out.join("checkpoint.tmp");
    let old = out.join("checkpoint.old");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let rec = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    rec.record(model.clone().into_record(), tmp.join("model")).context("saving model checkpoint")?;
    rec.record(optim.to_record(), tmp.join("optimizer")).context("saving optimizer checkpoint")?;
    std::fs::write(tmp.join("state.json"), serde_json::to_vec_pretty(state)?)?;
    let _ = std::fs::remove_dir_all(&old);
    if dir.exists() {
        std::fs::rename(&dir, &old)?;
    }
    std::fs::rename(&tmp, &dir)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

fn load_checkpoint<B: AutodiffBackend>(
    out: &Path,
    model: PrixFixeNet<B>,
    optim: Optim<B>,
    device: &B::Device,
) -> Result<(PrixFixeNet<B>, Optim<B>, TrainState)> {
    let mut dir = out.join("checkpoint");
    if !dir.is_dir() && out.join("checkpoint.old").is_dir() {
        dir = out.join("checkpoint.old"); // killed between the two renames
    }
    if !dir.is_dir() {
        bail!("--resume: no checkpoint in {}", out.display());
    }
    let rec = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    let model = model.load_record(rec.load(dir.join("model"), device).context("loading model checkpoint")?);
    let optim = optim.load_record(rec.load(dir.join("optimizer"), device).context("loading optimizer checkpoint")?);
    let state_path = dir.join("state.json");
    let state: TrainState = serde_json::from_slice(&std::fs::read(&state_path)?)
        .with_context(|| format!("{}: unreadable training state", state_path.display()))?;
    Ok((model, optim, state))
}

fn train<B: AutodiffBackend>(args: TrainArgs, device: B::Device) -> Result<()> {
    let processor = DataProcessor::dream();
    let config = args.model.config();
    if args.batch_size == 0 || args.epochs == 0 || args.steps_per_epoch == Some(0) {
        bail!("--batch-size, --epochs and --steps-per-epoch must be positive");
    }
    if let Some(lr) = args.lr {
        if !(lr.is_finite() && lr > 0.0) {
            bail!("--lr must be a positive number (got {lr})");
        }
    }
    let cfg_path = args.out.join(RUN_CONFIG);
    if args.resume {
        let saved: RunConfig = serde_json::from_slice(
            &std::fs::read(&cfg_path).with_context(|| format!("--resume: no run in {}", args.out.display()))?,
        )
        .with_context(|| format!("{}: unreadable run config", cfg_path.display()))?;
        let before: TrainArgs = serde_json::from_value(saved.training["args"].clone())
            .with_context(|| format!("{}: no training arguments recorded", cfg_path.display()))?;
        let same = before.model == args.model
            && before.train == args.train
            && before.val == args.val
            && before.val_fraction == args.val_fraction
            && before.epochs == args.epochs
            && before.batch_size == args.batch_size
            && before.lr == args.lr
            && before.steps_per_epoch == args.steps_per_epoch
            && before.seed == args.seed;
        if !same {
            bail!(
                "--resume: {} was trained with different settings ({}); resume with the same --model, --train, --val, --val-fraction, --epochs, --batch-size, --lr, --steps-per-epoch and --seed, or use a new --out",
                args.out.display(),
                serde_json::to_string(&saved.training["args"]).unwrap_or_default()
            );
        }
    } else if !args.dry_run && (args.out.join("checkpoint").exists() || cfg_path.exists()) {
        bail!(
            "{} already holds a training run; continue it with --resume or choose another --out (nothing was overwritten)",
            args.out.display()
        );
    }
    let t_load = Instant::now();
    let all = load_table(&args.train, &processor)?;
    let (train_set, val_set) = match &args.val {
        Some(v) => (all, load_table(v, &processor)?),
        None => {
            if !(0.0..1.0).contains(&args.val_fraction) || args.val_fraction == 0.0 {
                bail!("--val-fraction must be in (0, 1) when --val is not given");
            }
            let n_val = ((all.len() as f64) * args.val_fraction).round().max(1.0) as usize;
            let perm = Shuffler::new(mix(args.seed, u64::MAX)).permutation(all.len());
            all.split(&perm[..n_val])
        }
    };
    if train_set.is_empty() || val_set.len() < 2 {
        bail!("need training rows and at least 2 validation rows (got {} and {})", train_set.len(), val_set.len());
    }
    eprintln!(
        "{}: {} training rows ({} samples with reverse complements), {} validation rows; loaded in {:.1} s",
        args.model.display_name(),
        train_set.len(),
        train_set.doubled_len(),
        val_set.len(),
        t_load.elapsed().as_secs_f64()
    );
    if args.dry_run {
        let packed = train_set.heap_bytes() + val_set.heap_bytes();
        eprintln!("dry run: data held in memory {:.1} MB (packed 4-bit windows)", packed as f64 / 1e6);
        match peak_rss_bytes() {
            Some(b) => eprintln!("dry run: peak resident memory {:.1} MB", b as f64 / 1e6),
            None => eprintln!("dry run: peak resident memory not available on this system"),
        }
        return Ok(());
    }

    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let run_cfg = RunConfig {
        preset: Some(args.model),
        model: config.clone(),
        training: serde_json::json!({ "args": args, "train_rows": train_set.len(), "val_rows": val_set.len() }),
    };
    write_atomic(&args.out.join(RUN_CONFIG), &serde_json::to_vec_pretty(&run_cfg)?)?;

    let n = train_set.doubled_len();
    let full_steps = n.div_ceil(args.batch_size);
    let steps_per_epoch = args.steps_per_epoch.map_or(full_steps, |s| s.clamp(1, full_steps));
    let schedule = OneCycle::new(args.lr.unwrap_or(args.model.max_lr()), args.epochs * steps_per_epoch);
    let beta1 = SharedBeta1::new(schedule.at(0).1 as f32);

    B::seed(&device, args.seed);
    let mut model = config.init::<B>(&device)?;
    let mut optim: Optim<B> = OptimizerAdaptor::from(CyclicAdamW::reference(beta1.clone()));
    let mut state = TrainState::default();
    if args.resume {
        (model, optim, state) = load_checkpoint(&args.out, model, optim, &device)?;
        eprintln!("resuming at epoch {}, step {}", state.epoch + 1, state.step_in_epoch);
    }

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || {
            eprintln!("\ninterrupt: finishing this step and saving a checkpoint (press again to abort)");
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    }

    let mut steps_this_run = 0usize;
    while state.epoch < args.epochs {
        let epoch = state.epoch;
        let perm = Shuffler::new(mix(args.seed, epoch as u64)).permutation(n);
        let pb = ProgressBar::new((steps_per_epoch * args.batch_size).min(n) as u64);
        pb.set_style(
            ProgressStyle::with_template("epoch {msg} [{bar:30}] {pos}/{len} seq  {per_sec}  ETA {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        pb.set_message(format!("{}/{}", epoch + 1, args.epochs));
        pb.set_position((state.step_in_epoch * args.batch_size).min(n) as u64);
        let t_epoch = Instant::now();
        while state.step_in_epoch < steps_per_epoch {
            if stop.load(Ordering::SeqCst) || args.stop_after_steps.is_some_and(|m| steps_this_run >= m) {
                state.epoch_seconds += t_epoch.elapsed().as_secs_f64();
                save_checkpoint(&args.out, &model, &optim, &state)?;
                pb.abandon();
                eprintln!("checkpoint saved in {}; continue with --resume", args.out.join("checkpoint").display());
                return Ok(());
            }
            let s = state.step_in_epoch;
            let idx = &perm[s * args.batch_size..((s + 1) * args.batch_size).min(n)];
            B::seed(&device, mix(args.seed, 1_000_000 + state.global_step as u64));
            let (x, y, _) = train_set.batch::<B>(&processor, idx, &device);
            let loss = kl_loss(model.forward_logits(x), y);
            let value = loss.clone().into_data().convert::<f64>().to_vec::<f64>().map_err(|e| anyhow::anyhow!("reading the loss: {e:?}"))?[0];
            if !value.is_finite() {
                pb.abandon();
                bail!(
                    "the training loss became {value} at epoch {}, step {}; stopping: {}; model_best.safetensors is untouched. Try a lower --lr.",
                    epoch + 1,
                    s + 1,
                    last_good(&args.out)
                );
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let (lr, b1) = schedule.at(state.global_step);
            beta1.set(b1 as f32);
            model = optim.step(lr, model, grads);
            state.loss_sum += value;
            state.loss_count += 1;
            state.global_step += 1;
            state.step_in_epoch += 1;
            steps_this_run += 1;
            pb.inc(idx.len() as u64);
        }
        pb.finish_and_clear();
        let valid = model.valid();
        let (r, rho, err) = validate(&valid, &val_set, &processor, &device);
        state.epoch_seconds += t_epoch.elapsed().as_secs_f64();
        let row = EpochMetrics {
            epoch: epoch + 1,
            steps: state.step_in_epoch,
            train_kl: state.loss_sum / state.loss_count.max(1) as f64,
            val_pearson_r: r,
            val_spearman_rho: rho,
            val_mse: err,
            seconds: state.epoch_seconds,
        };
        eprintln!(
            "epoch {}/{}: train KL {:.4}, val Pearson r {:.4}, Spearman ρ {:.4}, MSE {:.3} ({:.0} s)",
            row.epoch, args.epochs, row.train_kl, r, rho, err, row.seconds
        );
        if err.is_nan() {
            bail!(
                "validation predictions are not finite after epoch {} (the model diverged); stopping: {}; model_best.safetensors is untouched. Try a lower --lr.",
                epoch + 1,
                last_good(&args.out)
            );
        }
        if r.is_nan() {
            eprintln!("warning: validation Pearson r is undefined (constant predictions or labels); this epoch cannot become the best model");
        }
        if r.is_finite() && state.best_val_r.is_none_or(|b| r > b) {
            state.best_val_r = Some(r);
            let bytes = valid.to_torch_safetensors(Precision::F32, None)?;
            write_atomic(&args.out.join(BEST_WEIGHTS), &bytes)?;
        }
        state.history.push(row);
        state.epoch += 1;
        state.step_in_epoch = 0;
        state.loss_sum = 0.0;
        state.loss_count = 0;
        state.epoch_seconds = 0.0;
        write_metrics(&args.out, &state.history)?;
        save_checkpoint(&args.out, &model, &optim, &state)?;
    }
    eprintln!(
        "done: best validation Pearson r {:.4}; weights in {}",
        state.best_val_r.unwrap_or(f64::NAN),
        args.out.join(BEST_WEIGHTS).display()
    );
    Ok(())
}
