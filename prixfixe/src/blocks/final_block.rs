//! Final Layers Blocks of the autosome team:
//! - **soft bins** (the DREAM models, reference ARCHITECTURE.md §2.4): 1×1 conv to 18 bins at
//!   every position → average over length = logits; softmax; expectation;
//! - **regression heads** (the Drosophila / human benchmark variant, PRIXFIXE-MODULES.md §7.2):
//!   one head per task, each 1×1 conv `C → 256` → average over length → Linear `256 → 1`; no
//!   activation. Trained with MSE per task, summed.

use burn::module::{Module, Param};
use burn::nn::conv::Conv1d;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{backend::Backend, Tensor};
use serde::{Deserialize, Serialize};

use crate::nn::{conv1d_same, visit_conv, ConvInit};
use crate::weights::{Layout, ParamVisitor, VisitTorch};

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

/// Configuration of a Final Layers Block. Serialised without a tag: `{in_channels, bins}` (the
/// form every bundle of format version 1 has) or `{in_channels, hidden, tasks}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FinalBlockConfig {
    /// 18-bin soft classification (DREAM).
    SoftBins(SoftBinsConfig),
    /// One regression head per task (benchmarks).
    Regression(RegressionConfig),
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
        }
    }

    /// The head's meaning.
    pub fn head(&self) -> Head {
        match self {
            Self::SoftBins(c) => Head::SoftBins { bins: c.bins },
            Self::Regression(c) => Head::Regression { tasks: c.tasks },
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
        }
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
        self.mappers.iter().map(|m| m.forward(x.clone()).mean_dim(2).squeeze_dim(2)).collect()
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
}

impl<B: Backend> FinalBlock<B> {
    /// The head's meaning.
    pub fn head(&self) -> Head {
        match self {
            Self::SoftBins(h) => Head::SoftBins { bins: h.conv.weight.dims()[0] },
            Self::Regression(h) => Head::Regression { tasks: h.linears.len() },
        }
    }

    /// Raw output `(batch, width)`: logits (soft bins; per-position scores averaged over the
    /// length) or regression values.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        match self {
            Self::SoftBins(h) => h.conv.forward(x).mean_dim(2).squeeze_dim(2),
            Self::Regression(h) => h.forward(x),
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
                    let lp = format!("{prefix}linear{tag}.0.");
                    v.param(&format!("{lp}weight"), &mut l.weight, Layout::Linear);
                    if let Some(b) = l.bias.as_mut() {
                        v.param(&format!("{lp}bias"), b, Layout::Same);
                    }
                }
            }
        }
    }
}
