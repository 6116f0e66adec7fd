//! Layers with PyTorch semantics that the blocks share: 'same'-padded Conv1d, BatchNorm1d,
//! a bidirectional LSTM with packed gates and multi-head self-attention with a packed input
//! projection. Weight layouts equal PyTorch's so reference `state_dict`s load as they are.
//!
//! Training vs evaluation follows burn's convention: dropout and batch statistics are active on an
//! autodiff backend (training), inactive otherwise (inference = PyTorch `eval()`). [`eval_mode`]
//! gives `eval()` on an autodiff backend too, for gradients of the model as it predicts (Taylor ISM).

use burn::module::{Module, Param, RunningState};
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Initializer, PaddingConfig1d};
use burn::tensor::activation::{sigmoid, silu};
use burn::tensor::module::attention;
use burn::tensor::{backend::Backend, Distribution, Tensor};

use crate::kernels;
use crate::weights::{Layout, ParamVisitor};

thread_local! {
    static EVAL_MODE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The dropout stream of this thread: (seed, draws so far).
    static DROPOUT_RNG: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// Restarts this thread's dropout stream at `seed` (the trainer calls it before every step).
/// Dropout masks are drawn on the host from this stream, not from the backend's generator, so a
/// step drops the same units on every backend (CPU, CUDA, wgpu) for the same seed.
pub fn seed_dropout(seed: u64) {
    DROPOUT_RNG.with(|r| r.set((seed, 0)));
}

/// `n` keep/drop factors of dropout with drop probability `prob`: `1 / (1 - prob)` where kept,
/// 0 where dropped ([`dropout_keep`]'s decisions).
pub fn dropout_mask(n: usize, prob: f64) -> Vec<f32> {
    let scale = (1.0 / (1.0 - prob)) as f32;
    dropout_keep(n, prob).into_iter().map(|k| if k { scale } else { 0.0 }).collect()
}

/// `n` dropout decisions with drop probability `prob`, `true` = kept: the next `n` draws of this
/// thread's stream ([`seed_dropout`]; SplitMix64 of the seed and the draw's index, so the values
/// do not depend on how the draws are batched).
pub fn dropout_keep(n: usize, prob: f64) -> Vec<bool> {
    let (seed, start) = DROPOUT_RNG.with(std::cell::Cell::get);
    DROPOUT_RNG.with(|r| r.set((seed, start + n as u64)));
    let keep = 1.0 - prob;
    // keep when a uniform 53-bit draw u / 2^53 < keep.
    let threshold = (keep * (1u64 << 53) as f64) as u64;
    (0..n as u64)
        .map(|i| {
            let mut z = seed.wrapping_add((start + i).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) < threshold
        })
        .collect()
}

/// Runs `f` with every layer in evaluation mode (BatchNorm from its running statistics, dropout
/// off) even on an autodiff backend, on this thread: the gradient of a prediction with respect to
/// the input is then the gradient of what `dream predict` computes (Taylor ISM,
/// [`crate::taylor`]).
pub fn eval_mode<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            EVAL_MODE.with(|m| m.set(self.0));
        }
    }
    let _restore = Restore(EVAL_MODE.with(|m| m.replace(true)));
    f()
}

/// `true` when layers run in training mode: an autodiff backend, outside [`eval_mode`].
pub fn training<B: Backend>(device: &B::Device) -> bool {
    B::ad_enabled(device) && !EVAL_MODE.with(std::cell::Cell::get)
}

/// Dropout in training mode ([`training`]), the identity otherwise. As PyTorch: each element
/// is zeroed with probability `layer.prob`, the others scaled by `1 / (1 - prob)`; the mask comes
/// from the host stream of [`seed_dropout`] (the same on every backend). In CPU training,
/// `autograd::dropout` (one byte per decision kept for the backward pass).
pub fn dropout<B: Backend, const D: usize>(layer: &burn::nn::Dropout, x: Tensor<B, D>) -> Tensor<B, D> {
    let device = x.device();
    if !training::<B>(&device) || layer.prob == 0.0 {
        return x;
    }
    #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
    if crate::autograd::fast_training::<B>() {
        return crate::autograd::dropout(x, layer.prob);
    }
    let shape = x.shape();
    let mask = dropout_mask(shape.num_elements(), layer.prob);
    x * Tensor::<B, D>::from_data(burn::tensor::TensorData::new(mask, shape), &device)
}

/// Initialisation of a convolution's weights (reference ARCHITECTURE.md §3).
#[derive(Debug, Clone, Copy)]
pub enum ConvInit {
    /// PyTorch default: weight and bias `U(±1/sqrt(fan_in))` (BHI and UnlockDNA blocks).
    TorchDefault,
    /// Autosome blocks: weight `N(0, sqrt(2 / (k · out_channels)))`, bias 0.
    Autosome,
}

