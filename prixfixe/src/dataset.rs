//! Datasets as data: what a sequence→activity table looks like and how the Prix Fixe models
//! read it and learn from it.
//!
//! A [`Dataset`] names the table format (TSV/CSV, header, gzip is detected), the sequence
//! column, one or more target columns (their names become the model's output names), optional
//! id / fold / group / split columns, the sequence length rule (the DREAM plasmid window, or an
//! exact length), the input channels (is_singleton only where the assay has it; is_reverse from
//! reverse-complement augmentation or from the row's id), the loss (KL on 18 soft bins, or MSE per
//! task, summed), the model-selection rule and the reference training settings.
//!
//! Built-in presets (source: reference ARCHITECTURE.md §1 and PRIXFIXE-MODULES.md §7):
//! - `dream-yeast`: the DREAM challenge data (`sequence<TAB>expression`, no header; 150 bp
//!   plasmid window; 6 channels; RC augmentation; soft bins; best Pearson r; batch 1024).
//! - `deepstarr`: Drosophila UMI-STARR-seq (DeepSTARR; 249 bp; targets Dev and Hk; is_reverse
//!   from `-_` in the id; MSE; lowest MSE as the reference Drosophila code; batch 32).
//! - `lentimpra`: human lentiMPRA (230 bp; one target; is_reverse from `_Reversed:` in the id;
//!   `fold` column; MSE; best Pearson r as the reference human code; batch 32).
//!
//! A user's own table is described by a JSON file with the same fields ([`Dataset::from_json`];
//! unknown keys are refused). Defaults for a file: best mean validation Pearson r, because that
//! is what the paper reports and what the DREAM Trainer selects on; MSE loss, exact length, no
//! singleton channel, RC augmentation.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::blocks::FinalBlockConfig;
use crate::data::{is_singleton, parse_bases, DataProcessor, PackedSequences};
use crate::model::{ModelPreset, PrixFixeConfig};
use crate::seqio::InputError;

/// A column, by header name or by 1-based position (tables without a header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Column {
    /// 1-based position.
    Index(usize),
    /// Header name (exact, case-sensitive).
    Name(String),
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Index(i) => write!(f, "column {i}"),
            Self::Name(n) => write!(f, "column {n:?}"),
        }
    }
}

/// Field separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delimiter {
    /// Tab-separated.
    #[default]
    Tab,
    /// Comma-separated (double quotes allowed around fields).
    Comma,
}

/// Table format. gzip is detected from the content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableFormat {
    /// Field separator (default tab).
    #[serde(default)]
    pub delimiter: Delimiter,
    /// The first line names the columns (default true). Without a header, columns are given by
    /// position, and a first line whose targets are not numbers is skipped as a header.
    #[serde(default = "yes")]
    pub header: bool,
}

fn yes() -> bool {
    true
}

impl Default for TableFormat {
    fn default() -> Self {
        Self { delimiter: Delimiter::Tab, header: true }
    }
}

/// One predicted quantity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Where the measured value is.
    pub column: Column,
    /// Output name (default: the column's header name, or `target{k}`).
    #[serde(default)]
    pub name: Option<String>,
    /// Unit or scale, in words (shown by the site and the model card).
    #[serde(default)]
    pub unit: Option<String>,
}

/// How an input sequence becomes the model window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LengthRule {
    /// The DREAM rule (ARCHITECTURE.md §1.2): the 17 bp 5' adapter is replaced by plasmid
    /// sequence and the last 150 bp are kept; 80 bp (random region) and 150 bp (window) inputs
    /// accepted too.
    DreamPlasmid,
    /// Every sequence is exactly this many bp; nothing is padded (§7.1).
    Exact(usize),
}

/// Where the is_reverse channel comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrandRule {
    /// Reverse-complement augmentation: every row is also trained as its reverse complement
    /// with is_reverse = 1 (DREAM, §1.5).
    Augment,
    /// The table holds both orientations as rows; is_reverse = 1 when the id contains
    /// `reverse` (the reference's rule). A forward row's id contains `forward`; removing the
    /// marker from either gives the pair key that keeps both orientations in one fold.
    IdMarkers {
        /// Marker of forward-strand ids (Drosophila `+_`, human `_F`).
        forward: String,
        /// Marker of reverse-strand ids (Drosophila `-_`, human `_Reversed:`).
        reverse: String,
    },
}

/// Training loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// KL divergence to the 18-bin soft target of one expression value on the 0–17 scale (DREAM).
    SoftBins,
    /// Mean squared error per task, summed over tasks (benchmarks, "same as DeepSTARR").
    Mse,
}

/// Which epoch's weights are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Selection {
    /// Highest validation Pearson r, averaged over tasks (the DREAM Trainer; the paper's metric).
    Pearson,
    /// Lowest validation MSE, averaged over tasks (the reference Drosophila code).
    Mse,
}

/// Which column's values are held out in turn by a [`CvProtocol`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeldOut {
    /// The dataset's `fold` column (human lentiMPRA: folds 0–9).
    Fold,
    /// The dataset's `group` column (Drosophila: the chromosome).
    Group,
}

/// How held-out sets and validation folds are formed for `dream cv` (paper Methods, benchmarks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CvProtocol {
    /// Each value of this column is held out as a test set in turn (human: `fold`; Drosophila:
    /// `group`, the chromosome).
    pub held_out: HeldOut,
    /// Validation folds of the remaining rows: the other values of `held_out` (human: for each
    /// test fold, 9 models, one per other fold as validation), or this many random folds with
    /// both orientations of a sequence kept together (Drosophila: 10).
    #[serde(default)]
    pub random_folds: Option<usize>,
}

/// Reference training settings for a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TrainDefaults {
    /// Batch size.
    #[serde(default)]
    pub batch_size: Option<usize>,
    /// Epochs.
    #[serde(default)]
    pub epochs: Option<usize>,
    /// OneCycle peak learning rate for DREAM-CNN and DREAM-RNN.
    #[serde(default)]
    pub lr: Option<f64>,
    /// OneCycle peak learning rate for DREAM-Attn.
    #[serde(default)]
    pub lr_attn: Option<f64>,
}

