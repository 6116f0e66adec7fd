//! `dream train`: the reference DREAM Trainer (ARCHITECTURE.md §4) with checkpoints and resume.
//!
//! Determinism: the shuffle of epoch `e` is seeded by `(seed, e)` and the dropout stream
//! (`prixfixe::nn::seed_dropout`, drawn on the host) is re-seeded before every step with
//! `(seed, step)`, so a run resumed from a checkpoint replays exactly what an uninterrupted run
//! does. The initial weights are drawn on the CPU and moved to the device, so a run from the same
//! seed starts from the same weights and drops the same units on every device (CPU, CUDA, wgpu;
//! `trainer/tests/wgpu.rs` checks wgpu against the CPU). Checkpoints are written to a temporary
//! directory and renamed into place, so a kill never leaves a half-written one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::module::{AutodiffModule, Module};
use burn::optim::{adaptor::OptimizerAdaptor, GradientsParams, Optimizer};
use burn::record::{BinBytesRecorder, FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use indicatif::{ProgressBar, ProgressStyle};
use prixfixe::dataset::{Dataset, LabelledTable, Loss, Selection, SplitRole};
use prixfixe::metrics::{mse, pearson, spearman};
use prixfixe::model::{ModelPreset, PrixFixeNet};
use prixfixe::blocks::BlockLoss;
use prixfixe::combination::{Combination, Team, Wiring};
use prixfixe::trainer::{fold_target_scale, Recipe};
use prixfixe::training::{CyclicAdamW, SharedBeta1, Shuffler, TrainingSet};
use prixfixe::weights::Precision;
use prixfixe::DataProcessor;
use serde::{Deserialize, Serialize};

use crate::model_io::{RunConfig, BEST_WEIGHTS, RUN_CONFIG};
use crate::DeviceKind;

fn default_dataset() -> String {
    "dream-yeast".into()
}

/// Arguments of `dream train`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
#[command(group(clap::ArgGroup::new("architecture").required(true).args(["model", "combo", "first"])))]
pub struct TrainArgs {
    /// dream-cnn, dream-rnn or dream-attn (= --combo 0_1_0_0, 0_1_1_0, 0_0_2_0).
    #[arg(long, value_parser = crate::parse_preset)]
    pub model: Option<ModelPreset>,
    /// A Prix Fixe combination: DP/Trainer_First_Core_Final, each 0 (autosome), 1 (BHI) or
    /// 2 (UnlockDNA), e.g. 0_1_1_0 (= DREAM-RNN); `dream combos` lists the 45 compatible ones.
    #[arg(long)]
    #[serde(default)]
    pub combo: Option<String>,
    /// The combination by name: DataProcessor + Trainer (with --first, --core, --final):
    /// autosome, bhi or unlockdna.
    #[arg(long, default_value = "autosome", requires_all = ["first", "core", "final_block"])]
    #[serde(default)]
    pub recipe: Option<String>,
    /// First Layers Block: autosome, bhi or unlockdna.
    #[arg(long, requires_all = ["core", "final_block"])]
    #[serde(default)]
    pub first: Option<String>,
    /// Core Layers Block: autosome, bhi or unlockdna.
    #[arg(long, requires = "first")]
    #[serde(default)]
    pub core: Option<String>,
    /// Final Layers Block: autosome, bhi or unlockdna.
    #[arg(long = "final", requires = "first")]
    #[serde(default)]
    pub final_block: Option<String>,
    /// The dataset: dream-yeast (default; sequence<TAB>expression, DREAM challenge format),
    /// deepstarr (Drosophila STARR-seq), lentimpra (human lentiMPRA), or a dataset description
    /// file (JSON; see README "Your own data").
    #[arg(long, default_value = "dream-yeast")]
    #[serde(default = "default_dataset")]
    pub dataset: String,
    /// Training data in the dataset's format; .gz accepted.
    #[arg(long)]
    pub train: PathBuf,
    /// Validation data (same format). Default: the dataset's split column if it marks
    /// validation rows, else a random --val-fraction of --train (both orientations of a
    /// sequence kept together).
    #[arg(long)]
    pub val: Option<PathBuf>,
    /// Fraction of --train held out for validation when --val is not given.
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Output directory (config, metrics.csv, curves.svg, model_best.safetensors, checkpoint/).
    #[arg(long)]
    pub out: PathBuf,
    /// Epochs (default: the dataset's reference setting; dream-yeast 80, deepstarr and
    /// lentimpra 5).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Batch size (default: the dataset's; dream-yeast 1024, deepstarr and lentimpra 32).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate: the autosome Trainer's OneCycle peak (default: the dataset's; 0.005, or
    /// 0.001 with the UnlockDNA Core), the BHI Trainer's AdamW rate (0.0015) or the UnlockDNA
    /// Trainer's rate of step 0 (0.001; then the warm-up formula).
    #[arg(long)]
    pub lr: Option<f64>,
    /// UnlockDNA Trainer: warm-up steps of its inverse-square-root schedule (default 12,500,
    /// the original's; the rate peaks there at 512^-0.5 · warmup^-0.5).
    #[arg(long)]
    #[serde(default)]
    pub warmup_steps: Option<usize>,
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
    /// Skip rows whose target is missing or not a number (their count is reported) instead of
    /// stopping at the first.
    #[arg(long)]
    #[serde(default)]
    pub skip_missing_targets: bool,
    /// Stop as if interrupted after this many optimizer steps of this invocation (testing).
    #[arg(long, hide = true)]
    pub stop_after_steps: Option<usize>,
}

/// JSON has no NaN: serde_json writes it as `null`; read `null` back as NaN.
fn nan_from_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Validation metrics of one task.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskMetrics {
    pub name: String,
    #[serde(deserialize_with = "nan_from_null")]
    pub pearson_r: f64,
    #[serde(deserialize_with = "nan_from_null")]
    pub spearman_rho: f64,
    #[serde(deserialize_with = "nan_from_null")]
    pub mse: f64,
}

/// Pearson r, Spearman ρ and MSE per task of predictions and truth, both row-major
/// `(samples, tasks)`.
pub fn task_metrics(preds: &[f64], truth: &[f64], names: &[String]) -> Vec<TaskMetrics> {
    let t = names.len();
    names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let p: Vec<f64> = preds.iter().skip(k).step_by(t).copied().collect();
            let y: Vec<f64> = truth.iter().skip(k).step_by(t).copied().collect();
            TaskMetrics {
                name: name.clone(),
                pearson_r: pearson(&p, &y).unwrap_or(f64::NAN),
                spearman_rho: spearman(&p, &y).unwrap_or(f64::NAN),
                mse: mse(&p, &y).unwrap_or(f64::NAN),
            }
        })
        .collect()
}