/// Conv1d with stride 1 and 'same' padding `(k−1)/2` on both sides (odd `k`).
///
/// Input `(batch, c_in, length)` → output `(batch, c_out, length)`; weight
/// `(c_out, c_in / groups, k)` as in PyTorch.
pub fn conv1d_same<B: Backend>(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    groups: usize,
    bias: bool,
    init: ConvInit,
    device: &B::Device,
) -> Conv1d<B> {
    let pad = (kernel - 1) / 2;
    let initializer = match init {
        ConvInit::TorchDefault => {
            Initializer::KaimingUniform { gain: 1.0 / 3f64.sqrt(), fan_out_only: false }
        }
        ConvInit::Autosome => {
            Initializer::Normal { mean: 0.0, std: (2.0 / (kernel * c_out) as f64).sqrt() }
        }
    };
    let mut conv = Conv1dConfig::new(c_in, c_out, kernel)
        .with_padding(PaddingConfig1d::Explicit(pad, pad))
        .with_groups(groups)
        .with_bias(bias)
        .with_initializer(initializer)
        .init(device);
    if matches!(init, ConvInit::Autosome) {
        if let Some(b) = conv.bias.as_mut() {
            *b = Param::from_tensor(Tensor::zeros([c_out], device));
        }
    }
    conv
}

/// A per-channel vector `(C)` laid out as a contiguous `(batch, C, 1)` tensor, so that
/// `x (batch, C, L) ∘ v` broadcasts only over the innermost dimension (burn-flex's SIMD fast path;
/// a `(1, C, 1)` operand takes its slow strided path, ~10× slower).
pub fn per_channel<B: Backend>(v: Tensor<B, 1>, batch: usize) -> Tensor<B, 3> {
    let c = v.dims()[0];
    v.reshape([1, c, 1]).repeat_dim(0, batch)
}

/// Applies a [`conv1d_same`] convolution. On the CPU inference fast path a bias-free grouped
/// convolution with 2 channels per group takes the hand-written kernel (burn-flex's per-group
/// path is ~10× slower), and a dense one takes [`crate::gemm`] where [`kernels::own_gemm`] —
/// natively otherwise, for `k > 1`, the training op's forward pass (`autograd::conv1d_host`:
/// DREAM-CNN inference +11 % over burn-flex's convolution, README "CPU inference speed").
pub fn conv_forward<B: Backend>(conv: &Conv1d<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [c_out, per_group, k] = conv.weight.dims();
    let device = x.device();
    let same = conv.stride == 1 && conv.dilation == 1 && k % 2 == 1;
    let pairs = per_group == 2 && conv.groups * 2 == c_out && x.dims()[1] == c_out;
    #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
    if same && pairs && conv.bias.is_none() && crate::autograd::fast_training::<B>() {
        return crate::autograd::grouped_conv_pairs(x, conv.weight.val());
    }
    if same && pairs && conv.bias.is_none() && kernels::fast_path::<B>(&device) {
        kernels::grouped_conv_pairs(x, conv.weight.val(), None)
    } else if is_dense_same(conv) && fast_training_conv::<B>() {
        conv_train(conv, x)
    } else if is_dense_same(conv) && k > 1 && host_conv::<B>(&device) {
        conv_host(conv, x)
    } else if is_dense_same(conv) && kernels::own_gemm::<B>(&device) {
        kernels::conv1d(vec![x], conv.weight.val(), conv.bias.as_ref().map(|b| b.val()), None, None)
    } else {
        conv.forward(x)
    }
}

/// Whether `conv` is a dense 'same' convolution of the kind [`conv1d_same`] builds: stride 1,
/// dilation 1, one group, odd kernel.
pub fn is_dense_same<B: Backend>(conv: &Conv1d<B>) -> bool {
    conv.stride == 1 && conv.dilation == 1 && conv.groups == 1 && conv.weight.dims()[2] % 2 == 1
}

#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
fn fast_training_conv<B: Backend>() -> bool {
    crate::autograd::fast_training::<B>()
}

#[cfg(not(all(feature = "flex", not(target_arch = "wasm32"))))]
fn fast_training_conv<B: Backend>() -> bool {
    false
}

/// Native CPU inference (burn-flex, our products off): dense 'same' convolutions with `k > 1`
/// take the training op's forward pass (`autograd::conv1d_host`).
#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
fn host_conv<B: Backend>(device: &B::Device) -> bool {
    kernels::fast_path::<B>(device) && !kernels::own_gemm::<B>(device)
}

#[cfg(not(all(feature = "flex", not(target_arch = "wasm32"))))]
fn host_conv<B: Backend>(_device: &B::Device) -> bool {
    false
}

