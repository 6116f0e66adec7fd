//! CPU inference throughput of the three DREAM models (eval mode, random one-hot input, fwd only —
//! the same protocol as ../shared/bench/bench.py `--mode infer`).
//!
//! `cargo run --release -p prixfixe --example bench_inference [--features flex] -- [--batch 1024]
//!  [--steps 3] [--warmup 1] [--models cnn,rnn,attn] [--json OUT]`
//! Threads: set `RAYON_NUM_THREADS` (the reference figures use 2).
//! The batch is split over the CPU threads as the predictor does (`forward_logits_split`).
//! Prints one JSON object (median seconds per batch, sequences/s).

use std::time::Instant;

use burn::tensor::{Int, Tensor};
use prixfixe::blocks::FinalBlock;
use prixfixe::model::ModelPreset;
use prixfixe::CpuBackend as B;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn random_one_hot(batch: usize, device: &burn::tensor::Device<B>) -> Tensor<B, 3> {
    let idx = Tensor::<B, 2, Int>::random([batch, 150], burn::tensor::Distribution::Uniform(0.0, 4.0), device);
    let one_hot: Tensor<B, 3> = idx.one_hot::<3>(4).float().swap_dims(1, 2); // (batch, 4, 150)
    Tensor::cat(vec![one_hot, Tensor::zeros([batch, 2, 150], device)], 1)
}

fn main() {
    let batch: usize = arg("--batch", "1024").parse().expect("--batch N");
    let steps: usize = arg("--steps", "3").parse().expect("--steps N");
    let warmup: usize = arg("--warmup", "1").parse().expect("--warmup N");
    let models = arg("--models", "cnn,rnn,attn");
    let device = Default::default();
    let backend = std::any::type_name::<B>();
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    let mut results = Vec::new();
    for m in models.split(',') {
        let preset: ModelPreset = m.parse().expect("model name");
        let model = preset.config().init::<B>(&device).expect("valid preset");
        let x = random_one_hot(batch, &device);
        let threads = prixfixe::predictor::default_threads();
        let mut times = Vec::new();
        for step in 0..warmup + steps {
            let t0 = Instant::now();
            let logits = prixfixe::predictor::forward_logits_split(&model, x.clone(), threads);
            let p = FinalBlock::expectation(FinalBlock::probs(logits));
            let _ = p.into_data();
            let dt = t0.elapsed().as_secs_f64();
            if step >= warmup {
                times.push(dt);
            }
            eprintln!("{m} step {step}: {dt:.2} s");
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        results.push(format!(
            "\"{m}\": {{\"median_batch_s\": {median:.4}, \"seqs_per_s\": {:.2}, \"batch_times_s\": {times:?}, \"params\": {}}}",
            batch as f64 / median,
            model.num_trainable()
        ));
    }
    println!(
        "{{\"backend\": \"{backend}\", \"threads\": \"{threads}\", \"batch_size\": {batch}, \"steps\": {steps}, \"models\": {{{}}}}}",
        results.join(", ")
    );
}
