//! The DREAM (autosome) Trainer: data batches, KL loss on soft targets, AdamW with OneCycle
//! learning rate and β1 cycling (reference ARCHITECTURE.md §1.5–1.7 and §4).
//!
//! - [`TrainingSet`]: padded windows packed at 4 bits per base with their expression; sample `i`
//!   of the RC-doubled set is row `i mod n`, reverse-complemented when `i ≥ n`, with the row's
//!   is_singleton flag (§1.5).
//! - [`kl_loss`]: `KL(target ‖ softmax(logits))`, "batchmean" (§1.7).
//! - [`OneCycle`]: PyTorch `OneCycleLR` (pct_start 0.3, div 25, final_div 1e4, cosine, β1 from
//!   0.95 to 0.85 and back), stepped after every batch.
//! - [`CyclicAdamW`]: PyTorch `AdamW` (decoupled weight decay 0.01, eps 1e-8) whose β1 is set each
//!   step by the schedule, bias correction with the current β1 as PyTorch does.
//! - [`Shuffler`]: a seeded, portable permutation (SplitMix64 + Fisher–Yates), so a given seed gives
//!   the same batches on every platform and after a resume.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use burn::optim::{AdaptiveMomentumState, SimpleOptimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::{backend::Backend, Tensor};


/// `config.json` of a `dream train` output directory.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunConfig {
    /// Preset name, when the model is one of the three DREAM models.
    pub preset: Option<crate::model::ModelPreset>,
    /// The block configuration.
    pub model: crate::model::PrixFixeConfig,
    /// The training arguments (`args`) and data sizes (`train_rows`, `val_rows`); free-form.
    #[serde(default)]
    pub training: serde_json::Value,
    /// The dataset (absent in runs made before datasets existed: `dream-yeast`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<crate::dataset::Dataset>,
    /// The Prix Fixe combination (absent in runs made before combinations existed: the preset's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combination: Option<crate::combination::Combination>,
}

impl RunConfig {
    /// The dataset (`dream-yeast` when the run names none).
    pub fn dataset(&self) -> crate::dataset::Dataset {
        self.dataset.clone().unwrap_or_else(crate::dataset::Dataset::dream_yeast)
    }
}

/// File name of the best epoch's weights (PyTorch layout, f32) in a training output directory.
pub const BEST_WEIGHTS: &str = "model_best.safetensors";
/// File name of the run configuration in a training output directory.
pub const RUN_CONFIG: &str = "config.json";
/// File name of the per-epoch metrics in a training output directory.
pub const METRICS_CSV: &str = "metrics.csv";

pub use crate::dataset::TrainingSet;

/// `KL(target ‖ softmax(logits))` averaged over the batch ("batchmean"); terms with a zero target
/// contribute 0. `logits`, `target`: `(B, 18)`. Returns a 1-element tensor.
pub fn kl_loss<B: Backend>(logits: Tensor<B, 2>, target: Tensor<B, 2>) -> Tensor<B, 1> {
    let batch = logits.dims()[0] as f64;
    let log_p = log_softmax(logits, 1);
    // t·log t with 0·log 0 = 0: clamp inside the log, the product with t = 0 is then 0.
    let t_log_t = target.clone() * target.clone().clamp_min(1e-30).log();
    (t_log_t - target * log_p).sum() / batch
}

/// Mean squared error per task, summed over tasks (PRIXFIXE-MODULES.md §7.2: "same as
/// DeepSTARR"): `Σ_t mean_b (out[b,t] − y[b,t])²`. `outputs`, `targets`: `(B, tasks)`. Returns a
/// 1-element tensor.
pub fn mse_loss<B: Backend>(outputs: Tensor<B, 2>, targets: Tensor<B, 2>) -> Tensor<B, 1> {
    (outputs - targets).square().mean_dim(0).sum()
}

/// PyTorch `HuberLoss(delta, reduction="mean")`: `½d²` where `|d| ≤ δ`, else `δ(|d| − ½δ)`;
/// the BHI Final Layers Block's loss with δ = 1 (PRIXFIXE-MODULES.md §3.1). `outputs`,
/// `targets`: `(B, 1)`. Returns a 1-element tensor.
pub fn huber_loss<B: Backend>(outputs: Tensor<B, 2>, targets: Tensor<B, 2>, delta: f64) -> Tensor<B, 1> {
    let abs = (outputs - targets).abs();
    // min(|d|, δ) gives both branches: ½m² + δ(|d| − m).
    let m = abs.clone().clamp_max(delta);
    (m.clone().square() * 0.5 + (abs - m) * delta).mean()
}

