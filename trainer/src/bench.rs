//! `dream bench`: training and inference throughput of the three DREAM models on this machine.
//!
//! Same protocol as the PyTorch reference benchmark (bench/pytorch/bench.py): one fixed batch of
//! random one-hot sequences (random is_reverse / is_singleton flags, soft targets of random
//! expressions) built once on the device; training = forward, KL loss, backward, AdamW step with
//! the OneCycle schedule; inference = eval mode, forward to the expected bin. The median of
//! `--steps` timed steps after `--warmup` untimed ones, in sequences/s. Reading the loss (or the
//! predictions) back to the host ends each timed step, so GPU work is included in full.

use std::time::Instant;

use anyhow::{bail, Result};
use burn::module::AutodiffModule;
use burn::optim::{adaptor::OptimizerAdaptor, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use prixfixe::blocks::FinalBlock;
use prixfixe::model::{ModelPreset, PrixFixeNet};
use prixfixe::training::{kl_loss, CyclicAdamW, OneCycle, SharedBeta1, Shuffler, TrainingSet};
use prixfixe::DataProcessor;
use serde_json::{json, Value};

use crate::DeviceKind;

/// What `dream bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchMode {
    Train,
    Infer,
    Both,
}

/// Arguments of `dream bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Models to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "dream-cnn,dream-rnn,dream-attn", value_parser = crate::parse_preset)]
    pub models: Vec<ModelPreset>,
    /// Sequences per step (reference: 1024).
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,
    /// Timed steps; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// train, infer or both.
    #[arg(long, value_enum, default_value = "train")]
    pub mode: BenchMode,
    /// cpu, cuda or wgpu.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceKind,
    /// Also write the JSON here (it is always printed on stdout).
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// Entry point of `dream bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    if args.batch_size == 0 || args.steps == 0 {
        bail!("--batch-size and --steps must be positive");
    }
    crate::keep_freed_memory();
    let (device_name, results) = match args.device {
        DeviceKind::Cpu => {
            let threads = std::env::var("RAYON_NUM_THREADS").ok().and_then(|s| s.parse().ok()).unwrap_or_else(num_cpus);
            (format!("cpu ({threads} threads)"), bench_all::<burn::backend::Autodiff<burn::backend::Flex>>(&args, Default::default())?)
        }
        DeviceKind::Cuda => {
            #[cfg(feature = "cuda")]
            {
                let device = burn::backend::cuda::CudaDevice::default();
                let results = std::panic::catch_unwind(|| bench_all::<burn::backend::Autodiff<burn::backend::Cuda>>(&args, device))
                    .unwrap_or_else(|_| bail!("CUDA could not be initialised: is an NVIDIA GPU with its driver (libcuda) present?"))?;
                ("cuda:0".to_string(), results)
            }
            #[cfg(not(feature = "cuda"))]
            bail!("this `dream` was built without CUDA support; rebuild with `cargo build --release -p dream-trainer --features cuda`")
        }
        DeviceKind::Wgpu => {
            #[cfg(feature = "wgpu")]
            {
                ("wgpu".to_string(), bench_all::<burn::backend::Autodiff<burn::backend::Wgpu>>(&args, Default::default())?)
            }
            #[cfg(not(feature = "wgpu"))]
            bail!("this `dream` was built without wgpu support; rebuild with `cargo build --release -p dream-trainer --features wgpu`")
        }
    };
    let out = json!({
        "tool": "dream bench",
        "version": env!("CARGO_PKG_VERSION"),
        "device": device_name,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "warmup": args.warmup,
        "models": results,
    });
    let text = serde_json::to_string_pretty(&out)?;
    println!("{text}");
    if let Some(path) = &args.json {
        crate::training::write_atomic(path, text.as_bytes())?;
    }
    Ok(())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A fixed random batch: random 150 bp windows, random expressions (half integers: singletons).