#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
fn conv_host<B: Backend>(conv: &Conv1d<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [batch, _, len] = x.dims();
    let [c_out, _, k] = conv.weight.dims();
    let device = x.device();
    let bias = conv.bias.as_ref().map(|b| kernels::host(b.val()));
    let (_, y) = crate::autograd::conv1d_host(&kernels::host(x), &kernels::host(conv.weight.val()), bias.as_deref(), batch, len, k);
    Tensor::from_data(burn::tensor::TensorData::new(y, [batch, c_out, len]), &device)
}

#[cfg(not(all(feature = "flex", not(target_arch = "wasm32"))))]
fn conv_host<B: Backend>(conv: &Conv1d<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    conv.forward(x)
}

/// CPU training: through the DFT where that costs at most half the direct sum
/// ([`crate::spectral::pays`]: DREAM-RNN's core convolutions), else the tap products.
#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
fn conv_train<B: Backend>(conv: &Conv1d<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [c_out, c_in, k] = conv.weight.dims();
    // Weight before bias: burn initialises parameters on first use, in that order.
    let (w, bias) = (conv.weight.val(), conv.bias.as_ref().map(|b| b.val()));
    if crate::spectral::pays(x.dims()[2], c_in, &[(c_out, k)]) {
        crate::autograd::conv1d_dft(x, w, bias)
    } else {
        crate::autograd::conv1d(x, w, bias)
    }
}

#[cfg(not(all(feature = "flex", not(target_arch = "wasm32"))))]
fn conv_train<B: Backend>(conv: &Conv1d<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    conv.forward(x)
}

/// burn's `LayerNorm` over the last dimension, whose `eps` is private (so the caller passes the
/// one it was configured with); on the CPU in training, [`crate::autograd::layer_norm`].
pub fn layer_norm<B: Backend, const D: usize>(ln: &burn::nn::LayerNorm<B>, x: Tensor<B, D>, eps: f64) -> Tensor<B, D> {
    #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
    if crate::autograd::fast_training::<B>() {
        if let Some(beta) = &ln.beta {
            return crate::autograd::layer_norm(x, ln.gamma.val(), beta.val(), eps);
        }
    }
    let _ = eps;
    ln.forward(x)
}

/// Visits a Conv1d's `weight` and (if present) `bias`.
pub fn visit_conv<B: Backend, V: ParamVisitor<B>>(conv: &mut Conv1d<B>, v: &mut V, prefix: &str) {
    v.param(&format!("{prefix}weight"), &mut conv.weight, Layout::Same);
    if let Some(b) = conv.bias.as_mut() {
        v.param(&format!("{prefix}bias"), b, Layout::Same);
    }
}

/// Visits a Linear's `weight` (PyTorch `(out, in)`, transposed) and (if present) `bias`.
pub fn visit_linear<B: Backend, V: ParamVisitor<B>>(l: &mut burn::nn::Linear<B>, v: &mut V, prefix: &str) {
    v.param(&format!("{prefix}weight"), &mut l.weight, Layout::Linear);
    if let Some(b) = l.bias.as_mut() {
        v.param(&format!("{prefix}bias"), b, Layout::Same);
    }
}

/// BatchNorm1d with PyTorch semantics: eps 1e-5, momentum 0.1; training normalises with the
/// biased batch variance over `(batch, length)` and updates `running_var` with the unbiased one.
///
/// Input and output `(batch, channels, length)`.
#[derive(Module, Debug)]
pub struct BatchNorm1d<B: Backend> {
    /// Scale γ `(channels)`.
    pub weight: Param<Tensor<B, 1>>,
    /// Shift β `(channels)`.
    pub bias: Param<Tensor<B, 1>>,
    /// Running mean `(channels)`.
    pub running_mean: RunningState<Tensor<B, 1>>,
    /// Running (unbiased) variance `(channels)`.
    pub running_var: RunningState<Tensor<B, 1>>,
    eps: f64,
    momentum: f64,
}

