//! Prix Fixe combinations (paper Fig. 2B): a DataProcessor + Trainer, a First, a Core and a Final
//! Layers Block, each from one of the three teams; the wiring rule that sizes every block from
//! its neighbours, and the compatibility rule that decides which of the 81 work
//! (PRIXFIXE-MODULES.md §5, §6).
//!
//! A combination is written as the official record names its directories: four digits
//! `DP/Trainer_First_Core_Final`, 0 = autosome, 1 = BHI, 2 = UnlockDNA. DREAM-CNN is `0_1_0_0`,
//! DREAM-RNN `0_1_1_0`, DREAM-Attn `0_0_2_0`.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::blocks::{
    BiLstmCoreConfig, ConformerCoreConfig, ConvBnSiluConfig, CoreBlockConfig, DualKernelConvConfig, EfficientNetCoreConfig,
    ExpressionTokensConfig, FinalBlockConfig, FirstBlockConfig, FlattenMlpConfig, KmerEmbeddingConfig,
};
use crate::data::{DataProcessor, Scheme};
use crate::model::{ModelPreset, PrixFixeConfig};

/// One of the three top teams of the challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Team {
    /// autosome.org (digit 0).
    Autosome,
    /// BHI (digit 1).
    Bhi,
    /// UnlockDNA (digit 2).
    #[serde(rename = "unlockdna")]
    UnlockDna,
}

impl Team {
    /// The three, in digit order.
    pub const ALL: [Team; 3] = [Team::Autosome, Team::Bhi, Team::UnlockDna];

    /// 0, 1 or 2.
    pub fn digit(self) -> u8 {
        self as u8
    }

    /// `autosome`, `bhi`, `unlockdna` (the CLI's words).
    pub fn name(self) -> &'static str {
        match self {
            Self::Autosome => "autosome",
            Self::Bhi => "bhi",
            Self::UnlockDna => "unlockdna",
        }
    }

    /// `autosome.org`, `BHI`, `UnlockDNA` (the paper's names).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Autosome => "autosome.org",
            Self::Bhi => "BHI",
            Self::UnlockDna => "UnlockDNA",
        }
    }

    /// The team's DataProcessor scheme.
    pub fn scheme(self) -> Scheme {
        match self {
            Self::Autosome => Scheme::Autosome,
            Self::Bhi => Scheme::Bhi,
            Self::UnlockDna => Scheme::UnlockDna,
        }
    }

    fn from_digit(c: char) -> Option<Self> {
        match c {
            '0' => Some(Self::Autosome),
            '1' => Some(Self::Bhi),
            '2' => Some(Self::UnlockDna),
            _ => None,
        }
    }
}

impl FromStr for Team {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "0" | "autosome" | "autosome.org" | "a" => Ok(Self::Autosome),
            "1" | "bhi" | "b" => Ok(Self::Bhi),
            "2" | "unlockdna" | "unlock_dna" | "unlock-dna" | "u" => Ok(Self::UnlockDna),
            other => Err(format!("unknown team {other:?}; expected autosome, bhi or unlockdna (or 0, 1, 2)")),
        }
    }
}

/// Why a combination cannot be trained (PRIXFIXE-MODULES.md §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Incompatibility {
    /// R1: the UnlockDNA Trainer needs the UnlockDNA Final Layers Block (its masked-nucleotide
    /// loss reads the block's per-position nucleotide logits).
    R1,
    /// R2: the UnlockDNA Final Layers Block needs the UnlockDNA Trainer (its second output
    /// exists only for that Trainer's masked-nucleotide loss; the other Trainers validate on a
    /// single tensor).
    R2,
}

impl Incompatibility {
    /// The reason in words.
    pub fn reason(self) -> &'static str {
        match self {
            Self::R1 => "R1: the UnlockDNA Trainer needs the UnlockDNA Final Layers Block (its masked-nucleotide loss reads that block's nucleotide logits; the autosome and BHI Final Layers Blocks have none)",
            Self::R2 => "R2: the UnlockDNA Final Layers Block needs the UnlockDNA Trainer (its nucleotide-logit output exists only for that Trainer's masked-nucleotide loss; the autosome and BHI Trainers cannot use it)",
        }
    }
}

/// A Prix Fixe combination: whose DataProcessor + Trainer, First, Core and Final Layers Block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Combination {
    /// DataProcessor and Trainer (first digit).
    pub trainer: Team,
    /// First Layers Block.
    pub first: Team,
    /// Core Layers Block.
    pub core: Team,
    /// Final Layers Block.
    #[serde(rename = "final")]
    pub final_block: Team,
}

