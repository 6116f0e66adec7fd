//! Training operations with hand-written backward passes, for CPU training (burn's autodiff over
//! burn-flex; issue 13). Each one is an exact replacement of a composition of burn ops that the
//! models use, computed on host buffers with a few large matrix products (the `gemm` crate, the
//! one burn-flex uses, AVX-512 where the CPU has it) instead of many small autodiff nodes:
//!
//! - [`lstm_direction`]: one direction of the BiLSTM over the whole sequence. The generic path
//!   records ~20 nodes per time step, and the backward of each step's slice of the input
//!   projection writes a full-size zero tensor (quadratic in the length: most of DREAM-RNN's
//!   training time). Here: the input product once, one recurrent product and a fused cell per
//!   step forward; backpropagation through time with one product per step, then `dW_ih`, `dW_hh`
//!   and `dX` as three large products over all steps.
//!
//! - [`conv1d`]: the dense 'same' convolution as `k` matrix products (one per tap, on shifted
//!   views of the zero-padded input) per thread's run of samples laid side by side (per sample
//!   for `k = 1`), forward and backward; burn's generic backward runs a transposed convolution
//!   and an im2col weight product.
//! - [`grouped_conv_pairs`]: the 'same' convolution with 2 channels per group (DREAM-CNN's
//!   inverted residuals) as direct loops over whole rows; burn-flex runs it as one tiny matrix
//!   product per group, forward and backward.
//! - [`batch_norm`]: training-mode BatchNorm1d, optionally followed by SiLU, in one pass
//!   forward and two backward (the generic path is ~15 element-wise nodes with broadcasts).
//!
//! - [`layer_norm`]: LayerNorm over the last dimension, forward and backward in one pass each
//!   (burn's autodiff decomposes it into ~10 element-wise nodes).
//! - `rows`: DREAM-Attn's Conformer layers on rows (positions × features): [`linear`],
//!   [`swiglu`] with its dropout, [`dropout`], multi-head [`attention`] from packed `[q | k | v]`
//!   rows, the [`depthwise`] convolution.
//!
//! [`fast_training`] says when they apply: the backend is `Autodiff<Flex>` and
//! [`generic_autodiff`] is not in force (tests compare both paths; `DREAM_GENERIC_AUTODIFF=1` in
//! the environment turns the fast path off process-wide).

use std::any::{Any, TypeId};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData, TensorPrimitive};
use burn_flex::FlexTensor;
use rayon::prelude::*;

use crate::kernels::{lane_sum, sigmoid, tanh};

/// Runs `op` with 2 parents, or 3 when `nodes` has a bias's node, and returns its output.
macro_rules! finish {
    ($op:expr, $nodes:expr, $saved:expr, $y:expr) => {{
        let nodes = $nodes;
        match nodes.len() {
            2 => match $op.prepare::<NoCheckpointing>([nodes[0].clone(), nodes[1].clone()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => prep.finish($saved, $y),
                OpsKind::UnTracked(prep) => prep.finish($y),
            },
            _ => match $op.prepare::<NoCheckpointing>([nodes[0].clone(), nodes[1].clone(), nodes[2].clone()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => prep.finish($saved, $y),
                OpsKind::UnTracked(prep) => prep.finish($y),
            },
        }
    }};
}

mod rows;
pub use rows::{attention, depthwise, dropout, linear, swiglu, WeightLayout};

type Ad = Autodiff<Flex>;
type AdTensor = <Ad as burn::tensor::backend::BackendTypes>::FloatTensorPrimitive;

/// 0: not read yet; 1: off (`DREAM_GENERIC_AUTODIFF=1`); 2: on.
static ENABLED: AtomicU8 = AtomicU8::new(0);

thread_local! {
    static GENERIC: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `true` when `B` is burn-flex under autodiff and the hand-written backward passes are enabled
/// on this thread.
pub fn fast_training<B: Backend>() -> bool {
    if TypeId::of::<B>() != TypeId::of::<Ad>() || GENERIC.with(std::cell::Cell::get) {
        return false;
    }
    match ENABLED.load(Ordering::Relaxed) {
        0 => {
            let on = !std::env::var("DREAM_GENERIC_AUTODIFF").is_ok_and(|v| v == "1");
            ENABLED.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
        v => v == 2,
    }
}

/// Runs `f` with burn's generic autodiff ops only (no hand-written backward pass) on this
/// thread: the reference the fast path is checked against.
pub fn generic_autodiff<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GENERIC.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GENERIC.with(|g| g.replace(true)));
    f()
}

/// Moves a value of type `T` into type `U`; they are the same type (checked by the caller with
/// `TypeId`), so this only satisfies the type checker.
fn same<T: 'static, U: 'static>(value: T) -> U {
    let mut slot = Some(value);
    (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<U>>()
        .expect("fast_training checked the backend type")
        .take()
        .expect("value present")
}

fn to_ad<B: Backend, const D: usize>(t: Tensor<B, D>) -> AdTensor {
    same(t.into_primitive().tensor())
}

fn from_ad<B: Backend, const D: usize>(t: AdTensor) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(same(t)))
}

/// A contiguous copy (or the tensor itself when it already is one).
fn contiguous(t: &FlexTensor) -> FlexTensor {
    t.to_contiguous()
}

fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("contiguous f32 tensor")
}

fn flex(values: Vec<f32>, shape: impl Into<burn::tensor::Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

/// `c (m × n, row stride ldc, column stride 1) = [c +] a · b` with `a (m × k)` and `b (k × n)` given by their row
/// and column strides (a transpose is a swap of strides). Bounds are checked here, so the
/// unsafe call only reads and writes inside the slices.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm(
    (m, n, k): (usize, usize, usize),
    a: &[f32],
    (a_rs, a_cs): (usize, usize),
    b: &[f32],
    (b_rs, b_cs): (usize, usize),
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    let parallel = m * n * k >= 1 << 18;
    sgemm_with(parallel, (m, n, k), a, (a_rs, a_cs), b, (b_rs, b_cs), c, ldc, accumulate);
}

/// [`sgemm`] on this thread only (`parallel = false`) or on the rayon pool.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm_with(
    parallel: bool,
    (m, n, k): (usize, usize, usize),
    a: &[f32],
    (a_rs, a_cs): (usize, usize),
    b: &[f32],
    (b_rs, b_cs): (usize, usize),
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.chunks_mut(ldc).take(m).for_each(|r| r[..n].fill(0.0));
        }
        return;
    }
    assert!((m - 1) * a_rs + (k - 1) * a_cs < a.len(), "sgemm: a out of bounds");
    assert!((k - 1) * b_rs + (n - 1) * b_cs < b.len(), "sgemm: b out of bounds");
    assert!((m - 1) * ldc + n <= c.len() && n <= ldc, "sgemm: c out of bounds");
    let parallelism = if parallel { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    // SAFETY: every index the product touches is inside the slices (asserted above); `c` does not
    // alias `a` or `b` (a `&mut` and two `&` borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            ldc as isize,
            accumulate,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// What one LSTM direction keeps for its backward pass.
#[derive(Clone, Debug)]
struct LstmSaved {
    /// Input `(L·B, I)`, time-major.
    x: FlexTensor,
    w_ih: FlexTensor,
    w_hh: FlexTensor,
    /// Activated gates `[i, f, g, o]` per row `(L·B, 4H)`.
    gates: Arc<Vec<f32>>,
    /// Cell states `(L·B, H)`.
    cells: Arc<Vec<f32>>,
    /// Outputs `h_t (L·B, H)`.
    hidden: FlexTensor,
    batch: usize,
    reverse: bool,
}

#[derive(Debug)]
struct LstmBackward;

/// Time index of processing step `s` (the backward direction runs from the last position).
fn time(s: usize, len: usize, reverse: bool) -> usize {
    if reverse {
        len - 1 - s
    } else {
        s
    }
}

/// One LSTM direction over the whole sequence, PyTorch semantics (gate rows `[i, f, g, o]`, zero
/// initial state): time-major input `x (L·B, I)` (row `t·B + b`), `w_ih (4H, I)`, `w_hh (4H, H)`,
/// biases `(4H)` → `h_t` for every position, `(L·B, H)` in the same row order. `reverse` runs
/// from the last position to the first. Only on [`fast_training`]'s backend; the result and its
/// gradients equal [`crate::nn::BiLstm`]'s generic path (unit tests below).
pub fn lstm_direction<B: Backend>(
    x: Tensor<B, 2>,
    w_ih: Tensor<B, 2>,
    w_hh: Tensor<B, 2>,
    b_ih: Tensor<B, 1>,
    b_hh: Tensor<B, 1>,
    batch: usize,
    reverse: bool,
) -> Tensor<B, 2> {
    let [x, w_ih, w_hh, b_ih, b_hh] = [to_ad(x), to_ad(w_ih), to_ad(w_hh), to_ad(b_ih), to_ad(b_hh)];
    let nodes = [&x, &w_ih, &w_hh, &b_ih, &b_hh].map(|t| t.node.clone());
    let xs = contiguous(&x.primitive);
    let wi = contiguous(&w_ih.primitive);
    let wh = contiguous(&w_hh.primitive);
    let bias: Vec<f32> = values(&contiguous(&b_ih.primitive))
        .iter()
        .zip(values(&contiguous(&b_hh.primitive)))
        .map(|(a, b)| a + b)
        .collect();
    let (gates, cells, hidden) = lstm_forward(values(&xs), values(&wi), values(&wh), &bias, batch, reverse);
    let h = bias.len() / 4;
    let hidden = flex(hidden.clone(), [hidden.len() / h, h]);
    let out = match LstmBackward.prepare::<NoCheckpointing>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let saved = LstmSaved {
                x: xs,
                w_ih: wi,
                w_hh: wh,
                gates: Arc::new(gates),
                cells: Arc::new(cells),
                hidden: hidden.clone(),
                batch,
                reverse,
            };
            prep.finish(saved, hidden)
        }
        OpsKind::UnTracked(prep) => prep.finish(hidden),
    };
    from_ad(out)
}