impl<B: Backend> BatchNorm1d<B> {
    /// γ = 1, β = 0, running mean 0, running var 1.
    pub fn new(channels: usize, device: &B::Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::ones([channels], device)),
            bias: Param::from_tensor(Tensor::zeros([channels], device)),
            running_mean: RunningState::new(Tensor::zeros([channels], device)),
            running_var: RunningState::new(Tensor::ones([channels], device)),
            eps: 1e-5,
            momentum: 0.1,
        }
    }

    /// The per-channel affine map `(a, s)` with `BN(x) = x·a + s`: from batch statistics when
    /// training (updating the running ones), from the running statistics in eval.
    fn affine(&self, x: &Tensor<B, 3>) -> (Tensor<B, 1>, Tensor<B, 1>) {
        let [b, c, l] = x.dims();
        let (mean, var) = if training::<B>(&x.device()) {
            let mean = x.clone().mean_dim(2).mean_dim(0).reshape([c]);
            let centred = x.clone() - per_channel(mean.clone(), b);
            let var = centred.square().mean_dim(2).mean_dim(0).reshape([c]);
            let n = (b * l) as f64;
            let unbiased = var.clone().detach() * (n / (n - 1.0).max(1.0));
            let m = self.momentum;
            self.running_mean
                .update(self.running_mean.value_sync() * (1.0 - m) + mean.clone().detach() * m);
            self.running_var.update(self.running_var.value_sync() * (1.0 - m) + unbiased * m);
            (mean, var)
        } else {
            (self.running_mean.value(), self.running_var.value())
        };
        let a = self.weight.val() / (var + self.eps).sqrt();
        let s = self.bias.val() - mean * a.clone();
        (a, s)
    }

    /// Training mode on the CPU ([`crate::autograd::batch_norm`]): normalisation (+ SiLU) as
    /// one op with its own backward pass, and the running-statistics update.
    #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
    fn forward_fast(&self, x: &Tensor<B, 3>, silu: bool) -> Option<Tensor<B, 3>> {
        let device = x.device();
        if !crate::autograd::fast_training::<B>() || !training::<B>(&device) {
            return None;
        }
        let [b, c, l] = x.dims();
        let (y, stats) = crate::autograd::batch_norm(x.clone(), self.weight.val(), self.bias.val(), self.eps, silu);
        let n = (b * l) as f64;
        let m = self.momentum;
        let v = |v: Vec<f32>| Tensor::<B, 1>::from_data(burn::tensor::TensorData::new(v, [c]), &device);
        let unbiased = v(stats.var) * (n / (n - 1.0).max(1.0));
        self.running_mean.update(self.running_mean.value_sync() * (1.0 - m) + v(stats.mean) * m);
        self.running_var.update(self.running_var.value_sync() * (1.0 - m) + unbiased * m);
        Some(y)
    }

    #[cfg(not(all(feature = "flex", not(target_arch = "wasm32"))))]
    fn forward_fast(&self, _x: &Tensor<B, 3>, _silu: bool) -> Option<Tensor<B, 3>> {
        None
    }

    /// Normalises `(batch, channels, length)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        if let Some(y) = self.forward_fast(&x, false) {
            return y;
        }
        let b = x.dims()[0];
        let (a, s) = self.affine(&x);
        x * per_channel(a, b) + per_channel(s, b)
    }

    /// `SiLU(BN(x))`, fused into one pass on the CPU inference fast path.
    pub fn forward_silu(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        if let Some(y) = self.forward_fast(&x, true) {
            return y;
        }
        if kernels::fast_path::<B>(&x.device()) {
            let (a, s) = self.affine(&x);
            kernels::affine_silu(x, a, s)
        } else {
            silu(self.forward(x))
        }
    }

    /// `SiLU(BN(conv(x)))` for a [`conv1d_same`] `conv`, where `x` is the channel concatenation
    /// of `inputs`, each scaled per sample and channel by `in_scale (batch, channels)` if given
    /// (a squeeze-excitation gate). On [`kernels::own_gemm`]'s path one fused pass per sample.
    pub fn conv_silu(&self, conv: &Conv1d<B>, inputs: Vec<Tensor<B, 3>>, in_scale: Option<Tensor<B, 2>>) -> Tensor<B, 3> {
        let device = inputs[0].device();
        let [c_out, per_group, k] = conv.weight.dims();
        let pairs = per_group == 2 && conv.groups * 2 == c_out && conv.bias.is_none() && inputs.len() == 1;
        if pairs && in_scale.is_none() && conv.stride == 1 && conv.dilation == 1 && k % 2 == 1 && kernels::fast_path::<B>(&device) {
            let (a, s) = self.affine(&inputs[0]);
            let x = inputs.into_iter().next().expect("one input");
            if x.dims()[1] == c_out {
                return kernels::grouped_conv_pairs(x, conv.weight.val(), Some((a, s)));
            }
            return self.forward_silu(conv_forward(conv, x));
        }
        if conv.groups == 1 && conv.stride == 1 && conv.dilation == 1 && k % 2 == 1 && kernels::own_gemm::<B>(&device) {
            let (a, s) = self.affine(&inputs[0]);
            return kernels::conv1d(inputs, conv.weight.val(), conv.bias.as_ref().map(|b| b.val()), in_scale, Some((a, s)));
        }
        let x = if inputs.len() == 1 { inputs.into_iter().next().expect("one input") } else { Tensor::cat(inputs, 1) };
        let x = match in_scale {
            Some(g) => x * g.unsqueeze_dim::<3>(2),
            None => x,
        };
        self.forward_silu(conv_forward(conv, x))
    }

    /// Visits `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`.
    pub fn visit_params<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        v.param(&format!("{prefix}weight"), &mut self.weight, Layout::Same);
        v.param(&format!("{prefix}bias"), &mut self.bias, Layout::Same);
        v.running(&format!("{prefix}running_mean"), &mut self.running_mean);
        v.running(&format!("{prefix}running_var"), &mut self.running_var);
        v.int64_buffer(&format!("{prefix}num_batches_tracked"), &[], &[0]);
    }
}

