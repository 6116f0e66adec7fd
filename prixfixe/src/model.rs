//! [`PrixFixeNet`] = Final(Core(First(x))) and the three DREAM-optimized presets
//! (reference ARCHITECTURE.md §2; paper Fig. 3 and Methods "DREAM-optimized models").

use std::str::FromStr;

use burn::module::Module;
use burn::tensor::{backend::Backend, Tensor};
use serde::{Deserialize, Serialize};

use crate::blocks::{
    BiLstmCoreConfig, ConformerCoreConfig, ConvBnSiluConfig, CoreBlock, CoreBlockConfig,
    DualKernelConvConfig, EfficientNetCoreConfig, FinalBlock, FinalBlockConfig, FirstBlock,
    FirstBlockConfig,
};
use crate::blocks::final_block::Head;
use crate::weights::{ParamCounter, ParamVisitor, Precision, TorchExporter, TorchLoader, VisitTorch, WeightError};
use crate::{IN_CHANNELS, SEQ_LEN};

/// A block combination that cannot be assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Adjacent blocks disagree on channel counts.
    #[error("{from} outputs {out} channels but {to} expects {expected}")]
    ChannelMismatch {
        /// Upstream block.
        from: &'static str,
        /// Its output channels.
        out: usize,
        /// Downstream block.
        to: &'static str,
        /// Its input channels.
        expected: usize,
    },
    /// A block has a fixed length (positional or strand embedding, flattened width) different
    /// from the model window.
    #[error("the {block} Layers Block is built for {length} positions but the model window is {window} bp")]
    LengthMismatch {
        /// Which block: First, Core or Final.
        block: &'static str,
        /// Length the block needs.
        length: usize,
        /// Model window.
        window: usize,
    },
    /// A size that must be positive, odd or divisible is not.
    #[error("invalid block setting: {0}")]
    Invalid(String),
}

/// The full Prix Fixe configuration: window, input channels and the three blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrixFixeConfig {
    /// Model window in bp (150).
    pub seq_len: usize,
    /// Input channels (6: one-hot A,G,C,T + is_reverse + is_singleton).
    pub in_channels: usize,
    /// First Layers Block.
    pub first: FirstBlockConfig,
    /// Core Layers Block.
    pub core: CoreBlockConfig,
    /// Final Layers Block.
    pub final_block: FinalBlockConfig,
}

impl PrixFixeConfig {
    /// Multiply-adds of one forward pass of one model row (one strand of one sequence) at
    /// inference, counting the convolutions, linear layers, LSTM gates and attention products
    /// (element-wise work is left out); 2 FLOPs each. The work behind the GFLOP/s figures of
    /// `scripts/bench-cpu.sh` and `scripts/bench-web.sh`.
    pub fn macs_per_row(&self) -> u64 {
        self.first.macs(self.seq_len) + self.core.macs(self.seq_len) + self.final_block.macs(self.seq_len)
    }

    /// [`Self::macs_per_row`] as native CPU inference executes it (DREAM-RNN's core convolutions
    /// through the DFT, [`crate::spectral`]): the work behind a distance-to-the-peak figure.
    pub fn cpu_inference_macs_per_row(&self) -> u64 {
        self.first.macs(self.seq_len) + self.core.cpu_inference_macs(self.seq_len) + self.final_block.macs(self.seq_len)
    }