/// Forward pass on host buffers: `(gates, cells, hidden)` as described in [`LstmSaved`]; also
/// the CPU inference path of [`crate::nn::BiLstm`].
pub(crate) fn lstm_forward(x: &[f32], w_ih: &[f32], w_hh: &[f32], bias: &[f32], batch: usize, reverse: bool) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let g4 = bias.len();
    let h = g4 / 4;
    let input = w_ih.len() / g4;
    let rows = x.len() / input;
    let len = rows / batch;
    let mut gates = vec![0f32; rows * g4];
    // All input projections at once: X · W_ihᵀ, then both biases.
    sgemm((rows, g4, input), x, (input, 1), w_ih, (1, input), &mut gates, g4, false);
    gates.par_chunks_mut(g4).for_each(|r| r.iter_mut().zip(bias).for_each(|(v, b)| *v += b));
    let mut cells = vec![0f32; rows * h];
    let mut hidden = vec![0f32; rows * h];
    let block = batch * h;
    for s in 0..len {
        let t = time(s, len, reverse);
        let gates_t = &mut gates[t * batch * g4..(t + 1) * batch * g4];
        let prev = (s > 0).then(|| time(s - 1, len, reverse));
        if let Some(p) = prev {
            // + h_{t−1} · W_hhᵀ
            sgemm((batch, g4, h), &hidden[p * block..(p + 1) * block], (h, 1), w_hh, (1, h), gates_t, g4, true);
        }
        let (c_t, c_prev) = split_step(&mut cells, t, prev, block);
        let h_t = &mut hidden[t * block..(t + 1) * block];
        gates_t
            .par_chunks_mut(g4)
            .zip(c_t.par_chunks_mut(h))
            .zip(h_t.par_chunks_mut(h))
            .enumerate()
            .for_each(|(r, ((a, c), hr))| {
                if let Some(cp) = c_prev {
                    c.copy_from_slice(&cp[r * h..(r + 1) * h]);
                }
                crate::kernels::lstm_cell::<true>(a, c, hr);
            });
    }
    (gates, cells, hidden)
}

/// One LSTM direction for CPU inference, written into `out` (row `t·batch + b`, `H` columns from
/// `col`, row stride `out_stride`): from the time-major input `x (len · batch, I)`, weights
/// `w_ih (4H, I)`, `w_hh (4H, H)` and both biases summed `(4H)`.
///
/// Each step is one product `[h_{t∓1} | x_t] · [W_hh | W_ih]ᵀ` (`K = H + I`; for the reverse
/// direction `[x_t | h_{t+1}]`) on a buffer that holds the input and the slot the cell fills
/// for the next step, then the fused cell with the bias. Unlike [`lstm_forward`] (training: input
/// products first, all gates kept for the backward pass, ~1 GB per direction at batch 1024)
/// nothing of a step outlives it, and the products have twice the depth.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lstm_inference(x: &[f32], w_ih: &[f32], w_hh: &[f32], bias: &[f32], batch: usize, reverse: bool, out: &mut [f32], out_stride: usize, col: usize) {
    let g4 = bias.len();
    let h = g4 / 4;
    let input = w_ih.len() / g4;
    let len = x.len() / (input * batch);
    let k = h + input;
    // Column layout of a step's row: forward [h | x], reverse [x | h].
    let (x_at, h_at) = if reverse { (0, input) } else { (h, 0) };
    let mut w = vec![0f32; g4 * k];
    for ((row, wi), wh) in w.chunks_exact_mut(k).zip(w_ih.chunks_exact(input)).zip(w_hh.chunks_exact(h)) {
        row[x_at..x_at + input].copy_from_slice(wi);
        row[h_at..h_at + h].copy_from_slice(wh);
    }
    let mut xh = vec![0f32; len * batch * k];
    xh.par_chunks_mut(k).zip(x.par_chunks(input)).for_each(|(r, xr)| r[x_at..x_at + input].copy_from_slice(xr));
    let mut gates = vec![0f32; batch * g4];
    let mut c = vec![0f32; batch * h];
    let step_rows = batch * k;
    for s in 0..len {
        let t = time(s, len, reverse);
        let (done, rest) = xh.split_at_mut(t * step_rows);
        let (now, later) = rest.split_at_mut(step_rows);
        sgemm((batch, g4, k), now, (k, 1), &w, (1, k), &mut gates, g4, false);
        // The slot of h_t in the next step's rows (none after the last step).
        let next: Option<&mut [f32]> = match (s + 1 < len, reverse) {
            (false, _) => None,
            (true, false) => Some(&mut later[..step_rows]),
            (true, true) => Some(&mut done[(t - 1) * step_rows..]),
        };
        let out_t = &mut out[t * batch * out_stride..(t + 1) * batch * out_stride];
        let cell = |(a, cr, o): (&mut [f32], &mut [f32], &mut [f32])| {
            a.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
            crate::kernels::lstm_cell::<false>(a, cr, &mut o[col..col + h]);
        };
        match next {
            Some(next) => gates
                .par_chunks_mut(g4)
                .zip(c.par_chunks_mut(h))
                .zip(out_t.par_chunks_mut(out_stride))
                .zip(next.par_chunks_mut(k))
                .for_each(|(((a, cr), o), nr)| {
                    cell((a, cr, o));
                    nr[h_at..h_at + h].copy_from_slice(&o[col..col + h]);
                }),
            None => gates.par_chunks_mut(g4).zip(c.par_chunks_mut(h)).zip(out_t.par_chunks_mut(out_stride)).for_each(|((a, cr), o)| cell((a, cr, o))),
        }
    }
}

/// Backward pass of one row's cell update ([`crate::kernels::lstm_cell`]): from the activated
/// gates `a (4H)`, the cell `c_t` and `c_prev`, and the gradients reaching `h_t` from the output
/// (`d_h`) and from step t+1 (`dh_next`), writes the pre-activation gate gradients `dg (4H)` and
/// turns `dc` (the gradient reaching `c_t` from step t+1) into that of `c_prev`. Slices cut to
/// `H` so the loop vectorises.
#[inline(always)]
fn lstm_cell_backward(a: &[f32], c_t: &[f32], c_prev: &[f32], d_h: &[f32], dh_next: &[f32], dc: &mut [f32], dg: &mut [f32]) {
    let h = dc.len();
    let (ai, af, ag, ao) = (&a[..h], &a[h..2 * h], &a[2 * h..3 * h], &a[3 * h..4 * h]);
    let (c_t, c_prev, d_h, dh_next) = (&c_t[..h], &c_prev[..h], &d_h[..h], &dh_next[..h]);
    let (gi, rest) = dg.split_at_mut(h);
    let (gf, rest) = rest.split_at_mut(h);
    let (gg, go) = rest.split_at_mut(h);
    let go = &mut go[..h];
    for j in 0..h {
        let (i, f, g, o) = (ai[j], af[j], ag[j], ao[j]);
        let dh = d_h[j] + dh_next[j];
        let tc = tanh(c_t[j]);
        let dcv = dc[j] + dh * o * (1.0 - tc * tc);
        gi[j] = dcv * g * i * (1.0 - i);
        gf[j] = dcv * c_prev[j] * f * (1.0 - f);
        gg[j] = dcv * i * (1.0 - g * g);
        go[j] = dh * tc * o * (1.0 - o);
        dc[j] = dcv * f;
    }
}

