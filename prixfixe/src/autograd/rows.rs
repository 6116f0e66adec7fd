//! Training ops on rows: a `(…, D)` tensor is `rows × D`, positions as rows and features as
//! columns, the layout of DREAM-Attn's Conformer layers (reference ARCHITECTURE.md §2.3). Each
//! forward pass is the CPU inference kernel of [`crate::kernels`] (one implementation of each
//! layer); each backward pass is hand-written and keeps only what it needs:
//!
//! - [`linear`]: `x · W + b` as one product over all rows; burn's autodiff multiplies a
//!   `(B, L, D)` input by the weight broadcast to `(B, D, F)` and, backward, writes the weight's
//!   gradient once per sample (`B × D × F` values) before summing them.
//! - [`swiglu`]: `a ⊙ SiLU(g)` with its dropout, keeping `[a | g]` and one byte per dropout
//!   decision (burn keeps SiLU's input, its sigmoid, the product and an f32 mask).
//! - [`dropout`]: one byte per decision, the input not kept.
//! - [`attention`]: multi-head attention straight from the packed `[q | k | v]` rows to the heads'
//!   context side by side (no head transposes); the backward pass recomputes each head's weights
//!   (`L × L` per head and sample are not kept: 1.5 GB at batch 1024 in DREAM-Attn).
//! - [`depthwise`]: the depthwise 'same' convolution along the rows (the Conformer's conv
//!   module without its transposes).

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::Flex;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::{contiguous, flex, from_ad, sgemm, sgemm_with, to_ad, values};
use crate::kernels::{lane_sum, sigmoid};

/// How a weight matrix keeps its two dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightLayout {
    /// `(in, out)`: burn's `Linear`.
    InOut,
    /// `(out, in)`: PyTorch's `nn.Linear`, `in_proj_weight`, a `k = 1` convolution's weight.
    OutIn,
}

impl WeightLayout {
    /// Row and column strides of the weight read as an `(in × out)` matrix.
    fn strides(self, d_in: usize, d_out: usize) -> (usize, usize) {
        match self {
            WeightLayout::InOut => (d_out, 1),
            WeightLayout::OutIn => (1, d_in),
        }
    }
}

/// Column sums of `x (rows × cols)` in f32, over fixed blocks of 256 rows added in order: the
/// same sums whatever the thread count or scheduling (exact resume).
fn column_sums(x: &[f32], cols: usize) -> Vec<f32> {
    let parts: Vec<Vec<f32>> = x
        .par_chunks(256 * cols)
        .map(|block| {
            let mut s = vec![0f32; cols];
            for r in block.chunks_exact(cols) {
                s.iter_mut().zip(r).for_each(|(s, v)| *s += v);
            }
            s
        })
        .collect();
    parts.into_iter().fold(vec![0f32; cols], |mut acc, p| {
        acc.iter_mut().zip(&p).for_each(|(a, b)| *a += b);
        acc
    })
}

#[derive(Clone, Debug)]
struct LinearSaved {
    /// Input rows, contiguous (shape kept for the gradient).
    x: FlexTensor,
    /// Weight, contiguous.
    w: FlexTensor,
    layout: WeightLayout,
    d_in: usize,
    d_out: usize,
}

#[derive(Debug)]
struct LinearBackward;

/// `x · W + bias` over the last dimension: `x (…, in)`, `w` `(in, out)` or `(out, in)` as
/// `layout` says, optional `bias (out)` → `(…, out)`. Forward [`crate::kernels::weight_rows`];
/// backward `dX = dY · Wᵀ`, `dW = Xᵀ · dY` (one product over all rows each), `db` = column sums.
/// Only on [`super::fast_training`]'s backend; equals `x.matmul(W) + b` under generic autodiff
/// (unit tests).
pub fn linear<B: Backend, const N: usize>(x: Tensor<B, N>, w: Tensor<B, 2>, layout: WeightLayout, bias: Option<Tensor<B, 1>>) -> Tensor<B, N> {
    let [r, c] = w.dims();
    let (d_in, d_out) = if layout == WeightLayout::InOut { (r, c) } else { (c, r) };
    let (x, w) = (to_ad(x), to_ad(w));
    let bias = bias.map(to_ad);
    let (xs, ws) = (contiguous(&x.primitive), contiguous(&w.primitive));
    let bv = bias.as_ref().map(|b| values(&contiguous(&b.primitive)).to_vec());
    let rows = values(&xs).len() / d_in.max(1);
    let y = crate::kernels::weight_rows(values(&xs), rows, d_in, values(&ws), layout.strides(d_in, d_out), d_out, bv.as_deref());
    let mut shape = xs.layout().shape().clone();
    shape[N - 1] = d_out;
    let y = flex(y, shape);
    let mut nodes = vec![x.node.clone(), w.node.clone()];
    nodes.extend(bias.as_ref().map(|b| b.node.clone()));
    let saved = LinearSaved { x: xs, w: ws, layout, d_in, d_out };
    from_ad(finish!(LinearBackward, nodes, saved, y))
}