    /// Checks that the blocks fit together.
    ///
    /// # Errors
    /// [`ConfigError`] naming the blocks and the numbers that disagree.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = |from, out, to, expected| {
            if out == expected {
                Ok(())
            } else {
                Err(ConfigError::ChannelMismatch { from, out, to, expected })
            }
        };
        check("the input encoding", self.in_channels, "the First Layers Block", self.first.in_channels())?;
        check("the First Layers Block", self.first.out_channels(), "the Core Layers Block", self.core.in_channels())?;
        check("the Core Layers Block", self.core.out_channels(), "the Final Layers Block", self.final_block.in_channels())?;
        for (block, len) in [
            ("First", self.first.fixed_length()),
            ("Core", self.core.fixed_length()),
            ("Final", self.final_block.fixed_length()),
        ] {
            if let Some(len) = len {
                if len != self.seq_len {
                    return Err(ConfigError::LengthMismatch { block, length: len, window: self.seq_len });
                }
            }
        }
        let mut kernels = vec![];
        match &self.first {
            FirstBlockConfig::DualKernelConv(c) => kernels.extend(&c.kernels),
            FirstBlockConfig::ConvBnSilu(c) => kernels.push(c.kernel),
            FirstBlockConfig::KmerEmbedding(c) => {
                if c.kmer == 0 || c.kmer % 2 != 0 {
                    return Err(ConfigError::Invalid(format!(
                        "the UnlockDNA First Layers Block needs an even k-mer (got {}; the published default 3 cannot run, PRIXFIXE-MODULES.md §1.1)",
                        c.kmer
                    )));
                }
                if c.seq_len % 2 != 0 {
                    return Err(ConfigError::Invalid(format!(
                        "the UnlockDNA First Layers Block's strand embedding needs an even window (got {} bp)",
                        c.seq_len
                    )));
                }
            }
        }
        match &self.core {
            CoreBlockConfig::EfficientNet(c) => {
                kernels.push(c.kernel);
                for &w in &c.channels {
                    let e = c.expansion * w;
                    if c.filters_per_group == 0 || e % c.filters_per_group != 0 {
                        return Err(ConfigError::Invalid(format!(
                            "expanded width {e} is not divisible by filters_per_group {}",
                            c.filters_per_group
                        )));
                    }
                }
                if c.se_reduction == 0 {
                    return Err(ConfigError::Invalid("se_reduction must be positive".into()));
                }
            }
            CoreBlockConfig::BiLstm(c) => kernels.extend(&c.kernels),
            CoreBlockConfig::Conformer(c) => {
                kernels.push(c.conv_kernel);
                if c.heads == 0 || c.dim % c.heads != 0 {
                    return Err(ConfigError::Invalid(format!("dim {} is not divisible by {} heads", c.dim, c.heads)));
                }
                if c.ff_mult * c.dim % 2 != 0 {
                    return Err(ConfigError::Invalid("ff_mult·dim must be even (SwiGLU halves it)".into()));
                }
            }
        }
        if let Some(k) = kernels.iter().find(|&&k| k % 2 == 0) {
            return Err(ConfigError::Invalid(format!("kernel {k} is even; 'same' padding needs odd kernels")));
        }
        match &self.final_block {
            FinalBlockConfig::SoftBins(c) if c.bins == 0 => {
                return Err(ConfigError::Invalid("the Final Layers Block needs at least one bin".into()))
            }
            FinalBlockConfig::Regression(c) if c.tasks == 0 || c.hidden == 0 => {
                return Err(ConfigError::Invalid("the regression Final Layers Block needs at least one task and a positive width".into()))
            }
            FinalBlockConfig::FlattenMlp(c) if c.hidden == 0 => {
                return Err(ConfigError::Invalid("the BHI Final Layers Block needs a positive hidden width".into()))
            }
            FinalBlockConfig::ExpressionTokens(c) if c.projectors == 0 || c.projectors > self.seq_len || c.nucleotides == 0 => {
                return Err(ConfigError::Invalid(format!(
                    "the UnlockDNA Final Layers Block reads {} projector positions of a {} bp window and {} nucleotide classes",
                    c.projectors, self.seq_len, c.nucleotides
                )))
            }
            _ => {}
        }
        if self.seq_len == 0 {
            return Err(ConfigError::Invalid("the model window must be at least 1 bp".into()));
        }
        Ok(())
    }

    /// Builds the model with the reference initialisation (random; see ARCHITECTURE.md §3).
    ///
    /// # Errors
    /// When [`PrixFixeConfig::validate`] fails.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<PrixFixeNet<B>, ConfigError> {
        self.validate()?;
        Ok(PrixFixeNet {
            first: self.first.init(device),
            core: self.core.init(device),
            final_block: self.final_block.init(device),
        })
    }
}

/// The three DREAM-optimized models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelPreset {
    /// BHI first block + autosome EfficientNet core + autosome final (1,933,970 parameters).
    DreamCnn,
    /// BHI first block + BHI BiLSTM core + autosome final (4,130,578 parameters).
    DreamRnn,
    /// Autosome first block + UnlockDNA Conformer core + autosome final (4,539,410 parameters).
    DreamAttn,
}

