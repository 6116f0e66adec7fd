//! Hand-written CPU kernels for the eval-mode hot spots that burn-flex runs on scalar or per-group
//! paths: the grouped convolution with 2 channels per group and the fused BatchNorm → SiLU
//! (DREAM-CNN), the fused LSTM step (DREAM-RNN), softmax and SiLU on a vectorising `exp`
//! (DREAM-Attn; burn-flex calls libm's `expf` per element and its fused attention is a naive
//! loop). They run only for inference on the burn-flex backend ([`fast_path`]); CPU training has
//! its own ops with backward passes (`crate::autograd`), GPU backends use the plain burn ops,
//! whose results these kernels reproduce (checked by the parity tests, which run on this path, and
//! by the unit tests below).

use std::sync::atomic::{AtomicU8, Ordering};

use burn::tensor::{backend::Backend, Tensor, TensorData};

use crate::gemm::{self, BOperand};

/// 0: not chosen yet; 1: off; 2: on.
static OWN_GEMM: AtomicU8 = AtomicU8::new(0);

/// Chooses the matrix products of the CPU inference fast path: [`crate::gemm`] (`true`, the
/// default on wasm32, where burn-flex's gemm tile spills registers) or burn-flex's (`false`,
/// the default on native targets, where its AVX-512 kernels are faster; `DREAM_OWN_GEMM=1` in
/// the environment turns it on, as `scripts/test.sh` does to run the parity and module tests on
/// the WebAssembly path). Process-wide.
pub fn set_own_gemm(on: bool) {
    OWN_GEMM.store(if on { 2 } else { 1 }, Ordering::Relaxed);
}

/// `true` when the fast path's convolutions, linear layers, LSTM and attention run on
/// [`crate::gemm`] ([`set_own_gemm`]).
pub fn own_gemm<B: Backend>(device: &B::Device) -> bool {
    own_products() && fast_path::<B>(device)
}

/// The process-wide choice of [`set_own_gemm`] (read from `DREAM_OWN_GEMM` on first use).
fn own_products() -> bool {
    match OWN_GEMM.load(Ordering::Relaxed) {
        0 => {
            let on = cfg!(target_arch = "wasm32") || std::env::var("DREAM_OWN_GEMM").is_ok_and(|v| v == "1");
            set_own_gemm(on);
            on
        }
        v => v == 2,
    }
}

/// `true` when `B` is the burn-flex CPU backend without autodiff: the data is in host memory, so
/// reading it costs a copy, not a device transfer.
pub fn fast_path<B: Backend>(device: &B::Device) -> bool {
    #[cfg(feature = "flex")]
    {
        std::any::TypeId::of::<B>() == std::any::TypeId::of::<burn::backend::Flex>() && !B::ad_enabled(device)
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = device;
        false
    }
}

/// `e^x` for f32: Cody–Waite range reduction `x = n·ln2 + r`, `|r| ≤ ln2/2`, and a degree-7
/// Taylor polynomial for `e^r` (relative error < 3e-7 on [-87, 88]); written so that LLVM
/// vectorises loops that call it.
#[inline(always)]
pub(crate) fn exp_approx(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4; // exactly representable: n·LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    // Round to nearest by adding and subtracting 1.5·2^23 (exact for |v| < 2^22): unlike
    // `f32::round` (a libm call on wasm32), it vectorises.
    const ROUND: f32 = 12_582_912.0;
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // 2^n from t's bits (`t = 1.5·2^23 + n` with an ulp of 1, so its bits are 0x4B40_0000 + n):
    // integer ops only, where `n as i32` (saturating, NaN → 0) left x86 loops half scalar.
    let bits = t.to_bits().wrapping_sub(0x4B40_0000).wrapping_add(127) << 23;
    p * f32::from_bits(bits)
}

#[inline(always)]
pub(crate) fn silu(v: f32) -> f32 {
    v / (1.0 + exp_approx(-v))
}

#[inline(always)]
pub(crate) fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + exp_approx(-v))
}

#[inline(always)]
pub(crate) fn tanh(v: f32) -> f32 {
    1.0 - 2.0 / (exp_approx(2.0 * v) + 1.0)
}

fn par_rows<F: Fn(usize, &mut [f32]) + Sync + Send>(out: &mut [f32], row: usize, f: F) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(row).enumerate().for_each(|(i, r)| f(i, r));
    }
    #[cfg(target_arch = "wasm32")]
    out.chunks_mut(row).enumerate().for_each(|(i, r)| f(i, r));
}