/// UnlockDNA's masked-nucleotide loss (PRIXFIXE-MODULES.md §4.4):
/// `Σ mask · CE(logits, token) / (Σ mask + 1)`, cross-entropy per position over the classes.
/// `logits`: `(B, K, L)`; `targets`: one-hot of the original tokens `(B, K, L)`; `mask`:
/// `(B, L)`, 1 where the token was masked. Returns a 1-element tensor.
pub fn masked_token_loss<B: Backend>(logits: Tensor<B, 3>, targets: Tensor<B, 3>, mask: Tensor<B, 2>) -> Tensor<B, 1> {
    let ce = -(targets * log_softmax(logits, 1)).sum_dim(1).squeeze_dim::<2>(1);
    let count = mask.clone().sum();
    (ce * mask).sum() / (count + 1.0)
}

/// The BHI Trainer's schedule: PyTorch `CosineAnnealingLR(T_max, eta_min = 0)` stepped per
/// batch, `lr_k = base · (1 + cos(π k / T_max)) / 2` (PRIXFIXE-MODULES.md §4.2). Prix Fixe sets
/// `T_max` = training rows × epochs, so in a full run the rate stays ≈ `base`; the original
/// BHI used batches × epochs ([`CosineAnnealing::new`] takes either).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineAnnealing {
    /// Initial learning rate (0.0015).
    pub base_lr: f64,
    /// Period half-length in steps.
    pub t_max: usize,
}

impl CosineAnnealing {
    /// A schedule from `base_lr` over `t_max` steps.
    pub fn new(base_lr: f64, t_max: usize) -> Self {
        Self { base_lr, t_max }
    }

    /// Learning rate of step `step` (0-based).
    pub fn at(&self, step: usize) -> f64 {
        let t = self.t_max.max(1) as f64;
        self.base_lr * (1.0 + (std::f64::consts::PI * step as f64 / t).cos()) / 2.0
    }
}

/// The UnlockDNA Trainer's schedule ("ScheduledOptim", PRIXFIXE-MODULES.md §4.4): step 0 uses
/// `initial_lr`; step k ≥ 1 uses `d_model^−½ · min(k^−½, k · warmup^−1.5)` (peak at
/// k = warmup).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InverseSqrtWarmup {
    /// Learning rate of the first step.
    pub initial_lr: f64,
    /// Embedding width of the formula (512 in the original).
    pub d_model: usize,
    /// Warm-up steps (12,500 in the original).
    pub warmup: usize,
}

impl InverseSqrtWarmup {
    /// Learning rate of step `step` (0-based).
    pub fn at(&self, step: usize) -> f64 {
        if step == 0 {
            return self.initial_lr;
        }
        let k = step as f64;
        (self.d_model as f64).powf(-0.5) * k.powf(-0.5).min(k * (self.warmup.max(1) as f64).powf(-1.5))
    }
}

/// PyTorch `OneCycleLR` with the reference settings (two phases, cosine annealing, β1 cycling).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneCycle {
    /// Peak learning rate.
    pub max_lr: f64,
    /// Total optimizer steps `T = epochs · steps_per_epoch`.
    pub total_steps: usize,
    /// Fraction of steps spent increasing the learning rate (0.3).
    pub pct_start: f64,
    /// Initial lr = max_lr / div_factor (25).
    pub div_factor: f64,
    /// Final lr = initial lr / final_div_factor (1e4).
    pub final_div_factor: f64,
    /// β1 at the learning-rate peak (0.85).
    pub base_momentum: f64,
    /// β1 at the start and end (0.95).
    pub max_momentum: f64,
}

impl OneCycle {
    /// The reference schedule for `max_lr` over `total_steps`.
    pub fn new(max_lr: f64, total_steps: usize) -> Self {
        Self {
            max_lr,
            total_steps,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
            base_momentum: 0.85,
            max_momentum: 0.95,
        }
    }

    fn cos_anneal(start: f64, end: f64, pct: f64) -> f64 {
        end + (start - end) / 2.0 * (1.0 + (std::f64::consts::PI * pct).cos())
    }

    /// `(learning rate, β1)` for optimizer step `step` (0-based), as PyTorch computes them.
    pub fn at(&self, step: usize) -> (f64, f64) {
        let initial = self.max_lr / self.div_factor;
        let min_lr = initial / self.final_div_factor;
        let phase1_end = self.pct_start * self.total_steps as f64 - 1.0;
        let phase2_end = self.total_steps as f64 - 1.0;
        let s = step as f64;
        if s <= phase1_end {
            let pct = if phase1_end > 0.0 { s / phase1_end } else { 1.0 };
            (Self::cos_anneal(initial, self.max_lr, pct), Self::cos_anneal(self.max_momentum, self.base_momentum, pct))
        } else {
            let span = phase2_end - phase1_end;
            let pct = if span > 0.0 { (s - phase1_end) / span } else { 1.0 };
            (Self::cos_anneal(self.max_lr, min_lr, pct), Self::cos_anneal(self.base_momentum, self.max_momentum, pct))
        }
    }
}