/// The cell block of time `t` (mutable) and of the previous step `prev` (read-only) in `cells`
/// `(L·B·H)`, `block = B·H` values per time.
fn split_step(cells: &mut [f32], t: usize, prev: Option<usize>, block: usize) -> (&mut [f32], Option<&[f32]>) {
    match prev {
        None => (&mut cells[t * block..(t + 1) * block], None),
        Some(p) if p < t => {
            let (lo, hi) = cells.split_at_mut(t * block);
            (&mut hi[..block], Some(&lo[p * block..(p + 1) * block]))
        }
        Some(p) => {
            let (lo, hi) = cells.split_at_mut(p * block);
            (&mut lo[t * block..(t + 1) * block], Some(&hi[..block]))
        }
    }
}

impl Backward<Flex, 5> for LstmBackward {
    type State = LstmSaved;

    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_wih, node_whh, node_bih, node_bhh] = ops.parents;
        let d_out = contiguous(&grads.consume::<Flex>(&ops.node));
        let s = ops.state;
        let (x, w_ih, w_hh, hidden) = (values(&s.x), values(&s.w_ih), values(&s.w_hh), values(&s.hidden));
        let g4 = s.w_hh.layout().shape()[0];
        let h = g4 / 4;
        let input = w_ih.len() / g4;
        let rows = x.len() / input;
        let batch = s.batch;
        let len = rows / batch;
        let block = batch * h;
        let d_out = values(&d_out);
        // Pre-activation gradients of every gate, (L·B, 4H).
        let mut d_gates = vec![0f32; rows * g4];
        let mut dh_next = vec![0f32; block];
        let mut dc_next = vec![0f32; block];
        let zeros = vec![0f32; block];
        for s_ in (0..len).rev() {
            let t = time(s_, len, s.reverse);
            let prev = (s_ > 0).then(|| time(s_ - 1, len, s.reverse));
            let gates_t = &s.gates[t * batch * g4..(t + 1) * batch * g4];
            let c_t = &s.cells[t * block..(t + 1) * block];
            // The cell before the first step is zero.
            let c_prev = prev.map_or(&zeros[..], |p| &s.cells[p * block..(p + 1) * block]);
            let dg_t = &mut d_gates[t * batch * g4..(t + 1) * batch * g4];
            let d_h = &d_out[t * block..(t + 1) * block];
            dg_t.par_chunks_mut(g4)
                .zip(dc_next.par_chunks_mut(h))
                .enumerate()
                .for_each(|(r, (dg, dc_row))| {
                    let span = r * h..(r + 1) * h;
                    let cp = &c_prev[span.clone()];
                    lstm_cell_backward(&gates_t[r * g4..(r + 1) * g4], &c_t[span.clone()], cp, &d_h[span.clone()], &dh_next[span], dc_row, dg);
                });
            if prev.is_some() {
                // dh_{t−1} = dgates_t · W_hh
                sgemm((batch, h, g4), dg_t, (g4, 1), w_hh, (h, 1), &mut dh_next, h, false);
            }
        }
        if let Some(node) = node_x {
            let mut dx = vec![0f32; rows * input];
            sgemm((rows, input, g4), &d_gates, (g4, 1), w_ih, (input, 1), &mut dx, input, false);
            grads.register::<Flex>(node.id, flex(dx, [rows, input]));
        }
        if let Some(node) = node_wih {
            let mut dw = vec![0f32; g4 * input];
            sgemm((g4, input, rows), &d_gates, (1, g4), x, (input, 1), &mut dw, input, false);
            grads.register::<Flex>(node.id, flex(dw, [g4, input]));
        }
        if let Some(node) = node_whh {
            // Σ_t dgates_tᵀ · h_{t−1}: steps after the first, against the previous step's output.
            let n = rows - batch;
            let (dg, hp) = if s.reverse {
                (&d_gates[..n * g4], &hidden[batch * h..])
            } else {
                (&d_gates[batch * g4..], &hidden[..n * h])
            };
            let mut dw = vec![0f32; g4 * h];
            sgemm((g4, h, n), dg, (1, g4), hp, (h, 1), &mut dw, h, false);
            grads.register::<Flex>(node.id, flex(dw, [g4, h]));
        }
        if node_bih.is_some() || node_bhh.is_some() {
            let db = d_gates.par_chunks(g4).fold(|| vec![0f32; g4], |mut acc, r| {
                acc.iter_mut().zip(r).for_each(|(a, v)| *a += v);
                acc
            });
            let db = db.reduce(|| vec![0f32; g4], |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            });
            for node in [node_bih, node_bhh].into_iter().flatten() {
                grads.register::<Flex>(node.id, flex(db.clone(), [g4]));
            }
        }
    }
}

#[derive(Clone, Debug)]
struct ConvSaved {
    /// Input in the sample-group layout of [`fold`], zero-padded, `B · C_in · (L + k − 1)` values.
    xcm: Arc<Vec<f32>>,
    /// Weight `(C_out, C_in, k)`.
    w: FlexTensor,
    batch: usize,
    len: usize,
}

#[derive(Debug)]
struct ConvBackward;

/// The samples of a batch in one run of consecutive samples per thread of the rayon pool, each
/// cut into the runs that one matrix product per tap covers ([`fold`]): the whole thread's run
/// for `k > 1` (each tap's weight, a strided gather, is packed once per thread instead of once
/// per sample: DREAM-RNN's 640-channel k = 9 / 15 convolutions), one sample for `k = 1` (no
/// layout change; the products of a sample are already large). Fixed by `batch`, `k` and the
/// pool's size, so the sums (and a resumed run) are the same every time.
fn sample_groups(batch: usize, k: usize) -> Vec<Vec<std::ops::Range<usize>>> {
    let t = batch.min(rayon::current_num_threads().max(1));
    (0..t)
        .map(|i| {
            let g = i * batch / t..(i + 1) * batch / t;
            if k == 1 {
                g.map(|b| b..b + 1).collect()
            } else {
                vec![g]
            }
        })
        .collect()
}

/// Splits `buf` into one block per thread's run of samples, `per_sample` values per sample.
fn blocks_mut<'a>(mut buf: &'a mut [f32], groups: &[Vec<std::ops::Range<usize>>], per_sample: usize) -> Vec<&'a mut [f32]> {
    groups
        .iter()
        .map(|g| {
            let n: usize = g.iter().map(|r| r.len()).sum();
            let (head, tail) = std::mem::take(&mut buf).split_at_mut(n * per_sample);
            buf = tail;
            head
        })
        .collect()
}

/// Samples `x (n, C, L)` (one group, row-major) → `(C, n·lp)`: channel-major with sample `b`'s
/// row at column `b·lp + offset` and zeros around it. In this layout one product per tap covers
/// the group: a 'same' convolution reads columns `col + j`, and the `k − 1` columns between
/// samples are zero padding (inputs) or outputs that are dropped.
fn fold(x: &[f32], c: usize, len: usize, lp: usize, offset: usize, out: &mut [f32]) {
    let n = x.len() / (c * len);
    for ci in 0..c {
        for b in 0..n {
            let dst = ci * n * lp + b * lp + offset;
            out[dst..dst + len].copy_from_slice(&x[(b * c + ci) * len..(b * c + ci + 1) * len]);
        }
    }
}

