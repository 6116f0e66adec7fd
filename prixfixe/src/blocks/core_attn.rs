//! UnlockDNA Conformer-style Core Layers Block (DREAM-Attn; reference ARCHITECTURE.md §2.3).
//!
//! Learned absolute positional embedding, then layers of
//! `x += ½·FF1(x)`; `x1 = LN1(x)`, `x1 += Conv(x1)`, `x += x1`; `x = LN2(x)`; `x += MHA(x)`;
//! `x += ½·FF2(x)` — with SwiGLU feed-forwards, a depthwise (k 15) + pointwise convolution module
//! and 4-head self-attention. LayerNorm eps is 1e-6. Note step `x = LN2(x)` replaces the stream
//! (it is not a pre-norm branch) and the normalised `x1` is added back in step b; both as in the
//! reference code.

use burn::module::Module;
use burn::nn::conv::Conv1d;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{relu, silu};
use burn::tensor::{backend::Backend, Distribution, Tensor};
use serde::{Deserialize, Serialize};

use crate::nn::{conv1d_same, conv_forward, visit_conv, ConvInit, SelfAttention};
use crate::weights::{Layout, ParamVisitor, VisitTorch};

/// Configuration of [`ConformerCore`]. DREAM-Attn: dim 256, 4 layers, 4 heads, FFN ×4, conv
/// kernel 15, dropout 0.1, positional embedding over 150 positions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConformerCoreConfig {
    /// Embedding (channel) dimension (256).
    pub dim: usize,
    /// Number of conformer layers (4).
    pub layers: usize,
    /// Attention heads (4; the notebook passes 8 but the layer hard-codes 4, reference §5).
    pub heads: usize,
    /// Feed-forward expansion (4: `dim → 4·dim`, SwiGLU halves it).
    pub ff_mult: usize,
    /// Depthwise conv kernel (15).
    pub conv_kernel: usize,
    /// Dropout (0.1).
    pub dropout: f64,
    /// Positions of the learned positional embedding = the required sequence length (150).
    pub seq_len: usize,
}

impl ConformerCoreConfig {
    /// Multiply-adds per sequence of `len` bp: per layer two SwiGLU feed-forwards, the conv
    /// module (depthwise + pointwise), the attention projections and its `L × L` scores and
    /// weighted sum.
    pub fn macs(&self, len: usize) -> u64 {
        // SwiGLU: linear1 D → F (value and gate halves), linear2 F/2 → D.
        let (d, f) = (self.dim, self.dim * self.ff_mult);
        let per_position = 2 * (d * f + f / 2 * d) + d * self.conv_kernel + d * d + 4 * d * d;
        (self.layers * (per_position * len + 2 * len * len * d)) as u64
    }

    /// PyTorch-default initialisation (reference §3).
    pub fn init<B: Backend>(&self, device: &B::Device) -> ConformerCore<B> {
        let d = self.dim;
        let ln = || LayerNormConfig::new(d).with_epsilon(LN_EPS).init(device);
        let ff = || FeedForward {
            norm: ln(),
            linear1: LinearConfig::new(d, self.ff_mult * d).with_bias(false).init(device),
            linear2: LinearConfig::new(self.ff_mult * d / 2, d).with_bias(false).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        };
        ConformerCore {
            pos_embedding: burn::module::Param::from_tensor(Tensor::random(
                [self.seq_len, d],
                Distribution::Normal(0.0, 1.0),
                device,
            )),
            layers: (0..self.layers)
                .map(|_| ConformerLayer {
                    ff1: ff(),
                    norm1: ln(),
                    depthwise: conv1d_same(d, d, self.conv_kernel, d, false, ConvInit::TorchDefault, device),
                    pointwise: conv1d_same(d, d, 1, 1, true, ConvInit::TorchDefault, device),
                    conv_dropout: DropoutConfig::new(self.dropout).init(),
                    norm2: ln(),
                    attn: SelfAttention::new(d, self.heads, device),
                    ff2: ff(),
                })
                .collect(),
        }
    }
}