/// A dataset description (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// Short name (`dream-yeast`, `deepstarr`, `lentimpra`, or the user's).
    pub name: String,
    /// One line about the assay.
    #[serde(default)]
    pub description: String,
    /// Table format.
    #[serde(default)]
    pub format: TableFormat,
    /// The sequence column.
    pub sequence: Column,
    /// Target columns, one model output each.
    pub targets: Vec<Target>,
    /// Row identifier (is_reverse and pair keys come from it with [`StrandRule::IdMarkers`]).
    #[serde(default)]
    pub id: Option<Column>,
    /// Cross-validation fold of each row.
    #[serde(default)]
    pub fold: Option<Column>,
    /// A grouping column (e.g. the chromosome) that a protocol may hold out.
    #[serde(default)]
    pub group: Option<Column>,
    /// Train / validation / test assignment (values `train`, `val`/`valid`/`validation`,
    /// `test`, any case). `dream train` without `--val` then trains on the train rows and
    /// validates on the validation rows; test rows are left out.
    #[serde(default)]
    pub split: Option<Column>,
    /// Length rule.
    pub length: LengthRule,
    /// Channel 5 = is_singleton (integer expression: seen in one cell; DREAM only).
    #[serde(default)]
    pub is_singleton: bool,
    /// Where is_reverse comes from.
    #[serde(default = "augment")]
    pub strand: StrandRule,
    /// Training loss.
    #[serde(default = "mse_loss")]
    pub loss: Loss,
    /// Model selection.
    #[serde(default = "pearson")]
    pub selection: Selection,
    /// Reference training settings.
    #[serde(default)]
    pub defaults: TrainDefaults,
    /// The paper's cross-validation protocol, when the dataset has one.
    #[serde(default)]
    pub cv: Option<CvProtocol>,
}

fn augment() -> StrandRule {
    StrandRule::Augment
}
fn mse_loss() -> Loss {
    Loss::Mse
}
fn pearson() -> Selection {
    Selection::Pearson
}

/// Names of the built-in presets.
pub const PRESETS: [&str; 3] = ["dream-yeast", "deepstarr", "lentimpra"];

impl Dataset {
    /// The DREAM challenge yeast data (today's `dream train` behaviour).
    pub fn dream_yeast() -> Self {
        Self {
            name: "dream-yeast".into(),
            description: "Random Promoter DREAM Challenge 2022: yeast random promoters, YFP expression by sort-seq (mean sorting bin 0-17)".into(),
            format: TableFormat { delimiter: Delimiter::Tab, header: false },
            sequence: Column::Index(1),
            targets: vec![Target {
                column: Column::Index(2),
                name: Some("expression".into()),
                unit: Some("expected sorting bin, 0-17 (training scale)".into()),
            }],
            id: None,
            fold: None,
            group: None,
            split: None,
            length: LengthRule::DreamPlasmid,
            is_singleton: true,
            strand: StrandRule::Augment,
            loss: Loss::SoftBins,
            selection: Selection::Pearson,
            defaults: TrainDefaults { batch_size: Some(1024), epochs: Some(80), lr: Some(0.005), lr_attn: Some(0.001) },
            cv: None,
        }
    }

    /// DeepSTARR Drosophila UMI-STARR-seq (PRIXFIXE-MODULES.md §7; columns `seqnames start end
    /// ID set Sequence Dev_log2_enrichment Hk_log2_enrichment`).
    pub fn deepstarr() -> Self {
        let unit = |what: &str| Some(format!("log2 STARR-seq enrichment, {what} promoter (D. melanogaster S2 cells)"));
        Self {
            name: "deepstarr".into(),
            description: "DeepSTARR: Drosophila S2 enhancer activity by UMI-STARR-seq, 249 bp, developmental (Dev) and housekeeping (Hk) promoters".into(),
            format: TableFormat::default(),
            sequence: Column::Name("Sequence".into()),
            targets: vec![
                Target { column: Column::Name("Dev_log2_enrichment".into()), name: Some("Dev".into()), unit: unit("developmental") },
                Target { column: Column::Name("Hk_log2_enrichment".into()), name: Some("Hk".into()), unit: unit("housekeeping") },
            ],
            id: Some(Column::Name("ID".into())),
            fold: None,
            group: Some(Column::Name("seqnames".into())),
            split: Some(Column::Name("set".into())),
            length: LengthRule::Exact(249),
            is_singleton: false,
            strand: StrandRule::IdMarkers { forward: "+_".into(), reverse: "-_".into() },
            loss: Loss::Mse,
            selection: Selection::Mse,
            defaults: TrainDefaults { batch_size: Some(32), epochs: Some(5), lr: Some(0.005), lr_attn: Some(0.001) },
            cv: Some(CvProtocol { held_out: HeldOut::Group, random_folds: Some(10) }),
        }
    }

    /// Human lentiMPRA (PRIXFIXE-MODULES.md §7; columns `seq_id seq mean_value fold`).
    pub fn lentimpra() -> Self {
        Self {
            name: "lentimpra".into(),
            description: "Human lentiMPRA: regulatory activity of 200 bp elements between 15 bp adapters, 230 bp".into(),
            format: TableFormat::default(),
            sequence: Column::Name("seq".into()),
            targets: vec![Target {
                column: Column::Name("mean_value".into()),
                name: Some("activity".into()),
                unit: Some("log2(RNA/DNA), lentiMPRA".into()),
            }],
            id: Some(Column::Name("seq_id".into())),
            fold: Some(Column::Name("fold".into())),
            group: None,
            split: None,
            length: LengthRule::Exact(230),
            is_singleton: false,
            strand: StrandRule::IdMarkers { forward: "_F".into(), reverse: "_Reversed:".into() },
            loss: Loss::Mse,
            selection: Selection::Pearson,
            defaults: TrainDefaults { batch_size: Some(32), epochs: Some(5), lr: Some(0.005), lr_attn: Some(0.001) },
            cv: Some(CvProtocol { held_out: HeldOut::Fold, random_folds: None }),
        }
    }