/// The inverse of [`fold`]: columns `b·lp + offset ..+ L` of `(C, n·lp)` → `out (n, C, L)`, plus
/// `bias[c]` when given.
fn unfold(xcm: &[f32], c: usize, len: usize, lp: usize, offset: usize, bias: Option<&[f32]>, out: &mut [f32]) {
    let n = out.len() / (c * len);
    for (b, ob) in out.chunks_mut(c * len).enumerate() {
        for (ci, r) in ob.chunks_mut(len).enumerate() {
            let src = &xcm[ci * n * lp + b * lp + offset..][..len];
            let add = bias.map_or(0.0, |v| v[ci]);
            r.iter_mut().zip(src).for_each(|(d, s)| *d = s + add);
        }
    }
}

/// The forward pass of [`conv1d`] on host buffers: `x (B, C_in, L)`, `w (C_out, C_in, k)`,
/// `bias (C_out)` → (the input in the [`fold`] layout, kept for the backward pass; `y (B, C_out,
/// L)`). Also the CPU inference path of dense 'same' convolutions with `k > 1`
/// ([`crate::nn::conv_forward`]).
pub(crate) fn conv1d_host(xv: &[f32], wv: &[f32], bv: Option<&[f32]>, batch: usize, len: usize, k: usize) -> (Vec<f32>, Vec<f32>) {
    let c_in = xv.len() / (batch * len);
    let c_out = wv.len() / (c_in * k);
    let (lp, pad) = (len + k - 1, (k - 1) / 2);
    let groups = sample_groups(batch, k);
    let mut xcm = vec![0f32; batch * c_in * lp];
    let mut y = vec![0f32; batch * c_out * len];
    blocks_mut(&mut xcm, &groups, c_in * lp)
        .into_par_iter()
        .zip(blocks_mut(&mut y, &groups, c_out * len))
        .zip(groups.par_iter())
        .for_each(|((xt, yt), runs)| {
            let first = runs[0].start;
            for r in runs {
                let (nl, a) = (r.len() * lp, r.start - first);
                let xg = &mut xt[a * c_in * lp..(r.end - first) * c_in * lp];
                fold(&xv[r.start * c_in * len..r.end * c_in * len], c_in, len, lp, pad, xg);
                let yr = &mut yt[a * c_out * len..(r.end - first) * c_out * len];
                if k == 1 {
                    // One sample, no padding: the folded layout is the output's own, so the
                    // product writes it in place.
                    if let Some(bv) = bv {
                        yr.chunks_mut(len).zip(bv).for_each(|(row, b)| row.fill(*b));
                    }
                    sgemm_with(false, (c_out, len, c_in), wv, (c_in, 1), xg, (len, 1), yr, len, bv.is_some());
                    continue;
                }
                let mut ycm = vec![0f32; c_out * nl];
                for j in 0..k {
                    sgemm_with(false, (c_out, nl - (k - 1), c_in), &wv[j..], (c_in * k, k), &xg[j..], (nl, 1), &mut ycm, nl, j > 0);
                }
                unfold(&ycm, c_out, len, lp, 0, bv, yr);
            }
        });
    (xcm, y)
}

/// Conv1d, stride 1, 'same' padding, one group: `x (B, C_in, L)`, `w (C_out, C_in, k)` (odd
/// `k`), optional `bias (C_out)` → `(B, C_out, L)`. Per tap `j` and group of samples
/// ([`sample_groups`]) one product `Y += W[:, :, j] · X[:, j ..]` in the [`fold`] layout. Only on
/// [`fast_training`]'s backend; equals burn's `conv1d` (unit tests).
pub fn conv1d<B: Backend>(x: Tensor<B, 3>, w: Tensor<B, 3>, bias: Option<Tensor<B, 1>>) -> Tensor<B, 3> {
    let [batch, _, len] = x.dims();
    let [c_out, _, k] = w.dims();
    let (x, w) = (to_ad(x), to_ad(w));
    let bias = bias.map(to_ad);
    let ws = contiguous(&w.primitive);
    let xs = contiguous(&x.primitive);
    let (xv, wv) = (values(&xs), values(&ws));
    let bv = bias.as_ref().map(|b| values(&contiguous(&b.primitive)).to_vec());
    let (xcm, y) = conv1d_host(xv, wv, bv.as_deref(), batch, len, k);
    let y = flex(y, [batch, c_out, len]);
    let mut nodes = vec![x.node.clone(), w.node.clone()];
    nodes.extend(bias.as_ref().map(|b| b.node.clone()));
    from_ad(finish!(ConvBackward, nodes, ConvSaved { xcm: Arc::new(xcm), w: ws, batch, len }, y))
}

#[derive(Clone, Debug)]
struct DftConvSaved {
    /// Input `(B, C_in, L)`, contiguous.
    x: FlexTensor,
    /// Weight `(C_out, C_in, k)`, contiguous.
    w: FlexTensor,
}

#[derive(Debug)]
struct DftConvBackward;

/// [`conv1d`] through the discrete Fourier transform (`crate::spectral`), forward and backward:
/// the same function, for the shapes where [`crate::spectral::pays`] (DREAM-RNN's 640-channel core
/// convolutions: about a third of the direct multiply-adds each way). Only on
/// [`fast_training`]'s backend; equals burn's `conv1d` (unit tests).
pub fn conv1d_dft<B: Backend>(x: Tensor<B, 3>, w: Tensor<B, 3>, bias: Option<Tensor<B, 1>>) -> Tensor<B, 3> {
    let [batch, c_in, len] = x.dims();
    let [c_out, _, k] = w.dims();
    let (x, w) = (to_ad(x), to_ad(w));
    let bias = bias.map(to_ad);
    let (xs, ws) = (contiguous(&x.primitive), contiguous(&w.primitive));
    let bv = bias.as_ref().map(|b| values(&contiguous(&b.primitive)).to_vec());
    let branch = crate::spectral::Branch { weight: values(&ws), bias: bv.as_deref(), out: c_out, k };
    let y = crate::spectral::conv_branches(values(&xs), crate::spectral::Layout::SampleMajor, batch, len, c_in, &[branch], false);
    let y = flex(y, [batch, c_out, len]);
    let mut nodes = vec![x.node.clone(), w.node.clone()];
    nodes.extend(bias.as_ref().map(|b| b.node.clone()));
    from_ad(finish!(DftConvBackward, nodes, DftConvSaved { x: xs, w: ws }, y))
}

impl DftConvBackward {
    fn grads<const N: usize>(ops: Ops<DftConvSaved, N>, grads: &mut Gradients) {
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let s = &ops.state;
        let xshape = s.x.layout().shape().clone();
        let wshape = s.w.layout().shape().clone();
        let (batch, c_in, len) = (xshape[0], xshape[1], xshape[2]);
        let branch = crate::spectral::Branch { weight: values(&s.w), bias: None, out: wshape[0], k: wshape[2] };
        let (want_dx, want_dw) = (ops.parents[0].is_some(), ops.parents[1].is_some());
        let (dx, dw, db) = crate::spectral::conv_backward(values(&s.x), values(&dy), batch, len, c_in, &branch, want_dx, want_dw);
        if let Some(node) = &ops.parents[0] {
            grads.register::<Flex>(node.id, flex(dx, xshape));
        }
        if let Some(node) = &ops.parents[1] {
            grads.register::<Flex>(node.id, flex(dw, wshape));
        }
        if let Some(Some(node)) = ops.parents.get(2) {
            grads.register::<Flex>(node.id, flex(db, [branch.out]));
        }
    }
}

impl Backward<Flex, 2> for DftConvBackward {
    type State = DftConvSaved;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        Self::grads(ops, grads);
    }
}

impl Backward<Flex, 3> for DftConvBackward {
    type State = DftConvSaved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        Self::grads(ops, grads);
    }
}