/// A β1 shared between the schedule and the optimizer (an `f32` in an atomic).
#[derive(Debug, Clone)]
pub struct SharedBeta1(Arc<AtomicU32>);

impl SharedBeta1 {
    /// Starts at `beta1`.
    pub fn new(beta1: f32) -> Self {
        Self(Arc::new(AtomicU32::new(beta1.to_bits())))
    }
    /// Sets β1.
    pub fn set(&self, beta1: f32) {
        self.0.store(beta1.to_bits(), Ordering::Relaxed);
    }
    /// Current β1.
    pub fn get(&self) -> f32 {
        f32::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// PyTorch `AdamW` with a β1 that the schedule changes every step.
///
/// Per parameter: `p ← p·(1 − lr·wd)`; `m ← β1·m + (1−β1)·g`; `v ← β2·v + (1−β2)·g²`;
/// `p ← p − lr/(1−β1ᵗ) · m / (sqrt(v)/sqrt(1−β2ᵗ) + eps)`, with the current β1 in `β1ᵗ`.
#[derive(Debug, Clone)]
pub struct CyclicAdamW {
    /// Shared β1.
    pub beta1: SharedBeta1,
    /// β2 (0.999).
    pub beta2: f32,
    /// eps (1e-8).
    pub epsilon: f32,
    /// Decoupled weight decay (0.01).
    pub weight_decay: f32,
}

impl CyclicAdamW {
    /// The reference settings: β2 0.999, eps 1e-8, weight decay 0.01.
    pub fn reference(beta1: SharedBeta1) -> Self {
        Self { beta1, beta2: 0.999, epsilon: 1e-8, weight_decay: 0.01 }
    }
}

impl<B: Backend> SimpleOptimizer<B> for CyclicAdamW {
    type State<const D: usize> = AdaptiveMomentumState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let b1 = self.beta1.get();
        let b2 = self.beta2;
        let state = match state {
            Some(mut s) => {
                s.moment_1 = s.moment_1 * b1 + grad.clone() * (1.0 - b1);
                s.moment_2 = s.moment_2 * b2 + grad.square() * (1.0 - b2);
                s.time += 1;
                s
            }
            None => AdaptiveMomentumState::new(1, grad.clone() * (1.0 - b1), grad.square() * (1.0 - b2)),
        };
        let t = state.time as i32;
        let bc1 = 1.0 - (b1 as f64).powi(t);
        let bc2 = 1.0 - (b2 as f64).powi(t);
        let decayed = tensor * (1.0 - lr * self.weight_decay as f64);
        let denom = state.moment_2.clone().sqrt() / bc2.sqrt() + self.epsilon as f64;
        let updated = decayed - state.moment_1.clone() / denom * (lr / bc1);
        (updated, Some(state))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        state.moment_1 = state.moment_1.to_device(device);
        state.moment_2 = state.moment_2.to_device(device);
        state
    }
}

/// Seeded, portable permutations: SplitMix64 feeding Fisher–Yates.
#[derive(Debug, Clone)]
pub struct Shuffler {
    draws: crate::dataprocessors::Draws,
}

impl Shuffler {
    /// A shuffler for `seed`.
    pub fn new(seed: u64) -> Self {
        Self { draws: crate::dataprocessors::Draws::from_state(seed) }
    }

    fn next(&mut self) -> u64 {
        self.draws.next_u64()
    }

    /// A uniformly random permutation of `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_moves_the_chosen_rows_and_keeps_the_rest_in_order() {
        let mut set = TrainingSet::dream(3);
        for (i, e) in [1.5, 2.0, 3.25, 4.0, 5.5].into_iter().enumerate() {
            set.push(&[i as u8, 1, 2], e);
        }
        let (train, val) = set.split(&[3, 1]);
        assert_eq!(val.expression(), vec![2.0, 4.0]);
        assert_eq!(val.singleton, vec![true, true]);
        assert_eq!((val.sequences.get(0), val.sequences.get(1)), (vec![1, 1, 2], vec![3, 1, 2]));
        assert_eq!(train.expression(), vec![1.5, 3.25, 5.5]);
        assert_eq!(train.singleton, vec![false, false, false]);
        let rows: Vec<Vec<u8>> = (0..3).map(|i| train.sequences.get(i)).collect();
        assert_eq!(rows, vec![vec![0, 1, 2], vec![2, 1, 2], vec![4, 1, 2]]);
    }