    /// A built-in preset by name.
    pub fn preset(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "dream-yeast" | "dream" | "yeast" => Some(Self::dream_yeast()),
            "deepstarr" | "drosophila" => Some(Self::deepstarr()),
            "lentimpra" | "human" => Some(Self::lentimpra()),
            _ => None,
        }
    }

    /// A preset name, or the path of a JSON description (what `--dataset NAME|FILE` takes).
    ///
    /// # Errors
    /// An unknown name that is not a file (the presets are listed), an unreadable file, or the
    /// file's problem prefixed with its path.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(name_or_path: &str) -> Result<Self, String> {
        if let Some(d) = Self::preset(name_or_path) {
            return Ok(d);
        }
        let path = std::path::Path::new(name_or_path);
        if !path.is_file() {
            return Err(format!(
                "--dataset {name_or_path:?}: not a built-in dataset ({}) nor a dataset description file",
                PRESETS.join(", ")
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{name_or_path}: {e}"))?;
        Self::from_json(&text).map_err(|e| format!("{name_or_path}: {e}"))
    }

    /// Reads and checks a JSON description.
    ///
    /// # Errors
    /// Invalid JSON, unknown keys (serde names the key and lists the expected ones), or a
    /// description that [`Dataset::check`] refuses.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let d: Self = serde_json::from_str(text).map_err(|e| e.to_string())?;
        d.check()?;
        Ok(d)
    }

    /// Checks the description's internal consistency.
    ///
    /// # Errors
    /// What is wrong, naming the field.
    pub fn check(&self) -> Result<(), String> {
        if self.targets.is_empty() {
            return Err("targets: at least one target column is needed".into());
        }
        if self.loss == Loss::SoftBins && self.targets.len() != 1 {
            return Err(format!("loss \"soft-bins\" learns one expression value; {} targets given (use \"mse\")", self.targets.len()));
        }
        if let LengthRule::Exact(0) = self.length {
            return Err("length: exact length must be at least 1 bp".into());
        }
        let mut names = HashSet::new();
        for (k, _) in self.targets.iter().enumerate() {
            let n = self.target_name(k);
            if !names.insert(n.clone()) {
                return Err(format!("targets: the output name {n:?} is used twice"));
            }
        }
        let mut columns: Vec<&Column> = vec![&self.sequence];
        columns.extend(self.targets.iter().map(|t| &t.column));
        columns.extend([&self.id, &self.fold, &self.group, &self.split].into_iter().flatten());
        for c in &columns {
            match c {
                Column::Index(0) => return Err("columns are numbered from 1".into()),
                Column::Name(_) if !self.format.header => {
                    return Err(format!("{c}: a table without a header names columns by position (1, 2, …)"))
                }
                _ => {}
            }
        }
        if matches!(self.strand, StrandRule::IdMarkers { .. }) && self.id.is_none() {
            return Err("strand: \"id-markers\" needs an id column".into());
        }
        if let StrandRule::IdMarkers { forward, reverse } = &self.strand {
            if forward.is_empty() || reverse.is_empty() {
                return Err("strand: the id markers must not be empty".into());
            }
        }
        if let Some(cv) = &self.cv {
            if cv.random_folds.is_some_and(|k| k < 2) {
                return Err("cv.random_folds must be at least 2".into());
            }
            match cv.held_out {
                HeldOut::Fold if self.fold.is_none() => return Err("cv.held_out \"fold\" needs a fold column".into()),
                HeldOut::Group if self.group.is_none() => return Err("cv.held_out \"group\" needs a group column".into()),
                _ => {}
            }
        }
        for (what, v) in [("defaults.batch_size", self.defaults.batch_size), ("defaults.epochs", self.defaults.epochs)] {
            if v == Some(0) {
                return Err(format!("{what} must be positive"));
            }
        }
        Ok(())
    }

    /// Output name of target `k` (0-based).
    pub fn target_name(&self, k: usize) -> String {
        let t = &self.targets[k];
        t.name.clone().unwrap_or_else(|| match &t.column {
            Column::Name(n) => n.clone(),
            Column::Index(_) => format!("target{}", k + 1),
        })
    }

    /// Output names, in order.
    pub fn output_names(&self) -> Vec<String> {
        (0..self.targets.len()).map(|k| self.target_name(k)).collect()
    }

    /// The DataProcessor this dataset's models use.
    pub fn processor(&self) -> DataProcessor {
        match self.length {
            LengthRule::DreamPlasmid => DataProcessor::dream(),
            LengthRule::Exact(l) => DataProcessor::exact(l, self.is_singleton),
        }
    }

    /// The preset's blocks for this dataset's input and outputs: soft bins, or one regression
    /// head per target (§7.2).
    pub fn model_config(&self, preset: ModelPreset) -> PrixFixeConfig {
        let p = self.processor();
        let head = match self.loss {
            Loss::SoftBins => FinalBlockConfig::soft_bins(0),
            Loss::Mse => FinalBlockConfig::regression(0, self.targets.len()),
        };
        preset.config_for(p.seq_len(), p.in_channels(), head)
    }

    /// Default peak learning rate for `preset`.
    pub fn default_lr(&self, preset: ModelPreset) -> f64 {
        let attn = preset == ModelPreset::DreamAttn;
        let d = &self.defaults;
        if attn { d.lr_attn.or(d.lr) } else { d.lr }.unwrap_or(preset.max_lr())
    }

    /// The forward/reverse marker pair, when is_reverse comes from the id.
    fn markers(&self) -> Option<(&str, &str)> {
        match &self.strand {
            StrandRule::IdMarkers { forward, reverse } => Some((forward, reverse)),
            StrandRule::Augment => None,
        }
    }

    /// is_reverse of a row with id `id` (the reference rule: the id contains the reverse marker).
    pub fn id_is_reverse(&self, id: &str) -> bool {
        self.markers().is_some_and(|(_, r)| id.contains(r))
    }

    /// The key both orientations of a sequence share: the id without its strand marker.
    pub fn pair_key(&self, id: &str) -> String {
        match self.markers() {
            Some((_, r)) if id.contains(r) => id.replacen(r, "", 1),
            Some((f, _)) if id.contains(f) => id.replacen(f, "", 1),
            _ => id.to_string(),
        }
    }

    /// Reads a labelled table (gzip detected) into packed windows with their targets and row
    /// metadata. `name` is used in error messages.
    ///
    /// # Errors
    /// [`InputError`] naming file:line[:column] or the field: an unknown column (the columns
    /// found are listed), a missing or non-numeric target (unless `skip_missing_targets`: such
    /// rows are skipped and counted), a sequence of the wrong length or with a bad character,
    /// an empty table.
    /// A CSV reader of this dataset's delimiter (quotes honoured in comma-separated tables only),
    /// gzip detected; and the delimiter byte.
    fn csv_reader<'a, R: Read + 'a>(&self, name: &str, reader: R) -> Result<(csv::Reader<Box<dyn std::io::BufRead + 'a>>, u8), InputError> {
        let reader = crate::seqio::open_maybe_gz_read(reader).map_err(|e| InputError::new(name, None, None, format!("cannot read: {e}")))?;
        let delimiter = if self.format.delimiter == Delimiter::Comma { b',' } else { b'\t' };
        let rdr = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .quoting(self.format.delimiter == Delimiter::Comma)
            .from_reader(reader);
        Ok((rdr, delimiter))
    }

    /// `true` when `bytes` (gzip or plain) start like a table of this dataset: a header line
    /// that, split by the dataset's delimiter, names its sequence column. `dream predict` then
    /// reads the file with [`Dataset::read_sequences`] rather than as FASTA / plain lines.
    pub fn is_own_table(&self, bytes: &[u8]) -> bool {
        let (Column::Name(seq), true) = (&self.sequence, self.format.header) else { return false };
        let mut text = String::new();
        let Ok(r) = crate::seqio::open_maybe_gz_read(bytes) else { return false };
        use std::io::BufRead;
        if std::io::BufReader::new(r).read_line(&mut text).is_err() {
            return false;
        }
        let d = if self.format.delimiter == Delimiter::Comma { ',' } else { '\t' };
        text.trim_end().split(d).any(|f| f.trim().trim_matches('"') == seq)
    }

    /// The sequences of a table in this dataset's format, without its targets (which may be
    /// absent): `(id, sequence, line)` per row; the id from the id column, else `row{N}`.
    ///
    /// # Errors
    /// [`InputError`] with file:line (and the columns found, for a missing column); the
    /// sequences themselves are checked by the caller's DataProcessor.
    pub fn read_sequences<R: Read>(&self, name: &str, reader: R) -> Result<Vec<(String, String, usize)>, InputError> {
        let (mut rdr, delimiter) = self.csv_reader(name, reader)?;
        let csv_err = |e: csv::Error| csv_error(name, e);
        let mut records = rdr.byte_records();
        if !self.format.header {
            return Err(InputError::new(name, None, None, "the dataset's tables have no header: read the file as plain sequences"));
        }
        let header: Option<Vec<String>> = match records.next() {
            Some(r) => Some(r.map_err(csv_err)?.iter().map(|f| String::from_utf8_lossy(f).trim().to_string()).collect()),
            None => return Err(InputError::new(name, None, None, "empty file: expected a header line and data rows")),
        };
        let resolve = |c: &Column, field: &str| resolve_column(name, header.as_deref(), c, field);
        let seq_col = resolve(&self.sequence, "sequence")?;
        let id_col = self.id.as_ref().map(|c| resolve(c, "id")).transpose()?;
        let mut out = Vec::new();
        for (row_no, rec) in records.enumerate() {
            let rec = rec.map_err(csv_err)?;
            let line = rec.position().map_or(row_no + 2, |p| p.line() as usize);
            if rec.len() == 1 && rec.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace)) {
                continue;
            }
            let text = |i: usize| -> Result<String, InputError> {
                let bytes = rec.get(i).ok_or_else(|| InputError::new(name, Some(line), None, format!("expected at least {} fields separated by {}, found {}", i + 1, delimiter_name(delimiter), rec.len())))?;
                std::str::from_utf8(bytes).map(|s| s.trim().to_string()).map_err(|_| InputError::new(name, Some(line), Some(column_of(&rec, i, delimiter)), "not UTF-8 text"))
            };
            let sequence = text(seq_col)?;
            let id = match id_col {
                Some(c) => text(c)?,
                None => format!("row{}", out.len() + 1),
            };
            out.push((id, sequence, line));
        }
        Ok(out)
    }

    pub fn read_table<R: Read>(&self, name: &str, reader: R, skip_missing_targets: bool) -> Result<LabelledTable, InputError> {
        self.read_table_for(&self.processor(), None, name, reader, skip_missing_targets)
    }

    /// [`Dataset::read_table`] with another team's DataProcessor (a Prix Fixe combination whose
    /// first digit is 1 or 2; PRIXFIXE-MODULES.md §4.1, §4.3): rows are packed as `processor`
    /// windows them. The BHI and UnlockDNA Trainers handle the reverse complement themselves, so
    /// their sets are not RC-doubled and carry no is_singleton. `training_seed` draws the BHI
    /// plasmid-pad side of each short row (the reference's training-time draw, seeded here);
    /// `None` pads both sides as at prediction time. An UnlockDNA row with more than 100 bp (or
    /// nothing) left after the 20 bp cuts is skipped and counted in
    /// [`LabelledTable::skipped_too_long`] (the reference drops the long ones silently).
    ///
    /// # Errors
    /// As [`Dataset::read_table`].
    pub fn read_table_for<R: Read>(
        &self,
        processor: &DataProcessor,
        training_seed: Option<u64>,
        name: &str,
        reader: R,
        skip_missing_targets: bool,
    ) -> Result<LabelledTable, InputError> {
        let (mut rdr, delimiter) = self.csv_reader(name, reader)?;
        let own_rc = processor.scheme() != crate::data::Scheme::Autosome;
        let mut records = rdr.byte_records();
        let csv_err = |e: csv::Error| csv_error(name, e);
        let mut header: Option<Vec<String>> = None;
        let mut first: Option<csv::ByteRecord> = None;
        if self.format.header {
            match records.next() {
                Some(r) => {
                    let r = r.map_err(csv_err)?;
                    header = Some(r.iter().map(|f| String::from_utf8_lossy(f).trim().to_string()).collect());
                }
                None => return Err(InputError::new(name, None, None, "empty file: expected a header line and data rows")),
            }
        } else if let Some(r) = records.next() {
            first = Some(r.map_err(csv_err)?);
        }
        let resolve = |c: &Column, field: &str| resolve_column(name, header.as_deref(), c, field);
        let seq_col = resolve(&self.sequence, "sequence")?;
        let target_cols: Vec<usize> =
            self.targets.iter().enumerate().map(|(k, t)| resolve(&t.column, &format!("target {}", self.target_name(k)))).collect::<Result<_, _>>()?;
        let opt = |c: &Option<Column>, f: &str| c.as_ref().map(|c| resolve(c, f)).transpose();
        let (id_col, fold_col, group_col, split_col) = (opt(&self.id, "id")?, opt(&self.fold, "fold")?, opt(&self.group, "group")?, opt(&self.split, "split")?);
        let augment = self.strand == StrandRule::Augment && !own_rc;
        let mut table = LabelledTable {
            set: TrainingSet::new(processor.seq_len(), self.targets.len(), augment),
            ids: Vec::new(),
            folds: Vec::new(),
            groups: Vec::new(),
            splits: Vec::new(),
            lines: Vec::new(),
            skipped_missing: 0,
            first_skipped_line: None,
            skipped_too_long: 0,
            first_too_long_line: None,
        };
        let needed = [seq_col].into_iter().chain(target_cols.iter().copied()).chain([id_col, fold_col, group_col, split_col].into_iter().flatten()).max().unwrap_or(0) + 1;
        let mut targets = vec![0f64; target_cols.len()];
        let mut row_no = 0usize;
        let mut pending = first.into_iter().map(Ok).chain(records);
        while let Some(rec) = pending.next() {
            let rec = rec.map_err(csv_err)?;
            row_no += 1;
            let line = rec.position().map_or(row_no + usize::from(self.format.header), |p| p.line() as usize);
            if rec.len() == 1 && rec.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace)) {
                continue; // blank line
            }
            let field = |i: usize| -> Result<&str, InputError> {
                let bytes = rec.get(i).unwrap_or(b"");
                std::str::from_utf8(bytes).map_err(|_| InputError::new(name, Some(line), Some(column_of(&rec, i, delimiter)), "not UTF-8 text"))
            };
            if rec.len() < needed {
                return Err(InputError::new(
                    name,
                    Some(line),
                    None,
                    format!("expected at least {needed} fields separated by {}, found {}", delimiter_name(delimiter), rec.len()),
                ));
            }
            let mut missing = None;
            for (k, &c) in target_cols.iter().enumerate() {
                let text = field(c)?.trim();
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() => targets[k] = v,
                    _ => {
                        missing = Some((k, c, text.to_string()));
                        break;
                    }
                }
            }
            if let Some((k, c, text)) = missing {
                // A headerless table may still start with a header line.
                if !self.format.header && row_no == 1 && parse_bases(field(seq_col)?).is_err() {
                    continue;
                }
                if skip_missing_targets {
                    table.skipped_missing += 1;
                    table.first_skipped_line.get_or_insert(line);
                    continue;
                }
                let what = if text.is_empty() { " is missing".to_string() } else { format!(": {text:?} is not a number") };
                return Err(InputError::new(
                    name,
                    Some(line),
                    Some(column_of(&rec, c, delimiter)),
                    format!("target {} ({}){what}{}", self.target_name(k), column_label(&header, c), if skip_missing_targets { "" } else { "; pass --skip-missing-targets to skip such rows" }),
                ));
            }
            let seq = field(seq_col)?;
            let padded = match processor.pad_training(seq, training_seed, row_no as u64) {
                Err(crate::data::SequenceError::TooLong { .. } | crate::data::SequenceError::TooShortForCuts { .. })
                    if processor.scheme() == crate::data::Scheme::UnlockDna =>
                {
                    table.skipped_too_long += 1;
                    table.first_too_long_line.get_or_insert(line);
                    continue;
                }
                p => p.map_err(|e| InputError::from_sequence_error(name, line, column_of(&rec, seq_col, delimiter) - 1, None, e))?,
            };
            let id = id_col.map(field).transpose()?.map(|s| s.trim().to_string());
            let is_reverse = id.as_deref().is_some_and(|i| self.id_is_reverse(i));
            let singleton = self.is_singleton && !own_rc && is_singleton(targets[0]);
            table.set.push_row(&padded, &targets, is_reverse, singleton);
            if let Some(id) = id {
                table.ids.push(id);
            }
            for (col, out) in [(fold_col, &mut table.folds), (group_col, &mut table.groups), (split_col, &mut table.splits)] {
                if let Some(c) = col {
                    out.push(field(c)?.trim().to_string());
                }
            }
            table.lines.push(line as u32);
        }
        if table.set.is_empty() && table.skipped_too_long > 0 {
            return Err(InputError::new(
                name,
                None,
                None,
                format!(
                    "no usable rows: all {} rows are outside the 41-140 bp the UnlockDNA DataProcessor reads (20 bp cut at each end, at most 100 bp left)",
                    table.skipped_too_long
                ),
            ));
        }
        if table.set.is_empty() {
            return Err(InputError::new(name, None, None, "no data rows found"));
        }
        Ok(table)
    }
}