/// Choices the wiring rule leaves open (PRIXFIXE-MODULES.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wiring {
    /// Output width of the UnlockDNA First Layers Block (any multiple of 4; the compatibility
    /// run used 256, the original model 512).
    pub unlockdna_width: usize,
    /// Conformer layers of the UnlockDNA Core Layers Block (4 as in DREAM-Attn; the
    /// compatibility run used 1).
    pub conformer_layers: usize,
}

impl Default for Wiring {
    fn default() -> Self {
        Self { unlockdna_width: 256, conformer_layers: 4 }
    }
}

impl Wiring {
    /// The wiring a PyTorch `state_dict` was built with, read from its tensor names and shapes
    /// (`first.kmer_dense.weight` gives the UnlockDNA First width, the highest `core.blocks.{i}`
    /// the number of conformer layers); defaults where it says nothing.
    pub fn from_state_dict<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a [usize])>) -> Self {
        let mut w = Self::default();
        let mut layers = None::<usize>;
        let mut width = None;
        for (key, shape) in tensors {
            if key == "first.kmer_dense.weight" {
                width = shape.first().copied();
            }
            if let Some(i) = key.strip_prefix("core.blocks.").and_then(|r| r.split('.').next()).and_then(|i| i.parse::<usize>().ok()) {
                layers = Some(layers.map_or(i + 1, |l| l.max(i + 1)));
            }
        }
        if let Some(d) = width {
            w.unlockdna_width = d;
        }
        if let Some(l) = layers {
            w.conformer_layers = l;
        }
        w
    }
}

impl Combination {
    /// DREAM-CNN: autosome DP/Trainer, BHI First, autosome Core, autosome Final (#4).
    pub const DREAM_CNN: Self = Self::new(Team::Autosome, Team::Bhi, Team::Autosome, Team::Autosome);
    /// DREAM-RNN: autosome DP/Trainer, BHI First, BHI Core, autosome Final (#13).
    pub const DREAM_RNN: Self = Self::new(Team::Autosome, Team::Bhi, Team::Bhi, Team::Autosome);
    /// DREAM-Attn: autosome DP/Trainer, autosome First, UnlockDNA Core, autosome Final (#19).
    pub const DREAM_ATTN: Self = Self::new(Team::Autosome, Team::Autosome, Team::UnlockDna, Team::Autosome);

    /// A combination from its four teams.
    pub const fn new(trainer: Team, first: Team, core: Team, final_block: Team) -> Self {
        Self { trainer, first, core, final_block }
    }

    /// All 81 in the order of the paper's Fig. 2B and the specification's table: DP+Trainer,
    /// then Core, then First, then Final.
    pub fn all() -> Vec<Self> {
        let mut v = Vec::with_capacity(81);
        for trainer in Team::ALL {
            for core in Team::ALL {
                for first in Team::ALL {
                    for final_block in Team::ALL {
                        v.push(Self { trainer, first, core, final_block });
                    }
                }
            }
        }
        v
    }

    /// The 45 compatible ones, in [`Combination::all`]'s order.
    pub fn compatible() -> Vec<Self> {
        Self::all().into_iter().filter(|c| c.check().is_ok()).collect()
    }

    /// 1-based row of the specification's table of 81 (§6.2).
    pub fn number(&self) -> usize {
        let d = |t: Team| t.digit() as usize;
        1 + 27 * d(self.trainer) + 9 * d(self.core) + 3 * d(self.first) + d(self.final_block)
    }

    /// `0_1_1_0`: DP/Trainer, First, Core, Final digits.
    pub fn code(&self) -> String {
        format!("{}_{}_{}_{}", self.trainer.digit(), self.first.digit(), self.core.digit(), self.final_block.digit())
    }

    /// The compatibility rule: `(Final = UnlockDNA) ⇔ (DP+Trainer = UnlockDNA)` (§6.1).
    ///
    /// # Errors
    /// The [`Incompatibility`] (R1 or R2).
    pub fn check(&self) -> Result<(), Incompatibility> {
        match (self.trainer == Team::UnlockDna, self.final_block == Team::UnlockDna) {
            (true, false) => Err(Incompatibility::R1),
            (false, true) => Err(Incompatibility::R2),
            _ => Ok(()),
        }
    }

    /// The DREAM-optimized model this combination is, if any.
    pub fn preset(&self) -> Option<ModelPreset> {
        ModelPreset::ALL.into_iter().find(|p| p.combination() == *self)
    }

    /// The team's DataProcessor on DREAM yeast data.
    pub fn processor(&self) -> DataProcessor {
        DataProcessor::for_scheme(self.trainer.scheme())
    }

