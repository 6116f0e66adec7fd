//! `model-export` end to end: import the golden PyTorch weights, load the bundle with the shared
//! loader, reproduce the golden predictions; refuse corrupted, truncated and newer bundles.

use std::path::{Path, PathBuf};
use std::process::Command;

use prixfixe::bundle::Bundle;
use prixfixe::{CpuBackend, DataProcessor, Predictor};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn export(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_model-export")).args(args).output().expect("run model-export");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn golden(m: &str) -> (Vec<String>, Vec<f64>) {
    let io: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join(format!("tests/fixtures/{m}_io.json"))).unwrap()).unwrap();
    let seqs = io["sequences"].as_array().unwrap().iter().map(|s| s["raw"].as_str().unwrap().to_string()).collect();
    let want = io["pred_avg"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    (seqs, want)
}

fn predict(bundle: &Path, seqs: &[String]) -> Vec<f64> {
    let b = Bundle::read(bundle).unwrap();
    let device = Default::default();
    let p = Predictor::new(b.model::<CpuBackend>(&device).unwrap(), DataProcessor::dream(), device);
    p.predict(seqs).unwrap().iter().map(|x| x.expression as f64).collect()
}

fn import(arch: &str, m: &str, out: &Path, precision: &str) {
    let weights = root().join(format!("tests/fixtures/{m}_weights.safetensors"));
    let (ok, log) = export(&[
        "import-torch", "--arch", arch, "--weights", weights.to_str().unwrap(), "--out", out.to_str().unwrap(),
        "--precision", precision,
    ]);
    assert!(ok, "{log}");
}

#[test]
fn imported_golden_weights_reproduce_pred_avg_and_f16_stays_close() {
    let dir = tempfile::tempdir().unwrap();
    for (arch, m) in [("dream-cnn", "cnn"), ("dream-rnn", "rnn"), ("dream-attn", "attn")] {
        let (seqs, want) = golden(m);
        let f32_dir = dir.path().join(format!("{m}-f32"));
        let f16_dir = dir.path().join(format!("{m}-f16"));
        import(arch, m, &f32_dir, "f32");
        import(arch, m, &f16_dir, "f16");
        let got = predict(&f32_dir, &seqs);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-4, "{arch} f32: {g} vs {w}");
        }
        let half = predict(&f16_dir, &seqs);
        let max_diff = half.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        eprintln!("{arch}: f16 vs f32 max |Δprediction| = {max_diff:.2e} over {} golden sequences", seqs.len());
        assert!(max_diff <= 1e-3, "{arch}: f16 differs by {max_diff}");
        let (s32, s16) = (
            std::fs::metadata(f32_dir.join("weights.safetensors")).unwrap().len(),
            std::fs::metadata(f16_dir.join("weights.safetensors")).unwrap().len(),
        );
        assert!((s16 as f64) < 0.51 * s32 as f64, "{arch}: f16 {s16} bytes vs f32 {s32}");
        let card = std::fs::read_to_string(f32_dir.join("README.md")).unwrap();
        assert!(card.contains("Imported from a PyTorch state_dict"), "{card}");
        let (ok, log) = export(&["check", f16_dir.to_str().unwrap()]);
        assert!(ok && log.contains("sha256 verified"), "{log}");
    }
}

#[test]
fn corrupted_truncated_and_newer_bundles_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    import("dream-cnn", "cnn", &good, "f16");
    let copy = |name: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        for f in ["model.json", "weights.safetensors"] {
            std::fs::copy(good.join(f), d.join(f)).unwrap();
        }
        d
    };
    let weights = std::fs::read(good.join("weights.safetensors")).unwrap();

    let flipped = copy("flipped");
    let mut w = weights.clone();
    let k = w.len() - 1000;
    w[k] ^= 0x40;
    std::fs::write(flipped.join("weights.safetensors"), w).unwrap();
    let (ok, log) = export(&["check", flipped.to_str().unwrap()]);
    assert!(!ok && log.contains("weights.safetensors is corrupt") && log.contains("sha256"), "{log}");

    let truncated = copy("truncated");
    std::fs::write(truncated.join("weights.safetensors"), &weights[..weights.len() / 2]).unwrap();
    let (ok, log) = export(&["check", truncated.to_str().unwrap()]);
    assert!(!ok && log.contains("truncated"), "{log}");

    let newer = copy("newer");
    let m = std::fs::read_to_string(good.join("model.json")).unwrap().replace("\"format_version\": 1", "\"format_version\": 7");
    std::fs::write(newer.join("model.json"), m).unwrap();
    let (ok, log) = export(&["check", newer.to_str().unwrap()]);
    assert!(!ok && log.contains("format version 7") && log.contains("reads version 1"), "{log}");

    let missing = copy("missing");
    std::fs::remove_file(missing.join("weights.safetensors")).unwrap();
    let (ok, log) = export(&["check", missing.to_str().unwrap()]);
    assert!(!ok && log.contains("weights.safetensors"), "{log}");

    // An existing bundle is not replaced without --force.
    let weights_path = root().join("tests/fixtures/cnn_weights.safetensors");
    let (ok, log) = export(&[
        "import-torch", "--arch", "dream-cnn", "--weights", weights_path.to_str().unwrap(), "--out", good.to_str().unwrap(),
    ]);
    assert!(!ok && log.contains("already holds a bundle"), "{log}");
    // Weights of another architecture: a clear mismatch error, no panic.
    let rnn = root().join("tests/fixtures/rnn_weights.safetensors");
    let (ok, log) = export(&[
        "import-torch", "--arch", "dream-cnn", "--weights", rnn.to_str().unwrap(), "--out", dir.path().join("x").to_str().unwrap(),
    ]);
    assert!(!ok && log.contains("do not match the architecture"), "{log}");
}