/// One row of metrics.csv. `train_kl` is the epoch's mean training loss (KL for soft bins, the
/// summed per-task MSE otherwise); the `val_*` values are means over the tasks.
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
    /// Per task (one entry per dataset target).
    #[serde(default)]
    pub tasks: Vec<TaskMetrics>,
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
    #[serde(default)]
    best_val_mse: Option<f64>,
    history: Vec<EpochMetrics>,
}

fn mix(a: u64, b: u64) -> u64 {
    a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_add(0xD1B5_4A32_D192_ED03).rotate_left(17)
}

/// Runs `job` on the autodiff backend of `device` (CPU, CUDA or wgpu).
pub fn on_device<T>(device: DeviceKind, job: impl TrainJob<Output = T>) -> Result<T> {
    match device {
        DeviceKind::Cpu => job.run::<burn::backend::Autodiff<burn::backend::Flex>>(Default::default()),
        DeviceKind::Cuda => {
            #[cfg(feature = "cuda")]
            {
                let device = burn::backend::cuda::CudaDevice::default();
                return std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run::<burn::backend::Autodiff<burn::backend::Cuda>>(device)))
                    .unwrap_or_else(|_| bail!("CUDA could not be initialised: is an NVIDIA GPU with its driver (libcuda) present?"));
            }
            #[cfg(not(feature = "cuda"))]
            {
                let _ = job;
                bail!("this `dream` was built without CUDA support; rebuild with `cargo build --release -p dream-trainer --features cuda`")
            }
        }
        DeviceKind::Wgpu => {
            #[cfg(feature = "wgpu")]
            {
                return job.run::<burn::backend::Autodiff<burn::backend::Wgpu>>(wgpu_device()?);
            }
            #[cfg(not(feature = "wgpu"))]
            {
                let _ = job;
                bail!("this `dream` was built without wgpu support; rebuild with `cargo build --release -p dream-trainer --features wgpu`")
            }
        }
    }
}

/// The default wgpu device, opened once here so that a machine without a usable adapter gets an
/// error instead of a panic later (burn-wgpu panics when it finds no adapter). On Linux wgpu uses
/// Vulkan: a GPU's driver, or Mesa's software driver lavapipe (`mesa-vulkan-drivers`) on the CPU.
///
/// # Errors
/// No adapter could be opened (the message says what wgpu reported).
#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<burn::backend::wgpu::WgpuDevice> {
    let device = burn::backend::wgpu::WgpuDevice::default();
    // Silence the panic messages while probing (burn-wgpu's device thread panics first, then the
    // caller); the error below gives the first one, once.
    let first = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let seen = first.clone();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let text = payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned());
        if let Ok(mut slot) = seen.lock() {
            slot.get_or_insert_with(|| text.unwrap_or_else(|| "unknown error".into()));
        }
    }));
    let probe = std::panic::catch_unwind(|| {
        burn::tensor::Tensor::<burn::backend::Wgpu, 1>::from_floats([1.0], &device).into_data()
    });
    std::panic::set_hook(hook);
    match probe {
        Ok(_) => Ok(device),
        Err(_) => {
            let why = first.lock().ok().and_then(|s| s.clone()).unwrap_or_else(|| "unknown error".into());
            bail!(
                "--device wgpu: no GPU adapter could be opened ({why}); install the GPU's Vulkan driver, or Mesa's software \
                 Vulkan driver lavapipe (`apt-get install mesa-vulkan-drivers`) to run wgpu on the CPU, or use --device cpu"
            )
        }
    }
}

