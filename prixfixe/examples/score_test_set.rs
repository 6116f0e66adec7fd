//! End-to-end check of the core library on real data: load a PyTorch `state_dict` (safetensors,
//! reference key names), predict the labelled DREAM test sequences with the fwd/RC predictor and
//! report Pearson r² and Spearman ρ per single-sequence subset.
//!
//! `cargo run --release -p prixfixe --example score_test_set -- [--model dream-cnn]
//!   [--weights tests/fixtures/cnn_trained_weights.safetensors] [--test data/dream/test_sequences.tsv]
//!   [--labels data/dream/test_labels_public.tsv]`
//!
//! (The full challenge scoring, with pair subsets and weighted scores, is `dream evaluate`.)

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use prixfixe::metrics::{pearson_r2, spearman};
use prixfixe::model::ModelPreset;
use prixfixe::{CpuBackend as B, DataProcessor, Predictor, PrixFixeNet};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.into())
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("error: cannot read {path}: {e}");
        std::process::exit(2)
    })
}

fn main() {
    let preset: ModelPreset = arg("--model", "dream-cnn").parse().unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    });
    let weights = arg("--weights", "tests/fixtures/cnn_trained_weights.safetensors");
    let device = Default::default();
    let bytes = std::fs::read(&weights).unwrap_or_else(|e| {
        eprintln!("error: cannot read {weights}: {e}");
        std::process::exit(2)
    });
    let model = PrixFixeNet::<B>::from_torch_safetensors(&preset.config(), &bytes, &device).unwrap_or_else(|e| {
        eprintln!("error: {weights}: {e}");
        std::process::exit(2)
    });
    let predictor = Predictor::new(model, DataProcessor::dream(), device);

    let labels: HashMap<String, f64> = read(&arg("--labels", "data/dream/test_labels_public.tsv"))
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?.to_string(), f.next()?.trim().parse().ok()?))
        })
        .collect();
    // subset -> (pos, sequence) for labelled rows
    let mut rows: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (i, line) in read(&arg("--test", "data/dream/test_sequences.tsv")).lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 4 {
            eprintln!("error: test file line {}: expected 4 columns (pos subset tag sequence)", i + 1);
            std::process::exit(2);
        }
        if labels.contains_key(f[0]) && f[1] != "motif_perturbation" && f[1] != "motif_tiling" {
            rows.entry(f[1].to_string()).or_default().push((f[0].to_string(), f[3].to_string()));
        }
    }
    println!("{} ({weights}) on the public DREAM test labels", preset.display_name());
    println!("| subset | n | Pearson r² | Spearman ρ |\n|---|---|---|---|");
    let t0 = Instant::now();
    let mut total = 0;
    for (subset, items) in &rows {
        let seqs: Vec<&str> = items.iter().map(|(_, s)| s.as_str()).collect();
        let preds = predictor.predict(&seqs).unwrap_or_else(|e| {
            eprintln!("error: subset {subset}: {e}");
            std::process::exit(2)
        });
        let p: Vec<f64> = preds.iter().map(|p| p.expression as f64).collect();
        let y: Vec<f64> = items.iter().map(|(pos, _)| labels[pos]).collect();
        let fmt = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.3}"));
        println!("| {subset} | {} | {} | {} |", items.len(), fmt(pearson_r2(&p, &y)), fmt(spearman(&p, &y)));
        total += items.len();
    }
    let s = t0.elapsed().as_secs_f64();
    println!("\n{total} sequences (fwd + RC each) in {s:.1} s = {:.1} sequences/s", total as f64 / s);
}