/// One-layer bidirectional LSTM, batch-first, zero initial state, PyTorch weight layout: gate rows
/// `[i, f, g, o]`, `W_ih (4H, I)`, `W_hh (4H, H)`, biases `(4H)`; `*_reverse` for the backward
/// direction.
///
/// Input `(batch, length, I)` → output `(batch, length, 2H)` = `[h_fwd, h_bwd]` per position.
#[derive(Module, Debug)]
pub struct BiLstm<B: Backend> {
    /// Forward direction.
    pub fwd: LstmDirection<B>,
    /// Backward direction (runs from the last position to the first).
    pub bwd: LstmDirection<B>,
    hidden: usize,
}

/// Weights of one LSTM direction.
#[derive(Module, Debug)]
pub struct LstmDirection<B: Backend> {
    /// `(4H, I)`.
    pub w_ih: Param<Tensor<B, 2>>,
    /// `(4H, H)`.
    pub w_hh: Param<Tensor<B, 2>>,
    /// `(4H)`.
    pub b_ih: Param<Tensor<B, 1>>,
    /// `(4H)`.
    pub b_hh: Param<Tensor<B, 1>>,
}

impl<B: Backend> LstmDirection<B> {
    fn new(input: usize, hidden: usize, device: &B::Device) -> Self {
        // PyTorch default: every weight and bias U(±1/sqrt(H)).
        let k = 1.0 / (hidden as f64).sqrt();
        let u2 = |rows: usize, cols: usize| {
            Param::from_tensor(Tensor::<B, 2>::random([rows, cols], Distribution::Uniform(-k, k), device))
        };
        let u1 = |n: usize| Param::from_tensor(Tensor::<B, 1>::random([n], Distribution::Uniform(-k, k), device));
        Self {
            w_ih: u2(4 * hidden, input),
            w_hh: u2(4 * hidden, hidden),
            b_ih: u1(4 * hidden),
            b_hh: u1(4 * hidden),
        }
    }

    /// Per-gate input projections `(length, batch, H)` of the time-major input `(length · batch,
    /// I)`, both biases added, gates in PyTorch order `[i, f, g, o]`.
    fn project(&self, x_tm: &Tensor<B, 2>, hidden: usize, len: usize, batch: usize) -> [Tensor<B, 3>; 4] {
        let bias = self.b_ih.val() + self.b_hh.val();
        std::array::from_fn(|g| {
            (x_tm.clone().matmul(self.w_ih.val().narrow(0, g * hidden, hidden).transpose())
                + bias.clone().narrow(0, g * hidden, hidden).reshape([1, hidden]))
            .reshape([len, batch, hidden])
        })
    }

    /// [`LstmDirection::run`] on the CPU inference fast path, from the time-major input
    /// `(length · batch, I)`: one input product for all four gates, then per step one recurrent
    /// product `(batch, H)·(H, 4H)` and the fused cell ([`kernels::lstm_step`]) — instead of
    /// four products and four element-wise passes per step.
    fn run_fast(&self, x_tm: &Tensor<B, 2>, batch: usize, reverse: bool) -> Vec<Tensor<B, 2>> {
        let h = self.w_hh.dims()[1];
        let len = x_tm.dims()[0] / batch;
        let bias = (self.b_ih.val() + self.b_hh.val()).reshape([1, 4 * h]);
        let xp = x_tm.clone().matmul(self.w_ih.val().transpose()) + bias; // (len·batch, 4H)
        let w_hh = self.w_hh.val().transpose(); // (H, 4H)
        let device = xp.device();
        let mut hs = Tensor::<B, 2>::zeros([batch, h], &device);
        let mut c = Tensor::<B, 2>::zeros([batch, h], &device);
        let mut out = vec![None; len];
        let steps: Vec<usize> = if reverse { (0..len).rev().collect() } else { (0..len).collect() };
        for t in steps {
            let r = hs.clone().matmul(w_hh.clone());
            (hs, c) = kernels::lstm_step(xp.clone().narrow(0, t * batch, batch), r, c);
            out[t] = Some(hs.clone());
        }
        out.into_iter().map(|o| o.expect("every step ran")).collect()
    }