/// Like [`par_rows`], over row pairs of `out` and `inp`.
fn par_rows2<F: Fn(&[f32], &mut [f32]) + Sync + Send>(out: &mut [f32], row: usize, inp: &[f32], in_row: usize, f: F) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(row).zip(inp.par_chunks(in_row)).for_each(|(o, i)| f(i, o));
    }
    #[cfg(target_arch = "wasm32")]
    out.chunks_mut(row).zip(inp.chunks(in_row)).for_each(|(o, i)| f(i, o));
}

/// The tensor's values in row-major (logical) order.
pub(crate) fn host<B: Backend, const D: usize>(x: Tensor<B, D>) -> Vec<f32> {
    x.into_data().convert::<f32>().into_vec::<f32>().expect("f32 tensor")
}

/// `silu(x · a[c] + s[c])` per channel: BatchNorm in eval mode folded to an affine map, then SiLU.
/// `x (batch, C, L)`, `a`, `s (C)`.
pub fn affine_silu<B: Backend>(x: Tensor<B, 3>, a: Tensor<B, 1>, s: Tensor<B, 1>) -> Tensor<B, 3> {
    let device = x.device();
    let [b, c, l] = x.dims();
    let (a, s) = (host(a), host(s));
    let mut data = host(x);
    par_rows(&mut data, c * l, |_, sample| {
        for (ch, row) in sample.chunks_mut(l).enumerate() {
            let (ac, sc) = (a[ch], s[ch]);
            for v in row.iter_mut() {
                *v = silu(*v * ac + sc);
            }
        }
    });
    Tensor::from_data(TensorData::new(data, [b, c, l]), &device)
}

/// 'Same' convolution, stride 1, odd `k`, on [`gemm::conv1d_same`], of the channel
/// concatenation of `inputs` (each `(batch, c_i, L)`), optionally scaled per sample and input
/// channel by `in_scale (batch, Σc_i)`, then an optional eval-mode BatchNorm + SiLU (`(a, s)`,
/// see [`affine_silu`]) while each sample's output is in cache. `w (c_out, Σc_i, k)`, `bias
/// (c_out)` → `(batch, c_out, L)`.
pub fn conv1d<B: Backend>(
    inputs: Vec<Tensor<B, 3>>,
    w: Tensor<B, 3>,
    bias: Option<Tensor<B, 1>>,
    in_scale: Option<Tensor<B, 2>>,
    bn_silu: Option<(Tensor<B, 1>, Tensor<B, 1>)>,
) -> Tensor<B, 3> {
    let device = w.device();
    let [b, _, l] = inputs[0].dims();
    let widths: Vec<usize> = inputs.iter().map(|x| x.dims()[1]).collect();
    let c_in: usize = widths.iter().sum();
    let [c_out, _, k] = w.dims();
    let (w, bias) = (host(w), bias.map(host));
    let xs: Vec<Vec<f32>> = inputs.into_iter().map(host).collect();
    let scale = in_scale.map(host);
    let bn = bn_silu.map(|(a, s)| (host(a), host(s)));
    let mut out = vec![0f32; b * c_out * l];
    if l == 0 || c_out == 0 || c_in == 0 {
        return Tensor::from_data(TensorData::new(out, [b, c_out, l]), &device);
    }
    par_rows(&mut out, c_out * l, |bi, o| {
        let rows = xs.iter().zip(&widths).flat_map(|(x, &c)| x[bi * c * l..(bi + 1) * c * l].chunks_exact(l));
        let scales = (0..c_in).map(|ci| scale.as_ref().map_or(1.0, |s| s[bi * c_in + ci]));
        gemm::conv1d_same(rows.zip(scales), c_in, l, &w, c_out, k, bias.as_deref(), o, &mut Vec::new());
        if let Some((a, s)) = &bn {
            for ((row, a), s) in o.chunks_exact_mut(l).zip(a).zip(s) {
                row.iter_mut().for_each(|v| *v = silu(*v * a + s));
            }
        }
    });
    Tensor::from_data(TensorData::new(out, [b, c_out, l]), &device)
}

/// `x·Wᵀ + bias` of `m` rows `x (m × k)` with a PyTorch-layout weight `w (n × k)`.
pub fn linear_rows(x: &[f32], m: usize, k: usize, w: &[f32], n: usize, bias: Option<&[f32]>) -> Vec<f32> {
    weight_rows(x, m, k, w, (1, k), n, bias)
}