/// The model of `config` initialised from `seed` on the CPU and moved to `device`: backends draw
/// random numbers differently, so this makes the initial weights depend on the seed only.
///
/// # Errors
/// An invalid configuration; the in-memory record failing to encode or decode.
pub fn init_on_cpu<B: Backend>(config: &prixfixe::model::PrixFixeConfig, seed: u64, device: &B::Device) -> Result<PrixFixeNet<B>> {
    let cpu = Default::default();
    prixfixe::CpuBackend::seed(&cpu, seed);
    let initial = config.init::<prixfixe::CpuBackend>(&cpu)?;
    let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
    let bytes = recorder.record(initial.into_record(), ()).context("encoding the initial weights")?;
    let record = recorder.load(bytes, device).context("decoding the initial weights")?;
    Ok(config.init::<B>(device)?.load_record(record))
}

/// Work generic over the autodiff backend (see [`on_device`]). The inference commands
/// (`predict`, `ism`) run on its `B::InnerBackend` (no autodiff: layers in evaluation mode).
pub trait TrainJob {
    type Output;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Self::Output>;
}

struct TrainCommand(TrainArgs);

impl TrainJob for TrainCommand {
    type Output = ();
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        train::<B>(self.0, device)
    }
}

/// Entry point of `dream train`.
pub fn run(args: TrainArgs) -> Result<()> {
    on_device(args.device, TrainCommand(args))
}

/// sha256 of the training file and of the validation file (if any): a `--resume` must see the
/// same data, not only the same paths.
pub fn data_digests(train: &Path, val: Option<&Path>) -> Result<serde_json::Value> {
    let digest = |p: &Path| -> Result<String> {
        let f = std::fs::File::open(p).with_context(|| format!("reading {}", p.display()))?;
        prixfixe::bundle::sha256_reader(f).with_context(|| format!("reading {}", p.display()))
    };
    Ok(serde_json::json!({ "train_sha256": digest(train)?, "val_sha256": val.map(digest).transpose()? }))
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

/// Reads a table in the dataset's format (gzip or not). The DREAM rows are packed as they are
/// read, so the 6.7 M-row challenge file stays within the packed size.
pub fn load_table(path: &Path, dataset: &Dataset, skip_missing_targets: bool) -> Result<LabelledTable> {
    load_table_for(path, dataset, &dataset.processor(), None, skip_missing_targets)
}

/// [`load_table`] with the DataProcessor of a combination's Trainer (`processor`; BHI pad sides
/// drawn from `training_seed`), see [`Dataset::read_table_for`].
pub fn load_table_for(path: &Path, dataset: &Dataset, processor: &DataProcessor, training_seed: Option<u64>, skip_missing_targets: bool) -> Result<LabelledTable> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).with_context(|| format!("reading {name}"))?;
    let table = dataset.read_table_for(processor, training_seed, &name, std::io::BufReader::with_capacity(1 << 20, file), skip_missing_targets)?;
    if table.skipped_too_long > 0 {
        eprintln!(
            "{name}: skipped {} rows that the UnlockDNA DataProcessor cannot read (outside 41-140 bp: 20 bp are cut at each end and 1-100 bp must remain; first at line {})",
            table.skipped_too_long,
            table.first_too_long_line.unwrap_or(0)
        );
    }
    if table.skipped_missing > 0 {
        eprintln!(
            "{name}: skipped {} rows with a missing or non-numeric target (first at line {})",
            table.skipped_missing,
            table.first_skipped_line.unwrap_or(0)
        );
    }
    if dataset.loss == Loss::SoftBins {
        let out: Vec<usize> = (0..table.len()).filter(|&i| !(0.0..=17.0).contains(&table.set.row_targets(i)[0])).collect();
        if let Some(&first) = out.first() {
            eprintln!(
                "warning: {name}: {} expression values lie outside 0-17 (first at line {}); the 18-bin soft targets \
                 (DREAM scale) clip them to the end bins. Rescale your measurements to 0-17 to use the whole output range.",
                out.len(),
                table.lines[first]
            );
        }
    }
    Ok(table)
}

