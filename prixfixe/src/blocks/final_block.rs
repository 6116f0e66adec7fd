//! Final Layers Blocks of the autosome team:
//! - **soft bins** (the DREAM models, reference ARCHITECTURE.md §2.4): 1×1 conv to 18 bins at
//!   every position → average over length = logits; softmax; expectation;
//! - **regression heads** (the Drosophila / human benchmark variant, PRIXFIXE-MODULES.md §7.2):
//!   one head per task, each 1×1 conv `C → 256` → average over length → Linear `256 → 1`; no
//!   activation. Trained with MSE per task, summed;
//! - the **BHI** block ([`FlattenMlpHead`], PRIXFIXE-MODULES.md §3.1): flatten channel-major →
//!   Linear → ReLU → Linear → ReLU → Linear → one value; trained with Huber (δ = 1);
//! - the **UnlockDNA** block ([`ExpressionTokensHead`], §3.2): the expression is the mean of a
//!   Linear over the first `projectors` positions; a second Linear gives per-position nucleotide
//!   logits for the UnlockDNA Trainer's masked-nucleotide loss.

use burn::module::{Module, Param};
use burn::nn::conv::Conv1d;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{backend::Backend, Tensor};
use serde::{Deserialize, Serialize};

use crate::nn::{conv1d_same, conv_forward, visit_conv, visit_linear, ConvInit};
use crate::weights::{ParamVisitor, VisitTorch};

/// Configuration of the soft-classification Final Layers Block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftBinsConfig {
    /// Input channels (64 DREAM-CNN, 320 DREAM-RNN, 256 DREAM-Attn).
    pub in_channels: usize,
    /// Number of bins (18).
    pub bins: usize,
}

/// Configuration of the regression Final Layers Block (one head per task).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegressionConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Width of each head's 1×1 convolution (256 in the reference).
    pub hidden: usize,
    /// Number of tasks (heads): 2 for Drosophila (Dev, Hk), 1 for human lentiMPRA.
    pub tasks: usize,
}

/// Configuration of the BHI Final Layers Block ([`FlattenMlpHead`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlattenMlpConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Input length (fixed: the flattened width is `in_channels · seq_len`).
    pub seq_len: usize,
    /// Hidden width of the two hidden layers (64).
    pub hidden: usize,
}

/// Configuration of the UnlockDNA Final Layers Block ([`ExpressionTokensHead`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpressionTokensConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Positions read by the nucleotide head (the last `seq_len`; the model window).
    pub seq_len: usize,
    /// Positions averaged for the expression (`num_projectors`, 8).
    pub projectors: usize,
    /// Nucleotide classes of the masked-token head (5: A, C, G, T, N).
    pub nucleotides: usize,
    /// Dropout before the expression Linear (0.2).
    pub dropout: f64,
}

/// Configuration of a Final Layers Block. Serialised without a tag: `{in_channels, bins}` (the
/// form every bundle of format version 1 has), `{in_channels, hidden, tasks}`,
/// `{in_channels, seq_len, hidden}` or `{in_channels, seq_len, projectors, nucleotides, dropout}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FinalBlockConfig {
    /// 18-bin soft classification (autosome; the DREAM models).
    SoftBins(SoftBinsConfig),
    /// One regression head per task (autosome, benchmarks).
    Regression(RegressionConfig),
    /// Flatten + 3-layer MLP (BHI).
    FlattenMlp(FlattenMlpConfig),
    /// Expression tokens + masked-nucleotide head (UnlockDNA).
    ExpressionTokens(ExpressionTokensConfig),
}

/// The loss a Final Layers Block trains with (its `train_step`, PRIXFIXE-MODULES.md §0, §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockLoss {
    /// KL divergence to the 18-bin soft target (autosome soft bins).
    SoftBins,
    /// Mean squared error per task, summed (autosome regression; UnlockDNA expression).
    Mse,
    /// Huber loss, δ = 1, mean (BHI).
    Huber,
}

/// What a Final Layers Block's raw output means; decodes it on the CPU side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// `bins` logits; the output is the expected bin of their softmax.
    SoftBins {
        /// Number of bins.
        bins: usize,
    },
    /// `tasks` regression values, the outputs themselves.
    Regression {
        /// Number of tasks.
        tasks: usize,
    },
}

impl Head {
    /// Width of the raw output and of the readout (`bins` or `tasks`).
    pub fn width(self) -> usize {
        match self {
            Self::SoftBins { bins } => bins,
            Self::Regression { tasks } => tasks,
        }
    }

    /// Number of predicted values per sequence (1 for soft bins, `tasks` for regression).
    pub fn outputs(self) -> usize {
        match self {
            Self::SoftBins { .. } => 1,
            Self::Regression { tasks } => tasks,
        }
    }

