//! Finding and loading a trained model: a `dream train` output directory (`config.json` +
//! `model_best.safetensors`), one of its `.safetensors` files, a model bundle (`model-export`;
//! directory with `model.json`), or a bare PyTorch `state_dict` in safetensors with `--arch`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use prixfixe::model::{ModelPreset, PrixFixeConfig};
use prixfixe::dataset::Dataset;
use prixfixe::{CpuBackend, Predictor, PrixFixeNet};

pub use prixfixe::training::{RunConfig, BEST_WEIGHTS, RUN_CONFIG};

/// Resolves `path` (+ optional `--arch`) to a configuration, its dataset and the weights file.
/// A bare state_dict with `--arch` is a DREAM (yeast) model; bundle other datasets' weights
/// with `model-export import-torch --dataset`.
pub fn resolve(path: &Path, arch: Option<ModelPreset>) -> Result<(PrixFixeConfig, Dataset, PathBuf)> {
    let (dir, weights) = if path.is_dir() {
        (path.to_path_buf(), path.join(BEST_WEIGHTS))
    } else if path.is_file() {
        (path.parent().map(Path::to_path_buf).unwrap_or_default(), path.to_path_buf())
    } else {
        bail!("{}: no such file or directory", path.display());
    };
    if !weights.is_file() {
        bail!("{}: no {BEST_WEIGHTS} here (is it a `dream train --out` directory?)", dir.display());
    }
    let (config, dataset) = match arch {
        Some(p) => (p.config(), Dataset::dream_yeast()),
        None => {
            let cfg_path = dir.join(RUN_CONFIG);
            let text = std::fs::read_to_string(&cfg_path).with_context(|| {
                format!(
                    "{}: no {RUN_CONFIG} next to the weights; for a bare PyTorch state_dict give --arch dream-cnn|dream-rnn|dream-attn",
                    cfg_path.display()
                )
            })?;
            let run: RunConfig = serde_json::from_str(&text).with_context(|| format!("{}: not a dream run config", cfg_path.display()))?;
            let dataset = run.dataset();
            (run.model, dataset)
        }
    };
    Ok((config, dataset, weights))
}

/// Loads a CPU predictor for `path`.
pub fn load_predictor(path: &Path, arch: Option<ModelPreset>) -> Result<Predictor<CpuBackend>> {
    Ok(load_predictor_with_dataset(path, arch)?.0)
}

/// Loads a CPU predictor for `path` whose `expression` is the output named `task` (one of the
/// dataset's targets, e.g. `Hk` of a DeepSTARR model); `None` = the first output. Used by the
/// commands that score one value per sequence (ism, variants, tile, design).
///
/// # Errors
/// As [`load_predictor`]; a `task` the model does not have (the error lists its outputs).
pub fn load_predictor_for_task(path: &Path, arch: Option<ModelPreset>, task: Option<&str>) -> Result<Predictor<CpuBackend>> {
    let (predictor, dataset) = load_predictor_with_dataset(path, arch)?;
    let names = dataset.output_names();
    match task {
        None => {
            if names.len() > 1 {
                eprintln!("note: scoring output {:?}, the first of {}; choose another with --task", names[0], names.join(", "));
            }
            Ok(predictor)
        }
        Some(t) => match names.iter().position(|n| n == t) {
            Some(k) => Ok(predictor.with_output(k)),
            None => bail!("--task {t:?}: the model's outputs are {}", names.join(", ")),
        },
    }
}

/// Loads a CPU predictor for `path` and the dataset it was trained for.
pub fn load_predictor_with_dataset(path: &Path, arch: Option<ModelPreset>) -> Result<(Predictor<CpuBackend>, Dataset)> {
    let device = Default::default();
    if prixfixe::bundle::is_bundle(path) {
        if arch.is_some() {
            bail!("--arch is for bare state_dict files; the bundle {} states its architecture", path.display());
        }
        let bundle = prixfixe::bundle::Bundle::read(path)?;
        let p = bundle.predictor::<CpuBackend>(&device).with_context(|| format!("loading {}", path.display()))?;
        return Ok((p, bundle.manifest.dataset()));
    }
    let (config, dataset, weights) = resolve(path, arch)?;
    let bytes = std::fs::read(&weights).with_context(|| format!("reading {}", weights.display()))?;
    let model = PrixFixeNet::<CpuBackend>::from_torch_safetensors(&config, &bytes, &device)
        .with_context(|| format!("loading {}", weights.display()))?;
    Ok((Predictor::new(model, dataset.processor(), device), dataset))
}
