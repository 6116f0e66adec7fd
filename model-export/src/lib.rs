//! Making model bundles (`prixfixe::bundle`) from `dream train` runs and from PyTorch
//! `state_dict`s, and writing their model cards. The loading side lives in `prixfixe::bundle`,
//! shared by `dream predict` and the web app.

use std::path::{Path, PathBuf};

pub mod pth;

use anyhow::{bail, Context, Result};
use prixfixe::combination::{Combination, Team, Wiring};
use prixfixe::bundle::{sha256_hex, Bundle, DataFile, Manifest, Provenance};
use prixfixe::dataset::{Dataset, LengthRule, Loss};
use prixfixe::model::{ModelPreset, PrixFixeConfig};
use prixfixe::training::{RunConfig, BEST_WEIGHTS, METRICS_CSV, RUN_CONFIG};
use prixfixe::weights::Precision;
use prixfixe::{CpuBackend, PrixFixeNet};

/// The model card file written next to `model.json`.
pub const MODEL_CARD_FILE: &str = "README.md";

/// Short git commit of the working directory, if it is a git checkout.
pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|s| !s.is_empty())
}

/// Now, RFC 3339 UTC to the second.
pub fn now_utc() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn file_ref(path: &str) -> DataFile {
    DataFile { path: path.to_string(), sha256: std::fs::read(path).ok().map(|b| sha256_hex(&b)) }
}

fn load_model(config: &PrixFixeConfig, weights: &Path) -> Result<PrixFixeNet<CpuBackend>> {
    let bytes = std::fs::read(weights).with_context(|| format!("reading {}", weights.display()))?;
    PrixFixeNet::<CpuBackend>::from_torch_safetensors(config, &bytes, &Default::default())
        .with_context(|| format!("loading {}", weights.display()))
}

/// One row of `metrics.csv`: (epoch, val Pearson r, val Spearman ρ).
/// `(epoch, val r, val ρ, val MSE)` per epoch (MSE NaN when the run has no such column: DREAM
/// soft-bin runs).
fn read_metrics(path: &Path) -> Result<Vec<(usize, f64, f64, f64)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| {
        header.iter().position(|h| *h == name).with_context(|| format!("{}: no column {name}", path.display()))
    };
    let (ce, cr, cs) = (col("epoch")?, col("val_pearson_r")?, col("val_spearman_rho")?);
    let cm = header.iter().position(|h| *h == "val_mse");
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        let get = |c: usize| f.get(c).copied().unwrap_or_default();
        let parse = |c: usize| get(c).parse::<f64>().ok();
        let epoch = get(ce).parse::<usize>().with_context(|| format!("{}:{}: bad epoch", path.display(), i + 2))?;
        let mse = cm.and_then(parse).unwrap_or(f64::NAN);
        rows.push((epoch, parse(cr).unwrap_or(f64::NAN), parse(cs).unwrap_or(f64::NAN), mse));
    }
    Ok(rows)
}

