//! End-to-end tests of the `dream` binary on real data and the golden fixtures.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dream(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dream")).args(args).output().expect("run dream");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn predict_reproduces_golden_pred_avg() {
    let dir = tempfile::tempdir().unwrap();
    for (arch, m) in [("dream-cnn", "cnn"), ("dream-rnn", "rnn"), ("dream-attn", "attn")] {
        let io = json(&root().join(format!("tests/fixtures/{m}_io.json")));
        let fasta: String = io["sequences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| format!(">line{}\n{}\n", s["line"], s["raw"].as_str().unwrap()))
            .collect();
        let input = dir.path().join(format!("{m}.fa"));
        std::fs::write(&input, fasta).unwrap();
        let output = dir.path().join(format!("{m}.tsv"));
        let weights = root().join(format!("tests/fixtures/{m}_weights.safetensors"));
        let (ok, _, err) = dream(&[
            "predict", "--model", weights.to_str().unwrap(), "--arch", arch,
            "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap(),
        ]);
        assert!(ok, "{err}");
        let text = std::fs::read_to_string(&output).unwrap();
        let got: Vec<f64> = text.lines().skip(1).map(|l| l.rsplit('\t').next().unwrap().parse().unwrap()).collect();
        let want: Vec<f64> = io["pred_avg"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-4, "{arch}: {g} vs {w}");
        }
        assert!(text.starts_with("id\tprediction\nline1\t"), "{text}");
    }
}

