//! `--device wgpu` against `--device cpu`: a few training steps of DREAM-CNN, DREAM-RNN and
//! DREAM-Attn from the same seed (loss per step, final weights), `dream predict` and `dream ism`.
//!
//! Built only with `--features wgpu` (Cargo.toml `required-features`):
//! `cargo test -p dream-trainer --features wgpu --test wgpu`. Any Vulkan adapter will do;
//! scripts/test.sh installs Mesa's software driver lavapipe (`mesa-vulkan-drivers`) and runs these
//! on the CPU. Without an adapter they fail (the `dream` error names lavapipe); they never skip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use burn::module::{Module, Param, RunningState};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::{backend::Backend, Tensor};
use prixfixe::model::PrixFixeNet;
use prixfixe::weights::{Layout, ParamVisitor, VisitTorch};

type Cpu = burn::backend::Flex;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `dream` (with `env` set); `(success, stderr)`.
fn dream_env(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dream")).args(args).envs(env.iter().copied()).output().expect("run dream");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into())
}

fn dream(args: &[&str]) -> String {
    let (ok, err) = dream_env(args, &[]);
    assert!(ok, "dream {}: {err}", args.join(" "));
    err
}

/// The first `n` rows of the shipped DREAM training sample from row `skip`.
fn rows(skip: usize, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(root().join("data/dream/train_demo.tsv")).unwrap();
    text.lines().skip(skip).take(n).map(String::from).collect()
}

/// Column `name` of a CSV/TSV file with a header, as numbers.
fn column(path: &Path, sep: char, name: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let k = lines.next().unwrap().split(sep).position(|c| c == name).unwrap_or_else(|| panic!("{}: no column {name}", path.display()));
    lines.map(|l| l.split(sep).nth(k).unwrap().parse().unwrap()).collect()
}

/// Every float tensor of a model (weights and BatchNorm running statistics) by reference key.
#[derive(Default)]
struct Collect(BTreeMap<String, Vec<f32>>);

impl<B: Backend> ParamVisitor<B> for Collect {
    fn param<const D: usize>(&mut self, key: &str, p: &mut Param<Tensor<B, D>>, _: Layout) {
        self.0.insert(key.into(), p.val().into_data().convert::<f32>().to_vec().unwrap());
    }
    fn running<const D: usize>(&mut self, key: &str, r: &mut RunningState<Tensor<B, D>>) {
        self.0.insert(key.into(), r.value().into_data().convert::<f32>().to_vec().unwrap());
    }
    fn int64_buffer(&mut self, _: &str, _: &[usize], _: &[i64]) {}
}

/// The weights of a run's last checkpoint (the state after its last step).
fn checkpoint_weights(run: &Path) -> BTreeMap<String, Vec<f32>> {
    let config: prixfixe::training::RunConfig =
        serde_json::from_slice(&std::fs::read(run.join("config.json")).unwrap()).unwrap();
    let device = Default::default();
    let record = NamedMpkFileRecorder::<FullPrecisionSettings>::new().load(run.join("checkpoint/model"), &device).unwrap();
    let mut model: PrixFixeNet<Cpu> = config.model.init::<Cpu>(&device).unwrap().load_record(record);
    let mut collect = Collect::default();
    model.visit_torch(&mut collect, "");
    collect.0
}

/// `|a - b| / max(|a|, |b|, floor)`.
fn rel(a: f64, b: f64, floor: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(floor)
}

// Measured on lavapipe (Mesa 22.3.6, 2 cores) against burn-flex, 2 steps of batch 4, 2026-12-06:
// loss per step, relative: CNN 2.9e-5, RNN 3.3e-7, Attn 8.6e-7 -> 3e-4. Final weights, largest
// element: CNN 4.8e-3, RNN 1.4e-4, Attn 1.4e-4. Adam's first updates are about ±lr whatever the
// gradient's size, so a near-zero gradient that rounds to the other sign moves its weight up to
// 2·lr the other way (peak lr 0.005: ≤ 0.01 per step) -> 2e-2. All weights as one vector,
// relative L2: CNN 4.8e-5, RNN 4.3e-6, Attn 3.6e-6 -> 1e-3.
const LOSS_REL_TOL: f64 = 3e-4;
const WEIGHT_ABS_TOL: f64 = 2e-2;
const WEIGHT_REL_L2_TOL: f64 = 1e-3;