/// Bundle of a `dream train --out` directory (or its `model_best.safetensors`): the best epoch's
/// weights, with provenance from `config.json` and `metrics.csv`. `scores`: a
/// `dream evaluate --json` file to record as the test scores.
pub fn bundle_from_run(from: &Path, name: &str, precision: Precision, scores: Option<&Path>, notes: Option<String>) -> Result<Bundle> {
    if !from.exists() {
        bail!("--from {}: no such file or directory", from.display());
    }
    let dir: PathBuf = if from.is_dir() { from.to_path_buf() } else { from.parent().map(Path::to_path_buf).unwrap_or_default() };
    let weights = if from.is_dir() { dir.join(BEST_WEIGHTS) } else { from.to_path_buf() };
    if !weights.is_file() {
        bail!("{}: no {BEST_WEIGHTS} (is it a `dream train --out` directory?)", dir.display());
    }
    let cfg_path = dir.join(RUN_CONFIG);
    let run: RunConfig = serde_json::from_slice(
        &std::fs::read(&cfg_path).with_context(|| format!("{}: missing; --from must be a `dream train --out` directory", cfg_path.display()))?,
    )
    .with_context(|| format!("{}: not a dream run config", cfg_path.display()))?;
    let model = load_model(&run.model, &weights)?;
    let args = &run.training["args"];
    let metrics = read_metrics(&dir.join(METRICS_CSV)).unwrap_or_default();
    let dataset = run.dataset();
    // model_best is the first epoch with the best validation score under the dataset's selection
    // rule (highest r, or lowest MSE); strictly better replaces it.
    let score = |m: &(usize, f64, f64, f64)| if dataset.selection == prixfixe::dataset::Selection::Mse { -m.3 } else { m.1 };
    let best = metrics.iter().fold(None::<&(usize, f64, f64, f64)>, |b, m| match b {
        Some(b) if !(score(m) > score(b)) => Some(b),
        _ if score(m).is_finite() => Some(m),
        _ => b,
    });
    let preset = run.preset;
    // Epochs, batch size and lr left to the dataset's defaults are not in the arguments.
    let planned = args["epochs"].as_u64().map(|v| v as usize).or(dataset.defaults.epochs);
    let notes = match planned {
        Some(p) if p > metrics.len() => Some(format!(
            "{}Training stopped after epoch {} of the {p} its OneCycle schedule spans (exported from the best epoch so far).",
            notes.map(|n| n + " ").unwrap_or_default(),
            metrics.len()
        )),
        _ => notes,
    };
    let provenance = Provenance {
        source: "trained".into(),
        train_data: args["train"].as_str().map(file_ref),
        train_rows: run.training["train_rows"].as_u64().map(|v| v as usize),
        val_rows: run.training["val_rows"].as_u64().map(|v| v as usize),
        epochs: Some(metrics.len()),
        batch_size: args["batch_size"].as_u64().map(|v| v as usize).or(dataset.defaults.batch_size),
        max_lr: run.training["settings"]["lr"].as_f64().or(args["lr"].as_f64()).or(preset.map(|p| dataset.default_lr(p))),
        seed: args["seed"].as_u64(),
        best_epoch: best.map(|b| b.0),
        val_pearson_r: best.map(|b| b.1),
        val_spearman_rho: best.map(|b| b.2),
        test_scores: scores.map(read_scores).transpose()?,
        source_weights: None,
        git_commit: git_commit(),
        date: Some(now_utc()),
        notes,
    };
    let title = match (preset, run.combination) {
        (Some(p), _) => title_of(p, &dataset),
        (None, Some(c)) if dataset.name == "dream-yeast" => format!("Prix Fixe {c}"),
        (None, Some(c)) => format!("Prix Fixe {c} ({})", dataset.name),
        (None, None) => name.to_string(),
    };
    let mut bundle = Bundle::from_model(&model, run.model, &dataset, name, &title, precision, provenance)?;
    if let Some(c) = run.combination {
        bundle.set_combination(c)?;
        bundle.set_trained_on_data_scale();
    }
    Ok(bundle)
}

fn read_scores(path: &Path) -> Result<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        .with_context(|| format!("{}: not JSON", path.display()))?;
    let challenge = v.get("subsets").is_some() && v.get("pearson_score").is_some();
    let per_task = v.get("tasks").is_some_and(serde_json::Value::is_array);
    if !challenge && !per_task {
        bail!("{}: not a `dream evaluate --json` report (neither challenge subsets + pearson_score nor per-task scores)", path.display());
    }
    Ok(v)
}

/// "DREAM-CNN" for the yeast data, "DREAM-CNN (deepstarr)" for another dataset.
pub fn title_of(preset: ModelPreset, dataset: &Dataset) -> String {
    if dataset.name == "dream-yeast" {
        preset.display_name().to_string()
    } else {
        format!("{} ({})", preset.display_name(), dataset.name)
    }
}

