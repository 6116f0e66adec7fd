//! Finding and loading a trained model: a `dream train` output directory (`config.json` +
//! `model_best.safetensors`), one of its `.safetensors` files, a model bundle (`model-export`;
//! directory with `model.json`), or a bare PyTorch `state_dict` — safetensors, or a `torch.save`
//! `.pth` / `.pt` file (zip or legacy layout, read by `model_export::pth` without executing
//! anything) — of any compatible Prix Fixe combination: given by `--arch` / `--combo`, or by the
//! directory it sits in (the official record's `…/0_1_1_0/model_best.pth`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use prixfixe::combination::Combination;
use prixfixe::model::{ModelPreset, PrixFixeConfig};
use prixfixe::dataset::Dataset;
use burn::tensor::backend::Backend;
use prixfixe::{CpuBackend, DataProcessor, Predictor, PrixFixeNet};

pub use prixfixe::training::{RunConfig, BEST_WEIGHTS, RUN_CONFIG};

/// The official record's weights file in a combination directory (`0_1_1_0/model_best.pth`).
pub const TORCH_BEST_WEIGHTS: [&str; 2] = ["model_best.pth", "model_best.pt"];

const BARE_HINT: &str = "for a bare PyTorch state_dict (safetensors, or torch.save .pth/.pt) give --arch dream-cnn|dream-rnn|dream-attn \
     or --combo CODE (predict), or keep it in a directory named by its combination (…/0_1_1_0/model_best.pth)";

/// The weights file of `path`: the file itself, or in a directory `model_best.safetensors`
/// (else `model_best.pth` / `model_best.pt`).
fn weights_file(path: &Path) -> Result<(PathBuf, PathBuf)> {
    if path.is_dir() {
        let st = path.join(BEST_WEIGHTS);
        let found = std::iter::once(st.clone()).chain(TORCH_BEST_WEIGHTS.iter().map(|n| path.join(n))).find(|p| p.is_file());
        match found {
            Some(w) => Ok((path.to_path_buf(), w)),
            None => bail!("{}: no {BEST_WEIGHTS} or model_best.pth here (is it a `dream train --out` directory?)", path.display()),
        }
    } else if path.is_file() {
        Ok((path.parent().map(Path::to_path_buf).unwrap_or_default(), path.to_path_buf()))
    } else {
        bail!("{}: no such file or directory", path.display());
    }
}

/// What a model path is: a `dream train` run (its config), or a bare state_dict of a combination.
enum Source {
    Run(PrixFixeConfig, Dataset, Option<Combination>),
    Bare(Combination),
}

/// The `dream train` run config next to `weights`, else the combination from `combo`, else from
/// the path.
fn source_of(dir: &Path, weights: &Path, combo: Option<Combination>) -> Result<Source> {
    if let Some(c) = combo {
        return Ok(Source::Bare(c));
    }
    let cfg_path = dir.join(RUN_CONFIG);
    if !cfg_path.is_file() {
        if let Some(c) = Combination::from_path(weights) {
            return Ok(Source::Bare(c));
        }
    }
    let text = std::fs::read_to_string(&cfg_path).with_context(|| format!("{}: no {RUN_CONFIG} next to the weights; {BARE_HINT}", cfg_path.display()))?;
    let run: RunConfig = serde_json::from_str(&text).with_context(|| format!("{}: not a dream run config", cfg_path.display()))?;
    let dataset = run.dataset();
    Ok(Source::Run(run.model, dataset, run.combination))
}

/// The configuration and DataProcessor of a bare state_dict of `combo` on DREAM yeast data
/// (wiring read from the weights' keys and shapes, PRIXFIXE-MODULES.md §5).
fn bare_config(combo: Combination, safetensors_bytes: &[u8], weights: &Path) -> Result<(PrixFixeConfig, DataProcessor, Dataset)> {
    if let Err(e) = combo.check() {
        bail!("combination {combo} cannot be built: {}", e.reason());
    }
    let dataset = Dataset::dream_yeast();
    let config = model_export::config_of_state_dict(combo, &dataset, safetensors_bytes, weights)?;
    let processor = combo.processor_for(&dataset).map_err(anyhow::Error::msg)?;
    Ok((config, processor, dataset))
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
    load_predictor_for_task_on(path, arch, task, &Default::default())
}

/// [`load_predictor_for_task`] on backend `B` (e.g. an autodiff backend for Taylor ISM).
///
/// # Errors
/// As [`load_predictor_for_task`].
pub fn load_predictor_for_task_on<B: Backend>(path: &Path, arch: Option<ModelPreset>, task: Option<&str>, device: &B::Device) -> Result<Predictor<B>> {
    let (predictor, dataset) = load_predictor_with_combination_on::<B>(path, arch.map(ModelPreset::combination), device)?;
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
    load_predictor_with_combination(path, arch.map(ModelPreset::combination))
}

/// Loads a CPU predictor for `path` and its dataset; `combo` (from `--arch` / `--combo`) says
/// what a bare state_dict is. A bare state_dict (safetensors or torch.save `.pth`/`.pt`) of a
/// combination runs with that combination's own DataProcessor and Predictor on DREAM yeast data.
///
/// # Errors
/// No such file; a bundle with `combo`; a bare state_dict with no combination given or in its
/// path; a torch.save file refused or malformed (`model_export::pth::PthError`); weights that do
/// not fit.
pub fn load_predictor_with_combination(path: &Path, combo: Option<Combination>) -> Result<(Predictor<CpuBackend>, Dataset)> {
    load_predictor_with_combination_on(path, combo, &Default::default())
}

/// [`load_predictor_with_combination`] on backend `B`.
///
/// # Errors
/// As [`load_predictor_with_combination`].
pub fn load_predictor_with_combination_on<B: Backend>(path: &Path, combo: Option<Combination>, device: &B::Device) -> Result<(Predictor<B>, Dataset)> {
    let device = device.clone();
    if prixfixe::bundle::is_bundle(path) {
        if combo.is_some() {
            bail!("--arch / --combo is for bare state_dict files; the bundle {} states its architecture", path.display());
        }
        let bundle = prixfixe::bundle::Bundle::read(path)?;
        let p = bundle.predictor::<B>(&device).with_context(|| format!("loading {}", path.display()))?;
        return Ok((p, bundle.manifest.dataset()));
    }
    let (dir, weights) = weights_file(path)?;
    let source = source_of(&dir, &weights, combo)?;
    let bytes = model_export::pth::read_weights(&weights)?;
    let (config, processor, dataset, what) = match source {
        Source::Run(config, dataset, combination) => {
            let processor = match combination {
                Some(c) => c.processor_for(&dataset).map_err(anyhow::Error::msg)?,
                None => dataset.processor(),
            };
            (config, processor, dataset, String::new())
        }
        Source::Bare(c) => {
            let (config, processor, dataset) = bare_config(c, &bytes, &weights)?;
            (config, processor, dataset, format!(" as combination {c} ({})", c.describe()))
        }
    };
    let model = PrixFixeNet::<B>::from_torch_safetensors(&config, &bytes, &device)
        .with_context(|| format!("loading {}{what}", weights.display()))?;
    Ok((Predictor::new(model, processor, device), dataset))
}