impl ModelPreset {
    /// All presets.
    pub const ALL: [ModelPreset; 3] = [Self::DreamCnn, Self::DreamRnn, Self::DreamAttn];

    /// `dream-cnn`, `dream-rnn`, `dream-attn`.
    pub fn name(self) -> &'static str {
        match self {
            Self::DreamCnn => "dream-cnn",
            Self::DreamRnn => "dream-rnn",
            Self::DreamAttn => "dream-attn",
        }
    }

    /// Display name: DREAM-CNN, DREAM-RNN, DREAM-Attn.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::DreamCnn => "DREAM-CNN",
            Self::DreamRnn => "DREAM-RNN",
            Self::DreamAttn => "DREAM-Attn",
        }
    }

    /// Trainable parameters of the published model.
    pub fn expected_params(self) -> usize {
        match self {
            Self::DreamCnn => 1_933_970,
            Self::DreamRnn => 4_130_578,
            Self::DreamAttn => 4_539_410,
        }
    }

    /// The preset as a Prix Fixe combination (DREAM-CNN `0_1_0_0`, DREAM-RNN `0_1_1_0`,
    /// DREAM-Attn `0_0_2_0`).
    pub fn combination(self) -> crate::combination::Combination {
        use crate::combination::Combination;
        match self {
            Self::DreamCnn => Combination::DREAM_CNN,
            Self::DreamRnn => Combination::DREAM_RNN,
            Self::DreamAttn => Combination::DREAM_ATTN,
        }
    }

    /// OneCycle max learning rate of the reference trainer (§4): 0.005, or 0.001 for DREAM-Attn.
    pub fn max_lr(self) -> f64 {
        match self {
            Self::DreamAttn => 0.001,
            _ => 0.005,
        }
    }

    /// The block configuration, exactly as the reference notebook builds it (§2, §5).
    pub fn config(self) -> PrixFixeConfig {
        self.config_for(SEQ_LEN, IN_CHANNELS, FinalBlockConfig::soft_bins(0))
    }

    /// The preset's First and Core Layers Blocks on another input (window `seq_len` bp,
    /// `in_channels` channels) with the Final Layers Block `final_block` (its `in_channels` is
    /// set to the core's output). The Drosophila and human benchmark models are
    /// `config_for(249, 5, FinalBlockConfig::regression(_, 2))` and `config_for(230, 5, …, 1)`
    /// (PRIXFIXE-MODULES.md §7).
    pub fn config_for(self, seq_len: usize, in_channels: usize, final_block: FinalBlockConfig) -> PrixFixeConfig {
        let bhi_first = FirstBlockConfig::DualKernelConv(DualKernelConvConfig {
            in_channels,
            channels_per_kernel: 160,
            kernels: vec![9, 15],
            dropout: 0.2,
        });
        let (first, core) = match self {
            Self::DreamCnn => (
                bhi_first,
                CoreBlockConfig::EfficientNet(EfficientNetCoreConfig {
                    in_channels: 320,
                    channels: vec![128, 128, 64, 64, 64, 64],
                    expansion: 4,
                    kernel: 7,
                    filters_per_group: 2,
                    se_reduction: 4,
                }),
            ),
            Self::DreamRnn => (
                bhi_first,
                CoreBlockConfig::BiLstm(BiLstmCoreConfig {
                    in_channels: 320,
                    hidden: 320,
                    channels_per_kernel: 160,
                    kernels: vec![9, 15],
                    branch_dropout: 0.2,
                    dropout: 0.5,
                }),
            ),
            Self::DreamAttn => (
                FirstBlockConfig::ConvBnSilu(ConvBnSiluConfig { in_channels, out_channels: 256, kernel: 7 }),
                CoreBlockConfig::Conformer(ConformerCoreConfig {
                    dim: 256,
                    layers: 4,
                    heads: 4,
                    ff_mult: 4,
                    conv_kernel: 15,
                    dropout: 0.1,
                    seq_len,
                }),
            ),
        };
        let final_block = final_block.with_in_channels(core.out_channels());
        PrixFixeConfig { seq_len, in_channels, first, core, final_block }
    }
}