/// The block configuration of `combination` on `dataset` for the state_dict
/// `safetensors_bytes` (as [`pth::read_weights`] returns it): the preset's for the three DREAM
/// models, else the wiring rule with the UnlockDNA width / conformer depth read from the keys and
/// shapes (`Wiring::from_state_dict`, PRIXFIXE-MODULES.md §5). `weights` names the file in errors.
///
/// # Errors
/// Not a safetensors file; the combination cannot be built for `dataset`.
pub fn config_of_state_dict(combination: Combination, dataset: &Dataset, safetensors_bytes: &[u8], weights: &Path) -> Result<PrixFixeConfig> {
    Ok(match combination.preset() {
        Some(p) => dataset.model_config(p),
        None => {
            let st = safetensors::SafeTensors::deserialize(safetensors_bytes)
                .map_err(|e| anyhow::anyhow!("{}: not a safetensors file: {e}", weights.display()))?;
            let tensors = st.tensors();
            let wiring = Wiring::from_state_dict(tensors.iter().map(|(k, v)| (k.as_str(), v.shape())));
            combination.config_for_dataset(dataset, wiring).map_err(anyhow::Error::msg)?
        }
    })
}

/// Bundle of a PyTorch `state_dict` (reference key names) of any compatible Prix Fixe
/// combination built for `dataset` (yeast: the DREAM notebooks' wiring; `deepstarr` /
/// `lentimpra`: the benchmark packages' models, PRIXFIXE-MODULES.md §5, §7). `weights`: a
/// safetensors file, or a `torch.save` file (`.pth` / `.pt`, zip or legacy layout, read by
/// [`pth`] without executing anything). The bundle records the combination, so its own
/// DataProcessor reads the input.
///
/// # Errors
/// An unreadable file; a torch.save file refused (a pickle global outside the whitelist) or
/// malformed ([`pth::PthError`]); weights that do not fit the combination.
pub fn import_torch(combination: Combination, dataset: &Dataset, weights: &Path, name: &str, precision: Precision, notes: Option<String>) -> Result<Bundle> {
    let bytes = pth::read_weights(weights)?;
    let config = config_of_state_dict(combination, dataset, &bytes, weights)?;
    let model = PrixFixeNet::<CpuBackend>::from_torch_safetensors(&config, &bytes, &Default::default())
        .with_context(|| format!("loading {} as combination {combination} ({})", weights.display(), combination.describe()))?;
    let provenance = Provenance {
        source: "imported".into(),
        source_weights: Some(file_ref(&weights.display().to_string())),
        git_commit: git_commit(),
        date: Some(now_utc()),
        notes,
        ..Default::default()
    };
    let title = match combination.preset() {
        Some(p) => title_of(p, dataset),
        None if dataset.name == "dream-yeast" => format!("Prix Fixe {combination}"),
        None => format!("Prix Fixe {combination} ({})", dataset.name),
    };
    let mut bundle = Bundle::from_model(&model, config, dataset, name, &title, precision, provenance)?;
    bundle.set_combination(combination)?;
    Ok(bundle)
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.filter(|x| x.is_finite()).map_or_else(|| "–".to_string(), |x| format!("{x:.digits$}"))
}