impl LinearBackward {
    fn grads<const P: usize>(ops: Ops<LinearSaved, P>, grads: &mut Gradients) {
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let s = &ops.state;
        let (dyv, xv, wv) = (values(&dy), values(&s.x), values(&s.w));
        let (k, n) = (s.d_in, s.d_out);
        let rows = dyv.len() / n.max(1);
        let (w_rs, w_cs) = s.layout.strides(k, n);
        if let Some(node) = &ops.parents[0] {
            let mut dx = vec![0f32; rows * k];
            sgemm((rows, k, n), dyv, (n, 1), wv, (w_cs, w_rs), &mut dx, k, false);
            grads.register::<Flex>(node.id, flex(dx, s.x.layout().shape().clone()));
        }
        if let Some(node) = &ops.parents[1] {
            let mut dw = vec![0f32; k * n];
            match s.layout {
                WeightLayout::InOut => sgemm((k, n, rows), xv, (1, k), dyv, (n, 1), &mut dw, n, false),
                WeightLayout::OutIn => sgemm((n, k, rows), dyv, (1, n), xv, (k, 1), &mut dw, k, false),
            }
            grads.register::<Flex>(node.id, flex(dw, s.w.layout().shape().clone()));
        }
        if let Some(Some(node)) = ops.parents.get(2) {
            grads.register::<Flex>(node.id, flex(column_sums(dyv, n), [n]));
        }
    }
}

impl Backward<Flex, 2> for LinearBackward {
    type State = LinearSaved;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        Self::grads(ops, grads);
    }
}

impl Backward<Flex, 3> for LinearBackward {
    type State = LinearSaved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        Self::grads(ops, grads);
    }
}

/// Dropout decisions: which elements are kept, and the factor `1 / (1 − p)` they are scaled by.
#[derive(Clone, Debug)]
struct Keep {
    keep: Arc<Vec<bool>>,
    scale: f32,
}

impl Keep {
    /// The next `n` decisions of the dropout stream ([`crate::nn::dropout_keep`]); none when
    /// `prob` is 0.
    fn draw(n: usize, prob: f64) -> Option<Keep> {
        (prob > 0.0).then(|| Keep { keep: Arc::new(crate::nn::dropout_keep(n, prob)), scale: (1.0 / (1.0 - prob)) as f32 })
    }

    /// `v · mask` in place (`v` as long as the mask).
    fn apply(&self, v: &mut [f32]) {
        v.par_chunks_mut(1 << 14).zip(self.keep.par_chunks(1 << 14)).for_each(|(v, k)| {
            v.iter_mut().zip(k).for_each(|(v, &k)| *v = if k { *v * self.scale } else { 0.0 });
        });
    }
}

#[derive(Clone, Debug)]
struct SwigluSaved {
    /// `[a | g]` rows, contiguous.
    ag: FlexTensor,
    keep: Option<Keep>,
}

#[derive(Debug)]
struct SwigluBackward;