impl FromStr for ModelPreset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "dream-cnn" | "cnn" => Ok(Self::DreamCnn),
            "dream-rnn" | "rnn" => Ok(Self::DreamRnn),
            "dream-attn" | "attn" => Ok(Self::DreamAttn),
            other => Err(format!("unknown model {other:?}; expected dream-cnn, dream-rnn or dream-attn")),
        }
    }
}

impl std::fmt::Display for ModelPreset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Outputs of every block for one input batch (parity checks, inspection).
#[derive(Debug, Clone)]
pub struct ForwardParts<B: Backend> {
    /// First Layers Block output `(batch, C1, L)`.
    pub first: Tensor<B, 3>,
    /// Core Layers Block output `(batch, C2, L)`.
    pub core: Tensor<B, 3>,
    /// Raw Final Layers Block output `(batch, width)`: 18 logits, or one value per task.
    pub logits: Tensor<B, 2>,
}

/// A Prix Fixe network. Input `(batch, channels, L)` (DREAM: `(batch, 6, 150)`) → raw head output
/// (DREAM: 18 logits; benchmarks: one value per task) → outputs `(batch, outputs)` (DREAM: the
/// expected bin).
#[derive(Module, Debug)]
pub struct PrixFixeNet<B: Backend> {
    /// First Layers Block (reference key prefix `first.`).
    pub first: FirstBlock<B>,
    /// Core Layers Block (`core.`).
    pub core: CoreBlock<B>,
    /// Final Layers Block (`final.`).
    pub final_block: FinalBlock<B>,
}

impl<B: Backend> PrixFixeNet<B> {
    /// Raw head output `(batch, width)` of an encoded batch `(batch, channels, L)`: 18 logits
    /// (soft bins) or one regression value per task; see [`PrixFixeNet::head`].
    pub fn forward_logits(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        self.final_block.forward(self.core.forward(self.first.forward(x)))
    }

    /// Every block's output.
    pub fn forward_parts(&self, x: Tensor<B, 3>) -> ForwardParts<B> {
        let first = self.first.forward(x);
        let core = self.core.forward(first.clone());
        let logits = self.final_block.forward(core.clone());
        ForwardParts { first, core, logits }
    }

    /// Predicted outputs `(batch, outputs)`: the expected bin (0..17 training scale) of a
    /// soft-bin model, or the tasks' values of a regression model.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        self.head().outputs_of(self.forward_logits(x))
    }

    /// What the Final Layers Block outputs.
    pub fn head(&self) -> Head {
        self.final_block.head()
    }

    /// Trainable parameter count.
    pub fn num_trainable(&self) -> usize {
        let mut counter = ParamCounter::default();
        self.clone().visit_torch(&mut counter, "");
        counter.count
    }

    /// Builds `config` and loads a PyTorch `state_dict` in safetensors format (reference key
    /// names; f32, f16, bf16 or f64 tensors).
    ///
    /// # Errors
    /// [`LoadError::Config`] for an invalid configuration; [`LoadError::Weights`] for a file that
    /// is not safetensors, or whose keys or shapes do not match (every problem listed).
    pub fn from_torch_safetensors(
        config: &PrixFixeConfig,
        bytes: &[u8],
        device: &B::Device,
    ) -> Result<Self, LoadError> {
        let mut model = config.init::<B>(device)?;
        let mut loader = TorchLoader::<B>::new(bytes, device)?;
        model.visit_torch(&mut loader, "");
        loader.finish()?;
        Ok(model)
    }

    /// Writes the model as a PyTorch `state_dict` in safetensors format (loadable by the
    /// reference with `strict=True`).
    ///
    /// # Errors
    /// Only on internal inconsistency.
    pub fn to_torch_safetensors(
        &self,
        precision: Precision,
        metadata: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Vec<u8>, WeightError> {
        let mut exporter = TorchExporter::new(precision);
        self.clone().visit_torch(&mut exporter, "");
        exporter.to_bytes(metadata)
    }
}

impl<B: Backend> VisitTorch<B> for PrixFixeNet<B> {
    fn visit_torch<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        self.first.visit_torch(v, &format!("{prefix}first."));
        self.core.visit_torch(v, &format!("{prefix}core."));
        self.final_block.visit_torch(v, &format!("{prefix}final."));
    }
}