impl ConvBackward {
    fn grads<const N: usize>(ops: Ops<ConvSaved, N>, grads: &mut Gradients) {
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let dy = values(&dy);
        let s = &ops.state;
        let w = values(&s.w);
        let shape = s.w.layout().shape().clone();
        let (c_out, c_in, k) = (shape[0], shape[1], shape[2]);
        let (batch, len) = (s.batch, s.len);
        let (lp, pad) = (len + k - 1, (k - 1) / 2);
        let groups = sample_groups(batch, k);
        let (want_dx, want_dw) = (ops.parents[0].is_some(), ops.parents[1].is_some());
        let mut dx = vec![0f32; if want_dx { batch * c_in * len } else { 0 }];
        let dx_blocks: Vec<Option<&mut [f32]>> = if want_dx {
            blocks_mut(&mut dx, &groups, c_in * len).into_iter().map(Some).collect()
        } else {
            groups.iter().map(|_| None).collect()
        };
        // Per thread: its samples' dX, and its share of dW as (k, C_out, C_in); the shares are
        // added in thread order.
        let shares: Vec<Vec<f32>> = dx_blocks
            .into_par_iter()
            .zip(groups.par_iter())
            .map(|(mut dxt, runs)| {
                let first = runs[0].start;
                let mut dwk = vec![0f32; if want_dw { k * c_out * c_in } else { 0 }];
                for r in runs {
                    let (nl, a) = (r.len() * lp, r.start - first);
                    let n = nl - (k - 1);
                    // dY in the forward's output layout: column b·lp + t, zeros for t ≥ L (the
                    // dropped outputs get no gradient).
                    let mut dycm = vec![0f32; c_out * nl];
                    fold(&dy[r.start * c_out * len..r.end * c_out * len], c_out, len, lp, 0, &mut dycm);
                    if let Some(dxt) = dxt.as_deref_mut() {
                        // dX[:, j ..] += W[:, :, j]ᵀ · dY per tap, then each sample's padding is dropped.
                        let mut dxcm = vec![0f32; c_in * nl];
                        for j in 0..k {
                            sgemm_with(false, (c_in, n, c_out), &w[j..], (k, c_in * k), &dycm, (nl, 1), &mut dxcm[j..], nl, true);
                        }
                        unfold(&dxcm, c_in, len, lp, pad, None, &mut dxt[a * c_in * len..(r.end - first) * c_in * len]);
                    }
                    if want_dw {
                        // dW[:, :, j] += dY · X[:, j ..]ᵀ over the run.
                        let xg = &s.xcm[r.start * c_in * lp..r.end * c_in * lp];
                        for (j, dst) in dwk.chunks_mut(c_out * c_in).enumerate() {
                            sgemm_with(false, (c_out, c_in, n), &dycm, (nl, 1), &xg[j..], (1, nl), dst, c_in, true);
                        }
                    }
                }
                dwk
            })
            .collect();
        let mut dwk = vec![0f32; if want_dw { k * c_out * c_in } else { 0 }];
        for share in &shares {
            dwk.iter_mut().zip(share).for_each(|(a, b)| *a += b);
        }
        if let Some(node) = &ops.parents[0] {
            grads.register::<Flex>(node.id, flex(dx, [batch, c_in, len]));
        }
        if let Some(node) = &ops.parents[1] {
            let mut dw = vec![0f32; c_out * c_in * k];
            for j in 0..k {
                for (i, v) in dwk[j * c_out * c_in..(j + 1) * c_out * c_in].iter().enumerate() {
                    dw[i * k + j] = *v;
                }
            }
            grads.register::<Flex>(node.id, flex(dw, [c_out, c_in, k]));
        }
        if let Some(Some(node)) = ops.parents.get(2) {
            let mut db = vec![0f64; c_out];
            for dyb in dy.chunks(c_out * len) {
                for (d, r) in db.iter_mut().zip(dyb.chunks(len)) {
                    *d += lane_sum(len, |t| r[t]) as f64;
                }
            }
            grads.register::<Flex>(node.id, flex(db.into_iter().map(|v| v as f32).collect(), [c_out]));
        }
    }
}

impl Backward<Flex, 2> for ConvBackward {
    type State = ConvSaved;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        Self::grads(ops, grads);
    }
}

impl Backward<Flex, 3> for ConvBackward {
    type State = ConvSaved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        Self::grads(ops, grads);
    }
}

#[derive(Clone, Debug)]
struct LayerNormSaved {
    /// Input rows `(N, D)`, contiguous (the tensor's shape kept for the gradient).
    x: FlexTensor,
    mean: Arc<Vec<f32>>,
    rstd: Arc<Vec<f32>>,
    gamma: Arc<Vec<f32>>,
}

#[derive(Debug)]
struct LayerNormBackward;

/// LayerNorm over the last dimension with PyTorch semantics (biased variance, `eps` inside the
/// square root): `x (…, D)`, `gamma`, `beta (D)` → `(…, D)`. Only on [`fast_training`]'s backend;
/// equals burn's `LayerNorm` (unit tests).
pub fn layer_norm<B: Backend, const N: usize>(x: Tensor<B, N>, gamma: Tensor<B, 1>, beta: Tensor<B, 1>, eps: f64) -> Tensor<B, N> {
    let d = x.dims()[N - 1];
    let [x, gamma, beta] = [to_ad(x), to_ad(gamma), to_ad(beta)];
    let nodes = [&x, &gamma, &beta].map(|t| t.node.clone());
    let xs = contiguous(&x.primitive);
    let (g, bt) = (values(&contiguous(&gamma.primitive)).to_vec(), values(&contiguous(&beta.primitive)).to_vec());
    let xv = values(&xs);
    let rows = xv.len() / d;
    let mut mean = vec![0f32; rows];
    let mut rstd = vec![0f32; rows];
    let mut y = vec![0f32; xv.len()];
    y.par_chunks_mut(d)
        .zip(xv.par_chunks(d))
        .zip(mean.par_iter_mut().zip(rstd.par_iter_mut()))
        .for_each(|((out, r), (m, rs))| (*m, *rs) = crate::kernels::layer_norm_row(r, &g, &bt, eps, out));
    let y = FlexTensor::from_data(TensorData::new(y, xs.layout().shape().clone()));
    let out = match LayerNormBackward.prepare::<NoCheckpointing>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(
            LayerNormSaved { x: xs, mean: Arc::new(mean), rstd: Arc::new(rstd), gamma: Arc::new(g) },
            y,
        ),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    from_ad(out)
}

impl Backward<Flex, 3> for LayerNormBackward {
    type State = LayerNormSaved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let s = ops.state;
        let (x, dy) = (values(&s.x), values(&dy));
        let d = s.gamma.len();
        if let Some(node) = node_x {
            let mut dx = vec![0f32; x.len()];
            dx.par_chunks_mut(d).enumerate().for_each(|(i, out)| {
                let (r, dr) = (&x[i * d..(i + 1) * d], &dy[i * d..(i + 1) * d]);
                let (m, rs) = (s.mean[i], s.rstd[i]);
                // dx̂ = dy·γ; dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂))
                let a = lane_sum(d, |j| dr[j] * s.gamma[j]) / d as f32;
                let b = lane_sum(d, |j| dr[j] * s.gamma[j] * (r[j] - m) * rs) / d as f32;
                for (j, o) in out.iter_mut().enumerate() {
                    *o = rs * (dr[j] * s.gamma[j] - a - (r[j] - m) * rs * b);
                }
            });
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dx, s.x.layout().shape().clone())));
        }
        if node_gamma.is_some() || node_beta.is_some() {
            // Column sums over rows: Σ dy·x̂ (γ) and Σ dy (β), per task then added.
            let rows = x.len() / d;
            let per_task = rows.div_ceil(4 * rayon::current_num_threads().max(1));
            let (dg, db) = (0..rows)
                .into_par_iter()
                .with_min_len(per_task)
                .fold(
                    || (vec![0f32; d], vec![0f32; d]),
                    |(mut dg, mut db), i| {
                        let (r, dr) = (&x[i * d..(i + 1) * d], &dy[i * d..(i + 1) * d]);
                        let (m, rs) = (s.mean[i], s.rstd[i]);
                        for j in 0..d {
                            dg[j] += dr[j] * (r[j] - m) * rs;
                            db[j] += dr[j];
                        }
                        (dg, db)
                    },
                )
                .reduce(
                    || (vec![0f32; d], vec![0f32; d]),
                    |(mut a, mut b), (c, e)| {
                        a.iter_mut().zip(&c).for_each(|(x, y)| *x += y);
                        b.iter_mut().zip(&e).for_each(|(x, y)| *x += y);
                        (a, b)
                    },
                );
            if let Some(node) = node_gamma {
                grads.register::<Flex>(node.id, flex(dg, [d]));
            }
            if let Some(node) = node_beta {
                grads.register::<Flex>(node.id, flex(db, [d]));
            }
        }
    }
}