/// Splits `table` into training and validation rows: the split column when it marks validation
/// rows (test rows left out), else a seeded random `val_fraction` of the pair keys (both
/// orientations of a sequence on the same side).
pub fn split_table(table: LabelledTable, dataset: &Dataset, val_fraction: f64, seed: u64, name: &str) -> Result<(TrainingSet, TrainingSet)> {
    if !table.splits.is_empty() {
        let mut roles = Vec::with_capacity(table.len());
        for (i, v) in table.splits.iter().enumerate() {
            let role = prixfixe::dataset::split_role(v).with_context(|| {
                format!("{name}:{}: split value {v:?} is not train, val (valid, validation) or test", table.lines[i])
            })?;
            roles.push(role);
        }
        if roles.contains(&SplitRole::Validation) {
            table.check_pairs_together(dataset, &table.splits, name, "split").map_err(anyhow::Error::msg)?;
            let pick = |r: SplitRole| (0..table.len()).filter(|&i| roles[i] == r).collect::<Vec<_>>();
            let test = pick(SplitRole::Test).len();
            if test > 0 {
                eprintln!("{name}: {test} test rows left out of training and validation (split column)");
            }
            return Ok((table.set.select(&pick(SplitRole::Train)), table.set.select(&pick(SplitRole::Validation))));
        }
    }
    if !(0.0..1.0).contains(&val_fraction) || val_fraction == 0.0 {
        bail!("--val-fraction must be in (0, 1) when --val is not given");
    }
    if table.ids.is_empty() {
        let n_val = ((table.len() as f64) * val_fraction).round().max(1.0) as usize;
        let perm = Shuffler::new(mix(seed, u64::MAX)).permutation(table.len());
        return Ok(table.set.split(&perm[..n_val]));
    }
    // Group rows by pair key, shuffle the groups.
    let keys = table.pair_keys(dataset);
    let mut group_of: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let g = *group_of.entry(k.as_str()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    let n_val_groups = ((groups.len() as f64) * val_fraction).round().max(1.0) as usize;
    let perm = Shuffler::new(mix(seed, u64::MAX)).permutation(groups.len());
    let val_rows: Vec<usize> = perm[..n_val_groups].iter().flat_map(|&g| groups[g].iter().copied()).collect();
    Ok(table.set.split(&val_rows))
}

/// Predictions `(samples, outputs)` of `set` (RC-doubled samples for an augmented set, rows as
/// read otherwise: the reference Trainer.validate(), both strands scored separately) and the
/// measured values, row-major.
pub fn predict_set<B: Backend>(model: &PrixFixeNet<B>, set: &TrainingSet, processor: &DataProcessor, device: &B::Device) -> (Vec<f64>, Vec<f64>) {
    let samples: Vec<usize> = (0..set.samples()).collect();
    let head = model.head();
    let mut preds = Vec::with_capacity(samples.len() * head.outputs());
    let mut truth = Vec::with_capacity(samples.len() * set.n_targets);
    for chunk in samples.chunks(512) {
        // Only the inputs are needed; the loss kind only shapes the unused targets tensor.
        let (x, _, e) = set.batch::<B>(processor, Loss::Mse, chunk, device);
        let p = head.outputs_of(model.forward_logits(x));
        let data = p.into_data().convert::<f32>();
        preds.extend(data.as_slice::<f32>().expect("f32").iter().map(|&v| v as f64));
        truth.extend(e.iter().map(|&v| v as f64));
    }
    (preds, truth)
}

fn validate<B: Backend>(
    model: &PrixFixeNet<B>,
    val: &TrainingSet,
    processor: &DataProcessor,
    names: &[String],
    device: &B::Device,
) -> (f64, f64, f64, Vec<TaskMetrics>) {
    let (preds, truth) = predict_set(model, val, processor, device);
    let tasks = task_metrics(&preds, &truth, names);
    let mean = |f: fn(&TaskMetrics) -> f64| tasks.iter().map(f).sum::<f64>() / tasks.len() as f64;
    (mean(|t| t.pearson_r), mean(|t| t.spearman_rho), mean(|t| t.mse), tasks)
}

/// The metrics.csv column of the training loss.
fn loss_column(loss: BlockLoss, trainer: Team) -> &'static str {
    match (loss, trainer) {
        (_, Team::UnlockDna) => "train_mse_ce",
        (BlockLoss::SoftBins, _) => "train_kl",
        (BlockLoss::Mse, _) => "train_mse",
        (BlockLoss::Huber, _) => "train_huber",
    }
}

fn write_metrics(out: &Path, history: &[EpochMetrics], loss_col: &str) -> Result<()> {
    // Wall time goes to its own file so that metrics.csv of a resumed run equals an uninterrupted one.
    let per_task = history.first().is_some_and(|m| m.tasks.len() > 1);
    let mut csv = format!("epoch,steps,{loss_col},val_pearson_r,val_spearman_rho,val_mse");
    if per_task {
        for t in &history[0].tasks {
            csv.push_str(&format!(",val_pearson_r:{0},val_spearman_rho:{0},val_mse:{0}", t.name));
        }
    }
    csv.push('\n');
    let mut timing = String::from("epoch,seconds\n");
    for m in history {
        csv.push_str(&format!(
            "{},{},{:.6},{:.6},{:.6},{:.6}",
            m.epoch, m.steps, m.train_kl, m.val_pearson_r, m.val_spearman_rho, m.val_mse
        ));
        if per_task {
            for t in &m.tasks {
                csv.push_str(&format!(",{:.6},{:.6},{:.6}", t.pearson_r, t.spearman_rho, t.mse));
            }
        }
        csv.push('\n');
        timing.push_str(&format!("{},{:.1}\n", m.epoch, m.seconds));
    }
    write_atomic(&out.join("metrics.csv"), csv.as_bytes())?;
    write_atomic(&out.join("timing.csv"), timing.as_bytes())?;
    plot_curves(&out.join("curves.svg"), history, loss_col)
}

