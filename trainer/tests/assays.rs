//! `dream` on the other assays (Drosophila STARR-seq, human lentiMPRA, a user's own table):
//! import of the reference benchmark weights, multi-output predict / evaluate, `dream cv` with
//! resume, and bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dream(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dream")).args(args).output().expect("run dream");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn data(rel: &str) -> String {
    root().join("data").join(rel).display().to_string()
}

/// Header + the given 0-based data rows of a sample file.
fn rows_of(rel: &str, rows: &[usize]) -> String {
    let text = std::fs::read_to_string(data(rel)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = format!("{}\n", lines[0]);
    for &r in rows {
        out.push_str(lines[1 + r]);
        out.push('\n');
    }
    out
}

fn table(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| l.split('\t').map(String::from).collect()).collect()
}

#[test]
fn imported_human_fixture_predicts_as_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("human-cnn");
    let weights = root().join("tests/fixtures/human_dream_cnn_weights.safetensors");
    // What `model-export import-torch --arch dream-cnn --dataset lentimpra` runs.
    let dataset = prixfixe::dataset::Dataset::load("lentimpra").unwrap();
    let b = model_export::import_torch(prixfixe::model::ModelPreset::DreamCnn.combination(), &dataset, &weights, "human-cnn", prixfixe::weights::Precision::F32, None).unwrap();
    model_export::write_bundle(&b, &bundle).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle.join("model.json")).unwrap()).unwrap();
    assert_eq!(manifest["input"]["length"], 230);
    assert_eq!(manifest["output"]["names"], serde_json::json!(["activity"]));
    assert_eq!(manifest["parameters"], 1_945_857);
    let input = dir.path().join("four.tsv");
    std::fs::write(&input, rows_of("human/sample_test.tsv", &[0, 1, 3, 4])).unwrap();
    let out = dir.path().join("pred.tsv");
    let (ok, _, err) = dream(&["predict", "--model", p(&bundle), "--input", p(&input), "--output", p(&out), "--strands", "as-is"]);
    assert!(ok, "{err}");
    let t = table(&out);
    assert_eq!(t[0], ["id", "activity"]);
    let io: serde_json::Value = serde_json::from_slice(&std::fs::read(root().join("tests/fixtures/human_dream_cnn_io.json")).unwrap()).unwrap();
    let want: Vec<f64> = io["prediction"].as_array().unwrap().iter().map(|v| v[0].as_f64().unwrap()).collect();
    let ids: Vec<&str> = io["sequences"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
    for (i, row) in t[1..].iter().enumerate() {
        assert_eq!(row[0], ids[i]);
        let got: f64 = row[1].parse().unwrap();
        assert!((got - want[i]).abs() <= 1e-3 * scale, "row {i}: {got} vs {}", want[i]);
    }
    // The default scores both orientations: a different, documented number.
    let (ok, _, err) = dream(&["predict", "--model", p(&bundle), "--input", p(&input), "--output", p(&out)]);
    assert!(ok, "{err}");
    let both: Vec<f64> = table(&out)[1..].iter().map(|r| r[1].parse().unwrap()).collect();
    assert!(both.iter().zip(&want).any(|(a, b)| (a - b).abs() > 1e-3 * scale));
}