/// SwiGLU feed-forward: LN → Linear(D → 2·F, no bias) → `a · SiLU(g)` → Dropout →
/// Linear(F → D, no bias) → Dropout. `(batch, L, D)` → `(batch, L, D)`.
#[derive(Module, Debug)]
pub struct FeedForward<B: Backend> {
    /// LayerNorm (eps 1e-6).
    pub norm: LayerNorm<B>,
    /// `D → ff_mult·D`.
    pub linear1: Linear<B>,
    /// `ff_mult·D/2 → D`.
    pub linear2: Linear<B>,
    /// Dropout.
    pub dropout: Dropout,
}

impl<B: Backend> FeedForward<B> {
    /// `(batch, L, D)` → `(batch, L, D)`. In CPU training: linear1 as one product, SwiGLU with
    /// its dropout as one op, linear2 (`autograd::{linear, swiglu}`).
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = crate::nn::layer_norm(&self.norm, x, LN_EPS);
        #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
        if crate::autograd::fast_training::<B>() {
            use crate::autograd::{linear, swiglu, WeightLayout::InOut};
            let prob = if crate::nn::training::<B>(&x.device()) { self.dropout.prob } else { 0.0 };
            let h = swiglu(linear(x, self.linear1.weight.val(), InOut, None), prob);
            return crate::nn::dropout(&self.dropout, linear(h, self.linear2.weight.val(), InOut, None));
        }
        // Value half `a` and gate half `g` from column blocks of linear1's weight, so both come
        // out contiguous (slicing one (…, 2F) output would leave strided views).
        let w = self.linear1.weight.val(); // (D, 2F)
        let f = w.dims()[1] / 2;
        let a = x.clone().matmul(w.clone().narrow(1, 0, f).unsqueeze::<3>());
        let g = silu(x.matmul(w.narrow(1, f, f).unsqueeze::<3>()));
        crate::nn::dropout(&self.dropout, self.linear2.forward(crate::nn::dropout(&self.dropout, a * g)))
    }

    /// [`FeedForward::forward`] in eval mode on host rows `x (m × D)` → `(m × D)`.
    fn forward_rows(&self, x: &[f32], m: usize) -> Vec<f32> {
        use crate::kernels::{host, swiglu_rows, weight_rows};
        debug_assert!(self.linear1.bias.is_none() && self.linear2.bias.is_none(), "SwiGLU linears have no bias");
        let [d, f2] = self.linear1.weight.dims();
        let xn = layer_norm_rows(&self.norm, x, d);
        let ag = weight_rows(&xn, m, d, &host(self.linear1.weight.val()), (f2, 1), f2, None);
        let h = swiglu_rows(&ag, m, f2 / 2);
        weight_rows(&h, m, f2 / 2, &host(self.linear2.weight.val()), (d, 1), d, None)
    }

    fn visit_params<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        visit_layer_norm(&mut self.norm, v, &format!("{prefix}layernorm."));
        v.param(&format!("{prefix}linear1.weight"), &mut self.linear1.weight, Layout::Linear);
        v.param(&format!("{prefix}linear2.weight"), &mut self.linear2.weight, Layout::Linear);
    }
}

fn visit_layer_norm<B: Backend, V: ParamVisitor<B>>(ln: &mut LayerNorm<B>, v: &mut V, prefix: &str) {
    v.param(&format!("{prefix}weight"), &mut ln.gamma, Layout::Same);
    if let Some(b) = ln.beta.as_mut() {
        v.param(&format!("{prefix}bias"), b, Layout::Same);
    }
}

/// LayerNorm epsilon of every Conformer LayerNorm (reference §2.3).
const LN_EPS: f64 = 1e-6;

/// `ln` over host rows `x (m × d)`.
fn layer_norm_rows<B: Backend>(ln: &LayerNorm<B>, x: &[f32], d: usize) -> Vec<f32> {
    use crate::kernels::host;
    let beta = ln.beta.as_ref().map_or_else(|| vec![0f32; d], |b| host(b.val()));
    crate::kernels::layer_norm_rows(x, d, &host(ln.gamma.val()), &beta, LN_EPS)
}