#[test]
fn training_steps_on_wgpu_equal_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let (train, val) = (dir.path().join("train.tsv"), dir.path().join("val.tsv"));
    std::fs::write(&train, rows(0, 64).join("\n")).unwrap();
    std::fs::write(&val, rows(64, 4).join("\n")).unwrap();
    for model in ["dream-cnn", "dream-rnn", "dream-attn"] {
        let mut runs = Vec::new();
        for device in ["cpu", "wgpu"] {
            let out = dir.path().join(format!("{model}-{device}"));
            let t0 = Instant::now();
            // Epochs of one step each: metrics.csv's train_kl is each step's loss.
            dream(&[
                "train", "--model", model, "--train", train.to_str().unwrap(), "--val", val.to_str().unwrap(),
                "--out", out.to_str().unwrap(), "--epochs", "2", "--steps-per-epoch", "1", "--batch-size", "4",
                "--seed", "7", "--device", device,
            ]);
            eprintln!("{model} on {device}: 2 steps in {:.1} s", t0.elapsed().as_secs_f64());
            runs.push(out);
        }
        let (cpu, gpu) = (&runs[0], &runs[1]);
        let (lc, lg) = (column(&cpu.join("metrics.csv"), ',', "train_kl"), column(&gpu.join("metrics.csv"), ',', "train_kl"));
        assert_eq!(lc.len(), 2);
        let loss_diff = lc.iter().zip(&lg).map(|(a, b)| rel(*a, *b, 1e-12)).fold(0.0, f64::max);
        let (wc, wg) = (checkpoint_weights(cpu), checkpoint_weights(gpu));
        assert_eq!(wc.keys().collect::<Vec<_>>(), wg.keys().collect::<Vec<_>>());
        // The largest element difference (and its tensor), and the L2 norm of all differences
        // relative to the weights' (all tensors as one vector).
        let (mut worst, mut worst_key, mut d2, mut n2) = (0.0f64, String::new(), 0.0f64, 0.0f64);
        for (key, a) in &wc {
            for (x, y) in a.iter().zip(&wg[key]) {
                let d = (*x as f64 - *y as f64).abs();
                (d2, n2) = (d2 + d * d, n2 + (*x as f64).powi(2));
                if d > worst {
                    (worst, worst_key) = (d, key.clone());
                }
            }
        }
        let rel_l2 = d2.sqrt() / n2.sqrt();
        eprintln!(
            "{model}: losses cpu {lc:?} wgpu {lg:?}: max relative difference {loss_diff:.2e}; final weights: max |difference| {worst:.2e} ({worst_key}), relative L2 difference {rel_l2:.2e} over {} tensors",
            wc.len()
        );
        assert!(loss_diff <= LOSS_REL_TOL, "{model}: loss per step differs by {loss_diff:.2e} (relative): cpu {lc:?}, wgpu {lg:?}");
        assert!(worst <= WEIGHT_ABS_TOL, "{model}: final weights differ by {worst:.2e} at {worst_key}");
        assert!(rel_l2 <= WEIGHT_REL_L2_TOL, "{model}: final weights differ by {rel_l2:.2e} (relative L2)");
        // The steps did something: the loss changed from step to step.
        assert!(lc[0] != lc[1], "{model}: {lc:?}");
    }
}

