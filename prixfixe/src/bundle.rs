//! Model bundles: what the trainer exports and the browser (and `dream predict`) loads.
//!
//! A bundle is a directory of two files:
//! - `model.json` ([`Manifest`]): format version, model preset and Prix Fixe block configuration,
//!   input and output specification, precision, parameter count, training provenance and the
//!   sha256 of the weights file;
//! - `weights.safetensors`: a PyTorch-layout `state_dict` (reference key names, f32 or f16),
//!   readable by the reference code and by [`crate::weights::TorchLoader`]. safetensors holds
//!   only tensors, so loading runs no code.
//!
//! Loading works from bytes ([`Bundle::from_bytes`]) so the web app can use it. It refuses an
//! unknown format or version, weights whose size or sha256 differ from the manifest (a truncated
//! or corrupted download), an invalid architecture and weights that do not fit it, each with a
//! [`BundleError`] that says which.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::combination::{Combination, Team};
use crate::data::{DataProcessor, Scheme, ADAPTER_5P, PLASMID_UPSTREAM_150};
use crate::dataset::{Dataset, LengthRule, Loss};
use crate::model::{LoadError, ModelPreset, PrixFixeConfig, PrixFixeNet};
use crate::weights::Precision;
use burn::tensor::backend::Backend;

/// `format` field of every bundle manifest.
pub const FORMAT: &str = "dream-model-bundle";
/// The manifest version this library reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// File name of the manifest inside a bundle directory.
pub const MANIFEST_FILE: &str = "model.json";
/// File name of the weights inside a bundle directory.
pub const WEIGHTS_FILE: &str = "weights.safetensors";

/// What the model reads (reference DataProcessor, ARCHITECTURE.md §1; benchmarks
/// PRIXFIXE-MODULES.md §7.1). Descriptive: the loader builds the DataProcessor from the
/// manifest's [`Dataset`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Model window in bp.
    pub length: usize,
    /// Input channels in order.
    pub channels: Vec<String>,
    /// `true` when every input must be exactly `length` bp (no padding).
    #[serde(default)]
    pub exact_length: bool,
    /// The 17 bp constant 5' adapter that DREAM-format sequences start with (empty otherwise).
    #[serde(default)]
    pub adapter_5p: String,
    /// The 150 bp of plasmid upstream of the insert, used to extend sequences at the 5' end
    /// (empty otherwise).
    #[serde(default)]
    pub plasmid_upstream: String,
    /// The rule in words.
    pub rule: String,
}

impl InputSpec {
    /// The DREAM challenge input specification.
    pub fn dream() -> Self {
        Self {
            length: crate::SEQ_LEN,
            channels: ["A", "G", "C", "T", "is_reverse", "is_singleton"].map(String::from).to_vec(),
            exact_length: false,
            adapter_5p: ADAPTER_5P.to_string(),
            plasmid_upstream: PLASMID_UPSTREAM_150.to_string(),
            rule: "The first 17 bp of the sequence (the constant 5' adapter) are replaced by the 150 bp of plasmid \
                   upstream of the insert and the last 150 bp are kept. One-hot A,G,C,T (N = all zero); \
                   is_reverse = 1 for the reverse-complement strand; is_singleton = 0 at prediction time."
                .to_string(),
        }
    }

    /// The input specification of a model reading `processor`'s encoding of `dataset`.
    pub fn for_processor(dataset: &Dataset, processor: &DataProcessor) -> Self {
        let channels = processor.channel_names().into_iter().map(String::from).collect();
        match processor.scheme() {
            Scheme::Autosome => Self::for_dataset(dataset),
            Scheme::Bhi => Self {
                length: processor.seq_len(),
                channels,
                exact_length: false,
                adapter_5p: String::new(),
                plasmid_upstream: String::new(),
                rule: "The BHI DataProcessor: the first 110 bp of the sequence as given (adapters kept); a shorter sequence is padded \
                       with plasmid vector sequence on both sides. One-hot A,G,C,T (N = all zero); the prediction averages the sequence \
                       and its reverse complement."
                    .to_string(),
            },
            Scheme::UnlockDna => Self {
                length: processor.seq_len(),
                channels,
                exact_length: false,
                adapter_5p: String::new(),
                plasmid_upstream: String::new(),
                rule: "The UnlockDNA DataProcessor: 20 bp are cut at each end, the rest (at most 100 bp) is padded with N on both \
                       sides to 100 bp and followed by its reverse complement: 200 positions, one-hot A,C,G,T,N,M."
                    .to_string(),
            },
        }
    }