/// The model card (Markdown) of a bundle.
pub fn model_card(m: &Manifest) -> String {
    let p = &m.provenance;
    let mut s = format!("# {} — model card (`{}`)\n\n", m.title, m.name);
    let arch = match m.preset {
        Some(ModelPreset::DreamCnn) => "DREAM-CNN: BHI dual-kernel First Layers Block, EfficientNet-style Core Layers Block (autosome.org), autosome.org Final Layers Block",
        Some(ModelPreset::DreamRnn) => "DREAM-RNN: BHI dual-kernel First Layers Block, BHI bidirectional-LSTM Core Layers Block, autosome.org Final Layers Block",
        Some(ModelPreset::DreamAttn) => "DREAM-Attn: autosome.org First Layers Block, UnlockDNA Conformer Core Layers Block, autosome.org Final Layers Block",
        None => "a Prix Fixe combination of the three teams' blocks (see model.json `architecture`)",
    };
    s += &format!(
        "**What it is.** A DREAM-optimized sequence-to-expression model from the Random Promoter DREAM Challenge 2022 \
         (Rafi et al., Prix Fixe framework): {arch}; {} trainable parameters.\n\n",
        m.parameters
    );
    if let Some(c) = m.combination() {
        s += &format!("**Combination.** `{c}` (#{} of the paper's 81): {}.\n\n", c.number(), c.describe());
    }
    let dataset = m.dataset();
    let yeast = dataset.length == LengthRule::DreamPlasmid;
    // A combination with another team's DataProcessor or Final Layers Block reads and predicts as
    // its manifest states, not as the autosome DREAM models do.
    let own_blocks = m.combination().filter(|c| c.trainer != Team::Autosome || c.final_block != Team::Autosome);
    if let (true, Some(c)) = (yeast, own_blocks) {
        s += &format!(
            "**Input.** Yeast promoter sequences in the DREAM challenge form (~110 bp), read by the {} DataProcessor: {} A, C, G, T, N; any case. Channels: {}.\n\n",
            c.trainer.display_name(),
            m.input.rule,
            m.input.channels.join(", ")
        );
        s += &format!("**Output.** One value: {}.\n\n", m.output.meaning);
    } else if yeast {
        s += "**Input.** Yeast promoter sequences in the DREAM challenge form: 17 bp 5' adapter `TGCATTTTTTTCACATC` + 80 bp random region + \
              13 bp 3' flank (~110 bp). The first 17 bp are replaced by the 150 bp of plasmid upstream of the insert and the last 150 bp \
              are kept (the challenge DataProcessor). A, C, G, T, N; any case.\n\n";
        s += "**Output.** The expected expression bin (0–17) on the training scale (mean sorting bin of a YFP reporter in yeast grown in \
              chardonnay grape must), averaged over the forward and reverse-complement strands, plus the 18-bin distribution.\n\n";
    } else {
        s += &format!(
            "**Data.** `{}`: {}.\n\n**Input.** {} A, C, G, T, N; any case. Channels: {}.\n\n",
            dataset.name,
            dataset.description,
            m.input.rule,
            m.input.channels.join(", ")
        );
        s += "**Output.** ";
        let outs: Vec<String> = dataset
            .output_names()
            .iter()
            .zip(&dataset.targets)
            .map(|(n, t)| format!("`{n}` ({})", t.unit.as_deref().unwrap_or("as measured")))
            .collect();
        s += &format!("{}; {}.\n\n", outs.join(", "), m.output.meaning);
    }
    s += "## Training\n\n";
    match p.source.as_str() {
        "trained" => {
            s += "| | |\n|---|---|\n";
            if let Some(d) = &p.train_data {
                s += &format!("| data | `{}` (sha256 `{}`) |\n", d.path, d.sha256.as_deref().unwrap_or("not available"));
            }
            let lr = p.max_lr.map_or("?".into(), |v| v.to_string());
            let trainer = m.combination().map_or(Team::Autosome, |c| c.trainer);
            let final_block = m.combination().map_or(Team::Autosome, |c| c.final_block);
            let method = match (trainer, final_block, dataset.loss, &dataset.strand) {
                (Team::Bhi, Team::Bhi, ..) => format!("BHI Trainer: AdamW lr {lr} (wd 0.01), cosine schedule; Huber loss (δ 1) on (bin − 11)/std, averaged over each sequence and its reverse complement"),
                (Team::Bhi, ..) => format!("BHI Trainer: AdamW lr {lr} (wd 0.01), cosine schedule; KL loss on 18-bin soft targets, averaged over each sequence and its reverse complement"),
                (Team::UnlockDna, ..) => format!("UnlockDNA Trainer: Adam lr {lr} at step 0 then inverse-sqrt warm-up, gradient clipping; MSE on the standardised expression + masked-nucleotide cross-entropy"),
                (_, Team::Bhi, ..) => format!("OneCycle peak lr {lr}, AdamW (wd 0.01), Huber loss (δ 1) on the expression bin, RC-doubled data"),
                (_, _, Loss::SoftBins, _) => format!("OneCycle peak lr {lr}, AdamW (wd 0.01), KL loss on 18-bin soft targets, RC-doubled data"),
                (_, _, Loss::Mse, prixfixe::dataset::StrandRule::Augment) => format!("OneCycle peak lr {lr}, AdamW (wd 0.01), MSE per task (summed), RC-doubled data"),
                (_, _, Loss::Mse, _) => format!("OneCycle peak lr {lr}, AdamW (wd 0.01), MSE per task (summed), both orientations as rows of the data"),
            };
            s += &format!(
                "| rows | {} training, {} validation |\n| schedule | {} epoch(s), batch {}, {} |\n| seed | {} |\n| exported epoch | {} ({}) |\n",
                p.train_rows.map_or("?".into(), |v| v.to_string()),
                p.val_rows.map_or("?".into(), |v| v.to_string()),
                p.epochs.map_or("?".into(), |v| v.to_string()),
                p.batch_size.map_or("?".into(), |v| v.to_string()),
                method,
                p.seed.map_or("?".into(), |v| v.to_string()),
                p.best_epoch.map_or("?".into(), |v| v.to_string()),
                match dataset.selection {
                    prixfixe::dataset::Selection::Pearson => "best validation Pearson r",
                    prixfixe::dataset::Selection::Mse => "lowest validation MSE",
                },
            );
        }
        _ => {
            if let Some(w) = &p.source_weights {
                s += &format!("Imported from a PyTorch state_dict: `{}` (sha256 `{}`).\n", w.path, w.sha256.as_deref().unwrap_or("?"));
            }
        }
    }
    if let Some(n) = &p.notes {
        s += &format!("\n{n}\n");
    }
    s += "\n## Metrics\n\n";
    if p.val_pearson_r.is_some() {
        s += &format!(
            "Validation ({}): Pearson r {}, Spearman ρ {}{}.\n\n",
            if yeast { "held-out rows of the training file, both strands" } else { "the validation rows" },
            fmt_opt(p.val_pearson_r, 3),
            fmt_opt(p.val_spearman_rho, 3),
            if dataset.targets.len() > 1 { " (mean over the tasks)" } else { "" }
        );
    }
    if let Some(tasks) = p.test_scores.as_ref().and_then(|t| t.get("tasks")).and_then(|t| t.as_array()) {
        s += "Per task (`dream evaluate`):\n\n| task | n | Pearson r | Spearman ρ | MSE |\n|---|---|---|---|---|\n";
        for t in tasks {
            s += &format!(
                "| {} | {} | {} | {} | {} |\n",
                t["name"].as_str().unwrap_or("?"),
                t["n"],
                fmt_opt(t["pearson_r"].as_f64(), 3),
                fmt_opt(t["spearman_rho"].as_f64(), 3),
                fmt_opt(t["mse"].as_f64(), 3)
            );
        }
        s += "\n";
    }
    if let Some(t) = p.test_scores.as_ref().filter(|t| t.get("subsets").is_some()) {
        s += "DREAM challenge test subsets with public labels (`dream evaluate`; Pearson r² and Spearman ρ per subset, pair subsets on alt−ref differences):\n\n| subset | n | Pearson r | Pearson r² | Spearman ρ | weight |\n|---|---|---|---|---|---|\n";
        for sub in t["subsets"].as_array().into_iter().flatten() {
            if sub["n"].as_u64().unwrap_or(0) == 0 {
                continue;
            }
            s += &format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                sub["name"].as_str().unwrap_or("?"),
                sub["n"],
                fmt_opt(sub["pearson_r"].as_f64(), 3),
                fmt_opt(sub["pearson_r2"].as_f64(), 3),
                fmt_opt(sub["spearman"].as_f64(), 3),
                sub["weight"]
            );
        }
        s += &format!(
            "\nPearson Score {} and Spearman Score {} over the subsets present (weight {} of {}); missing: {}.\n",
            fmt_opt(t["pearson_score"].as_f64(), 3),
            fmt_opt(t["spearman_score"].as_f64(), 3),
            fmt_opt(t["weight_present"].as_f64(), 2),
            fmt_opt(t["weight_total"].as_f64(), 2),
            t["missing"].as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default()
        );
    } else if p.val_pearson_r.is_none() && p.test_scores.is_none() {
        s += "Not evaluated by this toolkit.\n";
    }
    s += "\n## Limitations\n\n";
    if !yeast && p.source == "trained" {
        s += &format!(
            "- Trained on {} rows for {} epoch(s) on a CPU. The paper's benchmark models saw the full data sets (DeepSTARR ~400,000 \
             sequences, lentiMPRA ~200,000 per cell type) with cross-validation; a model trained on a small sample is for trying \
             the tools, not for biological conclusions.\n",
            p.train_rows.map_or("?".into(), |v| v.to_string()),
            p.epochs.map_or("a few".into(), |e| e.to_string())
        );
        s += "- Predictions for sequences unlike the training data (other organisms, cell types or lengths) are extrapolations.\n";
    }
    if yeast && p.source == "trained" && p.train_rows.is_some_and(|r| r < 100_000) {
        s += &format!(
            "- Trained on a small sample ({} rows) of the 6,739,258-row challenge training set, for {} epoch(s) on a CPU: its \
             accuracy is below what the published DREAM models reach with the full data and 80 epochs (see the metrics \
             above). Use it to try the tools, not for biological conclusions; \
             retrain on the full data (`dream train`) or import the official weights (`model-export import-torch`).\n",
            p.train_rows.unwrap_or(0),
            p.epochs.map_or("a few".into(), |e| e.to_string())
        );
    }
    if yeast {
        s += "- Trained on yeast (S. cerevisiae) random promoters in one growth condition; predictions for other organisms, \
              contexts or sequence lengths far from 110 bp are extrapolations.\n\
              - The output is on the training scale (sorting bins); only correlations with other measurements are meaningful.\n";
    }
    s += &format!(
        "\n## Files\n\n| file | |\n|---|---|\n| `model.json` | format {} v{}, architecture, input/output spec, provenance |\n| `{}` | {} bytes, {}, sha256 `{}` |\n",
        m.format,
        m.format_version,
        m.weights.file,
        m.weights.bytes,
        match m.precision {
            Precision::F32 => "float32",
            Precision::F16 => "float16 (computed in float32)",
        },
        m.weights.sha256
    );
    s += &format!(
        "\nUse: `dream predict --model <this directory> --input seqs.fa --output preds.tsv`, or load it in the web app.\n\
         Exported {} from commit {}.\n",
        p.date.as_deref().unwrap_or("?"),
        p.git_commit.as_deref().unwrap_or("?")
    );
    s
}