/// SwiGLU with dropout: `a ⊙ SiLU(g)` of the two halves `[a | g]` of the last dimension of
/// `ag (…, 2F)` → `(…, F)`, then dropout with probability `dropout` (0: none) from the stream of
/// [`crate::nn::seed_dropout`], drawn in the same order as [`crate::nn::dropout`] on the product.
/// Keeps `ag` and one byte per decision; backward `da = d·g·σ(g)`, `dg = d·a·σ(g)(1 + g(1 − σ(g)))`
/// with `d` the masked output gradient. Only on [`super::fast_training`]'s backend.
pub fn swiglu<B: Backend, const N: usize>(ag: Tensor<B, N>, dropout: f64) -> Tensor<B, N> {
    let ag = to_ad(ag);
    let node = ag.node.clone();
    let s = contiguous(&ag.primitive);
    let mut shape = s.layout().shape().clone();
    let f = shape[N - 1] / 2;
    shape[N - 1] = f;
    let rows = values(&s).len() / (2 * f).max(1);
    let mut h = crate::kernels::swiglu_rows(values(&s), rows, f);
    let keep = Keep::draw(rows * f, dropout);
    if let Some(keep) = &keep {
        keep.apply(&mut h);
    }
    let h = flex(h, shape);
    let out = match SwigluBackward.prepare::<NoCheckpointing>([node]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(SwigluSaved { ag: s, keep }, h),
        OpsKind::UnTracked(prep) => prep.finish(h),
    };
    from_ad(out)
}

impl Backward<Flex, 1> for SwigluBackward {
    type State = SwigluSaved;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node] = ops.parents;
        let dh = contiguous(&grads.consume::<Flex>(&ops.node));
        let Some(node) = node else { return };
        let s = ops.state;
        let (agv, dhv) = (values(&s.ag), values(&dh));
        let shape = s.ag.layout().shape().clone();
        let f = shape[shape.num_dims() - 1] / 2;
        let mut dag = vec![0f32; agv.len()];
        if f > 0 {
            let per_task = (agv.len() / (2 * f)).div_ceil(64).max(1);
            dag.par_chunks_mut(per_task * 2 * f).enumerate().for_each(|(t, out)| {
                let r0 = t * per_task;
                for (i, (o, r)) in out.chunks_exact_mut(2 * f).zip(agv[r0 * 2 * f..].chunks_exact(2 * f)).enumerate() {
                    let row = (r0 + i) * f;
                    let d = &dhv[row..row + f];
                    let (oa, og) = o.split_at_mut(f);
                    for j in 0..f {
                        let m = s.keep.as_ref().map_or(1.0, |k| if k.keep[row + j] { k.scale } else { 0.0 });
                        let (a, g, d) = (r[j], r[f + j], d[j] * m);
                        let sg = sigmoid(g);
                        oa[j] = d * g * sg;
                        og[j] = d * a * sg * (1.0 + g * (1.0 - sg));
                    }
                }
            });
        }
        grads.register::<Flex>(node.id, flex(dag, shape));
    }
}

#[derive(Clone, Debug)]
struct DropoutBackward;