/// `x·W + bias` of `m` rows `x (m × k)`, `W (k × n)` given by its row and column strides in `w`
/// (`(1, k)`: a PyTorch `(n × k)` weight; `(n, 1)`: burn's `(k × n)` Linear weight). On
/// [`crate::gemm`] when [`set_own_gemm`] is on (WebAssembly), else on the gemm crate's AVX-512
/// kernels over the rayon pool.
pub fn weight_rows(x: &[f32], m: usize, k: usize, w: &[f32], (w_rs, w_cs): (usize, usize), n: usize, bias: Option<&[f32]>) -> Vec<f32> {
    debug_assert!(w_rs == 1 || w_cs == 1, "weight_rows: one of W's strides must be 1");
    #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
    if !own_products() {
        let mut out = bias_rows(m, n, bias);
        crate::autograd::sgemm((m, n, k), x, (k, 1), w, (w_rs, w_cs), &mut out, n, bias.is_some());
        return out;
    }
    let packed = if w_rs == 1 { gemm::pack_b_transposed(w, n, k, w_cs) } else { gemm::pack_b(w, k, n, w_rs) };
    matmul_rows(x, m, k, BOperand::packed(&packed, k), n, bias)
}

/// `m × n` rows, each `bias` (zeros without one): the start of a product `+ bias`.
fn bias_rows(m: usize, n: usize, bias: Option<&[f32]>) -> Vec<f32> {
    match bias {
        Some(bias) if n > 0 => bias.repeat(m),
        _ => vec![0f32; m * n],
    }
}

/// `x·B + bias` of `m` rows `x (m × k)`, `B (k × n)`.
fn matmul_rows(x: &[f32], m: usize, k: usize, b: BOperand<'_>, n: usize, bias: Option<&[f32]>) -> Vec<f32> {
    let mut out = bias_rows(m, n, bias);
    if m == 0 || n == 0 || k == 0 {
        return out;
    }
    let rows = m.div_ceil(2);
    par_rows2(&mut out, rows * n, x, rows * k, |x, o| {
        let r = o.len() / n;
        gemm::gemm(r, n, k, 1, x, k, b, o, n, bias.is_some());
    });
    out
}

/// Multi-head attention core `softmax(q kᵀ / √hd) v` per sample and head, without mask or
/// dropout, on [`crate::gemm`]. `q`, `k`, `v` are `(buffer, column offset)` of `(batch · len) ×
/// ld` row-major buffers holding head `h`'s `hd` features at column `offset + h·hd`; returns
/// `(batch · len) × (heads · hd)`, heads side by side (the layout `out_proj` takes).
pub fn attention_rows<'a>(qkv: [(&'a [f32], usize); 3], ld: usize, batch: usize, len: usize, heads: usize, hd: usize) -> Vec<f32> {
    let d = heads * hd;
    let mut ctx = vec![0f32; batch * len * d];
    if ctx.is_empty() {
        return ctx;
    }
    let scale = 1.0 / (hd as f32).sqrt();
    let [(q, qo), (k, ko), (v, vo)] = qkv;
    par_rows(&mut ctx, len * d, |bi, ctx| {
        let start = bi * len * ld;
        let rows = |x: &'a [f32], off: usize| -> &'a [f32] { &x[start + off..] };
        let mut scores = vec![0f32; len * len];
        for h in 0..heads {
            let (qh, kh, vh) = (rows(q, qo + h * hd), rows(k, ko + h * hd), rows(v, vo + h * hd));
            head_products(qh, kh, vh, ld, len, hd, &mut scores, &mut ctx[h * hd..], d, scale);
        }
    });
    ctx
}

/// One head of [`attention_rows`]: `scores = softmax(scale · q kᵀ)` ([`head_scores`]), then
/// `ctx = scores · v` (`ctx` row stride `ldc`); `q`, `k`, `v` are `len × hd` with row stride `ld`.
/// The gemm crate reads `kᵀ` and `v` through strides natively; [`crate::gemm`] (WebAssembly)
/// takes them packed.
#[allow(clippy::too_many_arguments)]
fn head_products(q: &[f32], k: &[f32], v: &[f32], ld: usize, len: usize, hd: usize, scores: &mut [f32], ctx: &mut [f32], ldc: usize, scale: f32) {
    head_scores(q, k, ld, len, hd, scores, scale);
    if native_products() {
        #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
        crate::autograd::sgemm_with(false, (len, hd, len), scores, (len, 1), v, (ld, 1), ctx, ldc, false);
    } else {
        let vp = gemm::pack_b(v, len, hd, ld);
        gemm::gemm(len, hd, len, 1, scores, len, BOperand::packed(&vp, len), ctx, ldc, false);
    }
}