    /// Runs over the per-gate input projections `x_proj[g] (length, batch, H)` (both biases
    /// already added), gates in PyTorch order `[i, f, g, o]`. Returns `h_t (batch, H)` per step.
    fn run(&self, x_proj: [Tensor<B, 3>; 4], hidden: usize, reverse: bool) -> Vec<Tensor<B, 2>> {
        let [len, batch, _] = x_proj[0].dims();
        let device = x_proj[0].device();
        // One (H, H) recurrent matrix per gate: each gate's pre-activation is then a contiguous
        // (batch, H) tensor (training and GPU backends; CPU inference takes `forward_fast`).
        let w_hh: Vec<Tensor<B, 2>> =
            (0..4).map(|g| self.w_hh.val().narrow(0, g * hidden, hidden).transpose()).collect();
        let mut h = Tensor::<B, 2>::zeros([batch, hidden], &device);
        let mut c = Tensor::<B, 2>::zeros([batch, hidden], &device);
        let mut out = vec![None; len];
        let steps: Vec<usize> = if reverse { (0..len).rev().collect() } else { (0..len).collect() };
        for t in steps {
            let pre = |g: usize| {
                x_proj[g].clone().narrow(0, t, 1).reshape([batch, hidden]) + h.clone().matmul(w_hh[g].clone())
            };
            let (i, f, g, o) = (sigmoid(pre(0)), sigmoid(pre(1)), pre(2).tanh(), sigmoid(pre(3)));
            c = f * c + i * g;
            h = o * c.clone().tanh();
            out[t] = Some(h.clone());
        }
        out.into_iter().map(|o| o.expect("every step ran")).collect()
    }
}

impl<B: Backend> BiLstm<B> {
    /// PyTorch-default initialised BiLSTM with `input` features and `hidden` units per direction.
    pub fn new(input: usize, hidden: usize, device: &B::Device) -> Self {
        Self {
            fwd: LstmDirection::new(input, hidden, device),
            bwd: LstmDirection::new(input, hidden, device),
            hidden,
        }
    }