/// A table reading error at its line.
fn csv_error(name: &str, e: csv::Error) -> InputError {
    InputError::new(name, e.position().map(|p| p.line() as usize), None, format!("cannot read the table: {e}"))
}

/// The 0-based index of column `c` (`field` names it in errors): a 1-based position, or a
/// header name, listing the columns found when it is not there.
fn resolve_column(name: &str, header: Option<&[String]>, c: &Column, field: &str) -> Result<usize, InputError> {
    match (c, header) {
        (Column::Index(i), _) => Ok(i - 1),
        (Column::Name(n), Some(h)) => h.iter().position(|x| x == n).ok_or_else(|| {
            InputError::new(name, Some(1), None, format!("{field}: no column {n:?}; the columns are {}", h.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", ")))
        }),
        (Column::Name(n), None) => Err(InputError::new(name, None, None, format!("{field}: column {n:?} needs a header line"))),
    }
}

fn delimiter_name(d: u8) -> &'static str {
    if d == b'\t' {
        "tabs"
    } else {
        "commas"
    }
}

fn column_label(header: &Option<Vec<String>>, c: usize) -> String {
    match header.as_ref().and_then(|h| h.get(c)) {
        Some(n) => format!("column {n:?}"),
        None => format!("column {}", c + 1),
    }
}