/// Dropout with probability `prob` from the stream of [`crate::nn::seed_dropout`] (the same
/// decisions as [`crate::nn::dropout`]'s generic path): `x (any shape)` → same shape, one byte
/// per decision kept for the backward pass `dx = dy · mask`. Only on [`super::fast_training`]'s
/// backend.
pub fn dropout<B: Backend, const N: usize>(x: Tensor<B, N>, prob: f64) -> Tensor<B, N> {
    let x = to_ad(x);
    let node = x.node.clone();
    let s = contiguous(&x.primitive);
    let mut y = values(&s).to_vec();
    let Some(keep) = Keep::draw(y.len(), prob) else { return from_ad(x) };
    keep.apply(&mut y);
    let y = flex(y, s.layout().shape().clone());
    let out = match DropoutBackward.prepare::<NoCheckpointing>([node]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(keep, y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    from_ad(out)
}

impl Backward<Flex, 1> for DropoutBackward {
    type State = Keep;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        if let Some(node) = node {
            let mut dx = values(&dy).to_vec();
            ops.state.apply(&mut dx);
            grads.register::<Flex>(node.id, flex(dx, dy.layout().shape().clone()));
        }
    }
}

#[derive(Clone, Debug)]
struct AttentionSaved {
    /// `[q | k | v]` rows `(B, L, 3D)`, contiguous.
    qkv: FlexTensor,
    heads: usize,
}

#[derive(Debug)]
struct AttentionBackward;

/// Multi-head scaled dot-product attention without mask or dropout from packed rows: `qkv (B, L,
/// 3D)` (head `h`'s query, key and value at columns `h·hd`, `D + h·hd`, `2D + h·hd`) → the heads'
/// context side by side `(B, L, D)`, the layout the output projection takes. Forward
/// [`crate::kernels::attention_rows`]; backward per sample and head, the weights `P` recomputed:
/// `dV = Pᵀ·dO`, `dS = P ⊙ (dO·Vᵀ − rowsum(P ⊙ dO·Vᵀ)) / √hd`, `dQ = dS·K`, `dK = dSᵀ·Q`. Only on
/// [`super::fast_training`]'s backend; equals burn's `attention` on the split heads (unit tests).
pub fn attention<B: Backend>(qkv: Tensor<B, 3>, heads: usize) -> Tensor<B, 3> {
    let [b, l, d3] = qkv.dims();
    let (d, hd) = (d3 / 3, d3 / 3 / heads);
    let qkv = to_ad(qkv);
    let node = qkv.node.clone();
    let s = contiguous(&qkv.primitive);
    let v = values(&s);
    let ctx = flex(crate::kernels::attention_rows([(v, 0), (v, d), (v, 2 * d)], d3, b, l, heads, hd), [b, l, d]);
    let out = match AttentionBackward.prepare::<NoCheckpointing>([node]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(AttentionSaved { qkv: s, heads }, ctx),
        OpsKind::UnTracked(prep) => prep.finish(ctx),
    };
    from_ad(out)
}

impl Backward<Flex, 1> for AttentionBackward {
    type State = AttentionSaved;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node] = ops.parents;
        let d_o = contiguous(&grads.consume::<Flex>(&ops.node));
        let Some(node) = node else { return };
        let s = ops.state;
        let shape = s.qkv.layout().shape().clone();
        let (l, d3) = (shape[1], shape[2]);
        let (d, heads) = (d3 / 3, s.heads);
        let hd = d / heads;
        let scale = 1.0 / (hd as f32).sqrt();
        let (qkv, dov) = (values(&s.qkv), values(&d_o));
        let mut dqkv = vec![0f32; qkv.len()];
        dqkv.par_chunks_mut(l * d3).enumerate().for_each(|(i, dx)| {
            let (x, d_o) = (&qkv[i * l * d3..(i + 1) * l * d3], &dov[i * l * d..(i + 1) * l * d]);
            let (mut p, mut ds) = (vec![0f32; l * l], vec![0f32; l * l]);
            for h in 0..heads {
                let (qo, ko, vo) = (h * hd, d + h * hd, 2 * d + h * hd);
                crate::kernels::head_scores(&x[qo..], &x[ko..], d3, l, hd, &mut p, scale);
                // dV = Pᵀ · dO
                sgemm_with(false, (l, hd, l), &p, (1, l), &d_o[h * hd..], (d, 1), &mut dx[vo..], d3, false);
                // dP = dO · Vᵀ, then dS in place.
                sgemm_with(false, (l, l, hd), &d_o[h * hd..], (d, 1), &x[vo..], (1, d3), &mut ds, l, false);
                for (dr, pr) in ds.chunks_exact_mut(l).zip(p.chunks_exact(l)) {
                    let dot = lane_sum(l, |j| dr[j] * pr[j]);
                    dr.iter_mut().zip(pr).for_each(|(g, p)| *g = p * (*g - dot) * scale);
                }
                // dQ = dS · K, dK = dSᵀ · Q
                sgemm_with(false, (l, hd, l), &ds, (l, 1), &x[ko..], (d3, 1), &mut dx[qo..], d3, false);
                sgemm_with(false, (l, hd, l), &ds, (1, l), &x[qo..], (d3, 1), &mut dx[ko..], d3, false);
            }
        });
        grads.register::<Flex>(node.id, flex(dqkv, shape));
    }
}

#[derive(Clone, Debug)]
struct DepthwiseSaved {
    /// Input rows `(B, L, D)`, contiguous.
    x: FlexTensor,
    /// Weight `(D, 1, k)`.
    w: FlexTensor,
}

#[derive(Debug)]
struct DepthwiseBackward;