    /// The input specification of a dataset's models.
    pub fn for_dataset(dataset: &Dataset) -> Self {
        match dataset.length {
            LengthRule::DreamPlasmid => Self::dream(),
            LengthRule::Exact(l) => {
                let p = dataset.processor();
                Self {
                    length: l,
                    channels: p.channel_names().into_iter().map(String::from).collect(),
                    exact_length: true,
                    adapter_5p: String::new(),
                    plasmid_upstream: String::new(),
                    rule: format!(
                        "Every sequence must be exactly {l} bp; nothing is padded. One-hot A,G,C,T (N = all zero); \
                         is_reverse = 1 for the reverse orientation{}.",
                        if p.has_singleton_channel() { "; is_singleton = 0 at prediction time" } else { "" }
                    ),
                }
            }
        }
    }
}

/// What the model outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputSpec {
    /// Number of expression bins of the softmax output (0 for a regression model).
    pub bins: usize,
    /// The prediction in words.
    pub meaning: String,
    /// Range of the prediction (soft bins: 0–17; regression: unbounded, the training targets' range).
    pub range: [f32; 2],
    /// Output names, one per dataset target (empty in older bundles: `["expression"]`).
    #[serde(default)]
    pub names: Vec<String>,
    /// Units, one per output.
    #[serde(default)]
    pub units: Vec<String>,
}

impl OutputSpec {
    /// The DREAM output specification.
    pub fn dream() -> Self {
        Self {
            bins: crate::N_BINS,
            meaning: "expected expression bin (sum of bin index × softmax probability) on the training scale \
                      (mean sorting bin, 0-17), averaged over the forward and reverse-complement strands"
                .to_string(),
            range: [0.0, (crate::N_BINS - 1) as f32],
            names: vec!["expression".into()],
            units: vec!["expected sorting bin, 0-17 (training scale)".into()],
        }
    }

    /// The output specification of a dataset's models.
    pub fn for_dataset(dataset: &Dataset) -> Self {
        if dataset.loss == Loss::SoftBins && dataset.length == LengthRule::DreamPlasmid {
            return Self::dream();
        }
        let names = dataset.output_names();
        let units: Vec<String> = dataset.targets.iter().map(|t| t.unit.clone().unwrap_or_default()).collect();
        let (bins, meaning, range) = match dataset.loss {
            Loss::SoftBins => (
                crate::N_BINS,
                format!("expected bin (sum of bin index × softmax probability, 0-17) of {}, averaged over both strands", names[0]),
                [0.0, (crate::N_BINS - 1) as f32],
            ),
            Loss::Mse => (
                0,
                format!(
                    "{} regression output{} ({}), mean of the sequence as given and its reverse complement",
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                    names.join(", ")
                ),
                [f32::MIN, f32::MAX],
            ),
        };
        Self { bins, meaning, range, names, units }
    }
}

/// The weights file a manifest vouches for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightsRef {
    /// File name inside the bundle.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Lower-case hex sha256 of the file.
    pub sha256: String,
    /// Tensor naming and layout.
    pub layout: String,
}

/// A data file used for training, with its checksum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFile {
    /// Path as given to the trainer.
    pub path: String,
    /// sha256 of the file, when it could be read at export time.
    pub sha256: Option<String>,
}

/// Where the weights came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Provenance {
    /// `trained` (by `dream train`) or `imported` (a PyTorch `state_dict`).
    pub source: String,
    /// Training data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_data: Option<DataFile>,
    /// Training rows / validation rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_rows: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_rows: Option<usize>,
    /// Epochs run, batch size, OneCycle peak learning rate, seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Epoch of the exported (best) weights and its validation metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_epoch: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_pearson_r: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_spearman_rho: Option<f64>,
    /// Challenge test scores (`dream evaluate --json`), when evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_scores: Option<serde_json::Value>,
    /// Original weights file and its sha256 (imports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_weights: Option<DataFile>,
    /// Git commit of the exporting code, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Export date (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Free-form remarks (e.g. "trained on a 6,369-row sample").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// `model.json` of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this library.
    pub format_version: u32,
    /// Short name, e.g. `dream-cnn`.
    pub name: String,
    /// Human-readable title.
    pub title: String,
    /// The preset the architecture equals, if any.
    pub preset: Option<ModelPreset>,
    /// Prix Fixe block configuration.
    pub architecture: PrixFixeConfig,
    /// Input specification.
    pub input: InputSpec,
    /// Output specification.
    pub output: OutputSpec,
    /// Storage precision of the weights (computation is f32).
    pub precision: Precision,
    /// Trainable parameters.
    pub parameters: usize,
    /// The weights file.
    pub weights: WeightsRef,
    /// Where the weights came from.
    pub provenance: Provenance,
    /// The dataset the model was trained for: input rule, channels, output names (absent in
    /// bundles made before datasets existed: `dream-yeast`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<Dataset>,
    /// The Prix Fixe combination (`0_1_1_0`): whose DataProcessor + Trainer and blocks (absent
    /// in bundles made before combinations existed: the preset's, autosome DataProcessor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combination: Option<Combination>,
}