/// One head's attention weights `scores (len × len) = softmax(scale · q kᵀ)` by rows, `q`, `k`
/// `len × hd` with row stride `ld` (also the training op's backward pass, which recomputes them:
/// `crate::autograd::attention`).
pub(crate) fn head_scores(q: &[f32], k: &[f32], ld: usize, len: usize, hd: usize, scores: &mut [f32], scale: f32) {
    if native_products() {
        #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
        crate::autograd::sgemm_with(false, (len, len, hd), q, (ld, 1), k, (1, ld), scores, len, false);
    } else {
        let kt = gemm::pack_b_transposed(k, len, hd, ld);
        gemm::gemm(len, len, hd, 1, q, ld, BOperand::packed(&kt, hd), scores, len, false);
    }
    for row in scores.chunks_exact_mut(len) {
        softmax_row(row, scale);
    }
}

/// Products on the gemm crate (native, [`set_own_gemm`] off) rather than [`crate::gemm`].
fn native_products() -> bool {
    #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
    return !own_products();
    #[cfg(not(all(feature = "flex", not(target_arch = "wasm32"))))]
    false
}

/// `softmax(scale · row)` in place, on the vectorising `exp`. The maximum and the sum are taken
/// over 8 interleaved lanes: a sequential float reduction would keep the loops scalar.
fn softmax_row(row: &mut [f32], scale: f32) {
    let lanes = |init: f32, f: fn(f32, f32) -> f32, row: &[f32]| {
        let mut acc = [init; 8];
        let mut chunks = row.chunks_exact(8);
        for c in &mut chunks {
            for (a, v) in acc.iter_mut().zip(c) {
                *a = f(*a, *v);
            }
        }
        chunks.remainder().iter().fold(acc.into_iter().fold(init, f), |a, v| f(a, *v))
    };
    // A comparison, not `f32::max`: on wasm32 that is a call to `fmaxf` per element (its NaN
    // rule differs from the `f32.max` instruction), which keeps the loop scalar.
    let max = lanes(f32::NEG_INFINITY, |a, b| if a > b { a } else { b }, row);
    row.iter_mut().for_each(|v| *v = exp_approx((*v - max) * scale));
    let inv = 1.0 / lanes(0.0, |a, b| a + b, row);
    row.iter_mut().for_each(|v| *v *= inv);
}

/// Depthwise 'same' convolution along the rows of `x (batch · len × d)` (positions as rows,
/// channels as columns: no transposes around it), weight `(d, 1, k)` PyTorch layout, no bias.
pub fn depthwise_rows(x: &[f32], batch: usize, len: usize, d: usize, w: &[f32], k: usize) -> Vec<f32> {
    let pad = (k - 1) / 2;
    // (k × d): tap j's weights of every channel, contiguous.
    let wt: Vec<f32> = (0..k * d).map(|i| w[(i % d) * k + i / d]).collect();
    let mut out = vec![0f32; batch * len * d];
    if out.is_empty() {
        return out;
    }
    par_rows2(&mut out, len * d, x, len * d, |x, o| {
        for (t, orow) in o.chunks_exact_mut(d).enumerate() {
            for (j, wj) in wt.chunks_exact(d).enumerate() {
                let p = t + j;
                if p < pad || p - pad >= len {
                    continue;
                }
                let xrow = &x[(p - pad) * d..(p - pad + 1) * d];
                orow.iter_mut().zip(xrow).zip(wj).for_each(|((o, x), w)| *o += w * x);
            }
        }
    });
    out
}

/// LayerNorm of every row of `x (m × d)` (PyTorch semantics: biased variance, `eps` inside the
/// square root) with `gamma`, `beta (d)` → `(m × d)`: [`layer_norm_row`] on every row.
pub fn layer_norm_rows(x: &[f32], d: usize, gamma: &[f32], beta: &[f32], eps: f64) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    if d == 0 {
        return out;
    }
    debug_assert!(x.len().is_multiple_of(d) && gamma.len() == d && beta.len() == d, "layer_norm_rows: shapes");
    let rows = (x.len() / d).max(1);
    // About 16 rayon tasks per call, each a block of whole rows.
    let per_task = rows.div_ceil(16) * d;
    par_rows2(&mut out, per_task, x, per_task, |x, o| {
        for (r, o) in x.chunks_exact(d).zip(o.chunks_exact_mut(d)) {
            layer_norm_row(r, gamma, beta, eps, o);
        }
    });
    out
}

