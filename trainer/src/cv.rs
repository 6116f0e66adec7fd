//! `dream cv`: the paper's cross-validation protocols of the secondary benchmarks (paper Methods;
//! PRIXFIXE-MODULES.md §7.3), described by the dataset's [`CvProtocol`]:
//! - human lentiMPRA (`held_out: fold`): each fold is held out as the test set in turn; for each,
//!   one model per other fold used as validation (8 folds train, 1 validates: 9 models), their
//!   test predictions averaged;
//! - Drosophila (`held_out: group`, `random_folds: 10`): each chromosome is held out in turn;
//!   the remaining rows go into 10 random train/validation folds (both orientations of a
//!   sequence together), 10 models, predictions averaged.
//!
//! Every fold model is a resumable `dream train` run directory `OUT/test-T/val-V/`; an
//! interrupted `dream cv` (Ctrl-C) resumes where it stopped when run again with the same
//! arguments. The result is `OUT/cv.tsv`: Pearson r and Spearman ρ (and MSE) per task per held-out
//! set for every model and for the ensemble, then mean ± sd over the held-out sets.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use burn::tensor::backend::AutodiffBackend;
use prixfixe::dataset::{Dataset, HeldOut, LabelledTable};
use prixfixe::model::{ModelPreset, PrixFixeNet};
use prixfixe::predictor::{Predictor, Strands};
use prixfixe::training::Shuffler;
use serde::{Deserialize, Serialize};

use crate::training::{fit, interrupted, load_table, task_metrics, write_atomic, TrainArgs, TrainJob};
use crate::DeviceKind;

/// Arguments of `dream cv`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct CvArgs {
    /// dream-cnn, dream-rnn or dream-attn.
    #[arg(long, value_parser = crate::parse_preset)]
    pub model: ModelPreset,
    /// A dataset with a CV protocol: lentimpra, deepstarr, or a description file with `cv`.
    #[arg(long)]
    pub dataset: String,
    /// The data, in the dataset's format; repeat for several files (they are pooled, e.g. the
    /// train, valid and test samples).
    #[arg(long, required = true)]
    pub data: Vec<PathBuf>,
    /// Output directory: cv.tsv, cv.json, test-T/predictions.tsv and a run directory per model.
    #[arg(long)]
    pub out: PathBuf,
    /// Only these held-out sets (comma-separated values of the fold / group column). Default: all.
    #[arg(long, value_delimiter = ',')]
    pub held_out: Vec<String>,
    /// At most this many models (validation folds) per held-out set. Default: all.
    #[arg(long)]
    pub max_models: Option<usize>,
    /// Epochs per model (default: the dataset's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Batch size (default: the dataset's; 32 for the benchmarks).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// OneCycle peak learning rate (default: the dataset's).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Cap on optimizer steps per epoch.
    #[arg(long)]
    pub steps_per_epoch: Option<usize>,
    /// Seed (random folds, shuffling, dropout).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// cpu, cuda or wgpu.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceKind,
    /// Skip rows whose target is missing or not a number.
    #[arg(long)]
    #[serde(default)]
    pub skip_missing_targets: bool,
}

/// Entry point of `dream cv`.
pub fn run(args: CvArgs) -> Result<()> {
    crate::training::on_device(args.device, CvJob(args))
}

struct CvJob(CvArgs);

impl TrainJob for CvJob {
    type Output = ();
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        cross_validate::<B>(self.0, device)
    }
}

/// Sorts values numerically when they all are numbers, else as text.
fn sorted_values(values: &[String]) -> Vec<String> {
    let mut v: Vec<String> = values.to_vec();
    v.sort();
    v.dedup();
    if v.iter().all(|x| x.parse::<f64>().is_ok()) {
        v.sort_by(|a, b| a.parse::<f64>().unwrap_or(0.0).total_cmp(&b.parse::<f64>().unwrap_or(0.0)));
    }
    v
}

/// Directory-name form of a fold value.
fn slug(v: &str) -> String {
    v.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect()
}