fn plot_curves(path: &Path, history: &[EpochMetrics], loss_col: &str) -> Result<()> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (900, 380)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(450);
    let n = history.len().max(1) as f64;
    let kl_max = history.iter().map(|m| m.train_kl).fold(0.0, f64::max).max(1e-3) * 1.1;
    let mut c = ChartBuilder::on(&left)
        .caption(
            match loss_col {
                "train_kl" => "training KL divergence",
                "train_huber" => "training Huber loss (δ = 1)",
                "train_mse_ce" => "training MSE + masked-nucleotide CE",
                _ => "training MSE (summed over tasks)",
            },
            ("sans-serif", 16),
        )
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
        .caption("validation", ("sans-serif", 16))
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
    // One dashed Pearson r line per task when there are several.
    let n_tasks = history.first().map_or(0, |m| m.tasks.len());
    if n_tasks > 1 {
        let colours = [MAGENTA, CYAN, BLACK, YELLOW];
        for k in 0..n_tasks {
            let colour = colours[k % colours.len()];
            let name = history[0].tasks[k].name.clone();
            let pts: Vec<(f64, f64)> = history.iter().map(|m| (m.epoch as f64, m.tasks.get(k).map_or(f64::NAN, |t| t.pearson_r))).filter(|p| p.1.is_finite()).collect();
            c.draw_series(DashedLineSeries::new(pts.clone(), 4, 3, colour.stroke_width(1)))?
                .label(format!("r {name}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], colour));
            c.draw_series(pts.into_iter().map(|p| Cross::new(p, 3, colour)))?;
        }
    }
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

/// The settings a run uses once the dataset's defaults are applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
}

impl TrainArgs {
    /// Epochs, batch size and peak learning rate: the flags, else the dataset's defaults.
    pub fn settings(&self, dataset: &Dataset) -> Settings {
        Settings {
            epochs: self.epochs.or(dataset.defaults.epochs).unwrap_or(80),
            batch_size: self.batch_size.or(dataset.defaults.batch_size).unwrap_or(1024),
            lr: self.lr.unwrap_or_else(|| self.default_lr(dataset)),
        }
    }

    /// The combination the flags name (`--model`, `--combo` or `--recipe/--first/--core/--final`).
    ///
    /// # Errors
    /// An unreadable code or team name.
    pub fn combination(&self) -> Result<Combination> {
        if let Some(p) = self.model {
            return Ok(p.combination());
        }
        if let Some(c) = &self.combo {
            return c.parse().map_err(|e: String| anyhow::anyhow!("--combo: {e}"));
        }
        let team = |flag: &str, v: &Option<String>| -> Result<Team> {
            v.as_deref().unwrap_or("autosome").parse().map_err(|e: String| anyhow::anyhow!("--{flag}: {e}"))
        };
        Ok(Combination::new(team("recipe", &self.recipe)?, team("first", &self.first)?, team("core", &self.core)?, team("final", &self.final_block)?))
    }

    /// The default peak learning rate: the preset's on the dataset, else the autosome Trainer's
    /// 0.005, or 0.001 with the UnlockDNA Core Layers Block (as DREAM-Attn).
    fn default_lr(&self, dataset: &Dataset) -> f64 {
        if let Some(lr) = self.combination().ok().and_then(|c| Recipe::default_lr(c.trainer)) {
            return lr;
        }
        let preset = self.combination().ok().map(|c| c.preset().unwrap_or(if c.core == Team::UnlockDna { ModelPreset::DreamAttn } else { ModelPreset::DreamCnn }));
        dataset.default_lr(preset.unwrap_or(ModelPreset::DreamCnn))
    }

    /// The block configuration of the run, on `dataset`.
    ///
    /// # Errors
    /// An incompatible combination (with the rule's reason), one whose Trainer is not available
    /// yet, or one that does not fit the dataset.
    pub fn model_config(&self, dataset: &Dataset) -> Result<prixfixe::PrixFixeConfig> {
        let c = self.combination()?;
        if let Err(e) = c.check() {
            bail!("combination {c} cannot be trained: {}", e.reason());
        }
        match c.preset() {
            Some(p) => Ok(dataset.model_config(p)),
            None => c.config_for_dataset(dataset, Wiring::default()).map_err(anyhow::Error::msg),
        }
    }

    /// "DREAM-RNN" or "Prix Fixe 0_2_0_1".
    pub fn model_name(&self) -> String {
        match self.combination() {
            Ok(c) => c.preset().map_or_else(|| format!("Prix Fixe {c}"), |p| p.display_name().to_string()),
            Err(_) => "?".into(),
        }
    }

    /// Refuses bad numbers, and an output directory that holds another run (or, with
    /// `--resume`, a run made with other settings).
    pub fn check(&self, dataset: &Dataset) -> Result<()> {
        self.model_config(dataset)?;
        let s = self.settings(dataset);
        if s.batch_size == 0 || s.epochs == 0 || self.steps_per_epoch == Some(0) {
            bail!("--batch-size, --epochs and --steps-per-epoch must be positive");
        }
        if !(s.lr.is_finite() && s.lr > 0.0) {
            bail!("--lr must be a positive number (got {})", s.lr);
        }
        if self.warmup_steps == Some(0) {
            bail!("--warmup-steps must be positive (the UnlockDNA schedule divides by it)");
        }
        let cfg_path = self.out.join(RUN_CONFIG);
        if self.resume {
            let saved: RunConfig = serde_json::from_slice(
                &std::fs::read(&cfg_path).with_context(|| format!("--resume: no run in {}", self.out.display()))?,
            )
            .with_context(|| format!("{}: unreadable run config", cfg_path.display()))?;
            let before: TrainArgs = serde_json::from_value(saved.training["args"].clone())
                .with_context(|| format!("{}: no training arguments recorded", cfg_path.display()))?;
            if let Some(was) = saved.training.get("data").filter(|d| !d.is_null()) {
                if before.train == self.train && before.val == self.val && *was != data_digests(&self.train, self.val.as_deref())? {
                    bail!(
                        "--resume: the data in {}{} changed since {} was started (sha256 differs); resume with the data it was trained on, or use a new --out",
                        self.train.display(),
                        self.val.as_ref().map(|v| format!(" / {}", v.display())).unwrap_or_default(),
                        self.out.display()
                    );
                }
            }
            let same = before.combination().ok() == self.combination().ok()
                && saved.dataset() == *dataset
                && before.train == self.train
                && before.val == self.val
                && before.val_fraction == self.val_fraction
                && before.settings(&saved.dataset()) == s
                && before.steps_per_epoch == self.steps_per_epoch
                && before.warmup_steps == self.warmup_steps
                && before.seed == self.seed
                && before.skip_missing_targets == self.skip_missing_targets;
            if !same {
                // Name what changed; the run's own flags only (not --resume, --device, …).
                let now = serde_json::to_value(self)?;
                let was = &saved.training["args"];
                let changed: Vec<String> = now
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, v)| !matches!(k.as_str(), "resume" | "device" | "dry_run" | "stop_after_steps" | "out") && was.get(k.as_str()).unwrap_or(&serde_json::Value::Null) != *v)
                    .map(|(k, v)| format!("--{} was {}, now {}", k.replace('_', "-"), was.get(k.as_str()).unwrap_or(&serde_json::Value::Null), v))
                    .collect();
                bail!(
                    "--resume: {} was trained with different settings ({}); resume with the same --model/--combo, --dataset, --train, --val, --val-fraction, --epochs, --batch-size, --lr, --warmup-steps, --steps-per-epoch, --seed and --skip-missing-targets, or use a new --out",
                    self.out.display(),
                    if changed.is_empty() { "the dataset description or its defaults changed".to_string() } else { changed.join("; ") }
                );
            }
        } else if !self.dry_run && (self.out.join("checkpoint").exists() || cfg_path.exists()) {
            bail!(
                "{} already holds a training run; continue it with --resume or choose another --out (nothing was overwritten)",
                self.out.display()
            );
        }
        Ok(())
    }
}