    /// The block configuration by the wiring rule (§5) on DREAM yeast data with the trainer's
    /// DataProcessor, default [`Wiring`]. The three DREAM combinations give exactly the presets'
    /// configurations.
    ///
    /// # Errors
    /// [`Incompatibility`] for a combination the rule refuses.
    pub fn config(&self) -> Result<PrixFixeConfig, Incompatibility> {
        self.check()?;
        Ok(self.config_for(&self.processor(), FinalBlockConfig::soft_bins(0), Wiring::default()))
    }

    /// The wiring rule (§5) on input from `processor` (channels and window); `autosome_final`
    /// is the autosome Final Layers Block to use (soft bins for DREAM data, a regression head per
    /// task for the benchmarks; its `in_channels` is set here). The combination is not checked.
    pub fn config_for(&self, processor: &DataProcessor, autosome_final: FinalBlockConfig, wiring: Wiring) -> PrixFixeConfig {
        let (c, l) = (processor.in_channels(), processor.seq_len());
        let first = match self.first {
            Team::Autosome => FirstBlockConfig::ConvBnSilu(ConvBnSiluConfig { in_channels: c, out_channels: 256, kernel: 7 }),
            Team::Bhi => FirstBlockConfig::DualKernelConv(DualKernelConvConfig {
                in_channels: c,
                channels_per_kernel: 160,
                kernels: vec![9, 15],
                dropout: 0.2,
            }),
            Team::UnlockDna => FirstBlockConfig::KmerEmbedding(KmerEmbeddingConfig {
                in_channels: c,
                out_channels: wiring.unlockdna_width,
                kmer: 10,
                seq_len: l,
            }),
        };
        let w = first.out_channels();
        let core = match self.core {
            Team::Autosome => CoreBlockConfig::EfficientNet(EfficientNetCoreConfig {
                in_channels: w,
                channels: vec![128, 128, 64, 64, 64, 64],
                expansion: 4,
                kernel: 7,
                filters_per_group: 2,
                se_reduction: 4,
            }),
            Team::Bhi => CoreBlockConfig::BiLstm(BiLstmCoreConfig {
                in_channels: w,
                hidden: 320,
                channels_per_kernel: 160,
                kernels: vec![9, 15],
                branch_dropout: 0.2,
                dropout: 0.5,
            }),
            Team::UnlockDna => CoreBlockConfig::Conformer(ConformerCoreConfig {
                dim: w,
                layers: wiring.conformer_layers,
                heads: 4,
                ff_mult: 4,
                conv_kernel: 15,
                dropout: 0.1,
                seq_len: l,
            }),
        };
        let d = core.out_channels();
        let final_block = match self.final_block {
            Team::Autosome => autosome_final.with_in_channels(d),
            Team::Bhi => FinalBlockConfig::FlattenMlp(FlattenMlpConfig { in_channels: d, seq_len: l, hidden: 64 }),
            Team::UnlockDna => FinalBlockConfig::ExpressionTokens(ExpressionTokensConfig {
                in_channels: d,
                seq_len: l,
                projectors: 8,
                nucleotides: 5,
                dropout: 0.2,
            }),
        };
        PrixFixeConfig { seq_len: l, in_channels: c, first, core, final_block }
    }

    /// The DataProcessor for `dataset`: the dataset's own (autosome DataProcessor: the DREAM
    /// window or the benchmark's exact length) for the autosome Trainer; the BHI or UnlockDNA one,
    /// which read DREAM yeast sequences only, otherwise.
    ///
    /// # Errors
    /// When a BHI or UnlockDNA DataProcessor is asked for another dataset.
    pub fn processor_for(&self, dataset: &crate::dataset::Dataset) -> Result<DataProcessor, String> {
        match self.trainer {
            Team::Autosome => Ok(dataset.processor()),
            t if dataset.length == crate::dataset::LengthRule::DreamPlasmid => Ok(DataProcessor::for_scheme(t.scheme())),
            t => Err(format!(
                "the {} DataProcessor reads DREAM yeast promoter sequences only; dataset {} has {}-bp sequences (use the autosome DataProcessor + Trainer, first digit 0)",
                t.display_name(),
                dataset.name,
                dataset.processor().seq_len()
            )),
        }
    }