/// One model's (or the ensemble's) metrics on one held-out set.
#[derive(Debug, Clone, Serialize)]
struct Row {
    held_out: String,
    model: String,
    task: String,
    n: usize,
    pearson_r: f64,
    spearman_rho: f64,
    mse: f64,
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 { (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
    (m, sd)
}

fn cross_validate<B: AutodiffBackend>(args: CvArgs, device: B::Device) -> Result<()> {
    let dataset = Dataset::load(&args.dataset).map_err(anyhow::Error::msg)?;
    let Some(protocol) = dataset.cv.clone() else {
        bail!("--dataset {}: the dataset describes no cross-validation protocol (a `cv` entry); lentimpra and deepstarr have one", dataset.name);
    };
    if args.max_models == Some(0) {
        bail!("--max-models must be positive");
    }
    // Pool the data files.
    let mut table: Option<LabelledTable> = None;
    for path in &args.data {
        let t = load_table(path, &dataset, args.skip_missing_targets)?;
        match &mut table {
            Some(all) => all.append(t),
            None => table = Some(t),
        }
    }
    let table = table.context("--data: no file given")?;
    let names_of_files = args.data.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
    let (values, what) = match protocol.held_out {
        HeldOut::Fold => (&table.folds, "fold"),
        HeldOut::Group => (&table.groups, "group"),
    };
    table.check_pairs_together(&dataset, values, &names_of_files, what).map_err(anyhow::Error::msg)?;
    let all_sets = sorted_values(values);
    let chosen: Vec<String> = if args.held_out.is_empty() {
        all_sets.clone()
    } else {
        for v in &args.held_out {
            if !all_sets.contains(v) {
                bail!("--held-out {v:?}: no such {what} in {names_of_files}; the {what}s are {}", all_sets.join(", "));
            }
        }
        args.held_out.clone()
    };
    let keys = table.pair_keys(&dataset);
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let settings_file = args.out.join("cv-args.json");
    let mut recorded = serde_json::to_value(&args)?;
    recorded["dataset_description"] = serde_json::to_value(&dataset)?;
    if let Ok(before) = std::fs::read(&settings_file) {
        let before: serde_json::Value = serde_json::from_slice(&before).unwrap_or_default();
        let strip = |mut v: serde_json::Value| {
            for k in ["held_out", "max_models", "device"] {
                v.as_object_mut().map(|o| o.remove(k));
            }
            v
        };
        if strip(before.clone()) != strip(recorded.clone()) {
            bail!(
                "{} holds a cross-validation run made with other settings ({}); rerun with the same arguments to resume it, or choose another --out",
                args.out.display(),
                before
            );
        }
    }
    write_atomic(&settings_file, &serde_json::to_vec_pretty(&recorded)?)?;
    let names = dataset.output_names();
    let processor = dataset.processor();
    let t_n = names.len();
    let mut rows: Vec<Row> = Vec::new();
    eprintln!(
        "{} on {}: {} rows from {names_of_files}; held-out {what}s: {}",
        args.model.display_name(),
        dataset.name,
        table.len(),
        chosen.join(", ")
    );
    for test in &chosen {
        let test_rows: Vec<usize> = (0..table.len()).filter(|&i| &values[i] == test).collect();
        let rest: Vec<usize> = (0..table.len()).filter(|&i| &values[i] != test).collect();
        // Validation folds of the remaining rows: each row's inner fold label.
        let inner: HashMap<usize, String> = match protocol.random_folds {
            None => rest.iter().map(|&i| (i, values[i].clone())).collect(),
            Some(k) => {
                let mut uniq: Vec<&str> = rest.iter().map(|&i| keys[i].as_str()).collect();
                uniq.sort_unstable();
                uniq.dedup();
                let perm = Shuffler::new(args.seed ^ 0xC0FFEE).permutation(uniq.len());
                let fold_of: HashMap<&str, usize> = perm.iter().enumerate().map(|(pos, &u)| (uniq[u], pos % k)).collect();
                rest.iter().map(|&i| (i, fold_of[keys[i].as_str()].to_string())).collect()
            }
        };
        let inner_values: Vec<String> = rest.iter().map(|i| inner[i].clone()).collect();
        let mut val_folds = sorted_values(&inner_values);
        if val_folds.len() < 2 {
            bail!("held-out {what} {test}: the other rows form {} validation fold(s); at least 2 are needed (one validates, the rest train)", val_folds.len());
        }
        if let Some(m) = args.max_models {
            val_folds.truncate(m);
        }
        let test_set = table.select(&test_rows);
        let padded: Vec<Vec<u8>> = (0..test_set.len()).map(|i| test_set.set.sequences.get(i)).collect();
        let truth: Vec<f64> = test_set.set.targets.iter().map(|&v| v as f64).collect();
        let mut ensemble = vec![0f64; test_rows.len() * t_n];
        let test_dir = args.out.join(format!("test-{}", slug(test)));
        for val in &val_folds {
            let train_rows: Vec<usize> = rest.iter().copied().filter(|i| &inner[i] != val).collect();
            let val_rows: Vec<usize> = rest.iter().copied().filter(|i| &inner[i] == val).collect();
            let run_dir = test_dir.join(format!("val-{}", slug(val)));
            let train_args = TrainArgs {
                model: Some(args.model),
                combo: None,
                recipe: None,
                first: None,
                core: None,
                final_block: None,
                dataset: args.dataset.clone(),
                train: args.data.first().cloned().unwrap_or_default(),
                val: None,
                val_fraction: 0.1,
                out: run_dir.clone(),
                epochs: args.epochs,
                batch_size: args.batch_size,
                lr: args.lr,
                warmup_steps: None,
                steps_per_epoch: args.steps_per_epoch,
                seed: args.seed,
                device: args.device,
                resume: run_dir.join("checkpoint").is_dir() || run_dir.join("checkpoint.old").is_dir(),
                dry_run: false,
                skip_missing_targets: args.skip_missing_targets,
                stop_after_steps: None,
            };
            let done = run_dir.join("done.json");
            if done.is_file() {
                eprintln!("held-out {what} {test}, validation fold {val}: already trained ({})", run_dir.display());
            } else {
                eprintln!(
                    "held-out {what} {test}, validation fold {val}: {} training rows, {} validation rows -> {}",
                    train_rows.len(),
                    val_rows.len(),
                    run_dir.display()
                );
                if run_dir.join(crate::model_io::RUN_CONFIG).is_file() && !train_args.resume {
                    // An earlier attempt stopped before its first checkpoint: start it over.
                    std::fs::remove_dir_all(&run_dir).with_context(|| format!("clearing {}", run_dir.display()))?;
                }
                let extra = serde_json::json!({ "cv": { "held_out": test, "validation_fold": val, "files": names_of_files } });
                crate::keep_freed_memory();
                let outcome = fit::<B>(&train_args, &dataset, &table.set.select(&train_rows), &table.set.select(&val_rows), extra, device.clone())?;
                if !outcome.finished || interrupted() {
                    eprintln!("cross-validation interrupted; run the same `dream cv` command again to resume");
                    return Ok(());
                }
                write_atomic(&done, &serde_json::to_vec_pretty(&outcome.best)?)?;
            }
            // The kept weights on the held-out set.
            let bytes = std::fs::read(run_dir.join(crate::model_io::BEST_WEIGHTS))
                .with_context(|| format!("{}: no kept weights", run_dir.display()))?;
            let config = dataset.model_config(args.model);
            let model = PrixFixeNet::<B::InnerBackend>::from_torch_safetensors(&config, &bytes, &device)?;
            let predictor = Predictor::new(model, processor.clone(), device.clone());
            let preds = predictor.predict_padded_flagged(&padded, Some(&test_set.set.is_reverse), Strands::Both);
            let p: Vec<f64> = preds.iter().flat_map(|p| p.outputs.iter().map(|&v| v as f64)).collect();
            for (e, v) in ensemble.iter_mut().zip(&p) {
                *e += v / val_folds.len() as f64;
            }
            for m in task_metrics(&p, &truth, &names) {
                rows.push(Row { held_out: test.clone(), model: format!("val-{val}"), task: m.name, n: test_rows.len(), pearson_r: m.pearson_r, spearman_rho: m.spearman_rho, mse: m.mse });
            }
        }
        for m in task_metrics(&ensemble, &truth, &names) {
            rows.push(Row { held_out: test.clone(), model: "ensemble".into(), task: m.name, n: test_rows.len(), pearson_r: m.pearson_r, spearman_rho: m.spearman_rho, mse: m.mse });
        }
        let mut pt = format!("id\t{}\t{}\n", names.iter().map(|n| format!("measured:{n}")).collect::<Vec<_>>().join("\t"), names.iter().map(|n| format!("ensemble:{n}")).collect::<Vec<_>>().join("\t"));
        for i in 0..test_rows.len() {
            let id = test_set.ids.get(i).cloned().unwrap_or_else(|| format!("line{}", test_set.lines[i]));
            pt.push_str(&id);
            for k in 0..t_n {
                let _ = write!(pt, "\t{:.6}", truth[i * t_n + k]);
            }
            for k in 0..t_n {
                let _ = write!(pt, "\t{:.6}", ensemble[i * t_n + k]);
            }
            pt.push('\n');
        }
        write_atomic(&test_dir.join("predictions.tsv"), pt.as_bytes())?;
    }
    // Summary: mean ± sd over held-out sets, of single models and of ensembles.
    let mut out = String::from("held_out\tmodel\ttask\tn\tpearson_r\tspearman_rho\tmse\n");
    for r in &rows {
        let _ = writeln!(out, "{}\t{}\t{}\t{}\t{:.4}\t{:.4}\t{:.4}", r.held_out, r.model, r.task, r.n, r.pearson_r, r.spearman_rho, r.mse);
    }
    let mut summary = Vec::new();
    for task in &names {
        for (label, is_ens) in [("single models", false), ("ensemble", true)] {
            let sel: Vec<&Row> = rows.iter().filter(|r| &r.task == task && (r.model == "ensemble") == is_ens).collect();
            if sel.is_empty() {
                continue;
            }
            let (rm, rs) = mean_sd(&sel.iter().map(|r| r.pearson_r).collect::<Vec<_>>());
            let (pm, ps) = mean_sd(&sel.iter().map(|r| r.spearman_rho).collect::<Vec<_>>());
            let _ = writeln!(out, "mean±sd\t{label}\t{task}\t{}\t{rm:.4}±{rs:.4}\t{pm:.4}±{ps:.4}\t", sel.len());
            summary.push(serde_json::json!({"task": task, "of": label, "count": sel.len(), "pearson_r_mean": rm, "pearson_r_sd": rs, "spearman_rho_mean": pm, "spearman_rho_sd": ps}));
        }
    }
    write_atomic(&args.out.join("cv.tsv"), out.as_bytes())?;
    write_atomic(&args.out.join("cv.json"), &serde_json::to_vec_pretty(&serde_json::json!({"rows": rows, "summary": summary}))?)?;
    println!("{}", out.trim_end());
    eprintln!("-> {}", args.out.join("cv.tsv").display());
    Ok(())
}