/// Depthwise 'same' convolution along the rows, no bias: `x (B, L, D)` (positions as rows),
/// `w (D, 1, k)` (PyTorch layout, odd `k`) → `(B, L, D)`; `y[t, c] = Σ_j w[c, j]·x[t + j − pad, c]`.
/// Forward [`crate::kernels::depthwise_rows`]; backward `dx[t + j − pad, c] += w[c, j]·dy[t, c]`
/// and `dw[c, j] = Σ dy[t, c]·x[t + j − pad, c]` (per sample, added in sample order). Only on
/// [`super::fast_training`]'s backend; equals burn's grouped `conv1d` on the transposed input.
pub fn depthwise<B: Backend>(x: Tensor<B, 3>, w: Tensor<B, 3>) -> Tensor<B, 3> {
    let [b, l, d] = x.dims();
    let k = w.dims()[2];
    let (x, w) = (to_ad(x), to_ad(w));
    let (xs, ws) = (contiguous(&x.primitive), contiguous(&w.primitive));
    let y = flex(crate::kernels::depthwise_rows(values(&xs), b, l, d, values(&ws), k), [b, l, d]);
    let out = match DepthwiseBackward.prepare::<NoCheckpointing>([x.node.clone(), w.node.clone()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(DepthwiseSaved { x: xs, w: ws }, y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    from_ad(out)
}

impl Backward<Flex, 2> for DepthwiseBackward {
    type State = DepthwiseSaved;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_w] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let s = ops.state;
        let shape = s.x.layout().shape().clone();
        let (l, d) = (shape[1], shape[2]);
        let k = s.w.layout().shape()[2];
        let pad = (k - 1) / 2;
        let (xv, dyv, w) = (values(&s.x), values(&dy), values(&s.w));
        // (k × d): tap j's weights of every channel, contiguous.
        let wt: Vec<f32> = (0..k * d).map(|i| w[(i % d) * k + i / d]).collect();
        // Output position t reads input position p = t + j − pad through tap j.
        let taps = |t: usize| (0..k).filter_map(move |j| (t + j >= pad && t + j - pad < l).then(|| (j, t + j - pad)));
        if let Some(node) = node_x {
            let mut dx = vec![0f32; xv.len()];
            dx.par_chunks_mut(l * d).zip(dyv.par_chunks(l * d)).for_each(|(dx, dy)| {
                for (t, g) in dy.chunks_exact(d).enumerate() {
                    for (j, p) in taps(t) {
                        dx[p * d..(p + 1) * d].iter_mut().zip(g).zip(&wt[j * d..(j + 1) * d]).for_each(|((o, g), w)| *o += g * w);
                    }
                }
            });
            grads.register::<Flex>(node.id, flex(dx, shape.clone()));
        }
        if let Some(node) = node_w {
            let parts: Vec<Vec<f32>> = xv
                .par_chunks(l * d)
                .zip(dyv.par_chunks(l * d))
                .map(|(x, dy)| {
                    let mut dwt = vec![0f32; k * d];
                    for (t, g) in dy.chunks_exact(d).enumerate() {
                        for (j, p) in taps(t) {
                            dwt[j * d..(j + 1) * d].iter_mut().zip(g).zip(&x[p * d..(p + 1) * d]).for_each(|((o, g), x)| *o += g * x);
                        }
                    }
                    dwt
                })
                .collect();
            let mut dwt = vec![0f32; k * d];
            for p in &parts {
                dwt.iter_mut().zip(p).for_each(|(a, b)| *a += b);
            }
            let dw: Vec<f32> = (0..d * k).map(|i| dwt[(i % k) * d + i / k]).collect();
            grads.register::<Flex>(node.id, flex(dw, s.w.layout().shape().clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::Autodiff;
    use burn::module::Param;
    use burn::tensor::{Distribution, Tensor};

    use super::super::tests::{assert_same_as_generic, data};
    use crate::blocks::core_attn::ConformerCoreConfig;

    type Ad = Autodiff<burn::backend::Flex>;

    /// A small Conformer layer (D 12, 3 heads, k 5) with random LayerNorm and bias values, and
    /// dropout `prob`.
    fn layer(prob: f64) -> crate::blocks::core_attn::ConformerLayer<Ad> {
        let device = Default::default();
        let config = ConformerCoreConfig { dim: 12, layers: 1, heads: 3, ff_mult: 4, conv_kernel: 5, dropout: prob, seq_len: 9 };
        let mut layer = config.init::<Ad>(&device).layers.remove(0);
        let random = |n: usize, mean: f64| Param::from_tensor(Tensor::<Ad, 1>::random([n], Distribution::Normal(mean, 0.5), &device));
        for ln in [&mut layer.ff1.norm, &mut layer.norm1, &mut layer.norm2, &mut layer.ff2.norm] {
            ln.gamma = random(12, 1.0);
            ln.beta = Some(random(12, 0.0));
        }
        layer.attn.in_proj_bias = random(36, 0.0);
        layer.attn.out_proj_bias = random(12, 0.0);
        layer
    }

    /// Output and gradients (input and every parameter) of a weighted sum of `forward(x)`.
    fn outputs(layer: &crate::blocks::core_attn::ConformerLayer<Ad>, part: &str) -> Vec<Vec<f32>> {
        let device = Default::default();
        crate::nn::seed_dropout(3);
        // Input and output weights from a local generator: the backend's is process-wide, and
        // tests running beside this one draw from it too.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut values = |n: usize, mean: f32| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    mean + ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 3.0
                })
                .collect()
        };
        let tensor = |v: Vec<f32>| Tensor::<Ad, 3>::from_data(burn::tensor::TensorData::new(v, [2, 9, 12]), &device);
        let x = tensor(values(2 * 9 * 12, 0.2)).require_grad();
        let w = tensor(values(2 * 9 * 12, 0.0));
        let out = match part {
            "ff" => layer.ff1.forward(x.clone()),
            "attn" => layer.attn.forward(x.clone()),
            _ => layer.forward(x.clone()),
        };
        let grads = (out.clone() * w).sum().backward();
        let mut all = vec![data(out), data(x.grad(&grads).expect("dx"))];
        let g = |p: &Param<Tensor<Ad, 2>>| p.grad(&grads).map(data);
        let g1 = |p: &Param<Tensor<Ad, 1>>| p.grad(&grads).map(data);
        let g3 = |p: &Param<Tensor<Ad, 3>>| p.grad(&grads).map(data);
        all.extend([g(&layer.ff1.linear1.weight), g(&layer.ff1.linear2.weight), g1(&layer.ff1.norm.gamma)].into_iter().flatten());
        all.extend([g(&layer.attn.in_proj_weight), g1(&layer.attn.in_proj_bias), g(&layer.attn.out_proj_weight), g1(&layer.attn.out_proj_bias)].into_iter().flatten());
        all.extend([g3(&layer.depthwise.weight), g3(&layer.pointwise.weight), layer.pointwise.bias.as_ref().and_then(g1)].into_iter().flatten());
        all.extend([g(&layer.ff2.linear1.weight), g(&layer.ff2.linear2.weight)].into_iter().flatten());
        all
    }

    const NAMES: [&str; 14] = ["output", "dx", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12"];

    /// SwiGLU feed-forward (linear, SwiGLU + dropout, dropout): output and gradients = generic
    /// autodiff to 1e-4, with dropout off and on (the same decisions on both paths).
    #[test]
    fn feed_forward_equals_generic_autodiff() {
        for prob in [0.0, 0.3] {
            let layer = layer(prob);
            assert_same_as_generic(|| outputs(&layer, "ff"), &NAMES, &format!("feed-forward, dropout {prob}"));
        }
    }

    /// Self-attention (packed projection, attention from packed rows, output projection).
    #[test]
    fn self_attention_equals_generic_autodiff() {
        let layer = layer(0.0);
        assert_same_as_generic(|| outputs(&layer, "attn"), &NAMES, "self-attention");
    }

    /// A whole Conformer layer (adds the depthwise + pointwise conv module on rows) with dropout.
    #[test]
    fn conformer_layer_equals_generic_autodiff() {
        for prob in [0.0, 0.2] {
            let layer = layer(prob);
            let fast = outputs(&layer, "layer");
            assert_eq!(fast.len(), 14, "every parameter gets a gradient");
            assert_same_as_generic(|| outputs(&layer, "layer"), &NAMES, &format!("layer, dropout {prob}"));
        }
    }
}