/// One row of LayerNorm: `out = (r − mean) · rstd · gamma + beta`; returns `(mean, rstd)` (the
/// statistics the training op keeps for its backward pass, `crate::autograd::layer_norm`).
#[inline(always)]
pub(crate) fn layer_norm_row(r: &[f32], gamma: &[f32], beta: &[f32], eps: f64, out: &mut [f32]) -> (f32, f32) {
    let d = r.len();
    let mean = lane_sum(d, |j| r[j]) / d as f32;
    let var = lane_sum(d, |j| (r[j] - mean) * (r[j] - mean)) / d as f32;
    let rstd = 1.0 / ((var as f64 + eps).sqrt() as f32);
    for ((o, &v), (g, b)) in out.iter_mut().zip(r).zip(gamma.iter().zip(beta)) {
        *o = (v - mean) * rstd * g + b;
    }
    (mean, rstd)
}

/// `Σ_{i < n} f(i)` over 8 interleaved lanes (a sequential float sum would keep the loop scalar),
/// then the tail.
#[inline(always)]
pub(crate) fn lane_sum(n: usize, f: impl Fn(usize) -> f32) -> f32 {
    let mut acc = [0f32; 8];
    let full = n / 8 * 8;
    for i in (0..full).step_by(8) {
        for (l, a) in acc.iter_mut().enumerate() {
            *a += f(i + l);
        }
    }
    (full..n).map(&f).sum::<f32>() + acc.iter().sum::<f32>()
}

/// `a · silu(g)` of the two column halves of `x (m × 2f)` → `(m × f)` (SwiGLU).
pub fn swiglu_rows(x: &[f32], m: usize, f: usize) -> Vec<f32> {
    debug_assert_eq!(x.len(), 2 * m * f, "swiglu_rows: shapes");
    let mut out = vec![0f32; m * f];
    if f > 0 && m > 0 {
        let per_task = m.div_ceil(16);
        par_rows2(&mut out, per_task * f, x, per_task * 2 * f, |x, o| {
            for (o, r) in o.chunks_exact_mut(f).zip(x.chunks_exact(2 * f)) {
                for ((o, a), g) in o.iter_mut().zip(&r[..f]).zip(&r[f..]) {
                    *o = a * silu(*g);
                }
            }
        });
    }
    out
}

/// `Σ_j w0[j]·x0[t0 + j + q] + w1[j]·x1[t0 + j + q]` for the 8 positions `q < 8`, summed in
/// registers, for both output channels of a group of a 2-input-channel convolution over
/// zero-padded rows `x0`, `x1` (taps `w[0]`, `w[1]` of the first output channel, `w[2]`, `w[3]`
/// of the second): every input vector loaded serves four products.
#[inline(always)]
pub(crate) fn group_taps(x0: &[f32], x1: &[f32], w: [&[f32]; 4], t0: usize) -> [[f32; 8]; 2] {
    let (mut p, mut q) = ([0f32; 8], [0f32; 8]);
    let k = w[0].len();
    let (w0, w1, w2, w3) = (&w[0][..k], &w[1][..k], &w[2][..k], &w[3][..k]);
    for j in 0..k {
        let (a, b) = (&x0[t0 + j..t0 + j + 8], &x1[t0 + j..t0 + j + 8]);
        let (u0, v0, u1, v1) = (w0[j], w1[j], w2[j], w3[j]);
        for r in 0..8 {
            p[r] += u0 * a[r] + v0 * b[r];
            q[r] += u1 * a[r] + v1 * b[r];
        }
    }
    [p, q]
}