fn random_set(batch: usize, seed: u64) -> TrainingSet {
    let processor = DataProcessor::dream();
    let mut rng = Shuffler::new(seed);
    let mut set = TrainingSet::dream(processor.seq_len());
    let bases = *b"ACGT";
    for i in 0..batch.div_ceil(2) {
        let perm = rng.permutation(4 * processor.seq_len());
        let seq: Vec<u8> = perm.iter().take(processor.seq_len()).map(|&p| bases[p % 4]).collect();
        let e = (perm[0] % 1700) as f64 / 100.0;
        set.push(&seq, if i % 2 == 0 { e.round() } else { e });
    }
    set
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench_all<B: AutodiffBackend>(args: &BenchArgs, device: B::Device) -> Result<Value> {
    let processor = DataProcessor::dream();
    let set = random_set(args.batch_size, 0);
    let idx: Vec<usize> = (0..args.batch_size).collect(); // doubled set: fwd + RC of each row
    let mut results = serde_json::Map::new();
    for &preset in &args.models {
        B::seed(&device, 0);
        let model: PrixFixeNet<B> = preset.config().init::<B>(&device)?;
        let (x, y, _) = set.batch::<B>(&processor, prixfixe::dataset::Loss::SoftBins, &idx, &device);
        let mut entry = serde_json::Map::new();
        entry.insert("params".into(), json!(model.num_trainable()));
        // The work behind a GFLOP/s figure (2 FLOPs per multiply-add, one forward pass of a row).
        entry.insert("macs_per_row".into(), json!(preset.config().macs_per_row()));
        // What the CPU inference path executes (DREAM-RNN's core convolutions through the DFT).
        entry.insert("cpu_inference_macs_per_row".into(), json!(preset.config().cpu_inference_macs_per_row()));
        if matches!(args.mode, BenchMode::Infer | BenchMode::Both) {
            let valid = model.valid();
            let x = x.clone().inner();
            let mut times = Vec::new();
            for step in 0..args.warmup + args.steps {
                let t0 = Instant::now();
                let logits = prixfixe::predictor::forward_logits_split(&valid, x.clone(), prixfixe::predictor::default_threads());
                let _ = FinalBlock::expectation(FinalBlock::probs(logits)).into_data();
                let dt = t0.elapsed().as_secs_f64();
                eprintln!("{} infer step {step}: {dt:.3} s", preset.display_name());
                if step >= args.warmup {
                    times.push(dt);
                }
            }
            let m = median(times.clone());
            entry.insert("infer".into(), json!({"median_s": m, "seqs_per_s": args.batch_size as f64 / m, "times_s": times}));
        }
        if matches!(args.mode, BenchMode::Train | BenchMode::Both) {
            let schedule = OneCycle::new(preset.max_lr(), args.warmup + args.steps + 1);
            let beta1 = SharedBeta1::new(schedule.at(0).1 as f32);
            let mut optim = OptimizerAdaptor::from(CyclicAdamW::reference(beta1.clone()));
            let mut model = model;
            let mut times = Vec::new();
            let mut losses = Vec::new();
            for step in 0..args.warmup + args.steps {
                let t0 = Instant::now();
                let loss = kl_loss(model.forward_logits(x.clone()), y.clone());
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                let (lr, b1) = schedule.at(step);
                beta1.set(b1 as f32);
                model = optim.step(lr, model, grads);
                let value = loss.into_data().convert::<f64>().to_vec::<f64>().map_err(|e| anyhow::anyhow!("reading the loss: {e:?}"))?[0];
                let dt = t0.elapsed().as_secs_f64();
                eprintln!("{} train step {step}: {dt:.3} s, KL {value:.4}", preset.display_name());
                losses.push(value);
                if step >= args.warmup {
                    times.push(dt);
                }
            }
            let m = median(times.clone());
            entry.insert(
                "train".into(),
                json!({"median_s": m, "seqs_per_s": args.batch_size as f64 / m, "times_s": times, "loss_first_last": [losses[0], losses[losses.len() - 1]]}),
            );
        }
        results.insert(preset.to_string(), Value::Object(entry));
    }
    Ok(Value::Object(results))
}