/// 1-based character column where field `i` starts.
fn column_of(rec: &csv::ByteRecord, i: usize, _delimiter: u8) -> usize {
    1 + (0..i.min(rec.len())).map(|j| String::from_utf8_lossy(&rec[j]).chars().count() + 1).sum::<usize>()
}

/// A labelled table read with a [`Dataset`]: the training rows and their metadata (empty vectors
/// for columns the dataset does not have).
#[derive(Debug, Clone)]
pub struct LabelledTable {
    /// Windows, targets, is_reverse and is_singleton.
    pub set: TrainingSet,
    /// Row ids.
    pub ids: Vec<String>,
    /// Fold values.
    pub folds: Vec<String>,
    /// Group values (e.g. chromosome).
    pub groups: Vec<String>,
    /// Split values (train / val / test).
    pub splits: Vec<String>,
    /// Source line of each row (1-based).
    pub lines: Vec<u32>,
    /// Rows skipped for a missing or non-numeric target (`skip_missing_targets`).
    pub skipped_missing: usize,
    /// Line of the first skipped row.
    pub first_skipped_line: Option<usize>,
    /// Rows skipped because the DataProcessor cannot read them (UnlockDNA: nothing or more than
    /// 100 bp left after the cuts).
    pub skipped_too_long: usize,
    /// Line of the first such row.
    pub first_too_long_line: Option<usize>,
}

/// Which rows a split value names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitRole {
    /// Training rows.
    Train,
    /// Validation rows.
    Validation,
    /// Test rows (left out of training).
    Test,
}

/// Reads a split column's value.
pub fn split_role(value: &str) -> Option<SplitRole> {
    match value.trim().to_ascii_lowercase().as_str() {
        "train" | "training" => Some(SplitRole::Train),
        "val" | "valid" | "validation" | "dev" => Some(SplitRole::Validation),
        "test" => Some(SplitRole::Test),
        _ => None,
    }
}