    /// The readout of raw head outputs `(batch, width)`: softmax probabilities for soft bins, the
    /// values themselves for regression.
    pub fn readout<B: Backend>(self, raw: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            Self::SoftBins { .. } => softmax(raw, 1),
            Self::Regression { .. } => raw,
        }
    }

    /// Outputs `(batch, outputs)` from raw head outputs (differentiable: used for MSE training
    /// and validation).
    pub fn outputs_of<B: Backend>(self, raw: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            Self::SoftBins { .. } => FinalBlock::expectation(softmax(raw, 1)).unsqueeze_dim(1),
            Self::Regression { .. } => raw,
        }
    }

    /// Outputs of one readout row (`width` values): `[Σ k·p_k]` or the row itself.
    pub fn decode(self, readout: &[f32]) -> Vec<f32> {
        match self {
            Self::SoftBins { .. } => vec![crate::data::bin_expectation(readout)],
            Self::Regression { .. } => readout.to_vec(),
        }
    }
}

impl FinalBlockConfig {
    /// Multiply-adds per sequence of `len` bp (inference).
    pub fn macs(&self, len: usize) -> u64 {
        (match self {
            Self::SoftBins(c) => c.in_channels * c.bins * len,
            Self::Regression(c) => c.tasks * (c.in_channels * c.hidden * len + c.hidden),
            Self::FlattenMlp(c) => c.in_channels * c.seq_len * c.hidden + c.hidden * c.hidden + c.hidden,
            Self::ExpressionTokens(c) => c.in_channels * c.projectors,
        }) as u64
    }

    /// The DREAM soft-classification block on `in_channels` (18 bins).
    pub fn soft_bins(in_channels: usize) -> Self {
        Self::SoftBins(SoftBinsConfig { in_channels, bins: crate::N_BINS })
    }

    /// The benchmark regression block: `tasks` heads of width 256 on `in_channels`.
    pub fn regression(in_channels: usize, tasks: usize) -> Self {
        Self::Regression(RegressionConfig { in_channels, hidden: 256, tasks })
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        match self {
            Self::SoftBins(c) => c.in_channels,
            Self::Regression(c) => c.in_channels,
            Self::FlattenMlp(c) => c.in_channels,
            Self::ExpressionTokens(c) => c.in_channels,
        }
    }

    /// The same block on `in_channels` input channels.
    pub fn with_in_channels(&self, in_channels: usize) -> Self {
        match self.clone() {
            Self::SoftBins(c) => Self::SoftBins(SoftBinsConfig { in_channels, ..c }),
            Self::Regression(c) => Self::Regression(RegressionConfig { in_channels, ..c }),
            Self::FlattenMlp(c) => Self::FlattenMlp(FlattenMlpConfig { in_channels, ..c }),
            Self::ExpressionTokens(c) => Self::ExpressionTokens(ExpressionTokensConfig { in_channels, ..c }),
        }
    }

    /// The input length the block needs, if fixed (BHI: the flattened width).
    pub fn fixed_length(&self) -> Option<usize> {
        match self {
            Self::FlattenMlp(c) => Some(c.seq_len),
            _ => None,
        }
    }

    /// The head's meaning.
    pub fn head(&self) -> Head {
        match self {
            Self::SoftBins(c) => Head::SoftBins { bins: c.bins },
            Self::Regression(c) => Head::Regression { tasks: c.tasks },
            Self::FlattenMlp(_) | Self::ExpressionTokens(_) => Head::Regression { tasks: 1 },
        }
    }

    /// The loss the block trains with.
    pub fn loss(&self) -> BlockLoss {
        match self {
            Self::SoftBins(_) => BlockLoss::SoftBins,
            Self::Regression(_) | Self::ExpressionTokens(_) => BlockLoss::Mse,
            Self::FlattenMlp(_) => BlockLoss::Huber,
        }
    }