/// Grouped 'same' convolution with 2 input and 2 output channels per group, no bias:
/// `out[c] = Σ_{i∈{0,1}} Σ_j w[c, i, j] · x[2⌊c/2⌋ + i, t + j − (k−1)/2]`.
/// `x (batch, C, L)`, `w (C, 2, k)` (PyTorch layout), `k` odd.
/// With `bn_silu = Some((a, s))`, `silu(out·a + s)` per channel follows (an eval-mode BatchNorm
/// and SiLU, see [`affine_silu`]), while each sample is in cache.
pub fn grouped_conv_pairs<B: Backend>(x: Tensor<B, 3>, w: Tensor<B, 3>, bn_silu: Option<(Tensor<B, 1>, Tensor<B, 1>)>) -> Tensor<B, 3> {
    let device = x.device();
    let [b, c, l] = x.dims();
    let k = w.dims()[2];
    let pad = (k - 1) / 2;
    let w = host(w);
    let xs = host(x);
    let bn = bn_silu.map(|(a, s)| (host(a), host(s)));
    let mut out = vec![0f32; b * c * l];
    if out.is_empty() {
        return Tensor::from_data(TensorData::new(out, [b, c, l]), &device);
    }
    // Zero-padded rows, long enough for whole 8-position blocks: each block of outputs is summed
    // in registers over the 2 × k taps and stored once.
    const T: usize = 8;
    let lp = l.div_ceil(T) * T + k - 1;
    par_rows(&mut out, c * l, |bi, sample| {
        let mut xp = vec![0f32; c * lp];
        for (ci, row) in xs[bi * c * l..(bi + 1) * c * l].chunks_exact(l).enumerate() {
            xp[ci * lp + pad..ci * lp + pad + l].copy_from_slice(row);
        }
        // Both output channels of a group share its two input rows.
        for (g, orows) in sample.chunks_mut(2 * l).enumerate() {
            let (x0, x1) = (&xp[2 * g * lp..(2 * g + 1) * lp], &xp[(2 * g + 1) * lp..(2 * g + 2) * lp]);
            let taps = |r: usize| &w[(4 * g + r) * k..(4 * g + r + 1) * k];
            let wg = [taps(0), taps(1), taps(2), taps(3)];
            let (o0, o1) = orows.split_at_mut(l);
            for t0 in (0..l).step_by(T) {
                let mut acc = group_taps(x0, x1, wg, t0);
                let n = T.min(l - t0);
                for (i, (acc, orow)) in acc.iter_mut().zip([&mut *o0, &mut *o1]).enumerate() {
                    if let Some((a, s)) = &bn {
                        let (a, s) = (a[2 * g + i], s[2 * g + i]);
                        acc.iter_mut().for_each(|v| *v = silu(*v * a + s));
                    }
                    orow[t0..t0 + n].copy_from_slice(&acc[..n]);
                }
            }
        }
    });
    Tensor::from_data(TensorData::new(out, [b, c, l]), &device)
}