impl LabelledTable {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// `true` when empty.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Rows `rows` (in that order) as a new table.
    pub fn select(&self, rows: &[usize]) -> LabelledTable {
        let pick = |v: &Vec<String>| if v.is_empty() { Vec::new() } else { rows.iter().map(|&i| v[i].clone()).collect() };
        LabelledTable {
            set: self.set.select(rows),
            ids: pick(&self.ids),
            folds: pick(&self.folds),
            groups: pick(&self.groups),
            splits: pick(&self.splits),
            lines: if self.lines.is_empty() { Vec::new() } else { rows.iter().map(|&i| self.lines[i]).collect() },
            skipped_missing: 0,
            first_skipped_line: None,
            skipped_too_long: 0,
            first_too_long_line: None,
        }
    }

    /// Appends another table read with the same dataset.
    pub fn append(&mut self, other: LabelledTable) {
        self.set.append(&other.set);
        self.ids.extend(other.ids);
        self.folds.extend(other.folds);
        self.groups.extend(other.groups);
        self.splits.extend(other.splits);
        self.lines.extend(other.lines);
    }

    /// Pair keys (the id without its strand marker), one per row; the row index as text when
    /// the dataset has no ids.
    pub fn pair_keys(&self, dataset: &Dataset) -> Vec<String> {
        if self.ids.is_empty() {
            return (0..self.len()).map(|i| i.to_string()).collect();
        }
        self.ids.iter().map(|id| dataset.pair_key(id)).collect()
    }

    /// Checks that both orientations of every sequence carry the same value of `values` (a fold
    /// or group column): a pair split across folds would leak the test set into training.
    ///
    /// # Errors
    /// The first split pair: both ids, their lines and values.
    pub fn check_pairs_together(&self, dataset: &Dataset, values: &[String], file: &str, what: &str) -> Result<(), String> {
        if self.ids.is_empty() || values.is_empty() {
            return Ok(());
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, key) in self.pair_keys(dataset).into_iter().enumerate() {
            match seen.get(&key) {
                Some(&j) if values[j] != values[i] => {
                    return Err(format!(
                        "{file}: the two orientations of {key:?} are in different {what}s: {:?} (line {}) has {what} {:?}, {:?} (line {}) has {what} {:?}; both orientations of a sequence must stay in one {what}",
                        self.ids[j], self.lines[j], values[j], self.ids[i], self.lines[i], values[i]
                    ))
                }
                Some(_) => {}
                None => {
                    seen.insert(key, i);
                }
            }
        }
        Ok(())
    }
}

/// Training rows: packed padded windows, targets, is_reverse and is_singleton flags.
///
/// With `augment` (DREAM), sample `i` of the RC-doubled set is row `i mod n`,
/// reverse-complemented with is_reverse = 1 when `i ≥ n` (§1.5); otherwise sample `i` is row `i`
/// read as it is, with the row's own is_reverse (benchmarks, §7.1).
#[derive(Debug, Clone)]
pub struct TrainingSet {
    /// Padded windows.
    pub sequences: PackedSequences,
    /// Targets, row-major `(rows, n_targets)`.
    pub targets: Vec<f32>,
    /// Number of targets per row.
    pub n_targets: usize,
    /// is_reverse of each row as read (always false with augmentation).
    pub is_reverse: Vec<bool>,
    /// is_singleton per row (integer expression; DREAM only).
    pub singleton: Vec<bool>,
    /// Reverse-complement augmentation.
    pub augment: bool,
}

impl TrainingSet {
    /// An empty set for windows of `seq_len` bp.
    pub fn new(seq_len: usize, n_targets: usize, augment: bool) -> Self {
        Self {
            sequences: PackedSequences::new(seq_len),
            targets: Vec::new(),
            n_targets,
            is_reverse: Vec::new(),
            singleton: Vec::new(),
            augment,
        }
    }

    /// An empty DREAM set (one expression target, RC augmentation).
    pub fn dream(seq_len: usize) -> Self {
        Self::new(seq_len, 1, true)
    }

    /// Appends a padded window and its expression (DREAM: one target, singleton from the value).
    pub fn push(&mut self, padded: &[u8], expression: f64) {
        self.push_row(padded, &[expression], false, is_singleton(expression));
    }

    /// Appends a padded window with its targets and flags.
    ///
    /// # Panics
    /// When `targets.len() != n_targets` (internal contract).
    pub fn push_row(&mut self, padded: &[u8], targets: &[f64], is_reverse: bool, singleton: bool) {
        assert_eq!(targets.len(), self.n_targets, "targets per row");
        self.sequences.push(padded);
        self.targets.extend(targets.iter().map(|&v| v as f32));
        self.is_reverse.push(is_reverse);
        self.singleton.push(singleton);
    }

    /// Rows (without RC doubling).
    pub fn len(&self) -> usize {
        self.is_reverse.len()
    }

    /// `true` when empty.
    pub fn is_empty(&self) -> bool {
        self.is_reverse.is_empty()
    }

    /// Training samples: `2 · len` with augmentation, else `len`.
    pub fn samples(&self) -> usize {
        if self.augment {
            2 * self.len()
        } else {
            self.len()
        }
    }

    /// Samples of the RC-doubled set: `2 · len` (kept for the DREAM callers; see [`Self::samples`]).
    pub fn doubled_len(&self) -> usize {
        self.samples()
    }

    /// Targets of row `i`.
    pub fn row_targets(&self, i: usize) -> &[f32] {
        &self.targets[i * self.n_targets..(i + 1) * self.n_targets]
    }

    /// Target 0 of every row (the DREAM expression).
    pub fn expression(&self) -> Vec<f32> {
        (0..self.len()).map(|i| self.targets[i * self.n_targets]).collect()
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.sequences.heap_bytes() + self.targets.capacity() * 4 + self.singleton.capacity() + self.is_reverse.capacity()
    }

    /// Rows `rows` (in that order) as a new set.
    pub fn select(&self, rows: &[usize]) -> TrainingSet {
        let mut out = TrainingSet::new(self.sequences.seq_len(), self.n_targets, self.augment);
        out.sequences.reserve(rows.len());
        let mut buf = vec![0u8; self.sequences.seq_len()];
        for &i in rows {
            self.sequences.get_into(i, &mut buf);
            out.sequences.push(&buf);
            out.targets.extend_from_slice(self.row_targets(i));
            out.is_reverse.push(self.is_reverse[i]);
            out.singleton.push(self.singleton[i]);
        }
        out
    }