    /// Builds the block with the autosome initialisation: soft bins conv `N(0, sqrt(2/18))`;
    /// regression conv `N(0, sqrt(2/256))` and Linear `N(0, 0.001)`, biases 0 (§7.2).
    pub fn init<B: Backend>(&self, device: &B::Device) -> FinalBlock<B> {
        match self {
            Self::SoftBins(c) => FinalBlock::SoftBins(SoftBinsHead {
                conv: conv1d_same(c.in_channels, c.bins, 1, 1, true, ConvInit::Autosome, device),
            }),
            Self::Regression(c) => {
                let linear = || {
                    let mut l = LinearConfig::new(c.hidden, 1)
                        .with_initializer(Initializer::Normal { mean: 0.0, std: 0.001 })
                        .init(device);
                    l.bias = Some(Param::from_tensor(Tensor::zeros([1], device)));
                    l
                };
                FinalBlock::Regression(RegressionHead {
                    mappers: (0..c.tasks)
                        .map(|_| conv1d_same(c.in_channels, c.hidden, 1, 1, true, ConvInit::Autosome, device))
                        .collect(),
                    linears: (0..c.tasks).map(|_| linear()).collect(),
                })
            }
            // BHI and UnlockDNA blocks keep PyTorch's default initialisation (§0).
            Self::FlattenMlp(c) => FinalBlock::FlattenMlp(FlattenMlpHead {
                hidden1: LinearConfig::new(c.in_channels * c.seq_len, c.hidden).init(device),
                hidden2: LinearConfig::new(c.hidden, c.hidden).init(device),
                out: LinearConfig::new(c.hidden, 1).init(device),
            }),
            Self::ExpressionTokens(c) => FinalBlock::ExpressionTokens(ExpressionTokensHead {
                expression_dense: LinearConfig::new(c.in_channels, 1).init(device),
                dropout: burn::nn::DropoutConfig::new(c.dropout).init(),
                nucleotide_dense: LinearConfig::new(c.in_channels, c.nucleotides).init(device),
                projectors: c.projectors,
                seq_len: c.seq_len,
            }),
        }
    }
}

/// BHI Final Layers Block: `(batch, C, L)` flattened channel-major (feature `c·L + l`) →
/// Linear(C·L → 64) → ReLU → Linear(64 → 64) → ReLU → Linear(64 → 1) → `(batch, 1)`
/// (PRIXFIXE-MODULES.md §3.1; the original BHI model flattened position-major, §8.12). Reference
/// keys `main.0.*`, `main.2.*`, `main.4.*`.
#[derive(Module, Debug)]
pub struct FlattenMlpHead<B: Backend> {
    /// `main.0`.
    pub hidden1: Linear<B>,
    /// `main.2`.
    pub hidden2: Linear<B>,
    /// `main.4`.
    pub out: Linear<B>,
}

impl<B: Backend> FlattenMlpHead<B> {
    /// The three Linear outputs (reference hooks `main_0`, `main_2`, `main_4`; ReLU between).
    pub fn layers(&self, x: Tensor<B, 3>) -> [Tensor<B, 2>; 3] {
        let [b, c, l] = x.dims();
        let h1 = self.hidden1.forward(x.reshape([b, c * l]));
        let h2 = self.hidden2.forward(relu(h1.clone()));
        let out = self.out.forward(relu(h2.clone()));
        [h1, h2, out]
    }
}

/// UnlockDNA Final Layers Block (PRIXFIXE-MODULES.md §3.2). Expression: positions
/// `0..projectors` of `(batch, C, L)` → Dropout → Linear(C → 1) → mean over those positions →
/// `(batch, 1)`. Nucleotide logits: the last `min(L, seq_len)` positions → Linear(C → 5) →
/// `(batch, 5, L')`, classes A, C, G, T, N. Reference keys `expression_dense.*`,
/// `nucleotide_dense.*`.
#[derive(Module, Debug)]
pub struct ExpressionTokensHead<B: Backend> {
    /// Linear `C → 1`.
    pub expression_dense: Linear<B>,
    /// Dropout before it (0.2).
    pub dropout: burn::nn::Dropout,
    /// Linear `C → 5`.
    pub nucleotide_dense: Linear<B>,
    /// Positions averaged for the expression (8).
    pub projectors: usize,
    /// Positions read by the nucleotide head.
    pub seq_len: usize,
}

impl<B: Backend> ExpressionTokensHead<B> {
    /// Per-projector expression values `(batch, projectors, 1)` (reference hook
    /// `final_expression_tokens`).
    pub fn expression_tokens(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, c, _] = x.dims();
        let tokens = x.slice([0..b, 0..c, 0..self.projectors]).swap_dims(1, 2);
        self.expression_dense.forward(crate::nn::dropout(&self.dropout, tokens))
    }

    /// Expression `(batch, 1)`.
    pub fn expression(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        self.expression_tokens(x).mean_dim(1).squeeze_dim(2)
    }

    /// Nucleotide logits `(batch, 5, min(L, seq_len))`.
    pub fn seq_logits(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, c, l] = x.dims();
        let from = l.saturating_sub(self.seq_len);
        self.nucleotide_dense.forward(x.slice([0..b, 0..c, from..l]).swap_dims(1, 2)).swap_dims(1, 2)
    }
}

/// Soft-classification block. `(batch, C, L)` → logits `(batch, 18)`. Reference keys
/// `mapper.0.*`, `bins` (int64 0..17, stored for compatibility).
#[derive(Module, Debug)]
pub struct SoftBinsHead<B: Backend> {
    /// 1×1 conv `C → 18` (key `mapper.0`; a field named `mapper` would clash with burn's derive).
    pub conv: Conv1d<B>,
}