/// Writes a bundle and its model card into `dir`.
pub fn write_bundle(bundle: &Bundle, dir: &Path) -> Result<()> {
    bundle.write(dir).with_context(|| format!("writing {}", dir.display()))?;
    std::fs::write(dir.join(MODEL_CARD_FILE), model_card(&bundle.manifest)).with_context(|| format!("writing {}", dir.display()))?;
    Ok(())
}

/// Writes `index.json` in `dir` listing the bundles in its sub-directories (for the web app).
pub fn write_index(dir: &Path) -> Result<serde_json::Value> {
    let mut entries = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| prixfixe::bundle::is_bundle(p))
        .collect();
    names.sort();
    for p in names {
        let b = Bundle::read(&p).with_context(|| format!("checking {}", p.display()))?;
        let m = &b.manifest;
        entries.push(serde_json::json!({
            "name": m.name, "title": m.title, "path": p.file_name().map(|n| n.to_string_lossy().into_owned()),
            "precision": m.precision, "parameters": m.parameters, "weights_bytes": m.weights.bytes,
            "val_pearson_r": m.provenance.val_pearson_r,
        }));
    }
    let index = serde_json::json!({ "format": "dream-model-index", "models": entries });
    std::fs::write(dir.join("index.json"), serde_json::to_string_pretty(&index)? + "\n")?;
    Ok(index)
}