    /// Hidden units per direction.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// `(batch, length, I)` → `(batch, length, 2H)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, len, input] = x.dims();
        let h = self.hidden;
        // Time-major once, so each step reads a contiguous (batch, 4H) slab.
        let x_tm = x.swap_dims(0, 1).reshape([len * batch, input]);
        #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
        if crate::autograd::fast_training::<B>() {
            // Training on the CPU: whole-sequence op with its own backpropagation through time.
            let run = |d: &LstmDirection<B>, reverse: bool| {
                crate::autograd::lstm_direction(x_tm.clone(), d.w_ih.val(), d.w_hh.val(), d.b_ih.val(), d.b_hh.val(), batch, reverse)
                    .reshape([len, batch, h])
            };
            return Tensor::cat(vec![run(&self.fwd, false), run(&self.bwd, true)], 2).swap_dims(0, 1);
        }
        if kernels::own_gemm::<B>(&x_tm.device()) {
            return self.forward_rows(x_tm, batch, len, input);
        }
        #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
        if kernels::fast_path::<B>(&x_tm.device()) {
            return self.forward_host(x_tm, batch, len, input);
        }
        let fast = kernels::fast_path::<B>(&x_tm.device());
        let run = |d: &LstmDirection<B>, reverse: bool| {
            if fast {
                d.run_fast(&x_tm, batch, reverse)
            } else {
                d.run(d.project(&x_tm, h, len, batch), h, reverse)
            }
        };
        // The two directions are independent: in inference on native targets run them on two
        // threads (the per-step matrices are small, so intra-op threading alone leaves cores
        // idle). Never under autodiff: building one graph from two threads that share the input's
        // node gave wrong gradients for the first steps of one direction in ~9 % of runs
        // (`autograd::tests::bilstm_gradients_equal_generic_autodiff`), and this is the path the
        // GPU backends train on.
        #[cfg(not(target_arch = "wasm32"))]
        let (fwd, bwd) = if B::ad_enabled(&x_tm.device()) {
            (run(&self.fwd, false), run(&self.bwd, true))
        } else {
            std::thread::scope(|s| {
                let f = s.spawn(|| run(&self.fwd, false));
                let b = run(&self.bwd, true);
                (f.join().expect("LSTM forward direction"), b)
            })
        };
        #[cfg(target_arch = "wasm32")]
        let (fwd, bwd) = (run(&self.fwd, false), run(&self.bwd, true));
        let fwd: Tensor<B, 3> = Tensor::stack(fwd, 1);
        let bwd: Tensor<B, 3> = Tensor::stack(bwd, 1);
        Tensor::cat(vec![fwd, bwd], 2)
    }

    /// [`BiLstm::forward`] on the native CPU inference path ([`crate::autograd::lstm_inference`]:
    /// per step one product `[h | x] · [W_hh | W_ih]ᵀ` and the fused cell) on host buffers, from
    /// the time-major input `(length · batch, I)`.
    #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
    fn forward_host(&self, x_tm: Tensor<B, 2>, batch: usize, len: usize, input: usize) -> Tensor<B, 3> {
        let h = self.hidden;
        let device = x_tm.device();
        let tm = self.time_major_host(x_tm, batch, len, input);
        let mut out = vec![0f32; batch * len * 2 * h];
        for (row, hr) in tm.chunks_exact(2 * h).enumerate() {
            let (t, b) = (row / batch, row % batch);
            let o = (b * len + t) * 2 * h;
            out[o..o + 2 * h].copy_from_slice(hr);
        }
        Tensor::from_data(burn::tensor::TensorData::new(out, [batch, len, 2 * h]), &device)
    }

    /// The native CPU inference path's output, time-major: `(batch, length, I)` → host rows
    /// `(length, batch, 2H)` (forward direction's `H` units, then the reverse direction's).
    #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
    pub(crate) fn forward_time_major_host(&self, x: Tensor<B, 3>) -> Vec<f32> {
        let [batch, len, input] = x.dims();
        self.time_major_host(x.swap_dims(0, 1).reshape([len * batch, input]), batch, len, input)
    }

    #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
    fn time_major_host(&self, x_tm: Tensor<B, 2>, batch: usize, len: usize, input: usize) -> Vec<f32> {
        let h = self.hidden;
        let x = kernels::host(x_tm);
        debug_assert_eq!(x.len(), len * batch * input);
        let mut out = vec![0f32; len * batch * 2 * h];
        for (col, d, reverse) in [(0, &self.fwd, false), (h, &self.bwd, true)] {
            let bias = kernels::host(d.b_ih.val() + d.b_hh.val());
            crate::autograd::lstm_inference(&x, &kernels::host(d.w_ih.val()), &kernels::host(d.w_hh.val()), &bias, batch, reverse, &mut out, 2 * h, col);
        }
        out
    }

    /// [`BiLstm::forward`] on [`crate::gemm`] from the time-major input `(length · batch, I)`:
    /// one input product per direction, then per step one recurrent product and the fused cell
    /// on host buffers, written straight into the `(batch, length, 2H)` output.
    fn forward_rows(&self, x_tm: Tensor<B, 2>, batch: usize, len: usize, input: usize) -> Tensor<B, 3> {
        let h = self.hidden;
        let device = x_tm.device();
        let x = kernels::host(x_tm);
        let mut out = vec![0f32; batch * len * 2 * h];
        for (col, d, reverse) in [(0, &self.fwd, false), (h, &self.bwd, true)] {
            let bias = kernels::host(d.b_ih.val() + d.b_hh.val());
            let xp = kernels::linear_rows(&x, len * batch, input, &kernels::host(d.w_ih.val()), 4 * h, Some(&bias));
            kernels::lstm_direction_rows(&xp, &kernels::host(d.w_hh.val()), batch, len, h, reverse, &mut out, 2 * h, col);
        }
        Tensor::from_data(burn::tensor::TensorData::new(out, [batch, len, 2 * h]), &device)
    }

    /// Visits `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0` and the `_reverse` set.
    pub fn visit_params<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        for (d, suffix) in [(&mut self.fwd, ""), (&mut self.bwd, "_reverse")] {
            v.param(&format!("{prefix}weight_ih_l0{suffix}"), &mut d.w_ih, Layout::Same);
            v.param(&format!("{prefix}weight_hh_l0{suffix}"), &mut d.w_hh, Layout::Same);
            v.param(&format!("{prefix}bias_ih_l0{suffix}"), &mut d.b_ih, Layout::Same);
            v.param(&format!("{prefix}bias_hh_l0{suffix}"), &mut d.b_hh, Layout::Same);
        }
    }
}

/// `softmax(q kᵀ / √hd) · v` per sample and head, no mask, no attention dropout: `q`, `k`, `v
/// (batch, heads, L, hd)` → `(batch, heads, L, hd)`: burn's `attention` (CPU training takes
/// `autograd::attention` and CPU inference [`SelfAttention::forward_rows`] instead).
pub fn scaled_attention<B: Backend>(q: Tensor<B, 4>, k: Tensor<B, 4>, v: Tensor<B, 4>) -> Tensor<B, 4> {
    attention(q, k, v, None, None, Default::default())
}

/// Multi-head self-attention as PyTorch's `nn.MultiheadAttention` (no mask, no dropout on the
/// attention weights): packed `in_proj_weight (3D, D)` = rows `[W_q; W_k; W_v]`, `in_proj_bias
/// (3D)`, `out_proj` `(D, D)` + bias.
///
/// Input and output `(batch, length, D)`.
#[derive(Module, Debug)]
pub struct SelfAttention<B: Backend> {
    /// `(3D, D)`.
    pub in_proj_weight: Param<Tensor<B, 2>>,
    /// `(3D)`.
    pub in_proj_bias: Param<Tensor<B, 1>>,
    /// `(D, D)`, PyTorch `(out, in)` layout.
    pub out_proj_weight: Param<Tensor<B, 2>>,
    /// `(D)`.
    pub out_proj_bias: Param<Tensor<B, 1>>,
    heads: usize,
}