fn train<B: AutodiffBackend>(args: TrainArgs, device: B::Device) -> Result<()> {
    let dataset = Dataset::load(&args.dataset).map_err(anyhow::Error::msg)?;
    args.check(&dataset)?;
    let trainer = args.combination()?.trainer;
    if args.warmup_steps.is_some() && trainer != Team::UnlockDna {
        eprintln!("note: --warmup-steps applies to the UnlockDNA Trainer only; this run uses the {} Trainer", trainer.display_name());
    }
    let t_load = Instant::now();
    let processor = args.combination()?.processor_for(&dataset).map_err(anyhow::Error::msg)?;
    let all = load_table_for(&args.train, &dataset, &processor, Some(args.seed), args.skip_missing_targets)?;
    let (train_set, val_set) = match &args.val {
        Some(v) => (all.set, load_table_for(v, &dataset, &processor, None, args.skip_missing_targets)?.set),
        None => split_table(all, &dataset, args.val_fraction, args.seed, &args.train.display().to_string())?,
    };
    if train_set.is_empty() || val_set.len() < 2 {
        bail!("need training rows and at least 2 validation rows (got {} and {})", train_set.len(), val_set.len());
    }
    eprintln!(
        "{} on {}: {} training rows ({} samples{}), {} validation rows; loaded in {:.1} s",
        args.model_name(),
        dataset.name,
        train_set.len(),
        train_set.samples(),
        match args.combination()?.trainer {
            _ if train_set.augment => " with reverse complements",
            Team::Bhi => "; the BHI Trainer averages each row's loss with its reverse complement's",
            Team::UnlockDna => ", each with its reverse complement in the input",
            Team::Autosome => ", both orientations as rows",
        },
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
    crate::keep_freed_memory();
    fit::<B>(&args, &dataset, &train_set, &val_set, serde_json::json!({}), device).map(|_| ())
}

/// How a [`fit`] ended.
#[derive(Debug, Clone)]
pub struct FitOutcome {
    /// All epochs ran (else it was interrupted and a checkpoint saved).
    pub finished: bool,
    /// The kept epoch's metrics.
    pub best: Option<EpochMetrics>,
}

/// Set by Ctrl-C: every training loop in this process stops after its current step.
static STOP: AtomicBool = AtomicBool::new(false);

fn install_interrupt_handler() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _ = ctrlc::set_handler(move || {
            eprintln!("\ninterrupt: finishing this step and saving a checkpoint (press again to abort)");
            if STOP.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    });
}