#[test]
fn predict_with_an_imported_bundle_reproduces_golden_pred_avg() {
    let dir = tempfile::tempdir().unwrap();
    for (arch, m) in [("dream-cnn", "cnn"), ("dream-rnn", "rnn"), ("dream-attn", "attn")] {
        let io = json(&root().join(format!("tests/fixtures/{m}_io.json")));
        let lines: String = io["sequences"].as_array().unwrap().iter().map(|s| format!("{}\n", s["raw"].as_str().unwrap())).collect();
        let input = dir.path().join(format!("{m}.txt"));
        std::fs::write(&input, lines).unwrap();
        let preset: prixfixe::model::ModelPreset = arch.parse().unwrap();
        let weights = root().join(format!("tests/fixtures/{m}_weights.safetensors"));
        let bundle = model_export::import_torch(preset.combination(), &prixfixe::dataset::Dataset::dream_yeast(), &weights, m, prixfixe::weights::Precision::F32, None).unwrap();
        let bdir = dir.path().join(format!("bundle-{m}"));
        model_export::write_bundle(&bundle, &bdir).unwrap();
        let output = dir.path().join(format!("{m}.tsv"));
        let (ok, _, err) = dream(&["predict", "--model", bdir.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
        assert!(ok, "{err}");
        let text = std::fs::read_to_string(&output).unwrap();
        let got: Vec<f64> = text.lines().skip(1).map(|l| l.rsplit('\t').next().unwrap().parse().unwrap()).collect();
        let want: Vec<f64> = io["pred_avg"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-4, "{arch} bundle: {g} vs {w}");
        }
    }
    // A corrupted bundle: a clear error, no prediction written.
    let bdir = dir.path().join("bundle-cnn");
    let w = bdir.join("weights.safetensors");
    let mut bytes = std::fs::read(&w).unwrap();
    bytes[5000] ^= 0xff;
    std::fs::write(&w, bytes).unwrap();
    let output = dir.path().join("corrupt.tsv");
    let input = dir.path().join("cnn.txt");
    let (ok, _, err) = dream(&["predict", "--model", bdir.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(!ok && err.contains("corrupt") && !output.exists(), "{err}");
}

fn small_data(dir: &Path) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(root().join("data/dream/train_demo.tsv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let train = dir.join("train.tsv");
    let val = dir.join("val.tsv");
    std::fs::write(&train, lines[..160].join("\n")).unwrap();
    std::fs::write(&val, lines[160..200].join("\n")).unwrap();
    (train, val)
}

#[test]
fn interrupted_then_resumed_run_equals_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let (train, val) = small_data(dir.path());
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "train", "--model", "dream-cnn", "--train", train.to_str().unwrap(), "--val", val.to_str().unwrap(),
            "--out", out.to_str().unwrap(), "--epochs", "2", "--steps-per-epoch", "3", "--batch-size", "16",
            "--seed", "11",
        ];
        args.extend_from_slice(extra);
        let (ok, _, err) = dream(&args);
        assert!(ok, "{err}");
        err
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run(&a, &[]);
    let log = run(&b, &["--stop-after-steps", "4"]); // stops inside epoch 2
    assert!(log.contains("continue with --resume"), "{log}");
    run(&b, &["--resume"]);
    let ma = std::fs::read_to_string(a.join("metrics.csv")).unwrap();
    let mb = std::fs::read_to_string(b.join("metrics.csv")).unwrap();
    assert_eq!(ma.lines().count(), 3, "{ma}");
    assert_eq!(ma, mb);
    assert_eq!(std::fs::read(a.join("model_best.safetensors")).unwrap(), std::fs::read(b.join("model_best.safetensors")).unwrap());
    assert!(a.join("curves.svg").is_file());

    // The trained output directory is a model for predict / ism.
    let ism = dir.path().join("ism.tsv");
    let seq = std::fs::read_to_string(&val).unwrap().lines().next().unwrap().split('\t').next().unwrap().to_string();
    let (ok, _, err) = dream(&["ism", "--model", a.to_str().unwrap(), "--sequence", &seq, "--region", "18-20", "--output", ism.to_str().unwrap()]);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&ism).unwrap();
    assert_eq!(text.lines().count(), 1 + 3 * 3, "{text}");
    assert!(text.starts_with("position\tref\talt\tprediction\tdelta\n18\t"), "{text}");
}

#[test]
fn bad_training_rows_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.tsv");
    std::fs::write(&bad, "TGCATTTTTTTCACATCACGT\t1.5\nTGCATTTTTTTCACATCACGT\tabc\n").unwrap();
    let (ok, _, err) = dream(&["train", "--model", "dream-cnn", "--train", bad.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("bad.tsv:2:") && err.contains("\"abc\" is not a number"), "{err}");

    std::fs::write(&bad, "TGCATTTTTTTCACATCACGT\t1.5\nTGCATTTTTTTCACATCAXGT\t2\n").unwrap();
    let (ok, _, err) = dream(&["train", "--model", "dream-cnn", "--train", bad.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("bad.tsv:2:19") && err.contains("'X'"), "{err}");
}

#[test]
fn ragged_tsv_ism_from_a_file_and_out_of_range_expression() {
    let dir = tempfile::tempdir().unwrap();
    let weights = root().join("tests/fixtures/cnn_weights.safetensors");
    let seq = "TGCATTTTTTTCACATCGTACGTTGCAACGTTAGCATGCATCGATCGTAGCTAGCTAGCTGATCGATCGTAGCTAGCTGACTGATCGATCGGGTTACGGCTGTT";
    // Ragged TSV: the second row lacks the third column; output rows all have every column.
    let input = dir.path().join("in.tsv");
    std::fs::write(&input, format!("sequence\tname\tnote\n{seq}\ta\tx\n{seq}\tb\n")).unwrap();
    let output = dir.path().join("out.tsv");
    let (ok, _, err) = dream(&["predict", "--model", weights.to_str().unwrap(), "--arch", "dream-cnn", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&output).unwrap();
    let widths: Vec<usize> = text.lines().map(|l| l.split('\t').count()).collect();
    assert!(widths.iter().all(|&w| w == widths[0]) && widths.len() == 3, "{text}");

    // ISM from a FASTA file: one record is taken as is; several need --id.
    let fasta = dir.path().join("two.fa");
    std::fs::write(&fasta, format!(">p1\n{seq}\n>p2\n{}\n", seq.replace("GTACG", "GTTCG"))).unwrap();
    let ism = dir.path().join("ism.tsv");
    let (ok, _, err) = dream(&["ism", "--model", weights.to_str().unwrap(), "--arch", "dream-cnn", "--input", fasta.to_str().unwrap(), "--region", "18-19", "--output", ism.to_str().unwrap()]);
    assert!(!ok && err.contains("holds 2 sequences") && err.contains("--id"), "{err}");
    let (ok, _, err) = dream(&["ism", "--model", weights.to_str().unwrap(), "--arch", "dream-cnn", "--input", fasta.to_str().unwrap(), "--id", "p2", "--region", "18-19", "--output", ism.to_str().unwrap()]);
    assert!(ok, "{err}");
    let from_file = std::fs::read_to_string(&ism).unwrap();
    assert!(from_file.starts_with("position\tref\talt\tprediction\tdelta\n18\tG\t"), "{from_file}");
    let (ok, _, err) = dream(&["ism", "--model", weights.to_str().unwrap(), "--arch", "dream-cnn", "--sequence", &seq.replace("GTACG", "GTTCG"), "--region", "18-19", "--output", ism.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(from_file, std::fs::read_to_string(&ism).unwrap());

    // Expression outside 0-17 trains but warns, naming the first line.
    let table = dir.path().join("t.tsv");
    std::fs::write(&table, format!("{seq}\t1.5\n{seq}\t250\n{seq}\t3\n{seq}\t4.5\n")).unwrap();
    let (ok, _, err) = dream(&["train", "--model", "dream-cnn", "--train", table.to_str().unwrap(), "--val-fraction", "0.5", "--out", dir.path().join("o").to_str().unwrap(), "--dry-run"]);
    assert!(ok, "{err}");
    assert!(err.contains("1 expression values lie outside 0-17 (first at line 2)"), "{err}");
    assert!(!dir.path().join("o").exists(), "--dry-run wrote files");
}

/// `dream combos --json` lists the 81 combinations; its verdicts agree with the published code's
/// compatibility run (PRIXFIXE-MODULES.md §6; tests/fixtures/modules/compat_matrix.json).
#[test]
fn combos_agree_with_compat_matrix() {
    let (ok, stdout, stderr) = dream(&["combos", "--json"]);
    assert!(ok, "{stderr}");
    let ours: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    let m = json(&root().join("tests/fixtures/modules/compat_matrix.json"));
    let published = m["results"]["k10s1+oh"].as_array().unwrap();
    assert_eq!(ours.len(), 81);
    let digit = |t: &serde_json::Value| match t.as_str().unwrap() {
        "autosome" => '0',
        "bhi" => '1',
        _ => '2',
    };
    for (row, p) in ours.iter().zip(published) {
        let code: String = [digit(&p["dp_trainer"]), digit(&p["first"]), digit(&p["core"]), digit(&p["final"])]
            .iter()
            .map(char::to_string)
            .collect::<Vec<_>>()
            .join("_");
        assert_eq!(row["code"], code.as_str());
        let compatible = p["status"] == "ok";
        assert_eq!(row["compatible"], compatible, "{code}");
        assert_eq!(row["reason"].is_null(), compatible, "{code}");
        if !compatible {
            let r = row["reason"].as_str().unwrap();
            assert!(r.starts_with(if digit(&p["dp_trainer"]) == '2' { "R1" } else { "R2" }), "{code}: {r}");
        }
    }
    assert_eq!(ours.iter().filter(|r| r["compatible"] == true).count(), 45);
    let rnn = ours.iter().find(|r| r["code"] == "0_1_1_0").unwrap();
    assert_eq!((rnn["preset"].as_str(), rnn["parameters"].as_u64()), (Some("dream-rnn"), Some(4_130_578)));
    // The table form says the same in words.
    let (ok, table, _) = dream(&["combos"]);
    assert!(ok);
    assert!(table.lines().any(|l| l.contains("0_1_1_0") && l.contains("yes") && l.contains("DREAM-RNN")), "{table}");
    assert!(table.lines().any(|l| l.contains("2_0_0_0") && l.contains("R1")), "{table}");
}

/// Any compatible combination imports from its state_dict and `dream predict` runs it with its
/// own DataProcessor and Predictor: #32 (BHI DataProcessor + Trainer, BHI First, autosome Core,
/// BHI Final; BHIPredictor = mean of the sequence and its flip) and #81 (all UnlockDNA; the
/// width and layer count read from the weights) reproduce the reference's predictions.
#[test]
fn predict_with_imported_combinations_reproduces_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    for (code, fixture, field, want_key) in [
        ("1_1_0_1", "bfirst_acore_bfinal", "padded110", "pred_avg"),
        ("2_2_2_2", "ufirst_ucore_ufinal", "raw", "expression"),
    ] {
        let io = json(&root().join(format!("tests/fixtures/modules/{fixture}_io.json")));
        let lines: String = io["sequences"].as_array().unwrap().iter().map(|s| format!("{}\n", s[field].as_str().unwrap())).collect();
        let input = dir.path().join(format!("{code}.txt"));
        std::fs::write(&input, lines).unwrap();
        let weights = root().join(format!("tests/fixtures/modules/{fixture}_weights.safetensors"));
        let combo: prixfixe::combination::Combination = code.parse().unwrap();
        let bundle = model_export::import_torch(combo, &prixfixe::dataset::Dataset::dream_yeast(), &weights, code, prixfixe::weights::Precision::F32, None).unwrap();
        assert_eq!(bundle.manifest.combination, Some(combo));
        assert!(model_export::model_card(&bundle.manifest).contains(&format!("`{code}`")));
        let bdir = dir.path().join(format!("bundle-{code}"));
        model_export::write_bundle(&bundle, &bdir).unwrap();
        let output = dir.path().join(format!("{code}.tsv"));
        let (ok, _, err) = dream(&["predict", "--model", bdir.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
        assert!(ok, "{code}: {err}");
        let text = std::fs::read_to_string(&output).unwrap();
        let got: Vec<f64> = text.lines().skip(1).map(|l| l.rsplit('\t').next().unwrap().parse().unwrap()).collect();
        let want: Vec<f64> = io[want_key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(got.len(), want.len(), "{code}");
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-4, "{code}: {g} vs {w}");
        }
    }
    // An incompatible combination and a BHI DataProcessor on another assay are refused.
    let weights = root().join("tests/fixtures/modules/bfirst_acore_bfinal_weights.safetensors");
    let yeast = prixfixe::dataset::Dataset::dream_yeast();
    let e = model_export::import_torch("0_0_0_2".parse().unwrap(), &yeast, &weights, "x", prixfixe::weights::Precision::F32, None).unwrap_err();
    assert!(format!("{e:#}").contains("R2"), "{e:#}");
    let dros = prixfixe::dataset::Dataset::deepstarr();
    let e = model_export::import_torch("1_1_0_1".parse().unwrap(), &dros, &weights, "x", prixfixe::weights::Precision::F32, None).unwrap_err();
    assert!(format!("{e:#}").contains("DREAM yeast promoter sequences only"), "{e:#}");
}

/// A combination run by code and by team names is the same run; its bundle carries the
/// combination and predicts; bad combinations are refused before any work. (Every compatible
/// combination training 2 steps is the grid smoke, `tests/grid.rs`.)
#[test]
fn combination_runs_by_code_or_name_bundle_and_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let rows: String = std::fs::read_to_string(root().join("data/dream/train_demo.tsv")).unwrap().lines().take(64).map(|l| format!("{l}\n")).collect();
    let train = dir.path().join("train.tsv");
    std::fs::write(&train, rows).unwrap();
    let c: prixfixe::combination::Combination = "0_2_0_1".parse().unwrap();
    let out = dir.path().join(c.code());
    let (ok, _, err) = dream(&[
        "train", "--combo", &c.code(), "--train", train.to_str().unwrap(), "--out", out.to_str().unwrap(),
        "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "16", "--val-fraction", "0.25",
    ]);
    assert!(ok, "{c}: {err}");
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(metrics.starts_with("epoch,steps,train_huber,"), "{c}: {metrics}");
    let loss: f64 = metrics.lines().nth(1).unwrap().split(',').nth(2).unwrap().parse().unwrap();
    assert!(loss.is_finite() && loss > 0.0, "{c}: loss {loss}");
    let cfg = json(&out.join("config.json"));
    assert_eq!(cfg["combination"]["first"], c.first.name(), "{c}");
    // The same run named by teams; resuming it with --combo is the same run.
    let named = dir.path().join("named");
    let (ok, _, err) = dream(&[
        "train", "--first", "unlockdna", "--core", "autosome", "--final", "bhi", "--train", train.to_str().unwrap(), "--out", named.to_str().unwrap(),
        "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "16", "--val-fraction", "0.25",
    ]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read_to_string(named.join("metrics.csv")).unwrap(), std::fs::read_to_string(dir.path().join("0_2_0_1/metrics.csv")).unwrap());
    // Bundle one and predict with it.
    let bundle = model_export::bundle_from_run(&dir.path().join("0_2_0_1"), "combo", prixfixe::weights::Precision::F32, None, None).unwrap();
    assert_eq!(bundle.manifest.combination.map(|c| c.code()), Some("0_2_0_1".into()));
    assert_eq!(bundle.manifest.title, "Prix Fixe 0_2_0_1");
    let bdir = dir.path().join("bundle");
    model_export::write_bundle(&bundle, &bdir).unwrap();
    let output = dir.path().join("p.tsv");
    let (ok, _, err) = dream(&["predict", "--model", bdir.to_str().unwrap(), "--input", train.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read_to_string(&output).unwrap().lines().count(), 65);
    // Refused before any work: incompatible combinations, the BHI DataProcessor on non-yeast data.
    for (code, dataset, why) in [("0_0_0_2", "dream-yeast", "R2"), ("2_0_0_0", "dream-yeast", "R1"), ("1_1_0_1", "deepstarr", "DREAM yeast promoter sequences only")] {
        let out = dir.path().join(format!("bad-{code}"));
        let (ok, _, err) = dream(&["train", "--combo", code, "--dataset", dataset, "--train", train.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert!(!ok && err.contains(why), "{code}: {err}");
        assert!(!out.exists(), "{code}: nothing may be written");
    }
}

/// The BHI and UnlockDNA Trainers resume exactly too (the BHI pad sides and the UnlockDNA masks
/// are drawn from the seed and the step), and their runs predict on the expression scale: the
/// standardised targets are folded back into the last Linear, so `dream evaluate`-style r and the
/// predictions' range are those of expression bins.
#[test]
fn bhi_and_unlockdna_trainer_runs_resume_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (train, val) = small_data(dir.path());
    for code in ["1_1_0_1", "2_2_2_2"] {
        let run = |out: &Path, extra: &[&str]| {
            let mut args = vec![
                "train", "--combo", code, "--train", train.to_str().unwrap(), "--val", val.to_str().unwrap(),
                "--out", out.to_str().unwrap(), "--epochs", "2", "--steps-per-epoch", "2", "--batch-size", "8", "--seed", "5",
            ];
            args.extend_from_slice(extra);
            let (ok, _, err) = dream(&args);
            assert!(ok, "{code}: {err}");
            err
        };
        let (a, b) = (dir.path().join(format!("{code}-a")), dir.path().join(format!("{code}-b")));
        run(&a, &[]);
        let log = run(&b, &["--stop-after-steps", "3"]);
        assert!(log.contains("continue with --resume"), "{log}");
        run(&b, &["--resume"]);
        let ma = std::fs::read_to_string(a.join("metrics.csv")).unwrap();
        assert_eq!(ma, std::fs::read_to_string(b.join("metrics.csv")).unwrap(), "{code}");
        let col = if code == "1_1_0_1" { "train_huber" } else { "train_mse_ce" };
        assert!(ma.starts_with(&format!("epoch,steps,{col},")), "{ma}");
        assert_eq!(std::fs::read(a.join("model_best.safetensors")).unwrap(), std::fs::read(b.join("model_best.safetensors")).unwrap(), "{code}");
        let cfg = json(&a.join("config.json"));
        let scale = &cfg["training"]["target_scale"];
        assert_eq!(scale["shift"].as_f64().unwrap() == 11.0, code == "1_1_0_1", "{scale}");
        assert!((scale["shift"].as_f64().unwrap() - 11.0).abs() < 1.5 && scale["scale"].as_f64().unwrap() > 1.0, "{scale}");
        // Its bundle says so (an imported official state_dict states the z-score scale instead).
        let bundle = model_export::bundle_from_run(&a, "b", prixfixe::weights::Precision::F32, None, None).unwrap();
        assert!(bundle.manifest.output.meaning.starts_with("expression bin (0-17"), "{}", bundle.manifest.output.meaning);
        assert_eq!(bundle.manifest.output.units, ["sorting bin, 0-17 (training scale)"]);
        let card = model_export::model_card(&bundle.manifest);
        let trainer = if code == "1_1_0_1" { "BHI Trainer: AdamW lr 0.0015" } else { "UnlockDNA Trainer: Adam lr 0.001" };
        assert!(card.contains(trainer) && !card.contains("18-bin distribution") && !card.contains("OneCycle"), "{card}");
        // A resume must see the same data: the training file changed under the same name is refused.
        if code == "1_1_0_1" {
            let copy = dir.path().join("train-copy.tsv");
            std::fs::copy(&train, &copy).unwrap();
            let c = dir.path().join("changed");
            let args = |extra: &'static str| {
                let mut v = vec!["train", "--combo", code, "--train", copy.to_str().unwrap(), "--val", val.to_str().unwrap(), "--out", c.to_str().unwrap(),
                    "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "8", "--stop-after-steps", "1"];
                if !extra.is_empty() {
                    v.push(extra);
                }
                v.into_iter().map(String::from).collect::<Vec<_>>()
            };
            let a1 = args("");
            let (ok, _, err) = dream(&a1.iter().map(String::as_str).collect::<Vec<_>>());
            assert!(ok, "{err}");
            let text = std::fs::read_to_string(&copy).unwrap();
            std::fs::write(&copy, text.lines().rev().collect::<Vec<_>>().join("\n")).unwrap();
            let a2 = args("--resume");
            let (ok, _, err) = dream(&a2.iter().map(String::as_str).collect::<Vec<_>>());
            assert!(!ok && err.contains("changed since") && err.contains("sha256"), "{err}");
        }
        if code != "1_1_0_1" {
            // The untrained Conformer's outputs are far from 0 (PyTorch default init, 4 layers)
            // and the warm-up schedule barely moves them in 4 steps: no range to check.
            continue;
        }
        // Predictions on the bin scale: the mean prediction lies near the training mean (≈ 11),
        // not near 0 where the standardised outputs are.
        let out = dir.path().join(format!("{code}.tsv"));
        let (ok, _, err) = dream(&["predict", "--model", a.to_str().unwrap(), "--input", val.to_str().unwrap(), "--output", out.to_str().unwrap()]);
        assert!(ok, "{err}");
        let preds: Vec<f64> = std::fs::read_to_string(&out).unwrap().lines().skip(1).map(|l| l.rsplit('\t').next().unwrap().parse().unwrap()).collect();
        assert_eq!(preds.len(), 40);
        let mean = preds.iter().sum::<f64>() / 40.0;
        assert!(mean > 3.0 && mean < 19.0, "{code}: mean prediction {mean}");
    }
}

/// `--device cuda|wgpu` on a `dream` built without that feature: an error saying how to rebuild
/// (predict and ism as train). With the features, tests/wgpu.rs runs the wgpu path.
#[test]
fn gpu_devices_without_their_feature_say_how_to_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let weights = root().join("tests/fixtures/cnn_weights.safetensors");
    let input = dir.path().join("one.txt");
    std::fs::write(&input, "TGCATTTTTTTCACATCGATCGATCGATCGATCGATCGATCGATCGATCGATCGATCGATCGATCGATCGATCGATCGATCGATCGATCGATCGGTTACGGCTGTT\n").unwrap();
    let out = dir.path().join("out.tsv");
    for (device, feature) in [("cuda", cfg!(feature = "cuda")), ("wgpu", cfg!(feature = "wgpu"))] {
        if feature {
            continue;
        }
        let predict = ["predict", "--model", weights.to_str().unwrap(), "--arch", "dream-cnn", "--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--device", device];
        let ism = ["ism", "--model", weights.to_str().unwrap(), "--arch", "dream-cnn", "--sequence", "ACGTACGTACGT", "--output", out.to_str().unwrap(), "--device", device];
        for args in [&predict[..], &ism[..]] {
            let (ok, _, err) = dream(args);
            assert!(!ok && !out.exists(), "{err}");
            assert!(err.contains(&format!("rebuild with `cargo build --release -p dream-trainer --features {device}`")) && !err.contains("panicked"), "{err}");
        }
    }
    let (ok, _, err) = dream(&["predict", "--model", weights.to_str().unwrap(), "--arch", "dream-cnn", "--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--device", "tpu"]);
    assert!(!ok && err.contains("invalid value 'tpu' for '--device"), "{err}");
}