impl Manifest {
    /// The dataset (`dream-yeast` when the manifest names none).
    pub fn dataset(&self) -> Dataset {
        self.dataset.clone().unwrap_or_else(Dataset::dream_yeast)
    }

    /// The combination, when the manifest names one or its preset implies it.
    pub fn combination(&self) -> Option<Combination> {
        self.combination.or(self.preset.map(ModelPreset::combination))
    }

    /// The DataProcessor the model reads with: the combination's (BHI, UnlockDNA) or the
    /// dataset's.
    ///
    /// # Errors
    /// [`BundleError::Inconsistent`] for a BHI / UnlockDNA DataProcessor on non-yeast data.
    pub fn processor(&self) -> Result<DataProcessor, BundleError> {
        let dataset = self.dataset();
        match self.combination {
            Some(c) => c.processor_for(&dataset).map_err(BundleError::Inconsistent),
            None => Ok(dataset.processor()),
        }
    }
}

/// Why a bundle could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BundleError {
    /// `model.json` is not valid JSON or lacks fields.
    #[error("model.json is not a valid bundle manifest: {0}")]
    Manifest(String),
    /// Not a bundle manifest at all.
    #[error("model.json is not a DREAM model bundle (format is {0:?}, expected {FORMAT:?})")]
    Format(String),
    /// A manifest version this program does not read.
    #[error("model.json has bundle format version {found}; this program reads version {FORMAT_VERSION} (update the program or re-export the bundle)")]
    Version {
        /// Version in the file.
        found: u32,
    },
    /// Weights size differs from the manifest.
    #[error("{file} is {found} bytes but model.json expects {expected}: the file is truncated or not the one this manifest describes")]
    Size {
        /// Weights file name.
        file: String,
        /// Bytes given.
        found: u64,
        /// Bytes expected.
        expected: u64,
    },
    /// Weights checksum differs from the manifest.
    #[error("{file} is corrupt: its sha256 is {found} but model.json expects {expected}")]
    Checksum {
        /// Weights file name.
        file: String,
        /// sha256 of the bytes given.
        found: String,
        /// sha256 in the manifest.
        expected: String,
    },
    /// The manifest's preset and architecture disagree, or the parameter count is off.
    #[error("model.json is inconsistent: {0}")]
    Inconsistent(String),
    /// The architecture is invalid or the weights do not fit it.
    #[error("{0}")]
    Load(#[from] LoadError),
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-case hex sha256 of everything `reader` yields, read in 1 MiB pieces (a data file of any
/// size).
///
/// # Errors
/// The reader's I/O error.
pub fn sha256_reader<R: std::io::Read>(mut reader: R) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A checked bundle: manifest plus weights bytes whose size and sha256 match it.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The manifest.
    pub manifest: Manifest,
    /// The weights file contents.
    pub weights: Vec<u8>,
}

impl Bundle {
    /// Parses and checks `model.json` (format, version) without weights.
    ///
    /// # Errors
    /// [`BundleError::Manifest`], [`BundleError::Format`], [`BundleError::Version`],
    /// [`BundleError::Inconsistent`].
    pub fn parse_manifest(manifest_json: &[u8]) -> Result<Manifest, BundleError> {
        // Read format and version first so that a newer bundle is reported as such, not as a
        // missing field.
        let head: serde_json::Value =
            serde_json::from_slice(manifest_json).map_err(|e| BundleError::Manifest(e.to_string()))?;
        let format = head.get("format").and_then(|v| v.as_str()).unwrap_or_default();
        if format != FORMAT {
            return Err(BundleError::Format(format.to_string()));
        }
        let version = head.get("format_version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version != u64::from(FORMAT_VERSION) {
            return Err(BundleError::Version { found: u32::try_from(version).unwrap_or(u32::MAX) });
        }
        let manifest: Manifest = serde_json::from_value(head).map_err(|e| BundleError::Manifest(e.to_string()))?;
        let dataset = manifest.dataset();
        dataset.check().map_err(|e| BundleError::Inconsistent(format!("dataset: {e}")))?;
        if let Some(p) = manifest.preset {
            if dataset.model_config(p) != manifest.architecture {
                return Err(BundleError::Inconsistent(format!(
                    "preset {p} but the architecture differs from {p}'s block configuration"
                )));
            }
        }
        Ok(manifest)
    }

    /// Checks a manifest and its weights (size and sha256).
    ///
    /// # Errors
    /// As [`Bundle::parse_manifest`], plus [`BundleError::Size`] and [`BundleError::Checksum`].
    pub fn from_bytes(manifest_json: &[u8], weights: Vec<u8>) -> Result<Self, BundleError> {
        Self::verified(Self::parse_manifest(manifest_json)?, weights)
    }

    /// Checks `weights` against a manifest already read by [`Bundle::parse_manifest`] (size, then
    /// sha256): for callers that need the manifest first to find the weights file.
    ///
    /// # Errors
    /// [`BundleError::Size`], [`BundleError::Checksum`].
    pub fn verified(manifest: Manifest, weights: Vec<u8>) -> Result<Self, BundleError> {
        let w = &manifest.weights;
        if weights.len() as u64 != w.bytes {
            return Err(BundleError::Size { file: w.file.clone(), found: weights.len() as u64, expected: w.bytes });
        }
        let found = sha256_hex(&weights);
        if !found.eq_ignore_ascii_case(&w.sha256) {
            return Err(BundleError::Checksum { file: w.file.clone(), found, expected: w.sha256.clone() });
        }
        Ok(Self { manifest, weights })
    }

    /// The model with its dataset's DataProcessor, ready to predict: what `dream predict --model`
    /// and the browser both use.
    ///
    /// # Errors
    /// As [`Bundle::model`], and [`BundleError::Inconsistent`] when the manifest's input length
    /// or channels differ from what the dataset's DataProcessor makes, or the outputs from the
    /// dataset's targets.
    pub fn predictor<B: Backend>(&self, device: &B::Device) -> Result<crate::Predictor<B>, BundleError> {
        let dataset = self.manifest.dataset();
        let processor = self.manifest.processor()?;
        let arch = &self.manifest.architecture;
        if self.manifest.input.length != processor.seq_len() || arch.seq_len != processor.seq_len() {
            return Err(BundleError::Inconsistent(format!(
                "input length {} bp (architecture {} bp), but the {} DataProcessor makes {} bp windows",
                self.manifest.input.length,
                arch.seq_len,
                dataset.name,
                processor.seq_len()
            )));
        }
        if arch.in_channels != processor.in_channels() {
            return Err(BundleError::Inconsistent(format!(
                "the architecture reads {} channels, the {} DataProcessor makes {}",
                arch.in_channels,
                dataset.name,
                processor.in_channels()
            )));
        }
        let outputs = arch.final_block.head().outputs();
        if outputs != dataset.targets.len() {
            return Err(BundleError::Inconsistent(format!(
                "the model has {outputs} outputs but the dataset {} has {} targets",
                dataset.name,
                dataset.targets.len()
            )));
        }
        Ok(crate::Predictor::new(self.model(device)?, processor, device.clone()))
    }

    /// Output names (one per target).
    pub fn output_names(&self) -> Vec<String> {
        self.manifest.dataset().output_names()
    }

    /// Builds the model and loads the weights (shapes and keys checked).
    ///
    /// # Errors
    /// [`BundleError::Load`] when the architecture is invalid or the weights do not fit it;
    /// [`BundleError::Inconsistent`] when the parameter count differs from the manifest.
    pub fn model<B: Backend>(&self, device: &B::Device) -> Result<PrixFixeNet<B>, BundleError> {
        let model = PrixFixeNet::<B>::from_torch_safetensors(&self.manifest.architecture, &self.weights, device)?;
        let n = model.num_trainable();
        if n != self.manifest.parameters {
            return Err(BundleError::Inconsistent(format!(
                "it states {} parameters but the architecture has {n}",
                self.manifest.parameters
            )));
        }
        Ok(model)
    }

    /// Makes a bundle from a model: weights at `precision`, manifest filled in (name, title,
    /// provenance from the caller).
    ///
    /// # Errors
    /// Only on internal inconsistency of the weight export.
    pub fn from_model<B: Backend>(
        model: &PrixFixeNet<B>,
        architecture: PrixFixeConfig,
        dataset: &Dataset,
        name: &str,
        title: &str,
        precision: Precision,
        provenance: Provenance,
    ) -> Result<Self, crate::weights::WeightError> {
        let weights = model.to_torch_safetensors(precision, None)?;
        let preset = ModelPreset::ALL
            .into_iter()
            .find(|p| dataset.model_config(*p) == architecture);
        let manifest = Manifest {
            format: FORMAT.to_string(),
            format_version: FORMAT_VERSION,
            name: name.to_string(),
            title: title.to_string(),
            preset,
            architecture,
            input: InputSpec::for_dataset(dataset),
            output: OutputSpec::for_dataset(dataset),
            precision,
            parameters: model.num_trainable(),
            weights: WeightsRef {
                file: WEIGHTS_FILE.to_string(),
                bytes: weights.len() as u64,
                sha256: sha256_hex(&weights),
                layout: "pytorch state_dict (reference key names; safetensors)".to_string(),
            },
            provenance,
            dataset: Some(dataset.clone()),
            combination: None,
        };
        Ok(Self { manifest, weights })
    }

    /// Records the Prix Fixe combination the model is (its DataProcessor then reads the input;
    /// the input and output specifications follow it).
    ///
    /// # Errors
    /// [`BundleError::Inconsistent`] for a BHI / UnlockDNA DataProcessor on non-yeast data.
    pub fn set_combination(&mut self, combination: Combination) -> Result<(), BundleError> {
        let m = &mut self.manifest;
        m.combination = Some(combination);
        let dataset = m.dataset();
        let processor = m.processor()?;
        m.input = InputSpec::for_processor(&dataset, &processor);
        // The autosome Final Layers Block trains on the 18-bin soft target under every Trainer
        // (the BHI DataProcessor provides y_probs too): its output stays the expected bin.
        if combination.trainer != Team::Autosome && combination.final_block != Team::Autosome {
            m.output.bins = 0;
            m.output.range = [f32::MIN, f32::MAX];
            m.output.meaning = format!(
                "expression on the {} Trainer's standardised target scale (z-score of the sorting bin), mean of the sequence and its reverse complement",
                combination.trainer.display_name()
            );
            m.output.units = vec!["standardised expression (z-score)".into()];
        } else if combination.final_block == Team::Bhi && m.output.bins > 0 {
            m.output.bins = 0;
            m.output.range = [f32::MIN, f32::MAX];
            m.output.meaning = "expression bin (0-17 training scale) regressed by the BHI Final Layers Block, mean of both strands".into();
        }
        if combination.preset().is_none() {
            m.preset = None;
        }
        Ok(())
    }

    /// For a combination trained here with the BHI or UnlockDNA Trainer: `dream train` folds the
    /// Trainer's standardised targets back into the last Linear layer
    /// ([`crate::trainer::fold_target_scale`]), so the model predicts the expression bin like the
    /// autosome-trained ones (an imported official state_dict keeps the z-score scale that
    /// [`Bundle::set_combination`] states). Call after `set_combination`; no-op otherwise.
    pub fn set_trained_on_data_scale(&mut self) {
        let m = &mut self.manifest;
        let Some(c) = m.combination.filter(|c| c.trainer != Team::Autosome && c.final_block != Team::Autosome) else { return };
        m.output.meaning = format!(
            "expression bin (0-17 training scale) regressed by the {} Final Layers Block with the {} Trainer (standardised targets, scale folded back into the last layer), mean of the sequence and its reverse complement",
            c.final_block.display_name(),
            c.trainer.display_name()
        );
        m.output.units = vec!["sorting bin, 0-17 (training scale)".into()];
    }

    /// The manifest as pretty JSON.
    pub fn manifest_json(&self) -> String {
        serde_json::to_string_pretty(&self.manifest).expect("manifest serialises")
    }

    /// Reads a bundle directory (or its `model.json`) from disk.
    ///
    /// # Errors
    /// [`ReadError::Io`] for unreadable files, else the [`BundleError`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read(path: &std::path::Path) -> Result<Self, ReadError> {
        let dir = if path.is_dir() { path.to_path_buf() } else { path.parent().map(|p| p.to_path_buf()).unwrap_or_default() };
        let manifest_path = if path.is_dir() { dir.join(MANIFEST_FILE) } else { path.to_path_buf() };
        let io = |p: &std::path::Path, e: std::io::Error| ReadError::Io(format!("{}: {e}", p.display()));
        let manifest_bytes = std::fs::read(&manifest_path).map_err(|e| io(&manifest_path, e))?;
        let manifest = Self::parse_manifest(&manifest_bytes).map_err(|e| ReadError::Bundle(manifest_path.display().to_string(), e))?;
        let weights_path = dir.join(&manifest.weights.file);
        let weights = std::fs::read(&weights_path).map_err(|e| io(&weights_path, e))?;
        Self::verified(manifest, weights).map_err(|e| ReadError::Bundle(dir.display().to_string(), e))
    }

    /// Writes `model.json` and the weights into directory `dir` (created if needed).
    ///
    /// # Errors
    /// I/O errors.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn write(&self, dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(&self.manifest.weights.file), &self.weights)?;
        std::fs::write(dir.join(MANIFEST_FILE), self.manifest_json() + "\n")
    }
}