/// `true` once Ctrl-C was pressed.
pub fn interrupted() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// The reference Trainer (ARCHITECTURE.md §4; benchmarks §7.3) on loaded data, into `args.out`:
/// config.json, metrics.csv, curves.svg, model_best.safetensors, checkpoint/ (resumed with
/// `args.resume`). `extra` is recorded in config.json's `training` (e.g. the CV fold).
pub fn fit<B: AutodiffBackend>(
    args: &TrainArgs,
    dataset: &Dataset,
    train_set: &TrainingSet,
    val_set: &TrainingSet,
    extra: serde_json::Value,
    device: B::Device,
) -> Result<FitOutcome> {
    let config = args.model_config(dataset)?;
    let combination = args.combination()?;
    let processor = combination.processor_for(dataset).map_err(anyhow::Error::msg)?;
    if train_set.sequences.seq_len() != processor.seq_len() || val_set.sequences.seq_len() != processor.seq_len() {
        bail!(
            "combination {combination}: the data was windowed for another DataProcessor ({} bp; the {} DataProcessor makes {} bp windows); load it with load_table_for and the combination's DataProcessor",
            train_set.sequences.seq_len(),
            combination.trainer.display_name(),
            processor.seq_len()
        );
    }
    let settings = args.settings(dataset);
    let names = dataset.output_names();
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    // The Final Layers Block decides the loss (its train_step, PRIXFIXE-MODULES.md §0): soft bins
    // read the 18-bin targets, the regression-style blocks the values themselves.
    let block_loss = if dataset.loss == Loss::SoftBins { config.final_block.loss() } else { BlockLoss::Mse };
    let mut recipe = Recipe::new(combination.trainer, settings.lr);
    if let Some(w) = args.warmup_steps {
        recipe.warmup_steps = w;
    }
    let target_scale = recipe.target_scale(block_loss, train_set);
    let run_cfg = RunConfig {
        preset: combination.preset(),
        combination: Some(combination),
        model: config.clone(),
        training: serde_json::json!({ "args": args, "train_rows": train_set.len(), "val_rows": val_set.len(), "settings": {
            "epochs": settings.epochs, "batch_size": settings.batch_size, "lr": settings.lr }, "extra": extra,
            "trainer": combination.trainer, "target_scale": target_scale,
            "data": if args.train.is_file() { data_digests(&args.train, args.val.as_deref())? } else { serde_json::Value::Null } }),
        dataset: Some(dataset.clone()),
    };
    write_atomic(&args.out.join(RUN_CONFIG), &serde_json::to_vec_pretty(&run_cfg)?)?;

    let n = train_set.samples();
    let batch_size = settings.batch_size;
    let full_steps = n.div_ceil(batch_size);
    let steps_per_epoch = args.steps_per_epoch.map_or(full_steps, |s| s.clamp(1, full_steps));
    let schedule = recipe.schedule(settings.epochs, steps_per_epoch, train_set.len());
    let beta1 = SharedBeta1::new(schedule.at(0).1.unwrap_or(0.9) as f32);

    let mut model = init_on_cpu::<B>(&config, args.seed, &device)?;
    let mut optim: Optim<B> = OptimizerAdaptor::from(recipe.optimizer(beta1.clone()));
    let mut state = TrainState::default();
    if args.resume && args.out.join("checkpoint").is_dir() || args.resume && args.out.join("checkpoint.old").is_dir() {
        (model, optim, state) = load_checkpoint(&args.out, model, optim, &device)?;
        eprintln!("resuming at epoch {}, step {}", state.epoch + 1, state.step_in_epoch);
    } else if args.resume {
        bail!("--resume: no checkpoint in {}", args.out.display());
    }
    install_interrupt_handler();

    let mut steps_this_run = 0usize;
    while state.epoch < settings.epochs {
        let epoch = state.epoch;
        let perm = Shuffler::new(mix(args.seed, epoch as u64)).permutation(n);
        let pb = ProgressBar::new((steps_per_epoch * batch_size).min(n) as u64);
        pb.set_style(
            ProgressStyle::with_template("epoch {msg} [{bar:30}] {pos}/{len} seq  {per_sec}  ETA {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        pb.set_message(format!("{}/{}", epoch + 1, settings.epochs));
        pb.set_position((state.step_in_epoch * batch_size).min(n) as u64);
        let t_epoch = Instant::now();
        while state.step_in_epoch < steps_per_epoch {
            if interrupted() || args.stop_after_steps.is_some_and(|m| steps_this_run >= m) {
                state.epoch_seconds += t_epoch.elapsed().as_secs_f64();
                save_checkpoint(&args.out, &model, &optim, &state)?;
                pb.abandon();
                eprintln!("checkpoint saved in {}; continue with --resume", args.out.join("checkpoint").display());
                return Ok(FitOutcome { finished: false, best: None });
            }
            let s = state.step_in_epoch;
            let idx = &perm[s * batch_size..((s + 1) * batch_size).min(n)];
            let step_seed = mix(args.seed, 1_000_000 + state.global_step as u64);
            B::seed(&device, step_seed);
            prixfixe::nn::seed_dropout(step_seed);
            let loss = recipe.batch_loss(&model, train_set, &processor, block_loss, target_scale, idx, step_seed, &device);
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
            let grads = recipe.clip(&model, GradientsParams::from_grads(loss.backward(), &model));
            let (lr, b1) = schedule.at(state.global_step);
            if let Some(b1) = b1 {
                beta1.set(b1 as f32);
            }
            model = optim.step(lr, model, grads);
            state.loss_sum += value;
            state.loss_count += 1;
            state.global_step += 1;
            state.step_in_epoch += 1;
            steps_this_run += 1;
            pb.inc(idx.len() as u64);
        }
        pb.finish_and_clear();
        // Validated and kept on the data's own scale: the standardised targets of the BHI and
        // UnlockDNA Trainers are undone in the last Linear layer.
        let valid = fold_target_scale(model.valid(), target_scale);
        let (r, rho, err, tasks) = validate(&valid, val_set, &processor, &names, &device);
        state.epoch_seconds += t_epoch.elapsed().as_secs_f64();
        let row = EpochMetrics {
            epoch: epoch + 1,
            steps: state.step_in_epoch,
            train_kl: state.loss_sum / state.loss_count.max(1) as f64,
            val_pearson_r: r,
            val_spearman_rho: rho,
            val_mse: err,
            seconds: state.epoch_seconds,
            tasks: tasks.clone(),
        };
        let per_task = if tasks.len() > 1 {
            format!(" [{}]", tasks.iter().map(|t| format!("{} r {:.4}", t.name, t.pearson_r)).collect::<Vec<_>>().join(", "))
        } else {
            String::new()
        };
        eprintln!(
            "epoch {}/{}: train {} {:.4}, val Pearson r {:.4}, Spearman ρ {:.4}, MSE {:.3}{per_task} ({:.0} s)",
            row.epoch,
            settings.epochs,
            match (block_loss, combination.trainer) {
                (_, Team::UnlockDna) => "MSE + masked-nucleotide CE",
                (BlockLoss::SoftBins, _) => "KL",
                (BlockLoss::Mse, _) => "MSE",
                (BlockLoss::Huber, _) => "Huber",
            },
            row.train_kl,
            r,
            rho,
            err,
            row.seconds
        );
        if err.is_nan() {
            bail!(
                "validation predictions are not finite after epoch {} (the model diverged); stopping: {}; model_best.safetensors is untouched. Try a lower --lr.",
                epoch + 1,
                last_good(&args.out)
            );
        }
        let better = match dataset.selection {
            Selection::Pearson => {
                if r.is_nan() {
                    eprintln!("warning: validation Pearson r is undefined (constant predictions or labels); this epoch cannot become the best model");
                }
                r.is_finite() && state.best_val_r.is_none_or(|b| r > b)
            }
            Selection::Mse => err.is_finite() && state.best_val_mse.is_none_or(|b| err < b),
        };
        if better {
            state.best_val_r = Some(r);
            state.best_val_mse = Some(err);
            let bytes = valid.to_torch_safetensors(Precision::F32, None)?;
            write_atomic(&args.out.join(BEST_WEIGHTS), &bytes)?;
        }
        state.history.push(row);
        state.epoch += 1;
        state.step_in_epoch = 0;
        state.loss_sum = 0.0;
        state.loss_count = 0;
        state.epoch_seconds = 0.0;
        write_metrics(&args.out, &state.history, loss_column(block_loss, combination.trainer))?;
        save_checkpoint(&args.out, &model, &optim, &state)?;
    }
    let best = state.history.iter().find(|m| Some(m.val_pearson_r) == state.best_val_r && Some(m.val_mse) == state.best_val_mse).cloned();
    eprintln!(
        "done: kept epoch {} ({}; validation Pearson r {:.4}, MSE {:.4}); weights in {}",
        best.as_ref().map_or(0, |b| b.epoch),
        match dataset.selection {
            Selection::Pearson => "best mean Pearson r",
            Selection::Mse => "lowest mean MSE",
        },
        state.best_val_r.unwrap_or(f64::NAN),
        state.best_val_mse.unwrap_or(f64::NAN),
        args.out.join(BEST_WEIGHTS).display()
    );
    Ok(FitOutcome { finished: true, best })
}