/// `y[o] = Σ_{i ∈ group(o)} Σ_j w[o, i, j] · x[i][t + j − pad]` for every row pair of `x (B, C, L)`
/// (zero padding, `pad = (k − 1) / 2`), `w (C, 2, k)`: each output position is summed in
/// registers over the 2 × k taps, 8 positions at a time.
fn pairs_conv(x: &[f32], w: &[f32], c: usize, l: usize, k: usize) -> Vec<f32> {
    const T: usize = 8;
    let pad = (k - 1) / 2;
    let lp = l.div_ceil(T) * T + k - 1;
    let mut out = vec![0f32; x.len()];
    out.par_chunks_mut(2 * l).zip(x.par_chunks(2 * l)).enumerate().for_each(|(i, (o, xin))| {
        let g = i % (c / 2);
        let mut xp = vec![0f32; 2 * lp];
        xp[pad..pad + l].copy_from_slice(&xin[..l]);
        xp[lp + pad..lp + pad + l].copy_from_slice(&xin[l..]);
        let (x0, x1) = xp.split_at(lp);
        let taps = |r: usize| &w[(4 * g + r) * k..(4 * g + r + 1) * k];
        let (o0, o1) = o.split_at_mut(l);
        for t0 in (0..l).step_by(T) {
            let [p, q] = crate::kernels::group_taps(x0, x1, [taps(0), taps(1), taps(2), taps(3)], t0);
            let n = T.min(l - t0);
            o0[t0..t0 + n].copy_from_slice(&p[..n]);
            o1[t0..t0 + n].copy_from_slice(&q[..n]);
        }
    });
    out
}

#[derive(Clone, Debug)]
struct PairsSaved {
    /// Input `(B, C, L)`, contiguous.
    x: FlexTensor,
    /// Weight `(C, 2, k)`.
    w: FlexTensor,
}

#[derive(Debug)]
struct PairsBackward;

/// Conv1d with 2 input channels per group and as many outputs as inputs, stride 1, 'same'
/// padding, no bias: `x (B, C, L)`, `w (C, 2, k)` (PyTorch layout, odd `k`) → `(B, C, L)`. Only on
/// [`fast_training`]'s backend; equals burn's `conv1d` with `groups = C / 2` (unit tests).
pub fn grouped_conv_pairs<B: Backend>(x: Tensor<B, 3>, w: Tensor<B, 3>) -> Tensor<B, 3> {
    let [_, c, l] = x.dims();
    let k = w.dims()[2];
    let [x, w] = [to_ad(x), to_ad(w)];
    let nodes = [&x, &w].map(|t| t.node.clone());
    let (xs, ws) = (contiguous(&x.primitive), contiguous(&w.primitive));
    let shape = xs.layout().shape().clone();
    let y = FlexTensor::from_data(TensorData::new(pairs_conv(values(&xs), values(&ws), c, l, k), shape));
    let out = match PairsBackward.prepare::<NoCheckpointing>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(PairsSaved { x: xs, w: ws }, y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    from_ad(out)
}

impl Backward<Flex, 2> for PairsBackward {
    type State = PairsSaved;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_w] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let (x, w, dy_v) = (values(&ops.state.x), values(&ops.state.w), values(&dy));
        let shape = ops.state.x.layout().shape().clone();
        let (c, l) = (shape[1], shape[2]);
        let k = w.len() / (2 * c);
        if let Some(node) = node_x {
            // dx[i][s] = Σ_o Σ_j w[o, i, k−1−j] · dy[o][s + j − pad]: the same row-pair convolution
            // with each group's 2 × 2 weights transposed and the taps reversed.
            let mut wt = vec![0f32; w.len()];
            for g in 0..c / 2 {
                for (i, o, j) in (0..2).flat_map(|i| (0..2).flat_map(move |o| (0..k).map(move |j| (i, o, j)))) {
                    wt[(2 * g + i) * 2 * k + o * k + j] = w[(2 * g + o) * 2 * k + i * k + (k - 1 - j)];
                }
            }
            let dx = pairs_conv(dy_v, &wt, c, l, k);
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dx, shape.clone())));
        }
        if let Some(node) = node_w {
            // dw[o, i, j] = Σ_b Σ_t dy[b, o, t] · x[b, i, t + j − pad], one group per task.
            let pad = (k - 1) / 2;
            let batch = x.len() / (c * l);
            let mut dw = vec![0f32; w.len()];
            dw.par_chunks_mut(4 * k).enumerate().for_each(|(g, dwg)| {
                let mut xp = vec![0f32; 2 * (l + k - 1)];
                let lp = l + k - 1;
                for b in 0..batch {
                    let row = (b * c + 2 * g) * l;
                    xp[pad..pad + l].copy_from_slice(&x[row..row + l]);
                    xp[lp + pad..lp + pad + l].copy_from_slice(&x[row + l..row + 2 * l]);
                    for o in 0..2 {
                        let d = &dy_v[row + o * l..row + (o + 1) * l];
                        for i in 0..2 {
                            let xr = &xp[i * lp..(i + 1) * lp];
                            for j in 0..k {
                                dwg[o * 2 * k + i * k + j] += lane_sum(l, |t| d[t] * xr[t + j]);
                            }
                        }
                    }
                }
            });
            grads.register::<Flex>(node.id, flex(dw, [c, 2, k]));
        }
    }
}

/// What a training-mode BatchNorm (+ SiLU) keeps for its backward pass.
#[derive(Clone, Debug)]
struct NormSaved {
    /// Input `(B, C, L)`, contiguous.
    x: FlexTensor,
    mean: Arc<Vec<f32>>,
    /// `1 / sqrt(var + eps)` per channel.
    rstd: Arc<Vec<f32>>,
    gamma: Arc<Vec<f32>>,
    beta: Arc<Vec<f32>>,
    channels: usize,
    silu: bool,
}

#[derive(Debug)]
struct NormBackward;

/// Batch statistics of a BatchNorm in training mode, for the running-statistics update.
pub struct BatchStats {
    /// Per-channel mean over `(batch, length)`.
    pub mean: Vec<f32>,
    /// Per-channel biased variance over `(batch, length)`.
    pub var: Vec<f32>,
}

/// Per-channel totals of per-row values `f(row index, row) → [f32; 2]` over the rows `(b, c)` of a
/// `(B, C, L)` buffer (rows in parallel, channel totals in f64).
fn channel_sums(rows: usize, channels: usize, f: impl Fn(usize) -> [f32; 2] + Sync + Send) -> Vec<[f64; 2]> {
    let per_row: Vec<[f32; 2]> = (0..rows).into_par_iter().map(f).collect();
    let mut totals = vec![[0f64; 2]; channels];
    for (i, v) in per_row.iter().enumerate() {
        let t = &mut totals[i % channels];
        t[0] += v[0] as f64;
        t[1] += v[1] as f64;
    }
    totals
}

/// BatchNorm1d in training mode (normalised by the biased batch variance over `(batch, length)`,
/// PyTorch semantics), then SiLU when `silu`: `x (B, C, L)`, `gamma`, `beta (C)` → `(B, C, L)`,
/// and the batch statistics for the caller's running-statistics update. Only on
/// [`fast_training`]'s backend; equals [`crate::nn::BatchNorm1d`]'s generic path (unit tests).
pub fn batch_norm<B: Backend>(x: Tensor<B, 3>, gamma: Tensor<B, 1>, beta: Tensor<B, 1>, eps: f64, silu: bool) -> (Tensor<B, 3>, BatchStats) {
    let [_, channels, len] = x.dims();
    let [x, gamma, beta] = [to_ad(x), to_ad(gamma), to_ad(beta)];
    let nodes = [&x, &gamma, &beta].map(|t| t.node.clone());
    let xs = contiguous(&x.primitive);
    let shape = xs.layout().shape().clone();
    let g = values(&contiguous(&gamma.primitive)).to_vec();
    let bt = values(&contiguous(&beta.primitive)).to_vec();
    let xv = values(&xs);
    let n = (xv.len() / channels) as f64;
    let rows = xv.len() / len;
    let row = |i: usize| &xv[i * len..(i + 1) * len];
    let sums = channel_sums(rows, channels, |i| [lane_sum(len, |j| row(i)[j]), 0.0]);
    let mean: Vec<f32> = sums.iter().map(|s| (s[0] / n) as f32).collect();
    let sq = channel_sums(rows, channels, |i| {
        let (r, m) = (row(i), mean[i % channels]);
        [lane_sum(len, |j| (r[j] - m) * (r[j] - m)), 0.0]
    });
    let var: Vec<f32> = sq.iter().map(|s| (s[0] / n) as f32).collect();
    let rstd: Vec<f32> = var.iter().map(|v| 1.0 / (*v as f64 + eps).sqrt() as f32).collect();
    let mut y = vec![0f32; xv.len()];
    y.par_chunks_mut(len).zip(xv.par_chunks(len)).enumerate().for_each(|(i, (out, row))| {
        let c = i % channels;
        let (a, s) = (g[c] * rstd[c], bt[c] - mean[c] * g[c] * rstd[c]);
        for (o, &v) in out.iter_mut().zip(row) {
            let z = v * a + s;
            *o = if silu { crate::kernels::silu(z) } else { z };
        }
    });
    let y = FlexTensor::from_data(TensorData::new(y, shape));
    let out = match NormBackward.prepare::<NoCheckpointing>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(
            NormSaved {
                x: xs,
                mean: Arc::new(mean.clone()),
                rstd: Arc::new(rstd),
                gamma: Arc::new(g),
                beta: Arc::new(bt),
                channels,
                silu,
            },
            y,
        ),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    (from_ad(out), BatchStats { mean, var })
}