    /// The block configuration for `dataset` (its DataProcessor, [`Combination::processor_for`];
    /// the autosome Final Layers Block as the dataset's loss says: soft bins or one regression
    /// head per target).
    ///
    /// # Errors
    /// The compatibility rule's reason; a BHI / UnlockDNA DataProcessor on non-yeast data; a BHI
    /// or UnlockDNA Final Layers Block (one output) on a dataset with several targets.
    pub fn config_for_dataset(&self, dataset: &crate::dataset::Dataset, wiring: Wiring) -> Result<PrixFixeConfig, String> {
        self.check().map_err(|e| format!("combination {self} cannot be trained: {}", e.reason()))?;
        let processor = self.processor_for(dataset)?;
        if self.final_block != Team::Autosome && dataset.targets.len() != 1 {
            return Err(format!(
                "the {} Final Layers Block predicts one value but dataset {} has {} targets (use the autosome Final Layers Block, last digit 0)",
                self.final_block.display_name(),
                dataset.name,
                dataset.targets.len()
            ));
        }
        let autosome_final = match dataset.loss {
            crate::dataset::Loss::SoftBins => FinalBlockConfig::soft_bins(0),
            crate::dataset::Loss::Mse => FinalBlockConfig::regression(0, dataset.targets.len()),
        };
        let cfg = self.config_for(&processor, autosome_final, wiring);
        cfg.validate().map_err(|e| format!("combination {self}: {e}"))?;
        Ok(cfg)
    }

    /// "First: BHI · Core: autosome.org · Final: autosome.org · DataProcessor + Trainer:
    /// autosome.org" — the model card's line.
    pub fn describe(&self) -> String {
        format!(
            "First: {} · Core: {} · Final: {} · DataProcessor + Trainer: {}",
            self.first.display_name(),
            self.core.display_name(),
            self.final_block.display_name(),
            self.trainer.display_name()
        )
    }

    /// Reads a combination from a path such as `…/0_1_1_0/model_best.pth` (the official
    /// record's directory names): the last path component that is a combination code.
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        path.components().rev().find_map(|c| c.as_os_str().to_str().and_then(|s| s.parse().ok()))
    }
}

impl FromStr for Combination {
    type Err = String;
    /// `0_1_1_0` (also `0110`, `0-1-1-0`) or a preset name (`dream-rnn`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(p) = s.parse::<ModelPreset>() {
            return Ok(p.combination());
        }
        let digits: Vec<char> = s.trim().chars().filter(|c| !matches!(c, '_' | '-' | ' ')).collect();
        let teams: Option<Vec<Team>> = digits.iter().map(|&c| Team::from_digit(c)).collect();
        match teams.as_deref() {
            Some(&[trainer, first, core, final_block]) if digits.len() == 4 => Ok(Self { trainer, first, core, final_block }),
            _ => Err(format!(
                "{s:?} is not a combination: expected four digits DP/Trainer_First_Core_Final, each 0 (autosome), 1 (BHI) or 2 (UnlockDNA), e.g. 0_1_1_0 (DREAM-RNN)"
            )),
        }
    }
}

impl std::fmt::Display for Combination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_number_as_the_table() {
        let all = Combination::all();
        assert_eq!(all.len(), 81);
        for (i, c) in all.iter().enumerate() {
            assert_eq!(c.number(), i + 1);
            assert_eq!(c.code().parse::<Combination>().unwrap(), *c);
        }
        assert_eq!(Combination::DREAM_CNN.number(), 4);
        assert_eq!(Combination::DREAM_RNN.number(), 13);
        assert_eq!(Combination::DREAM_ATTN.number(), 19);
        assert_eq!("0_1_1_0".parse::<Combination>().unwrap(), Combination::DREAM_RNN);
        assert_eq!("dream-attn".parse::<Combination>().unwrap(), Combination::DREAM_ATTN);
        assert!("0_1_3_0".parse::<Combination>().unwrap_err().contains("four digits"));
        assert!("0_1_1".parse::<Combination>().is_err());
        let p = std::path::Path::new("runs/0_1_1_0/model_best.pth");
        assert_eq!(Combination::from_path(p), Some(Combination::DREAM_RNN));
        assert_eq!(Combination::from_path(std::path::Path::new("x/model.pth")), None);
    }

    #[test]
    fn forty_five_are_compatible() {
        assert_eq!(Combination::compatible().len(), 45);
        let r1 = Combination::all().iter().filter(|c| c.check() == Err(Incompatibility::R1)).count();
        let r2 = Combination::all().iter().filter(|c| c.check() == Err(Incompatibility::R2)).count();
        assert_eq!((r1, r2), (18, 18));
    }

    #[test]
    fn the_dream_combinations_are_the_presets() {
        for p in ModelPreset::ALL {
            assert_eq!(p.combination().config().unwrap(), p.config(), "{p}");
            assert_eq!(p.combination().preset(), Some(p));
        }
    }
}