#[test]
fn drosophila_training_predicts_dev_and_hk_and_evaluates_per_task() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("dros");
    let (ok, _, err) = dream(&[
        "train", "--model", "dream-cnn", "--dataset", "deepstarr", "--train", &data("drosophila/sample_train.tsv"),
        "--val", &data("drosophila/sample_val.tsv"), "--out", p(&run_dir), "--epochs", "1", "--steps-per-epoch", "3",
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("both orientations as rows"), "{err}");
    let metrics = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    assert!(metrics.starts_with("epoch,steps,train_mse,val_pearson_r,val_spearman_rho,val_mse,val_pearson_r:Dev,"), "{metrics}");
    let out = dir.path().join("pred.tsv");
    let (ok, _, err) = dream(&["predict", "--model", p(&run_dir), "--input", &data("drosophila/sample_test.tsv"), "--output", p(&out)]);
    assert!(ok, "{err}");
    let t = table(&out);
    assert_eq!(t[0], ["id", "Dev", "Hk"]);
    assert_eq!(t.len(), 1001);
    // evaluate --data equals the metrics computed from predict's own output.
    let json = dir.path().join("eval.json");
    let (ok, stdout, err) = dream(&["evaluate", "--model", p(&run_dir), "--data", &data("drosophila/sample_test.tsv"), "--json", p(&json)]);
    assert!(ok, "{err}");
    assert!(stdout.contains("| Dev | 1000 |") && stdout.contains("| Hk | 1000 |"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let truth = table(Path::new(&data("drosophila/sample_test.tsv")));
    for (k, col) in [(0usize, 6usize), (1, 7)] {
        let pred: Vec<f64> = t[1..].iter().map(|r| r[1 + k].parse().unwrap()).collect();
        let y: Vec<f64> = truth[1..].iter().map(|r| r[col].parse().unwrap()).collect();
        let r = prixfixe::metrics::pearson(&pred, &y).unwrap();
        let got = report["tasks"][k]["pearson_r"].as_f64().unwrap();
        assert!((r - got).abs() < 1e-4, "task {k}: {r} vs {got}");
    }
}

#[test]
fn cv_runs_the_human_protocol_resumes_and_matches_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cv");
    let base = |held: &str| {
        vec![
            "cv".to_string(), "--model".into(), "dream-cnn".into(), "--dataset".into(), "lentimpra".into(),
            "--data".into(), data("human/sample_train.tsv"), "--data".into(), data("human/sample_valid.tsv"),
            "--data".into(), data("human/sample_test.tsv"), "--out".into(), p(&out).into(), "--held-out".into(), held.into(),
            "--max-models".into(), "1".into(), "--epochs".into(), "1".into(), "--steps-per-epoch".into(), "2".into(),
        ]
    };
    let args = base("0");
    let (ok, _, err) = dream(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok, "{err}");
    // Second invocation with one more held-out fold: the first model is reused, not retrained.
    let args = base("0,1");
    let (ok, stdout, err) = dream(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok, "{err}");
    assert!(err.contains("held-out fold 0, validation fold 1: already trained"), "{err}");
    assert!(!err.contains("held-out fold 0, validation fold 1: 2"), "{err}");
    let t = table(&out.join("cv.tsv"));
    assert_eq!(t[0], ["held_out", "model", "task", "n", "pearson_r", "spearman_rho", "mse"]);
    let find = |h: &str, m: &str| t.iter().find(|r| r[0] == h && r[1] == m).unwrap_or_else(|| panic!("no row {h} {m}: {stdout}")).clone();
    let single = find("0", "val-1");
    let ens = find("0", "ensemble");
    assert_eq!(single[4..], ens[4..], "one model: the ensemble is that model");
    assert_eq!(find("1", "val-0")[1], "val-0");
    assert!(t.iter().any(|r| r[0] == "mean±sd" && r[1] == "ensemble"));
    // The held-out fold-0 rows scored by `dream evaluate` on that fold model: the same r.
    let all: Vec<String> = ["human/sample_train.tsv", "human/sample_valid.tsv", "human/sample_test.tsv"]
        .iter()
        .flat_map(|f| std::fs::read_to_string(data(f)).unwrap().lines().skip(1).map(String::from).collect::<Vec<_>>())
        .filter(|l| l.rsplit('\t').next() == Some("0"))
        .collect();
    let fold0 = dir.path().join("fold0.tsv");
    std::fs::write(&fold0, format!("seq_id\tseq\tmean_value\tfold\n{}\n", all.join("\n"))).unwrap();
    assert_eq!(single[3], all.len().to_string());
    let (ok, stdout, err) = dream(&["evaluate", "--model", p(&out.join("test-0/val-1")), "--data", p(&fold0)]);
    assert!(ok, "{err}");
    assert!(stdout.contains(&format!("| activity | {} | {} |", all.len(), single[4])), "{stdout} vs {single:?}");
    // Unknown held-out fold: listed choices, nothing trained.
    let args = base("11");
    let (ok, _, err) = dream(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!ok && err.contains("--held-out \"11\": no such fold") && err.contains("0, 1, 2, 3, 4, 5, 6, 7, 8, 9"), "{err}");
}

#[test]
fn bad_assay_input_names_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("run");
    let train = |dataset: &str, file: &Path, extra: &[&str]| {
        let mut a = vec!["train", "--model", "dream-cnn", "--dataset", dataset, "--train", p(file), "--out", p(&out), "--dry-run"];
        a.extend_from_slice(extra);
        dream(&a)
    };
    // Unknown column: the columns found are listed.
    let f = d.join("renamed.tsv");
    std::fs::write(&f, rows_of("human/sample_test.tsv", &[0, 1]).replacen("mean_value", "value", 1)).unwrap();
    let (ok, _, err) = train("lentimpra", &f, &[]);
    assert!(!ok && err.contains("renamed.tsv:1: target activity: no column \"mean_value\"; the columns are \"seq_id\", \"seq\", \"value\", \"fold\""), "{err}");
    // Missing and non-numeric targets: the row; --skip-missing-targets skips and counts.
    let text = rows_of("human/sample_test.tsv", &[0, 1, 2, 3, 4, 5, 6, 7]);
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for (i, v) in [(2usize, "NA"), (4, "")] {
        let mut f: Vec<&str> = lines[i].split('\t').collect();
        f[2] = v;
        lines[i] = f.join("\t");
    }
    let f = d.join("missing.tsv");
    std::fs::write(&f, lines.join("\n") + "\n").unwrap();
    let (ok, _, err) = train("lentimpra", &f, &[]);
    assert!(!ok && err.contains("missing.tsv:3:") && err.contains("\"NA\" is not a number") && err.contains("--skip-missing-targets"), "{err}");
    let (ok, _, err) = train("lentimpra", &f, &["--skip-missing-targets", "--val-fraction", "0.5"]);
    assert!(ok && err.contains("skipped 2 rows with a missing or non-numeric target (first at line 3)"), "{err}");
    // Wrong length: the first offending line and its length.
    let mut lines: Vec<String> = rows_of("drosophila/sample_test.tsv", &[0, 1, 2]).lines().map(String::from).collect();
    let mut f3: Vec<String> = lines[3].split('\t').map(String::from).collect();
    f3[5].truncate(240);
    lines[3] = f3.join("\t");
    let f = d.join("short.tsv");
    std::fs::write(&f, lines.join("\n") + "\n").unwrap();
    let (ok, _, err) = train("deepstarr", &f, &[]);
    assert!(!ok && err.contains("short.tsv:4: sequence is 240 bp; this model reads exactly 249 bp"), "{err}");
    // A forward/reverse pair split across folds.
    let all: Vec<String> = ["human/sample_train.tsv", "human/sample_valid.tsv", "human/sample_test.tsv"]
        .iter()
        .flat_map(|f| std::fs::read_to_string(data(f)).unwrap().lines().skip(1).map(String::from).collect::<Vec<_>>())
        .collect();
    let (rev, fwd) = all
        .iter()
        .filter(|l| l.contains("_Reversed:"))
        .find_map(|r| {
            let key = r.split('\t').next().unwrap().replace("_Reversed:", "");
            all.iter().find(|l| l.starts_with(&format!("{key}_F\t"))).map(|f| (r.clone(), f.clone()))
        })
        .expect("a forward/reverse pair in the human samples");
    let mut ff: Vec<&str> = fwd.split('\t').collect();
    let other = if ff[3] == "0" { "1" } else { "0" };
    ff[3] = other;
    let f = d.join("split-pair.tsv");
    std::fs::write(&f, format!("seq_id\tseq\tmean_value\tfold\n{rev}\n{}\n", ff.join("\t"))).unwrap();
    let (ok, _, err) = dream(&["cv", "--model", "dream-cnn", "--dataset", "lentimpra", "--data", p(&f), "--out", p(&d.join("cvx"))]);
    assert!(!ok && err.contains("are in different folds") && err.contains("(line 2)") && err.contains("(line 3)"), "{err}");
    // A dataset file with an unknown key.
    let f = d.join("mine.json");
    std::fs::write(&f, r#"{"name":"mine","sequence":"seq","targets":[{"column":"y"}],"length":{"exact":10},"lenght":3}"#).unwrap();
    let (ok, _, err) = train(p(&f), &f, &[]);
    assert!(!ok && err.contains("mine.json: unknown field `lenght`"), "{err}");
}

/// The README's "Your own data" walkthrough (shortened training): a user's CSV described by a
/// dataset JSON file trains, evaluates per task on held-out rows, bundles with its scores, and
/// the bundle predicts the named output and states the length rule.
#[test]
fn own_table_walkthrough() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("mine");
    let dataset = data("own-example/elements.json");
    let (ok, _, err) = dream(&[
        "train", "--model", "dream-cnn", "--dataset", &dataset, "--train", &data("own-example/elements.csv"),
        "--out", p(&run_dir), "--epochs", "1", "--steps-per-epoch", "2",
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("514 training rows") && err.contains("488 validation rows"), "{err}");
    let json = run_dir.join("test.json");
    let (ok, stdout, err) = dream(&["evaluate", "--model", p(&run_dir), "--data", &data("own-example/elements-test.csv"), "--json", p(&json)]);
    assert!(ok, "{err}");
    assert!(stdout.contains("| activity | 458 |"), "{stdout}");
    let b = model_export::bundle_from_run(&run_dir, "mine", prixfixe::weights::Precision::F32, Some(&json), None).unwrap();
    assert_eq!(b.manifest.input.length, 230);
    assert!(b.manifest.input.exact_length);
    assert_eq!(b.output_names(), ["activity"]);
    let bundle = dir.path().join("bundle");
    model_export::write_bundle(&b, &bundle).unwrap();
    assert!(std::fs::read_to_string(bundle.join("README.md")).unwrap().contains("| activity | 458 |"));
    let out = dir.path().join("pred.tsv");
    let (ok, _, err) = dream(&["predict", "--model", p(&bundle), "--input", &data("own-example/elements-test.csv"), "--output", p(&out)]);
    assert!(ok, "{err}");
    let t = table(&out);
    assert_eq!((t[0].clone(), t.len()), (vec!["id".to_string(), "activity".to_string()], 459));
    // The same run predicts the same numbers as its bundle.
    let out2 = dir.path().join("pred-run.tsv");
    assert!(dream(&["predict", "--model", p(&run_dir), "--input", &data("own-example/elements-test.csv"), "--output", p(&out2)]).0);
    assert_eq!(t, table(&out2));
}