impl Backward<Flex, 3> for NormBackward {
    type State = NormSaved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let s = ops.state;
        let (x, dy) = (values(&s.x), values(&dy));
        let channels = s.channels;
        let len = *s.x.layout().shape().last().expect("(B, C, L)");
        let n = (x.len() / channels) as f32;
        let rows = x.len() / len;
        // dL/dz for z = γ·x̂ + β (through SiLU when present), recomputed from x, per row.
        let mut dz = vec![0f32; x.len()];
        dz.par_chunks_mut(len).enumerate().for_each(|(i, out)| {
            let c = i % channels;
            let (m, r, g, bt) = (s.mean[c], s.rstd[c], s.gamma[c], s.beta[c]);
            let (xr, dr) = (&x[i * len..(i + 1) * len], &dy[i * len..(i + 1) * len]);
            if s.silu {
                for ((o, &v), &d) in out.iter_mut().zip(xr).zip(dr) {
                    let z = g * ((v - m) * r) + bt;
                    let sg = sigmoid(z);
                    *o = d * sg * (1.0 + z * (1.0 - sg));
                }
            } else {
                out.copy_from_slice(dr);
            }
        });
        // Σ dz and Σ dz·x̂ per channel.
        let sums = channel_sums(rows, channels, |i| {
            let c = i % channels;
            let (m, r) = (s.mean[c], s.rstd[c]);
            let (xr, gr) = (&x[i * len..(i + 1) * len], &dz[i * len..(i + 1) * len]);
            [lane_sum(len, |j| gr[j]), lane_sum(len, |j| gr[j] * ((xr[j] - m) * r))]
        });
        if let Some(node) = node_x {
            let mut dx = vec![0f32; x.len()];
            dx.par_chunks_mut(len).enumerate().for_each(|(i, out)| {
                let c = i % channels;
                let (mean_dz, mean_dzx) = (sums[c][0] as f32 / n, sums[c][1] as f32 / n);
                let (m, r) = (s.mean[c], s.rstd[c]);
                let k = s.gamma[c] * r;
                let (xr, gr) = (&x[i * len..(i + 1) * len], &dz[i * len..(i + 1) * len]);
                for ((o, &v), &g) in out.iter_mut().zip(xr).zip(gr) {
                    *o = k * (g - mean_dz - (v - m) * r * mean_dzx);
                }
            });
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dx, s.x.layout().shape().clone())));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, flex(sums.iter().map(|v| v[1] as f32).collect(), [channels]));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, flex(sums.iter().map(|v| v[0] as f32).collect(), [channels]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// Relative difference `max |a − b| / max |b|`.
    pub(super) fn rel(a: &[f32], b: &[f32]) -> f32 {
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
        a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
    }

    pub(super) fn data<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().convert::<f32>().into_vec::<f32>().unwrap()
    }

    /// Runs `go` on the fast path and under [`generic_autodiff`]; each named output must agree to a
    /// relative 1e-4.
    pub(super) fn assert_same_as_generic(go: impl Fn() -> Vec<Vec<f32>>, names: &[&str], context: &str) {
        let (fast, generic) = (go(), generic_autodiff(&go));
        assert_eq!(fast.len(), generic.len(), "{context}");
        for ((f, g), name) in fast.iter().zip(&generic).zip(names) {
            let r = rel(f, g);
            assert!(f.len() == g.len() && r < 1e-4, "{context} {name}: relative difference {r}");
        }
    }

    /// The inference direction (one fused product per step) equals the training op's forward
    /// pass (input products first, then the recurrent ones) in both directions, written at a
    /// column offset of a wider output.
    #[test]
    fn lstm_inference_equals_training_forward() {
        type B = burn::backend::Flex;
        let device = Default::default();
        let (batch, len, input, h) = (5, 7, 6, 4);
        let rand = |shape: Vec<usize>| data(Tensor::<B, 1>::random([shape.iter().product::<usize>()], Distribution::Uniform(-1.0, 1.0), &device));
        let x = rand(vec![len * batch, input]);
        for reverse in [false, true] {
            let (w_ih, w_hh, bias) = (rand(vec![4 * h, input]), rand(vec![4 * h, h]), rand(vec![4 * h]));
            let (_, _, want) = lstm_forward(&x, &w_ih, &w_hh, &bias, batch, reverse);
            let mut out = vec![7f32; len * batch * 3 * h];
            lstm_inference(&x, &w_ih, &w_hh, &bias, batch, reverse, &mut out, 3 * h, h);
            let got: Vec<f32> = out.chunks_exact(3 * h).flat_map(|r| r[h..2 * h].to_vec()).collect();
            assert!(rel(&got, &want) < 1e-5, "reverse {reverse}: relative difference {}", rel(&got, &want));
            assert!(out.chunks_exact(3 * h).all(|r| r[..h].iter().chain(&r[2 * h..]).all(|&v| v == 7.0)), "wrote outside its columns");
        }
    }

    /// The BiLSTM's output and the gradients of a weighted sum of it with respect to the input and
    /// every weight: hand-written backward = burn's generic autodiff, to a relative 1e-4. Eight
    /// random draws: a race in the generic path (both directions' graphs built on two threads)
    /// showed in ~9 % of single draws.
    #[test]
    fn bilstm_gradients_equal_generic_autodiff() {
        for draw in 0..8 {
            bilstm_gradients_once(draw);
        }
    }

    fn bilstm_gradients_once(draw: usize) {
        let device = Default::default();
        let (batch, len, input, hidden) = (3, 7, 5, 6);
        let lstm = crate::nn::BiLstm::<Ad>::new(input, hidden, &device);
        let x = Tensor::<Ad, 3>::random([batch, len, input], Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<Ad, 3>::random([batch, len, 2 * hidden], Distribution::Normal(0.0, 1.0), &device);
        let run = |generic: bool| {
            let go = || {
                let x = x.clone().require_grad();
                let out = lstm.forward(x.clone());
                let loss = (out.clone() * w.clone()).sum();
                let grads = loss.backward();
                let mut all = vec![data(out)];
                all.push(data(x.grad(&grads).expect("dx")));
                for d in [&lstm.fwd, &lstm.bwd] {
                    all.push(data(d.w_ih.grad(&grads).expect("dW_ih")));
                    all.push(data(d.w_hh.grad(&grads).expect("dW_hh")));
                    all.push(data(d.b_ih.grad(&grads).expect("db_ih")));
                    all.push(data(d.b_hh.grad(&grads).expect("db_hh")));
                }
                all
            };
            if generic {
                generic_autodiff(go)
            } else {
                assert!(fast_training::<Ad>());
                go()
            }
        };
        let (fast, generic) = (run(false), run(true));
        let names = ["output", "dx", "dW_ih", "dW_hh", "db_ih", "db_hh", "dW_ih_rev", "dW_hh_rev", "db_ih_rev", "db_hh_rev"];
        for ((f, g), name) in fast.iter().zip(&generic).zip(names) {
            assert_eq!(f.len(), g.len(), "{name}");
            let r = rel(f, g);
            assert!(r < 1e-4, "draw {draw}, {name}: relative difference {r}");
        }
    }

    /// Training-mode BatchNorm (with and without SiLU): output, running statistics and the
    /// gradients of a weighted sum with respect to the input, γ and β = generic autodiff to 1e-4.
    #[test]
    fn batch_norm_gradients_equal_generic_autodiff() {
        let device = Default::default();
        let (batch, channels, len) = (3, 5, 11);
        let x = Tensor::<Ad, 3>::random([batch, channels, len], Distribution::Normal(0.5, 2.0), &device);
        let w = Tensor::<Ad, 3>::random([batch, channels, len], Distribution::Normal(0.0, 1.0), &device);
        let gamma = Tensor::<Ad, 1>::random([channels], Distribution::Normal(1.0, 0.5), &device);
        let beta = Tensor::<Ad, 1>::random([channels], Distribution::Normal(0.0, 0.5), &device);
        for silu in [false, true] {
            let run = |generic: bool| {
                let go = || {
                    let mut bn = crate::nn::BatchNorm1d::<Ad>::new(channels, &device);
                    bn.weight = burn::module::Param::from_tensor(gamma.clone());
                    bn.bias = burn::module::Param::from_tensor(beta.clone());
                    // Non-contiguous input, as after a transpose.
                    let xt = x.clone().swap_dims(0, 2).require_grad();
                    let xin = xt.clone().swap_dims(0, 2);
                    let out = if silu { bn.forward_silu(xin) } else { bn.forward(xin) };
                    let loss = (out.clone() * w.clone()).sum();
                    let grads = loss.backward();
                    vec![
                        data(out),
                        data(xt.grad(&grads).expect("dx")),
                        data(bn.weight.grad(&grads).expect("dγ")),
                        data(bn.bias.grad(&grads).expect("dβ")),
                        data(bn.running_mean.value()),
                        data(bn.running_var.value()),
                    ]
                };
                if generic {
                    generic_autodiff(go)
                } else {
                    go()
                }
            };
            let (fast, generic) = (run(false), run(true));
            for ((f, g), name) in fast.iter().zip(&generic).zip(["output", "dx", "dγ", "dβ", "running_mean", "running_var"]) {
                let r = rel(f, g);
                assert!(r < 1e-4, "silu {silu}, {name}: relative difference {r}");
            }
        }
    }

    /// The 2-channels-per-group convolution: output and gradients = burn's grouped `conv1d` under
    /// generic autodiff, to 1e-4 (ragged length, k = 7).
    #[test]
    fn grouped_conv_gradients_equal_generic_autodiff() {
        let device = Default::default();
        let (batch, channels, len, k) = (3, 8, 13, 7);
        let conv = crate::nn::conv1d_same::<Ad>(channels, channels, k, channels / 2, false, crate::nn::ConvInit::TorchDefault, &device);
        let x = Tensor::<Ad, 3>::random([batch, channels, len], Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<Ad, 3>::random([batch, channels, len], Distribution::Normal(0.0, 1.0), &device);
        let go = || {
            let x = x.clone().require_grad();
            let out = crate::nn::conv_forward(&conv, x.clone());
            let grads = (out.clone() * w.clone()).sum().backward();
            vec![data(out), data(x.grad(&grads).expect("dx")), data(conv.weight.grad(&grads).expect("dw"))]
        };
        assert_same_as_generic(go, &["output", "dx", "dw"], "");
    }

    /// The dense 'same' convolution (k = 1, 7 with bias and without): output and gradients =
    /// burn's `conv1d` under generic autodiff, to 1e-4.
    #[test]
    fn conv1d_gradients_equal_generic_autodiff() {
        let device = Default::default();
        let (batch, c_in, c_out, len) = (3, 5, 4, 13);
        for (k, bias) in [(1, false), (7, false), (7, true), (9, true)] {
            let conv = crate::nn::conv1d_same::<Ad>(c_in, c_out, k, 1, bias, crate::nn::ConvInit::TorchDefault, &device);
            let x = Tensor::<Ad, 3>::random([batch, c_in, len], Distribution::Normal(0.0, 1.0), &device);
            let w = Tensor::<Ad, 3>::random([batch, c_out, len], Distribution::Normal(0.0, 1.0), &device);
            let run = |generic: bool| {
                let go = || {
                    let x = x.clone().require_grad();
                    let out = crate::nn::conv_forward(&conv, x.clone());
                    let grads = (out.clone() * w.clone()).sum().backward();
                    let mut all = vec![data(out), data(x.grad(&grads).expect("dx")), data(conv.weight.grad(&grads).expect("dw"))];
                    all.extend(conv.bias.as_ref().map(|b| data(b.grad(&grads).expect("db"))));
                    all
                };
                if generic {
                    generic_autodiff(go)
                } else {
                    go()
                }
            };
            let (fast, generic) = (run(false), run(true));
            assert_eq!(fast.len(), generic.len());
            for ((f, g), name) in fast.iter().zip(&generic).zip(["output", "dx", "dw", "db"]) {
                let r = rel(f, g);
                assert!(r < 1e-4, "k {k}, bias {bias}, {name}: relative difference {r}");
            }
        }
    }

    /// The convolution through the DFT: output and gradients = burn's `conv1d` under generic
    /// autodiff, to 1e-4 (k 9 and 15 with and without bias, k 1; 258 samples: a full chunk of
    /// the spectral route and a partial one).
    #[test]
    fn conv1d_dft_gradients_equal_generic_autodiff() {
        let device = Default::default();
        let (batch, c_in, c_out, len) = (258, 6, 4, 19);
        for (k, bias) in [(9, true), (15, false), (1, true)] {
            let conv = crate::nn::conv1d_same::<Ad>(c_in, c_out, k, 1, bias, crate::nn::ConvInit::TorchDefault, &device);
            let x = Tensor::<Ad, 3>::random([batch, c_in, len], Distribution::Normal(0.0, 1.0), &device);
            let w = Tensor::<Ad, 3>::random([batch, c_out, len], Distribution::Normal(0.0, 1.0), &device);
            let run = |dft: bool| {
                let x = x.clone().require_grad();
                let out = if dft {
                    conv1d_dft(x.clone(), conv.weight.val(), conv.bias.as_ref().map(|b| b.val()))
                } else {
                    generic_autodiff(|| conv.forward(x.clone()))
                };
                let grads = (out.clone() * w.clone()).sum().backward();
                let mut all = vec![data(out), data(x.grad(&grads).expect("dx")), data(conv.weight.grad(&grads).expect("dw"))];
                all.extend(conv.bias.as_ref().map(|b| data(b.grad(&grads).expect("db"))));
                all
            };
            let (fast, generic) = (run(true), run(false));
            assert_eq!(fast.len(), generic.len());
            for ((f, g), name) in fast.iter().zip(&generic).zip(["output", "dx", "dw", "db"]) {
                let r = rel(f, g);
                assert!(r < 1e-4, "k {k}, bias {bias}, {name}: relative difference {r}");
            }
        }
    }

    /// LayerNorm over the last dimension: output and gradients = burn's `LayerNorm` under generic
    /// autodiff, to 1e-4.
    #[test]
    fn layer_norm_gradients_equal_generic_autodiff() {
        let device = Default::default();
        let (batch, len, d) = (3, 7, 19);
        let mut ln = burn::nn::LayerNormConfig::new(d).with_epsilon(1e-6).init::<Ad>(&device);
        ln.gamma = burn::module::Param::from_tensor(Tensor::random([d], Distribution::Normal(1.0, 0.5), &device));
        ln.beta = Some(burn::module::Param::from_tensor(Tensor::random([d], Distribution::Normal(0.0, 0.5), &device)));
        let x = Tensor::<Ad, 3>::random([batch, len, d], Distribution::Normal(0.3, 2.0), &device);
        let w = Tensor::<Ad, 3>::random([batch, len, d], Distribution::Normal(0.0, 1.0), &device);
        let go = || {
            let x = x.clone().require_grad();
            let out = crate::nn::layer_norm(&ln, x.clone(), 1e-6);
            let grads = (out.clone() * w.clone()).sum().backward();
            vec![
                data(out),
                data(x.grad(&grads).expect("dx")),
                data(ln.gamma.grad(&grads).expect("dγ")),
                data(ln.beta.as_ref().unwrap().grad(&grads).expect("dβ")),
            ]
        };
        assert_same_as_generic(go, &["output", "dx", "dγ", "dβ"], "");
    }
}
