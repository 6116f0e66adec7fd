//! Autosome Final Layers Block, shared by the three DREAM models (reference ARCHITECTURE.md §2.4):
//! 1×1 conv to 18 bins at every position → average over length = logits; softmax; expectation.

use burn::module::Module;
use burn::nn::conv::Conv1d;
use burn::tensor::activation::softmax;
use burn::tensor::{backend::Backend, Tensor};
use serde::{Deserialize, Serialize};

use crate::nn::{conv1d_same, visit_conv, ConvInit};
use crate::weights::{ParamVisitor, VisitTorch};
use crate::N_BINS;

/// Configuration of [`FinalBlock`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalBlockConfig {
    /// Input channels (64 DREAM-CNN, 320 DREAM-RNN, 256 DREAM-Attn).
    pub in_channels: usize,
    /// Number of bins (18).
    pub bins: usize,
}

impl FinalBlockConfig {
    /// Autosome initialisation (reference §3: weight `N(0, sqrt(2/(1·18)))`, bias 0).
    pub fn init<B: Backend>(&self, device: &B::Device) -> FinalBlock<B> {
        FinalBlock { conv: conv1d_same(self.in_channels, self.bins, 1, 1, true, ConvInit::Autosome, device) }
    }
}

/// Final Layers Block. `(batch, C, L)` → logits `(batch, 18)`. Reference keys `mapper.0.*`,
/// `bins` (int64 0..17, stored for compatibility).
#[derive(Module, Debug)]
pub struct FinalBlock<B: Backend> {
    /// 1×1 conv `C → 18` (key `mapper.0`; a field named `mapper` would clash with burn's derive).
    pub conv: Conv1d<B>,
}

impl<B: Backend> FinalBlock<B> {
    /// Per-position bin scores `(batch, 18, L)`.
    pub fn position_logits(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.conv.forward(x)
    }

    /// Logits `(batch, 18)`: per-position scores averaged over the length.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        self.position_logits(x).mean_dim(2).squeeze_dim(2)
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
        let bins: Vec<i64> = (0..N_BINS as i64).collect();
        v.int64_buffer(&format!("{prefix}bins"), &[N_BINS], &bins);
        visit_conv(&mut self.conv, v, &format!("{prefix}mapper.0."));
    }
}
