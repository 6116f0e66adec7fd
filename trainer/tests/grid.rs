//! `dream grid` end to end: the Prix Fixe experiment (paper Fig. 2B) on a few real DREAM rows.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use prixfixe::combination::Combination;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dream(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dream")).args(args).output().expect("run dream");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// The first `n` rows of the real DREAM training sample.
fn real_rows(dir: &Path, n: usize) -> PathBuf {
    let rows: String = std::fs::read_to_string(root().join("data/dream/train_demo.tsv")).unwrap().lines().take(n).map(|l| format!("{l}\n")).collect();
    let path = dir.join("train.tsv");
    std::fs::write(&path, rows).unwrap();
    path
}

/// grid.tsv as (header, rows of cells).
fn table(dir: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(dir.join("grid.tsv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split('\t').map(String::from).collect();
    (header, lines.map(|l| l.split('\t').map(String::from).collect()).collect())
}

fn col(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

/// The CI smoke of issue 12: all 45 compatible combinations train 2 steps each, on the same
/// split, with their parameter counts as `dream combos` computes them on dream-yeast. Small batches
/// keep it to a few minutes on 2 cores (a step costs about linearly in the batch); a peak rate of
/// 0.001 keeps 2-step models from saturating into constant predictions (undefined r).
#[test]
fn grid_smoke_every_compatible_combination_trains_two_steps() {
    let dir = tempfile::tempdir().unwrap();
    let train = real_rows(dir.path(), 32);
    let out = dir.path().join("grid");
    let t = Instant::now();
    let (ok, stdout, err) = dream(&[
        "grid", "--combos", "all", "--train", train.to_str().unwrap(), "--out", out.to_str().unwrap(),
        "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4", "--lr", "0.001", "--val-fraction", "0.25",
    ]);
    assert!(ok, "{err}");
    eprintln!("grid of 45: {:.0} s", t.elapsed().as_secs_f64());
    let (header, rows) = table(&out);
    assert_eq!(
        header.join(" "),
        "number combination trainer first core final parameters epochs best_epoch val_pearson_r val_spearman_rho seconds status"
    );
    assert_eq!(rows.len(), 45, "{rows:?}");
    let (ok, combos, e) = dream(&["combos", "--json", "--compatible"]);
    assert!(ok, "{e}");
    let combos: Vec<serde_json::Value> = serde_json::from_str(&combos).unwrap();
    let failures: Vec<String> =
        rows.iter().filter(|r| r[col(&header, "status")] != "ok").map(|r| format!("{}: {}", r[1], r[col(&header, "status")])).collect();
    assert!(failures.is_empty(), "{} of 45 not ok:\n{}", failures.len(), failures.join("\n"));
    for (r, c) in rows.iter().zip(Combination::compatible()) {
        assert_eq!(r[col(&header, "combination")], c.code());
        assert_eq!(r[col(&header, "number")], c.number().to_string());
        assert_eq!(r[col(&header, "epochs")], "1", "{r:?}");
        let pr: f64 = r[col(&header, "val_pearson_r")].parse().unwrap_or(f64::NAN);
        assert!(pr.is_finite() && pr.abs() <= 1.0, "{}: r {pr}", c);
        let params: u64 = r[col(&header, "parameters")].parse().unwrap();
        let want = combos.iter().find(|j| j["code"] == c.code().as_str()).unwrap()["parameters"].as_u64().unwrap();
        assert!(params > 0);
        assert_eq!(params, want, "{c}");
        assert!(out.join(c.code()).join("model_best.safetensors").is_file(), "{c}");
    }
    let svg = std::fs::read_to_string(out.join("grid.svg")).unwrap();
    assert!(svg.contains("R1") && svg.contains("R2") && svg.contains("DREAM-RNN"), "{svg}");
    assert!(stdout.contains("0_1_1_0") && stdout.lines().count() == 46, "{stdout}");
}

/// Refusals before any work, and a grid that stops part-way resumes without retraining what
/// finished.
#[test]
fn grid_resumes_and_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let train = real_rows(dir.path(), 48);
    let out = dir.path().join("grid");
    let grid = |combos: &str, extra: &[&str]| {
        let mut a = vec![
            "grid", "--combos", combos, "--train", train.to_str().unwrap(), "--out", out.to_str().unwrap(),
            "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "8", "--val-fraction", "0.25", "--seed", "7",
        ];
        a.extend_from_slice(extra);
        dream(&a)
    };
    // An incompatible combination: the rule's reason, nothing written.
    let (ok, _, err) = grid("dream-cnn,0_0_0_2", &[]);
    assert!(!ok);
    assert!(err.contains("0_0_0_2") && err.contains("R2: the UnlockDNA Final Layers Block needs the UnlockDNA Trainer"), "{err}");
    let (ok, _, err) = grid("0_1_9_0", &[]);
    assert!(!ok && err.contains("not a combination"), "{err}");
    assert!(!out.exists());

    // Two combinations finish.
    let (ok, _, err) = grid("0_1_0_0,0_0_0_0", &[]);
    assert!(ok, "{err}");
    let (header, rows) = table(&out);
    assert_eq!(rows.iter().map(|r| r[1].as_str()).collect::<Vec<_>>(), ["0_0_0_0", "0_1_0_0"]);
    assert!(rows.iter().all(|r| r[col(&header, "status")] == "ok"), "{rows:?}");
    let metrics = |code: &str| std::fs::read(out.join(code).join("metrics.csv")).unwrap();
    let (m0, m1) = (metrics("0_0_0_0"), metrics("0_1_0_0"));

    // Without --resume: refused, nothing overwritten.
    let before = std::fs::read(out.join("grid.tsv")).unwrap();
    let (ok, _, err) = grid("0_1_0_0,0_0_0_0", &[]);
    assert!(!ok && err.contains("--resume") && err.contains("nothing was overwritten"), "{err}");
    assert_eq!(std::fs::read(out.join("grid.tsv")).unwrap(), before);
    // --resume with other settings: refused.
    let (ok, _, err) = grid("0_1_0_0", &["--resume", "--lr", "0.001"]);
    assert!(!ok && err.contains("other settings"), "{err}");

    // A third combination (DREAM-Attn) stops after one step, as after Ctrl-C.
    let (ok, _, err) = grid("dream-cnn,0_0_0_0,dream-attn", &["--resume", "--stop-after-steps", "1"]);
    assert!(ok, "{err}");
    assert!(err.contains("already trained") && err.contains("--resume"), "{err}");
    let (header, rows) = table(&out);
    let status: Vec<&str> = rows.iter().map(|r| r[col(&header, "status")].as_str()).collect();
    assert_eq!(status, ["ok", "ok", "interrupted"], "{rows:?}");
    assert!(out.join("0_0_2_0/checkpoint").is_dir());
    // Without --lr each combination has its own default peak rate (0.001 with the UnlockDNA Core).
    let lr = |code: &str| {
        let cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join(code).join("config.json")).unwrap()).unwrap();
        cfg["training"]["settings"]["lr"].as_f64().unwrap()
    };
    assert_eq!((lr("0_1_0_0"), lr("0_0_2_0")), (0.005, 0.001));

    // Resumed: the finished two are not retrained, the third completes from its checkpoint.
    let (ok, stdout, err) = grid("0_0_0_0,0_1_0_0,0_0_2_0", &["--resume"]);
    assert!(ok, "{err}");
    assert!(err.contains("resuming at epoch 1, step 1"), "{err}");
    assert_eq!(metrics("0_0_0_0"), m0);
    assert_eq!(metrics("0_1_0_0"), m1);
    let (header, rows) = table(&out);
    assert_eq!(rows.iter().map(|r| r[1].as_str()).collect::<Vec<_>>(), ["0_0_0_0", "0_1_0_0", "0_0_2_0"]);
    for r in &rows {
        assert_eq!(r[col(&header, "status")], "ok", "{r:?}");
        assert_eq!(r[col(&header, "epochs")], "1", "{r:?}");
        assert!(r[col(&header, "val_pearson_r")].parse::<f64>().unwrap().is_finite());
    }
    assert!(stdout.lines().next().unwrap().starts_with("number"), "{stdout}");
    // The resumed run equals an uninterrupted one.
    let single = dir.path().join("single");
    let (ok, _, err) = dream(&[
        "train", "--combo", "0_0_2_0", "--train", train.to_str().unwrap(), "--out", single.to_str().unwrap(),
        "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "8", "--val-fraction", "0.25", "--seed", "7",
    ]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(single.join("metrics.csv")).unwrap(), metrics("0_0_2_0"));
    let svg = std::fs::read_to_string(out.join("grid.svg")).unwrap();
    assert!(svg.contains("DREAM-Attn") && svg.contains("R1"));
}