    /// Appends the rows of `other` (same window and targets).
    pub fn append(&mut self, other: &TrainingSet) {
        let all: Vec<usize> = (0..other.len()).collect();
        let o = other.select(&all);
        let mut buf = vec![0u8; self.sequences.seq_len()];
        for i in 0..o.len() {
            o.sequences.get_into(i, &mut buf);
            self.sequences.push(&buf);
        }
        self.targets.extend(o.targets);
        self.is_reverse.extend(o.is_reverse);
        self.singleton.extend(o.singleton);
    }

    /// Splits off rows `val_rows` (any order) into a new set and keeps the rest, in order, in place
    /// (used for `--val-fraction`; only the validation rows are copied).
    pub fn split(mut self, val_rows: &[usize]) -> (TrainingSet, TrainingSet) {
        let mut is_val = vec![false; self.len()];
        for &i in val_rows {
            is_val[i] = true;
        }
        let val_idx: Vec<usize> = (0..self.len()).filter(|&i| is_val[i]).collect();
        let val = self.select(&val_idx);
        self.sequences.retain_rows(|i| !is_val[i]);
        let t = self.n_targets;
        let mut kept = 0;
        for i in 0..is_val.len() {
            if !is_val[i] {
                self.targets.copy_within(i * t..(i + 1) * t, kept * t);
                self.is_reverse[kept] = self.is_reverse[i];
                self.singleton[kept] = self.singleton[i];
                kept += 1;
            }
        }
        self.targets.truncate(kept * t);
        self.is_reverse.truncate(kept);
        self.singleton.truncate(kept);
        (self, val)
    }

    /// `(row, reverse-complement it, is_reverse)` of sample `s`.
    pub fn sample(&self, s: usize) -> (usize, bool, bool) {
        if self.augment {
            let n = self.len();
            let rc = s >= n;
            (s % n, rc, rc)
        } else {
            (s, false, self.is_reverse[s])
        }
    }