impl<B: Backend> SelfAttention<B> {
    /// PyTorch-default initialisation: xavier-uniform `in_proj`, zero biases, `out_proj`
    /// `U(±1/sqrt(D))`.
    pub fn new(dim: usize, heads: usize, device: &B::Device) -> Self {
        let xavier = (6.0 / (dim + 3 * dim) as f64).sqrt();
        let k = 1.0 / (dim as f64).sqrt();
        Self {
            in_proj_weight: Param::from_tensor(Tensor::random(
                [3 * dim, dim],
                Distribution::Uniform(-xavier, xavier),
                device,
            )),
            in_proj_bias: Param::from_tensor(Tensor::zeros([3 * dim], device)),
            out_proj_weight: Param::from_tensor(Tensor::random(
                [dim, dim],
                Distribution::Uniform(-k, k),
                device,
            )),
            out_proj_bias: Param::from_tensor(Tensor::zeros([dim], device)),
            heads,
        }
    }

    /// `(batch, length, D)` → `(batch, length, D)`. In CPU training: the packed projection as one
    /// product, attention from the packed rows and the output projection
    /// (`autograd::{linear, attention}`: no head transposes).
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
        if crate::autograd::fast_training::<B>() {
            use crate::autograd::{attention, linear, WeightLayout::OutIn};
            let qkv = linear(x, self.in_proj_weight.val(), OutIn, Some(self.in_proj_bias.val()));
            return linear(attention(qkv, self.heads), self.out_proj_weight.val(), OutIn, Some(self.out_proj_bias.val()));
        }
        let [b, l, d] = x.dims();
        let hd = d / self.heads;
        // Separate Q, K, V products from row blocks of the packed projection: each result is
        // contiguous (slicing a packed (b, l, 3D) output would leave strided views).
        let project = |i: usize| {
            let w = self.in_proj_weight.val().narrow(0, i * d, d).transpose().unsqueeze::<3>();
            let bias = self.in_proj_bias.val().narrow(0, i * d, d).reshape([1, 1, d]);
            (x.clone().matmul(w) + bias).reshape([b, l, self.heads, hd]).swap_dims(1, 2)
        }; // (b, heads, l, hd)
        let ctx = scaled_attention(project(0), project(1), project(2));
        let ctx = ctx.swap_dims(1, 2).reshape([b, l, d]);
        ctx.matmul(self.out_proj_weight.val().transpose().unsqueeze::<3>())
            + self.out_proj_bias.val().reshape([1, 1, d])
    }

    /// [`SelfAttention::forward`] on host rows `x (batch · length × D)` → `(batch · length × D)`
    /// ([`kernels`]' row kernels, CPU inference): one `(batch · length, 3D)` product for Q, K and
    /// V; each head reads its columns in place.
    pub fn forward_rows(&self, x: &[f32], batch: usize, len: usize) -> Vec<f32> {
        let d = self.out_proj_bias.dims()[0];
        let m = batch * len;
        let qkv = kernels::linear_rows(x, m, d, &kernels::host(self.in_proj_weight.val()), 3 * d, Some(&kernels::host(self.in_proj_bias.val())));
        let ctx = kernels::attention_rows([(&qkv, 0), (&qkv, d), (&qkv, 2 * d)], 3 * d, batch, len, self.heads, d / self.heads);
        kernels::linear_rows(&ctx, m, d, &kernels::host(self.out_proj_weight.val()), d, Some(&kernels::host(self.out_proj_bias.val())))
    }

    /// Visits `in_proj_weight`, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`.
    pub fn visit_params<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        v.param(&format!("{prefix}in_proj_weight"), &mut self.in_proj_weight, Layout::Same);
        v.param(&format!("{prefix}in_proj_bias"), &mut self.in_proj_bias, Layout::Same);
        v.param(&format!("{prefix}out_proj.weight"), &mut self.out_proj_weight, Layout::Same);
        v.param(&format!("{prefix}out_proj.bias"), &mut self.out_proj_bias, Layout::Same);
    }
}

#[cfg(test)]
mod dropout_tests {
    use super::{dropout_mask, seed_dropout};

    #[test]
    fn dropout_masks_are_seeded_and_independent_of_batching() {
        seed_dropout(7);
        let whole = dropout_mask(10_000, 0.2);
        seed_dropout(7);
        let mut parts = dropout_mask(3_000, 0.2);
        parts.extend(dropout_mask(7_000, 0.2));
        assert_eq!(whole, parts);
        let kept = whole.iter().filter(|&&v| v != 0.0).count();
        assert!((7_700..8_300).contains(&kept), "{kept} of 10,000 kept at p = 0.2");
        assert!(whole.iter().all(|&v| v == 0.0 || v == 1.25));
        seed_dropout(8);
        assert_ne!(dropout_mask(10_000, 0.2), whole);
    }
}