/// A bundle read from disk failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    /// A file could not be read.
    #[error("{0}")]
    Io(String),
    /// The bundle at this path is invalid.
    #[error("{0}: {1}")]
    Bundle(String, BundleError),
}

/// `true` when `path` is a bundle directory or a bundle's `model.json`.
#[cfg(not(target_arch = "wasm32"))]
pub fn is_bundle(path: &std::path::Path) -> bool {
    if path.is_dir() {
        path.join(MANIFEST_FILE).is_file()
    } else {
        path.file_name().is_some_and(|n| n == MANIFEST_FILE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    type B = crate::CpuBackend;

    fn small_bundle() -> (Vec<u8>, Vec<u8>) {
        let device = Default::default();
        let cfg = ModelPreset::DreamCnn.config();
        let model = cfg.init::<B>(&device).unwrap();
        let b = Bundle::from_model(&model, cfg, &Dataset::dream_yeast(), "t", "test", Precision::F16, Provenance::default()).unwrap();
        (b.manifest_json().into_bytes(), b.weights)
    }

    #[test]
    fn round_trip_and_every_refusal() {
        let (m, w) = small_bundle();
        let b = Bundle::from_bytes(&m, w.clone()).unwrap();
        assert_eq!(b.manifest.preset, Some(ModelPreset::DreamCnn));
        assert_eq!(b.manifest.parameters, 1_933_970);
        b.model::<B>(&Default::default()).unwrap();

        let mut flipped = w.clone();
        let k = flipped.len() / 2;
        flipped[k] ^= 0x01;
        assert!(matches!(Bundle::from_bytes(&m, flipped), Err(BundleError::Checksum { .. })));
        assert!(matches!(Bundle::from_bytes(&m, w[..w.len() - 10].to_vec()), Err(BundleError::Size { found, .. }) if found == w.len() as u64 - 10));

        let text = String::from_utf8(m.clone()).unwrap();
        let newer = text.replace("\"format_version\": 1", "\"format_version\": 2");
        let e = Bundle::from_bytes(newer.as_bytes(), w.clone()).unwrap_err();
        assert_eq!(e, BundleError::Version { found: 2 });
        assert!(e.to_string().contains("version 2"));
        assert!(matches!(Bundle::from_bytes(b"{\"a\":1}", w.clone()), Err(BundleError::Format(_))));
        assert!(matches!(Bundle::from_bytes(&m[..m.len() / 2], w.clone()), Err(BundleError::Manifest(_))));
        // Preset says RNN, architecture is the CNN's.
        let wrong = text.replace("\"preset\": \"dream-cnn\"", "\"preset\": \"dream-rnn\"");
        assert!(matches!(Bundle::from_bytes(wrong.as_bytes(), w), Err(BundleError::Inconsistent(_))));
    }

    #[test]
    fn weights_of_another_architecture_are_refused() {
        let (m, _) = small_bundle();
        let device = Default::default();
        let rnn = ModelPreset::DreamRnn.config().init::<B>(&device).unwrap();
        let w = rnn.to_torch_safetensors(Precision::F16, None).unwrap();
        // A manifest that vouches for these bytes but describes the CNN.
        let mut manifest: Manifest = serde_json::from_slice(&m).unwrap();
        manifest.weights.bytes = w.len() as u64;
        manifest.weights.sha256 = sha256_hex(&w);
        let b = Bundle::from_bytes(serde_json::to_string(&manifest).unwrap().as_bytes(), w).unwrap();
        let e = b.model::<B>(&device).unwrap_err();
        assert!(e.to_string().contains("do not match the architecture"), "{e}");
    }
}