    #[test]
    fn mse_loss_sums_the_tasks() {
        type B = crate::CpuBackend;
        let dev = Default::default();
        let out = Tensor::<B, 2>::from_floats([[1.0, 0.0], [3.0, 2.0]], &dev);
        let y = Tensor::<B, 2>::from_floats([[0.0, 0.0], [1.0, 0.0]], &dev);
        // task 0: (1 + 4)/2 = 2.5; task 1: (0 + 4)/2 = 2
        let got: f32 = mse_loss(out, y).into_scalar();
        assert!((got - 4.5).abs() < 1e-6, "{got}");
    }

    #[test]
    fn one_cycle_matches_pytorch_formulas() {
        // PyTorch OneCycleLR(max_lr=0.005, total_steps=100): step 0 lr = 0.0002, β1 = 0.95;
        // peak at step 29 (0.3·100 − 1): lr 0.005, β1 0.85; last step 99: lr = 0.0002/1e4.
        let s = OneCycle::new(0.005, 100);
        let (lr0, b0) = s.at(0);
        assert!((lr0 - 0.0002).abs() < 1e-12 && (b0 - 0.95).abs() < 1e-12);
        let (lrp, bp) = s.at(29);
        assert!((lrp - 0.005).abs() < 1e-12 && (bp - 0.85).abs() < 1e-12);
        let (lre, be) = s.at(99);
        assert!((lre - 2e-8).abs() < 1e-15 && (be - 0.95).abs() < 1e-12);
        // Half-way through phase 1 (pct 0.5): mean of the end points.
        let (lrh, _) = s.at(29 / 2);
        let pct = 14.0 / 29.0;
        let expect = 0.005 + (0.0002 - 0.005) / 2.0 * (1.0 + (std::f64::consts::PI * pct).cos());
        assert!((lrh - expect).abs() < 1e-12);
    }

    #[test]
    fn cyclic_adamw_matches_pytorch_adamw() {
        // torch.optim.AdamW(weight_decay=0.01), param [1, -2, 0.5], three steps with the lr and
        // β1 changed between steps (as OneCycleLR does); PyTorch 2.15 result below.
        type B = crate::CpuBackend;
        let dev = Default::default();
        let beta1 = SharedBeta1::new(0.95);
        let opt = CyclicAdamW::reference(beta1.clone());
        let mut p = Tensor::<B, 1>::from_floats([1.0, -2.0, 0.5], &dev);
        let mut state = None;
        for (g, b1, lr) in [([0.1, -0.3, 2.0], 0.95, 0.01), ([0.2, 0.1, -1.0], 0.9, 0.02), ([-0.5, 0.4, 0.3], 0.85, 0.005)] {
            beta1.set(b1);
            let (np, ns) = SimpleOptimizer::<B>::step(&opt, lr, p, Tensor::from_floats(g, &dev), state);
            p = np;
            state = ns;
        }
        let got = p.into_data().to_vec::<f32>().unwrap();
        for (a, b) in got.iter().zip([0.975_564_063f32, -1.990_164_280, 0.490_130_097]) {
            assert!((a - b).abs() < 2e-6, "{got:?}");
        }
    }

    #[test]
    fn kl_loss_matches_definition() {
        type B = crate::CpuBackend;
        let dev = Default::default();
        let logits = Tensor::<B, 2>::from_floats([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]], &dev);
        let target = Tensor::<B, 2>::from_floats([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]], &dev);
        let got: f32 = kl_loss(logits, target).into_scalar();
        // row 1: log_softmax = [-2.4076, -1.4076, -0.4076]; KL = 0.5(ln .5+1.4076)+0.5(ln .5+0.4076)
        // row 2: KL = 1·(0 − ln(1/3)) = ln 3 ; batchmean = (row1 + row2)/2
        let ls = |z: f64| z - (1f64.exp() * 0.0 + (0f64).exp() + 1f64.exp() + 2f64.exp()).ln();
        let row1 = 0.5 * (0.5f64.ln() - ls(1.0)) + 0.5 * (0.5f64.ln() - ls(2.0));
        let expect = (row1 + 3f64.ln()) / 2.0;
        assert!((got as f64 - expect).abs() < 1e-5, "{got} vs {expect}");
    }

    #[test]
    fn shuffler_is_a_deterministic_permutation() {
        let a = Shuffler::new(7).permutation(1000);
        let b = Shuffler::new(7).permutation(1000);
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_ne!(a, Shuffler::new(8).permutation(1000));
    }
}