/// Regression block. `(batch, C, L)` → `(batch, tasks)`. Reference keys: one task `mapper.*`,
/// `linear.0.*`; several `mapper{k}.*`, `linear{k}.0.*` for k = 1, 2, ….
#[derive(Module, Debug)]
pub struct RegressionHead<B: Backend> {
    /// Per task: 1×1 conv `C → 256`.
    pub mappers: Vec<Conv1d<B>>,
    /// Per task: Linear `256 → 1`.
    pub linears: Vec<Linear<B>>,
}

impl<B: Backend> RegressionHead<B> {
    /// Per task, the length-averaged 1×1-conv features `(batch, 256)` (reference hook
    /// `final_mapper*_pooled`).
    pub fn pooled(&self, x: Tensor<B, 3>) -> Vec<Tensor<B, 2>> {
        self.mappers.iter().map(|m| conv_forward(m, x.clone()).mean_dim(2).squeeze_dim(2)).collect()
    }

    /// `(batch, tasks)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        let outs: Vec<Tensor<B, 2>> =
            self.pooled(x).into_iter().zip(&self.linears).map(|(p, l)| l.forward(p)).collect();
        Tensor::cat(outs, 1)
    }
}

/// A Final Layers Block.
#[derive(Module, Debug)]
pub enum FinalBlock<B: Backend> {
    /// See [`SoftBinsHead`].
    SoftBins(SoftBinsHead<B>),
    /// See [`RegressionHead`].
    Regression(RegressionHead<B>),
    /// See [`FlattenMlpHead`].
    FlattenMlp(FlattenMlpHead<B>),
    /// See [`ExpressionTokensHead`].
    ExpressionTokens(ExpressionTokensHead<B>),
}

impl<B: Backend> FinalBlock<B> {
    /// The head's meaning.
    pub fn head(&self) -> Head {
        match self {
            Self::SoftBins(h) => Head::SoftBins { bins: h.conv.weight.dims()[0] },
            Self::Regression(h) => Head::Regression { tasks: h.linears.len() },
            Self::FlattenMlp(_) | Self::ExpressionTokens(_) => Head::Regression { tasks: 1 },
        }
    }

    /// Raw output `(batch, width)`: logits (soft bins; per-position scores averaged over the
    /// length) or regression values.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        match self {
            Self::SoftBins(h) => conv_forward(&h.conv, x).mean_dim(2).squeeze_dim(2),
            Self::Regression(h) => h.forward(x),
            Self::FlattenMlp(h) => {
                let [_, _, out] = h.layers(x);
                out
            }
            Self::ExpressionTokens(h) => h.expression(x),
        }
    }

    /// Bin probabilities `(batch, 18)` = softmax of the logits.
    pub fn probs(logits: Tensor<B, 2>) -> Tensor<B, 2> {
        softmax(logits, 1)
    }

    /// Expected bin `Σ k·p_k`, `(batch)`, on the training scale 0..17.
    pub fn expectation(probs: Tensor<B, 2>) -> Tensor<B, 1> {
        let n = probs.dims()[1];
        let bins = Tensor::<B, 1, burn::tensor::Int>::arange(0..n as i64, &probs.device()).float();
        (probs * bins.unsqueeze::<2>()).sum_dim(1).squeeze_dim(1)
    }
}

impl<B: Backend> VisitTorch<B> for FinalBlock<B> {
    fn visit_torch<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        match self {
            Self::SoftBins(h) => {
                let bins = h.conv.weight.dims()[0];
                let values: Vec<i64> = (0..bins as i64).collect();
                v.int64_buffer(&format!("{prefix}bins"), &[bins], &values);
                visit_conv(&mut h.conv, v, &format!("{prefix}mapper.0."));
            }
            Self::Regression(h) => {
                let single = h.mappers.len() == 1;
                for (k, (m, l)) in h.mappers.iter_mut().zip(h.linears.iter_mut()).enumerate() {
                    let tag = if single { String::new() } else { (k + 1).to_string() };
                    visit_conv(m, v, &format!("{prefix}mapper{tag}."));
                    visit_linear(l, v, &format!("{prefix}linear{tag}.0."));
                }
            }
            Self::FlattenMlp(h) => {
                visit_linear(&mut h.hidden1, v, &format!("{prefix}main.0."));
                visit_linear(&mut h.hidden2, v, &format!("{prefix}main.2."));
                visit_linear(&mut h.out, v, &format!("{prefix}main.4."));
            }
            Self::ExpressionTokens(h) => {
                visit_linear(&mut h.expression_dense, v, &format!("{prefix}expression_dense."));
                visit_linear(&mut h.nucleotide_dense, v, &format!("{prefix}nucleotide_dense."));
            }
        }
    }
}