/// `x += s · y`, element-wise.
fn add_scaled(x: &mut [f32], y: &[f32], s: f32) {
    x.iter_mut().zip(y).for_each(|(x, y)| *x += y * s);
}

/// One Conformer-style layer. `(batch, L, D)` → `(batch, L, D)`.
#[derive(Module, Debug)]
pub struct ConformerLayer<B: Backend> {
    /// First half-step feed-forward (key `ff1`).
    pub ff1: FeedForward<B>,
    /// (key `layernorm1`).
    pub norm1: LayerNorm<B>,
    /// Depthwise conv, no bias (key `conv.0`).
    pub depthwise: Conv1d<B>,
    /// Pointwise conv with bias (key `conv.1`).
    pub pointwise: Conv1d<B>,
    /// Dropout after the conv module's ReLU.
    pub conv_dropout: Dropout,
    /// (key `layernorm2`).
    pub norm2: LayerNorm<B>,
    /// Self-attention (key `attn`).
    pub attn: SelfAttention<B>,
    /// Second half-step feed-forward (key `ff2`).
    pub ff2: FeedForward<B>,
}

impl<B: Backend> ConformerLayer<B> {
    /// `(batch, L, D)` → `(batch, L, D)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = x.clone() + self.ff1.forward(x) * 0.5;
        let x1 = crate::nn::layer_norm(&self.norm1, x.clone(), LN_EPS);
        let conv = crate::nn::dropout(&self.conv_dropout, relu(self.conv_module(x1.clone())));
        let x1 = conv + x1;
        let x = crate::nn::layer_norm(&self.norm2, x + x1, LN_EPS);
        let x = x.clone() + self.attn.forward(x);
        x.clone() + self.ff2.forward(x) * 0.5
    }

    /// Depthwise then pointwise convolution along the positions of `x (batch, L, D)` →
    /// `(batch, L, D)`; in CPU training on rows, without transposes (`autograd::{depthwise,
    /// linear}`).
    fn conv_module(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
        if crate::autograd::fast_training::<B>() && self.depthwise.bias.is_none() {
            use crate::autograd::{depthwise, linear, WeightLayout::OutIn};
            // Weights read in the generic path's order: burn initialises parameters lazily, on
            // first use, so the order fixes which random draws each one gets.
            let h = depthwise(x, self.depthwise.weight.val());
            let [c_out, c_in, _] = self.pointwise.weight.dims();
            let w = self.pointwise.weight.val().reshape([c_out, c_in]);
            return linear(h, w, OutIn, self.pointwise.bias.as_ref().map(|b| b.val()));
        }
        conv_forward(&self.pointwise, conv_forward(&self.depthwise, x.swap_dims(1, 2))).swap_dims(1, 2)
    }

    /// [`ConformerLayer::forward`] in eval mode on host rows `x (batch · L × D)`, positions as
    /// rows throughout (no transposes), on [`crate::kernels`]' row kernels: the CPU inference path
    /// (WebAssembly and native).
    fn forward_rows(&self, mut x: Vec<f32>, batch: usize, len: usize) -> Vec<f32> {
        use crate::kernels::{depthwise_rows, host, linear_rows};
        let m = batch * len;
        let d = self.norm1.gamma.dims()[0];
        debug_assert!(x.len() == m * d && self.depthwise.bias.is_none(), "forward_rows: shapes");
        let ff = self.ff1.forward_rows(&x, m);
        add_scaled(&mut x, &ff, 0.5);
        let x1 = layer_norm_rows(&self.norm1, &x, d);
        let k = self.depthwise.weight.dims()[2];
        let dw = depthwise_rows(&x1, batch, len, d, &host(self.depthwise.weight.val()), k);
        let bias = self.pointwise.bias.as_ref().map(|p| host(p.val()));
        let pw = linear_rows(&dw, m, d, &host(self.pointwise.weight.val()), d, bias.as_deref());
        x.iter_mut().zip(pw.iter().zip(&x1)).for_each(|(x, (p, a))| *x += p.max(0.0) + a);
        let mut x = layer_norm_rows(&self.norm2, &x, d);
        let attn = self.attn.forward_rows(&x, batch, len);
        add_scaled(&mut x, &attn, 1.0);
        let ff = self.ff2.forward_rows(&x, m);
        add_scaled(&mut x, &ff, 0.5);
        x
    }
}