    /// Encodes samples: inputs `(B, channels, L)` (true singleton flags), training targets
    /// `(B, W)` — 18-bin soft targets for [`Loss::SoftBins`], the measured values `(B, tasks)`
    /// for [`Loss::Mse`] — and the measured values, row-major `(B, tasks)`.
    pub fn batch<B: burn::tensor::backend::Backend>(
        &self,
        processor: &DataProcessor,
        loss: Loss,
        samples: &[usize],
        device: &B::Device,
    ) -> (burn::tensor::Tensor<B, 3>, burn::tensor::Tensor<B, 2>, Vec<f32>) {
        use burn::tensor::{Tensor, TensorData};
        let l = self.sequences.seq_len();
        let c = processor.in_channels();
        let t = self.n_targets;
        let w = match loss {
            Loss::SoftBins => crate::N_BINS,
            Loss::Mse => t,
        };
        let mut x = vec![0f32; samples.len() * c * l];
        let mut y = Vec::with_capacity(samples.len() * w);
        let mut truth = Vec::with_capacity(samples.len() * t);
        let mut buf = vec![0u8; l];
        for (j, &s) in samples.iter().enumerate() {
            let (row, rc, rev) = self.sample(s);
            self.sequences.get_into(row, &mut buf);
            processor.encode_strand_into(&buf, rc, rev, self.singleton[row], &mut x[j * c * l..(j + 1) * c * l]);
            let values = self.row_targets(row);
            match loss {
                Loss::SoftBins => y.extend_from_slice(&crate::data::soft_target(values[0] as f64)),
                Loss::Mse => y.extend_from_slice(values),
            }
            truth.extend_from_slice(values);
        }
        (
            Tensor::from_data(TensorData::new(x, [samples.len(), c, l]), device),
            Tensor::from_data(TensorData::new(y, [samples.len(), w]), device),
            truth,
        )
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn prediction_input_in_the_dataset_format_needs_no_targets() {
        let d = Dataset::from_json(r#"{"name":"x","format":{"delimiter":"comma"},"sequence":"sequence","targets":[{"column":"y"}],"id":"name","length":{"exact":4}}"#).unwrap();
        let csv = b"name,sequence\na,ACGT\n\"b,c\",TTGG\n";
        assert!(d.is_own_table(csv));
        assert!(!d.is_own_table(b">a\nACGT\n"));
        let rows = d.read_sequences("in.csv", &csv[..]).unwrap();
        assert_eq!(rows, vec![("a".into(), "ACGT".into(), 2), ("b,c".into(), "TTGG".into(), 3)]);
        let e = d.read_sequences("in.csv", &b"name,seq\na,ACGT\n"[..]).unwrap_err().to_string();
        assert!(e.starts_with("in.csv:1: sequence: no column \"sequence\"; the columns are \"name\", \"seq\""), "{e}");
    }

    use super::*;

    #[test]
    fn presets_are_consistent_and_round_trip_as_json() {
        for name in PRESETS {
            let d = Dataset::preset(name).unwrap();
            d.check().unwrap();
            let json = serde_json::to_string_pretty(&d).unwrap();
            assert_eq!(Dataset::from_json(&json).unwrap(), d, "{name}");
        }
        assert_eq!(Dataset::deepstarr().output_names(), ["Dev", "Hk"]);
        assert_eq!(Dataset::deepstarr().processor().in_channels(), 5);
        assert_eq!(Dataset::dream_yeast().processor(), DataProcessor::dream());
    }

    #[test]
    fn unknown_keys_and_bad_settings_are_refused() {
        let err = Dataset::from_json(r#"{"name":"x","sequence":"seq","targets":[{"column":"y"}],"length":{"exact":10},"colour":"red"}"#).unwrap_err();
        assert!(err.contains("unknown field `colour`"), "{err}");
        let ok = Dataset::from_json(r#"{"name":"x","sequence":"seq","targets":[{"column":"y"}],"length":{"exact":10}}"#).unwrap();
        assert_eq!((ok.loss, ok.selection, ok.strand.clone()), (Loss::Mse, Selection::Pearson, StrandRule::Augment));
        let err = Dataset::from_json(r#"{"name":"x","sequence":"seq","targets":[{"column":"a"},{"column":"b"}],"length":"dream-plasmid","loss":"soft-bins"}"#).unwrap_err();
        assert!(err.contains("soft-bins"), "{err}");
        let err = Dataset::from_json(r#"{"name":"x","format":{"header":false},"sequence":"seq","targets":[{"column":2}],"length":{"exact":10}}"#).unwrap_err();
        assert!(err.contains("by position"), "{err}");
    }

    #[test]
    fn reads_a_two_target_table_with_ids_and_checks_every_field() {
        let d = Dataset::from_json(
            r#"{"name":"toy","sequence":"seq","targets":[{"column":"a"},{"column":"b","name":"B"}],"id":"id","fold":"fold",
                "length":{"exact":4},"strand":{"id-markers":{"forward":"_F","reverse":"_R"}}}"#,
        )
        .unwrap();
        let text = "id\tseq\ta\tb\tfold\nx_F\tACGT\t1.5\t-2\t0\nx_R\tacgt\t1.0\t3\t0\n";
        let t = d.read_table("toy.tsv", text.as_bytes(), false).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.set.targets, vec![1.5, -2.0, 1.0, 3.0]);
        assert_eq!(t.set.is_reverse, vec![false, true]);
        assert_eq!(t.pair_keys(&d), vec!["x", "x"]);
        assert_eq!(t.lines, vec![2, 3]);
        t.check_pairs_together(&d, &t.folds, "toy.tsv", "fold").unwrap();
        let split = "id\tseq\ta\tb\tfold\nx_F\tACGT\t1.5\t-2\t0\nx_R\tacgt\t1.0\t3\t1\n";
        let t = d.read_table("toy.tsv", split.as_bytes(), false).unwrap();
        let err = t.check_pairs_together(&d, &t.folds, "toy.tsv", "fold").unwrap_err();
        assert!(err.contains("\"x_F\" (line 2)") && err.contains("\"x_R\" (line 3)"), "{err}");

        let bad_col = "id\tsequence\ta\tb\tfold\n";
        let err = d.read_table("toy.tsv", bad_col.as_bytes(), false).unwrap_err().to_string();
        assert!(err.starts_with("toy.tsv:1: sequence: no column \"seq\"; the columns are \"id\", \"sequence\""), "{err}");
        let missing = "id\tseq\ta\tb\tfold\nx_F\tACGT\t\t1\t0\ny_F\tACGT\tNA\t1\t0\nz_F\tACGT\t2\t1\t0\n";
        let err = d.read_table("toy.tsv", missing.as_bytes(), false).unwrap_err().to_string();
        assert!(err.starts_with("toy.tsv:2:10: target a (column \"a\") is missing"), "{err}");
        let t = d.read_table("toy.tsv", missing.as_bytes(), true).unwrap();
        assert_eq!((t.len(), t.skipped_missing, t.first_skipped_line), (1, 2, Some(2)));
        let long = "id\tseq\ta\tb\tfold\nx_F\tACGTA\t1\t1\t0\n";
        let err = d.read_table("toy.tsv", long.as_bytes(), false).unwrap_err().to_string();
        assert_eq!(err, "toy.tsv:2: sequence is 5 bp; this model reads exactly 4 bp");
        let bad = "id\tseq\ta\tb\tfold\nx_F\tACXT\t1\t1\t0\n";
        let err = d.read_table("toy.tsv", bad.as_bytes(), false).unwrap_err().to_string();
        assert!(err.starts_with("toy.tsv:2:7: invalid character 'X'"), "{err}");
        let short = "id\tseq\ta\tb\tfold\nx_F\tACGT\t1\n";
        let err = d.read_table("toy.tsv", short.as_bytes(), false).unwrap_err().to_string();
        assert!(err.contains("toy.tsv:2: expected at least 5 fields"), "{err}");
    }

    #[test]
    fn dream_yeast_reads_headerless_rows_and_skips_a_header() {
        let d = Dataset::dream_yeast();
        let text = "sequence\texpression\nTGCATTTTTTTCACATCACGTACGT\t4\nTGCATTTTTTTCACATCAAAA\t5.5\n";
        let t = d.read_table("y.txt", text.as_bytes(), false).unwrap();
        assert_eq!(t.set.targets, vec![4.0, 5.5]);
        assert_eq!(t.set.singleton, vec![true, false]);
        assert_eq!(t.set.samples(), 4);
        assert_eq!(t.set.sample(3), (1, true, true));
    }

    #[test]
    fn unlockdna_rows_it_cannot_read_are_skipped_and_counted() {
        let d = Dataset::dream_yeast();
        let p = DataProcessor::unlockdna();
        let ok = "A".repeat(110);
        let text = format!("{}\t4\n{ok}\t5\n{}\t6\n", "C".repeat(20), "G".repeat(141));
        let t = d.read_table_for(&p, Some(1), "u.tsv", text.as_bytes(), false).unwrap();
        assert_eq!((t.len(), t.skipped_too_long, t.first_too_long_line), (1, 2, Some(1)));
        assert!(!t.set.augment && t.set.singleton == vec![false], "the UnlockDNA Trainer reads its own RC, no singleton");
        assert_eq!(t.set.sequences.seq_len(), 200);
        let all_bad = format!("{}\t4\n", "C".repeat(141));
        let e = d.read_table_for(&p, None, "u.tsv", all_bad.as_bytes(), false).unwrap_err().to_string();
        assert!(e.contains("all 1 rows are outside the 41-140 bp"), "{e}");
        // BHI: the training pad side is drawn per row from the seed; prediction pads both sides.
        let b = DataProcessor::bhi();
        let short = "ACGT".repeat(22); // 88 bp
        let rows: String = (0..40).map(|_| format!("{short}\t3\n")).collect();
        let t = d.read_table_for(&b, Some(3), "b.tsv", rows.as_bytes(), false).unwrap();
        let distinct: std::collections::HashSet<Vec<u8>> = (0..40).map(|i| t.set.sequences.get(i)).collect();
        assert_eq!(distinct.len(), 3, "right, left and both pads all occur");
        let t = d.read_table_for(&b, None, "b.tsv", rows.as_bytes(), false).unwrap();
        assert!((1..40).all(|i| t.set.sequences.get(i) == t.set.sequences.get(0)));
    }

    #[test]
    fn split_keeps_targets_and_flags_aligned() {
        let mut set = TrainingSet::new(3, 2, false);
        for i in 0..5u8 {
            set.push_row(&[i, 1, 2], &[i as f64, 10.0 + i as f64], i % 2 == 1, false);
        }
        let (train, val) = set.split(&[3, 1]);
        assert_eq!(val.targets, vec![1.0, 11.0, 3.0, 13.0]);
        assert_eq!(val.is_reverse, vec![true, true]);
        assert_eq!(train.targets, vec![0.0, 10.0, 2.0, 12.0, 4.0, 14.0]);
        assert_eq!(train.is_reverse, vec![false, false, false]);
        assert_eq!(train.sequences.get(2), vec![4, 1, 2]);
    }
}