/// One LSTM cell update of one row, in place, from its gate pre-activations `pre (4H)` in PyTorch
/// order i, f, g, o: `c ← σ(f)·c + σ(i)·tanh(g)`, `h = σ(o)·tanh(c)`. With `KEEP`, `pre` is
/// overwritten by the activated gates (the training op's backward pass reads them). Every slice is
/// cut to `H` first, so the loop has no bounds checks and vectorises (it was scalar, ~19 % of
/// DREAM-RNN inference).
///
/// Native x86-64 builds target SSE2, where this loop runs 4 lanes wide (18 % of DREAM-RNN
/// inference in a profile); on CPUs with AVX-512 or AVX2 the same code compiled for them runs
/// (same operations, so the same values).
#[inline(always)]
pub(crate) fn lstm_cell<const KEEP: bool>(pre: &mut [f32], c: &mut [f32], h_out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            return unsafe { lstm_cell_avx512::<KEEP>(pre, c, h_out) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked above).
            return unsafe { lstm_cell_avx2::<KEEP>(pre, c, h_out) };
        }
    }
    lstm_cell_body::<KEEP>(pre, c, h_out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn lstm_cell_avx512<const KEEP: bool>(pre: &mut [f32], c: &mut [f32], h_out: &mut [f32]) {
    lstm_cell_body::<KEEP>(pre, c, h_out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn lstm_cell_avx2<const KEEP: bool>(pre: &mut [f32], c: &mut [f32], h_out: &mut [f32]) {
    lstm_cell_body::<KEEP>(pre, c, h_out)
}

#[inline(always)]
fn lstm_cell_body<const KEEP: bool>(pre: &mut [f32], c: &mut [f32], h_out: &mut [f32]) {
    let h = c.len();
    let (gi, rest) = pre.split_at_mut(h);
    let (gf, rest) = rest.split_at_mut(h);
    let (gg, go) = rest.split_at_mut(h);
    let (go, h_out) = (&mut go[..h], &mut h_out[..h]);
    for j in 0..h {
        let (i, f, g, o) = (sigmoid(gi[j]), sigmoid(gf[j]), tanh(gg[j]), sigmoid(go[j]));
        let cv = f * c[j] + i * g;
        if KEEP {
            (gi[j], gf[j], gg[j], go[j]) = (i, f, g, o);
        }
        c[j] = cv;
        h_out[j] = o * tanh(cv);
    }
}

/// One LSTM step of every row from the input projection `x (batch, 4H)` (both biases added) and
/// the recurrent product `r = h·W_hhᵀ (batch, 4H)`, gate blocks in PyTorch order i, f, g, o:
/// `c' = σ(f)·c + σ(i)·tanh(g)`, `h' = σ(o)·tanh(c')` with `pre = x + r`, in one pass. `c` is
/// `(batch, H)`; returns `(h', c')`.
pub fn lstm_step<B: Backend>(x: Tensor<B, 2>, r: Tensor<B, 2>, c: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let device = c.device();
    let [b, h] = c.dims();
    let (x, r) = (host(x), host(r));
    let mut cs = host(c);
    let mut hs = vec![0f32; b * h];
    let mut pre = vec![0f32; 4 * h];
    for row in 0..b {
        let (x, r) = (&x[row * 4 * h..(row + 1) * 4 * h], &r[row * 4 * h..(row + 1) * 4 * h]);
        let (cr, hr) = (&mut cs[row * h..(row + 1) * h], &mut hs[row * h..(row + 1) * h]);
        pre.iter_mut().zip(x.iter().zip(r)).for_each(|(p, (x, r))| *p = x + r);
        lstm_cell::<false>(&mut pre, cr, hr);
    }
    (
        Tensor::from_data(TensorData::new(hs, [b, h]), &device),
        Tensor::from_data(TensorData::new(cs, [b, h]), &device),
    )
}

/// One LSTM direction over `len` steps on [`crate::gemm`]: `xp (len · batch × 4H)` time-major
/// input projections (both biases added), `w_hh (4H × H)` PyTorch layout; writes `h_t` of row `b`
/// to `out[(b · len + t) · ld + col ..][..H]`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_direction_rows(xp: &[f32], w_hh: &[f32], batch: usize, len: usize, h: usize, reverse: bool, out: &mut [f32], ld: usize, col: usize) {
    let w = gemm::pack_b_transposed(w_hh, 4 * h, h, h);
    let (mut hs, mut cs) = (vec![0f32; batch * h], vec![0f32; batch * h]);
    let mut pre = vec![0f32; batch * 4 * h];
    for step in 0..len {
        let t = if reverse { len - 1 - step } else { step };
        pre.copy_from_slice(&xp[t * batch * 4 * h..(t + 1) * batch * 4 * h]);
        if step > 0 {
            gemm::gemm(batch, 4 * h, h, 1, &hs, h, BOperand::packed(&w, h), &mut pre, 4 * h, true);
        }
        for row in 0..batch {
            let p = &mut pre[row * 4 * h..(row + 1) * 4 * h];
            let (cr, hr) = (&mut cs[row * h..(row + 1) * h], &mut hs[row * h..(row + 1) * h]);
            lstm_cell::<false>(p, cr, hr);
            let o = (row * len + t) * ld + col;
            out[o..o + h].copy_from_slice(hr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_approx_is_accurate() {
        let mut worst = 0f32;
        let mut x = -80.0f32;
        while x < 80.0 {
            let rel = ((exp_approx(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel);
            x += 0.0137;
        }
        assert!(worst < 3e-7, "relative error {worst}");
        assert!(silu(-1000.0).abs() < 1e-30);
        for x in [-20.0f32, -3.0, -0.5, 0.0, 0.1, 2.0, 9.0, 50.0] {
            assert!((tanh(x) - x.tanh()).abs() < 3e-7, "tanh({x})");
            assert!((sigmoid(x) - 1.0 / (1.0 + (-x).exp())).abs() < 3e-7, "sigmoid({x})");
        }
        assert!((silu(1000.0) - 1000.0).abs() < 1e-3);
        // 2^n from the rounding constant's bits equals 2^n from `n as i32`, over the whole
        // clamped range (so the shipped models' values did not move with it).
        let mut x = -90.0f32;
        while x < 90.0 {
            let n = ((x.clamp(-87.0, 88.0) * std::f32::consts::LOG2_E + 12_582_912.0) - 12_582_912.0) as i32;
            let r = exp_approx(x) / f32::from_bits(((n + 127) as u32) << 23);
            assert!((0.70..1.42).contains(&r), "exp_approx({x}): reduced part {r}");
            x += 0.01;
        }
    }

    #[cfg(feature = "flex")]
    #[test]
    fn kernels_match_burn_ops() {
        use burn::tensor::{module::conv1d, ops::ConvOptions, Distribution};
        type F = burn::backend::Flex;
        let dev = Default::default();
        let x = Tensor::<F, 3>::random([3, 8, 19], Distribution::Normal(0.0, 1.0), &dev);
        let w = Tensor::<F, 3>::random([8, 2, 7], Distribution::Normal(0.0, 1.0), &dev);
        let ours = grouped_conv_pairs(x.clone(), w.clone(), None);
        let burn = conv1d(x.clone(), w, None, ConvOptions::new([1], [3], [1], 4));
        let err: f32 = (ours - burn).abs().max().into_scalar();
        assert!(err < 1e-5, "grouped conv error {err}");

        let a = Tensor::<F, 1>::random([8], Distribution::Normal(0.0, 1.0), &dev);
        let s = Tensor::<F, 1>::random([8], Distribution::Normal(0.0, 1.0), &dev);
        let ours = affine_silu(x.clone(), a.clone(), s.clone());
        let plain = burn::tensor::activation::silu(x.clone() * a.clone().reshape([1, 8, 1]) + s.clone().reshape([1, 8, 1]));
        let err: f32 = (ours - plain).abs().max().into_scalar();
        assert!(err < 1e-5, "affine silu error {err}");
        let w = Tensor::<F, 3>::random([8, 2, 7], Distribution::Normal(0.0, 1.0), &dev);
        let fused = grouped_conv_pairs(x.clone(), w.clone(), Some((a.clone(), s.clone())));
        let apart = affine_silu(grouped_conv_pairs(x.clone(), w, None), a, s);
        let err: f32 = (fused - apart).abs().max().into_scalar();
        assert!(err < 1e-6, "grouped conv + BN-SiLU error {err}");

        let x4 = Tensor::<F, 2>::random([15, 11], Distribution::Normal(0.0, 3.0), &dev);
        let mut ours = host(x4.clone());
        ours.chunks_exact_mut(11).for_each(|r| softmax_row(r, 1.0));
        let want = host(burn::tensor::activation::softmax(x4, 1));
        let err = ours.iter().zip(&want).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(err < 1e-6, "softmax error {err}");

        // LSTM step: gate blocks i, f, g, o of x + r.
        let (b, h) = (3, 5);
        let x = Tensor::<F, 2>::random([b, 4 * h], Distribution::Normal(0.0, 2.0), &dev);
        let r = Tensor::<F, 2>::random([b, 4 * h], Distribution::Normal(0.0, 2.0), &dev);
        let c = Tensor::<F, 2>::random([b, h], Distribution::Normal(0.0, 1.0), &dev);
        let (hn, cn) = lstm_step(x.clone(), r.clone(), c.clone());
        let pre = x + r;
        let gate = |g: usize| pre.clone().narrow(1, g * h, h);
        use burn::tensor::activation::sigmoid as sg;
        let want_c = sg(gate(1)) * c + sg(gate(0)) * gate(2).tanh();
        let want_h = sg(gate(3)) * want_c.clone().tanh();
        let err: f32 = (cn - want_c).abs().max().into_scalar();
        assert!(err < 1e-5, "LSTM c error {err}");
        let err: f32 = (hn - want_h).abs().max().into_scalar();
        assert!(err < 1e-5, "LSTM h error {err}");

        // Row LayerNorm (d = 21: 8-lane sums with a remainder) = burn's LayerNorm.
        let (m, d) = (37, 21);
        let x = Tensor::<F, 2>::random([m, d], Distribution::Normal(0.5, 2.0), &dev);
        let mut ln = burn::nn::LayerNormConfig::new(d).with_epsilon(1e-6).init::<F>(&dev);
        ln.gamma = burn::module::Param::from_tensor(Tensor::random([d], Distribution::Normal(1.0, 0.5), &dev));
        ln.beta = Some(burn::module::Param::from_tensor(Tensor::random([d], Distribution::Normal(0.0, 0.5), &dev)));
        let ours = layer_norm_rows(&host(x.clone()), d, &host(ln.gamma.val()), &host(ln.beta.as_ref().unwrap().val()), 1e-6);
        let want = host(ln.forward(x));
        let err = ours.iter().zip(&want).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(ours.len() == want.len() && err < 1e-5, "LayerNorm rows error {err}");
        // SwiGLU rows, empty and not.
        assert!(swiglu_rows(&[], 0, 4).is_empty());
        let ag = host(Tensor::<F, 2>::random([5, 6], Distribution::Normal(0.0, 2.0), &dev));
        let ours = swiglu_rows(&ag, 5, 3);
        for (i, o) in ours.iter().enumerate() {
            let (a, g) = (ag[(i / 3) * 6 + i % 3], ag[(i / 3) * 6 + 3 + i % 3]);
            assert!((o - a * g / (1.0 + (-g).exp())).abs() < 1e-5, "SwiGLU row {i}");
        }
    }
}