/// DREAM-Attn Core Layers Block. `(batch, 256, 150)` → `(batch, 256, 150)`. Reference keys
/// `pos_embedding.weight`, `blocks.{i}.*`.
#[derive(Module, Debug)]
pub struct ConformerCore<B: Backend> {
    /// Learned positional embedding `(L, D)`.
    pub pos_embedding: burn::module::Param<Tensor<B, 2>>,
    /// The layers, in order.
    pub layers: Vec<ConformerLayer<B>>,
}

impl<B: Backend> ConformerCore<B> {
    /// `(batch, D, L)` → `(batch, L, D)` with the positional embedding added.
    pub fn embed(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        x.swap_dims(1, 2) + self.pos_embedding.val().unsqueeze::<3>()
    }

    /// `(batch, D, L)` → `(batch, D, L)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let mut h = self.embed(x);
        let device = h.device();
        if crate::kernels::fast_path::<B>(&device) {
            // CPU inference: the whole block on host rows, one copy in and one out.
            let [b, l, d] = h.dims();
            let rows = self.layers.iter().fold(crate::kernels::host(h), |x, layer| layer.forward_rows(x, b, l));
            return Tensor::<B, 3>::from_data(burn::tensor::TensorData::new(rows, [b, l, d]), &device).swap_dims(1, 2);
        }
        for layer in &self.layers {
            h = layer.forward(h);
        }
        h.swap_dims(1, 2)
    }
}

impl<B: Backend> VisitTorch<B> for ConformerCore<B> {
    fn visit_torch<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        for (i, l) in self.layers.iter_mut().enumerate() {
            let p = format!("{prefix}blocks.{i}.");
            l.ff1.visit_params(v, &format!("{p}ff1."));
            visit_layer_norm(&mut l.norm1, v, &format!("{p}layernorm1."));
            visit_conv(&mut l.depthwise, v, &format!("{p}conv.0."));
            visit_conv(&mut l.pointwise, v, &format!("{p}conv.1."));
            visit_layer_norm(&mut l.norm2, v, &format!("{p}layernorm2."));
            l.attn.visit_params(v, &format!("{p}attn."));
            l.ff2.visit_params(v, &format!("{p}ff2."));
        }
        v.param(&format!("{prefix}pos_embedding.weight"), &mut self.pos_embedding, Layout::Same);
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// CPU inference's row path (`ConformerCore::forward` on burn-flex) = the layers' generic
    /// eval-mode forward (burn ops), to 1e-4, on a small random Conformer (ragged sizes).
    #[test]
    fn rows_path_equals_generic_layers() {
        type F = burn::backend::Flex;
        let device = Default::default();
        let config = ConformerCoreConfig { dim: 24, layers: 2, heads: 4, ff_mult: 4, conv_kernel: 7, dropout: 0.1, seq_len: 13 };
        let core = config.init::<F>(&device);
        let x = Tensor::<F, 3>::random([3, 24, 13], Distribution::Normal(0.0, 1.0), &device);
        let rows = core.forward(x.clone());
        let generic = core.layers.iter().fold(core.embed(x), |h, layer| layer.forward(h)).swap_dims(1, 2);
        let (a, b) = (crate::kernels::host(rows), crate::kernels::host(generic));
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
        let err = a.iter().zip(&b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(a.len() == b.len() && err <= 1e-4 * scale, "rows vs generic: max |difference| {err} (scale {scale})");
    }
}