/// Why a model could not be built from weights.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    /// Invalid block configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Unreadable or mismatched weights.
    #[error(transparent)]
    Weights(#[from] WeightError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::{CoreBlock, FinalBlock};

    /// DREAM-CNN's count equals the weights of the built model used at every position (each
    /// 'same' conv weight once per position) plus the squeeze-excitation Linears (once per
    /// sequence): 264,904,448 multiply-adds (0.53 GFLOP) per row of 150 bp.
    #[test]
    fn macs_of_dream_cnn_equal_its_weights() {
        type B = crate::CpuBackend;
        let cfg = ModelPreset::DreamCnn.config();
        let model = cfg.init::<B>(&Default::default()).unwrap();
        let l = cfg.seq_len as u64;
        let numel = |dims: [usize; 3]| dims.iter().product::<usize>() as u64;
        let mut want = cfg.first.macs(cfg.seq_len);
        assert_eq!(want, (6 * 160 * 9 + 6 * 160 * 15) * l);
        let CoreBlock::EfficientNet(core) = &model.core else { panic!("EfficientNet core") };
        for s in &core.stages {
            for c in [&s.expand, &s.grouped, &s.project, &s.resize] {
                want += numel(c.weight.dims()) * l;
            }
            want += s.se_fc1.weight.dims().iter().product::<usize>() as u64 + s.se_fc2.weight.dims().iter().product::<usize>() as u64;
        }
        let FinalBlock::SoftBins(head) = &model.final_block else { panic!("soft bins") };
        want += numel(head.conv.weight.dims()) * l;
        assert_eq!(cfg.macs_per_row(), want);
        assert_eq!(want, 264_904_448);
        // DREAM-RNN: the BiLSTM's gates (input and recurrent) and the conv branches at every
        // position; ≈ the 620 M that torchinfo gives for the reference model.
        let rnn = ModelPreset::DreamRnn.config();
        let CoreBlock::BiLstm(core) = &rnn.init::<B>(&Default::default()).unwrap().core else { panic!("BiLSTM core") };
        let mut want = rnn.first.macs(rnn.seq_len) + rnn.final_block.macs(rnn.seq_len);
        for d in [&core.lstm.fwd, &core.lstm.bwd] {
            want += (d.w_ih.dims().iter().product::<usize>() + d.w_hh.dims().iter().product::<usize>()) as u64 * l;
        }
        for c in &core.branches.convs {
            want += numel(c.weight.dims()) * l;
        }
        assert_eq!(rnn.macs_per_row(), want);
        assert_eq!(want, 618_720_000);
        // Through the DFT the branches' 368.64 M become 2·F·L·C + F·2C·2O + 2·O·F·L with
        // F = (150 + 7) / 2 + 1 = 79: 15.17 M + 64.72 M + 7.58 M.
        assert_eq!(rnn.cpu_inference_macs_per_row(), want - 368_640_000 + 15_168_000 + 64_716_800 + 7_584_000);
        // DREAM-Attn: every Conformer weight once per position, plus q·kᵀ and p·v (2·L²·D per layer).
        let attn = ModelPreset::DreamAttn.config();
        let CoreBlock::Conformer(core) = &attn.init::<B>(&Default::default()).unwrap().core else { panic!("Conformer core") };
        let mut want = attn.first.macs(attn.seq_len) + attn.final_block.macs(attn.seq_len);
        for layer in &core.layers {
            let weights: usize = [&layer.ff1, &layer.ff2]
                .iter()
                .map(|f| f.linear1.weight.dims().iter().product::<usize>() + f.linear2.weight.dims().iter().product::<usize>())
                .sum::<usize>()
                + layer.depthwise.weight.dims().iter().product::<usize>()
                + layer.pointwise.weight.dims().iter().product::<usize>()
                + layer.attn.in_proj_weight.dims().iter().product::<usize>()
                + layer.attn.out_proj_weight.dims().iter().product::<usize>();
            want += weights as u64 * l + 2 * l * l * 256;
        }
        assert_eq!(attn.macs_per_row(), want);
        assert_eq!(want, 719_155_200);
    }
}