/// The golden fixtures' weights of `m` (cnn, rnn, attn) as `--model W --arch A`.
fn fixture(m: &str) -> [String; 4] {
    let arch = match m {
        "cnn" => "dream-cnn",
        "rnn" => "dream-rnn",
        _ => "dream-attn",
    };
    ["--model".into(), root().join(format!("tests/fixtures/{m}_weights.safetensors")).display().to_string(), "--arch".into(), arch.into()]
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[test]
fn predict_and_ism_on_wgpu_equal_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let fasta: String = rows(100, 8).iter().enumerate().map(|(i, r)| format!(">s{i}\n{}\n", r.split('\t').next().unwrap())).collect();
    let input = dir.path().join("seqs.fa");
    std::fs::write(&input, fasta).unwrap();
    let sequence = rows(130, 1)[0].split('\t').next().unwrap().to_string();
    for m in ["cnn", "rnn", "attn"] {
        let model = fixture(m);
        let model: Vec<&str> = model.iter().map(String::as_str).collect();
        let mut preds = Vec::new();
        let mut scans = Vec::new();
        for device in ["cpu", "wgpu"] {
            let t0 = Instant::now();
            let out = dir.path().join(format!("{m}-{device}.tsv"));
            let mut args = vec!["predict", "--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--device", device];
            args.extend(&model);
            dream(&args);
            preds.push(column(&out, '\t', "prediction"));
            let ism = dir.path().join(format!("{m}-{device}-ism.tsv"));
            let mut args = vec!["ism", "--sequence", &sequence, "--region", "18-21", "--output", ism.to_str().unwrap(), "--device", device];
            args.extend(&model);
            dream(&args);
            scans.push((column(&ism, '\t', "prediction"), column(&ism, '\t', "delta")));
            eprintln!("{m} on {device}: predict (8 sequences) + ism (12 SNVs) in {:.1} s", t0.elapsed().as_secs_f64());
        }
        let dp = max_abs_diff(&preds[0], &preds[1]);
        let di = max_abs_diff(&scans[0].0, &scans[1].0).max(max_abs_diff(&scans[0].1, &scans[1].1));
        eprintln!("{m}: predict max |cpu - wgpu| {dp:.2e}; ism (prediction, delta) {di:.2e}");
        assert_eq!(preds[0].len(), 8);
        assert_eq!(scans[0].0.len(), 12);
        assert!(dp <= 1e-4, "{m}: predict differs by {dp:.2e}");
        assert!(di <= 1e-4, "{m}: ism differs by {di:.2e}");
    }
    // Taylor ISM runs on the autodiff wgpu backend.
    let model = fixture("cnn");
    let model: Vec<&str> = model.iter().map(String::as_str).collect();
    let mut taylor = Vec::new();
    for device in ["cpu", "wgpu"] {
        let out = dir.path().join(format!("taylor-{device}.tsv"));
        let mut args = vec!["ism", "--method", "taylor", "--sequence", &sequence, "--output", out.to_str().unwrap(), "--device", device];
        args.extend(&model);
        dream(&args);
        taylor.push(column(&out, '\t', "delta"));
    }
    let dt = max_abs_diff(&taylor[0], &taylor[1]);
    eprintln!("cnn: Taylor ISM max |cpu - wgpu| {dt:.2e}");
    assert!(dt <= 1e-4, "Taylor ISM differs by {dt:.2e}");
}

#[test]
fn no_vulkan_adapter_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("one.txt");
    std::fs::write(&input, format!("{}\n", rows(0, 1)[0].split('\t').next().unwrap())).unwrap();
    let out = dir.path().join("out.tsv");
    let model = fixture("cnn");
    let mut args: Vec<&str> = vec!["predict", "--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--device", "wgpu"];
    args.extend(model.iter().map(String::as_str));
    // The Vulkan loader reads its driver list from these; a missing file leaves it none.
    let none = [("VK_ICD_FILENAMES", "/nonexistent/icd.json"), ("VK_DRIVER_FILES", "/nonexistent/icd.json")];
    let (ok, err) = dream_env(&args, &none);
    assert!(!ok && !out.exists(), "{err}");
    assert!(err.contains("--device wgpu: no GPU adapter") && err.contains("mesa-vulkan-drivers") && !err.contains("panicked"), "{err}");
}
