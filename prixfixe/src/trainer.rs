//! The three teams' Trainers as data (paper Methods, "Prix Fixe framework"; reference
//! ARCHITECTURE.md §4, PRIXFIXE-MODULES.md §4.2, §4.4, §4.5): what one optimizer step computes
//! and how the learning rate moves. The epoch loop, checkpoints and validation that every recipe
//! shares are the caller's (`dream train`).
//!
//! | | autosome | BHI | UnlockDNA |
//! |---|---|---|---|
//! | rows | RC-doubled, is_reverse channel | as read | as read (RC inside the 200-token input) |
//! | step loss | Final block's loss | mean of the Final block's loss on `x` and `flip(x)` | expression MSE + masked-nucleotide CE (20 % of non-N tokens → M) |
//! | optimizer | AdamW, wd 0.01, β1 cycled | AdamW lr 0.0015, wd 0.01, β (0.9, 0.999) | Adam, β (0.9, 0.98), eps 1e-9 |
//! | schedule | OneCycle | cosine, `T_max` = rows × epochs | inverse-sqrt warm-up (d_model 512, 12,500 steps) |
//! | clipping | none | none | global L2 norm 1.0, then value 0.5 |
//! | regression targets | raw | `(bin − 11) / std` | `(y − mean) / std` |
//!
//! Where the published code cannot be what was meant, the working thing is done and noted:
//! the UnlockDNA scheduler's second zero-gradient `optimizer.step()` (a no-op in torch ≥ 2.0,
//! §4.4) is not made; validation targets are scaled with the *training* set's statistics (the
//! reference standardises each set by its own std, BHI, or not at all, UnlockDNA — Pearson r,
//! the selection metric, is the same either way, but the MSE would not be comparable); the BHI
//! pad side and the UnlockDNA mask are drawn from the run's seed, so a run is reproducible.

use burn::module::{AutodiffModule, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::blocks::{BlockLoss, FinalBlock};
use crate::combination::Team;
use crate::data::DataProcessor;
use crate::dataprocessors::{mask_tokens, unlockdna_token, Draws};
use crate::dataset::{Loss, TrainingSet};
use crate::model::PrixFixeNet;
use crate::training::{huber_loss, kl_loss, masked_token_loss, mse_loss, CosineAnnealing, CyclicAdamW, InverseSqrtWarmup, OneCycle, SharedBeta1};

/// A learning-rate schedule stepped after every batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// autosome: OneCycle with β1 cycling.
    OneCycle(OneCycle),
    /// BHI: cosine annealing.
    Cosine(CosineAnnealing),
    /// UnlockDNA: inverse-square-root warm-up.
    Warmup(InverseSqrtWarmup),
}

impl Schedule {
    /// `(learning rate, β1)` of optimizer step `step` (0-based); β1 is `None` where it is fixed.
    pub fn at(&self, step: usize) -> (f64, Option<f64>) {
        match self {
            Self::OneCycle(s) => {
                let (lr, b1) = s.at(step);
                (lr, Some(b1))
            }
            Self::Cosine(s) => (s.at(step), None),
            Self::Warmup(s) => (s.at(step), None),
        }
    }
}

/// Affine scale of regression targets: the loss compares outputs with `(y − shift) / scale`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetScale {
    /// Subtracted first.
    pub shift: f64,
    /// Then divided by.
    pub scale: f64,
}

impl TargetScale {
    /// `y` unchanged.
    pub const IDENTITY: Self = Self { shift: 0.0, scale: 1.0 };

    /// `(y − shift) / scale`.
    pub fn apply(&self, y: f64) -> f64 {
        (y - self.shift) / self.scale
    }
}

/// The tensors of one training step ([`Recipe::step_inputs`]).
#[derive(Debug, Clone)]
pub struct StepInputs<B: Backend> {
    /// Encoded batch `(B, channels, L)` (UnlockDNA: with masked tokens).
    pub x: Tensor<B, 3>,
    /// Targets `(B, W)`: 18-bin soft targets, or the (scaled) values `(B, tasks)`.
    pub y: Tensor<B, 2>,
    /// UnlockDNA: one-hot of the original tokens over A, C, G, T, N `(B, 5, L)` and the mask
    /// `(B, L)` (1 = masked).
    pub nucleotides: Option<(Tensor<B, 3>, Tensor<B, 2>)>,
}

/// One team's Trainer with its hyper-parameters (PRIXFIXE-MODULES.md §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// Whose Trainer.
    pub team: Team,
    /// autosome: OneCycle peak; BHI: the AdamW rate; UnlockDNA: the rate of step 0.
    pub lr: f64,
    /// UnlockDNA: warm-up steps of the inverse-sqrt schedule (12,500).
    pub warmup_steps: usize,
    /// UnlockDNA: `d_model` of the schedule's formula (512).
    pub d_model: usize,
    /// UnlockDNA: fraction of non-N tokens masked per step (0.2 in Prix Fixe; 5 % in the paper
    /// and the original code, §8.1).
    pub mask_ratio: f64,
    /// UnlockDNA: global gradient L2-norm limit (1.0).
    pub clip_norm: f64,
    /// UnlockDNA: per-element gradient limit, applied after the norm (0.5).
    pub clip_value: f64,
}

impl Recipe {
    /// The published settings of `team`'s Trainer, with `lr` (see [`Recipe::default_lr`]).
    pub fn new(team: Team, lr: f64) -> Self {
        Self { team, lr, warmup_steps: 12_500, d_model: 512, mask_ratio: 0.2, clip_norm: 1.0, clip_value: 0.5 }
    }

    /// The published rate of the BHI (0.0015) and UnlockDNA (1e-3, the rate of step 0 in the
    /// reference runs) Trainers; `None` for autosome, whose peak depends on the model and data.
    pub fn default_lr(team: Team) -> Option<f64> {
        match team {
            Team::Autosome => None,
            Team::Bhi => Some(0.0015),
            Team::UnlockDna => Some(1e-3),
        }
    }

    /// The schedule for a run of `epochs` × `steps_per_epoch` steps on `train_rows` rows.
    pub fn schedule(&self, epochs: usize, steps_per_epoch: usize, train_rows: usize) -> Schedule {
        match self.team {
            Team::Autosome => Schedule::OneCycle(OneCycle::new(self.lr, epochs * steps_per_epoch)),
            // T_max in rows, as Prix Fixe has it (§4.2, §8.9): the rate stays ≈ lr.
            Team::Bhi => Schedule::Cosine(CosineAnnealing::new(self.lr, train_rows * epochs)),
            Team::UnlockDna => {
                Schedule::Warmup(InverseSqrtWarmup { initial_lr: self.lr, d_model: self.d_model, warmup: self.warmup_steps })
            }
        }
    }

    /// The optimizer, reading β1 from `beta1` (set it from [`Schedule::at`] each step).
    pub fn optimizer(&self, beta1: SharedBeta1) -> CyclicAdamW {
        match self.team {
            Team::Autosome => CyclicAdamW::reference(beta1),
            Team::Bhi => {
                beta1.set(0.9);
                CyclicAdamW { beta1, beta2: 0.999, epsilon: 1e-8, weight_decay: 0.01 }
            }
            Team::UnlockDna => {
                beta1.set(0.9);
                CyclicAdamW { beta1, beta2: 0.98, epsilon: 1e-9, weight_decay: 0.0 }
            }
        }
    }

    /// The target scale for a Final Layers Block trained with `loss` on `train` (target 0):
    /// BHI `(bin − 11) / std`, UnlockDNA `(y − mean) / std` (std with ddof 0); identity for the
    /// autosome Trainer and for soft bins (made from the raw value).
    pub fn target_scale(&self, loss: BlockLoss, train: &TrainingSet) -> TargetScale {
        if loss == BlockLoss::SoftBins || self.team == Team::Autosome || train.is_empty() {
            return TargetScale::IDENTITY;
        }
        let y: Vec<f64> = train.expression().iter().map(|&v| v as f64).collect();
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let std = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        let shift = if self.team == Team::Bhi { 11.0 } else { mean };
        TargetScale { shift, scale: if std > 0.0 { std } else { 1.0 } }
    }

    /// The training loss of one batch of `samples` of `set` (training mode on an autodiff
    /// backend): [`Recipe::step_inputs`] then [`Recipe::step_loss`]. `loss` is the Final Layers
    /// Block's ([`crate::blocks::FinalBlockConfig::loss`]); `step_seed` draws the UnlockDNA mask.
    /// Returns a 1-element tensor.
    #[allow(clippy::too_many_arguments)]
    pub fn batch_loss<B: Backend>(
        &self,
        model: &PrixFixeNet<B>,
        set: &TrainingSet,
        processor: &DataProcessor,
        loss: BlockLoss,
        scale: TargetScale,
        samples: &[usize],
        step_seed: u64,
        device: &B::Device,
    ) -> Tensor<B, 1> {
        self.step_loss(model, self.step_inputs(set, processor, loss, scale, samples, step_seed, device), loss)
    }

    /// What one step feeds the model: the encoded batch (UnlockDNA: masked), its targets (soft
    /// bins from the raw value; regression targets scaled by `scale`) and, for UnlockDNA, the
    /// masked-nucleotide targets.
    #[allow(clippy::too_many_arguments)]
    pub fn step_inputs<B: Backend>(
        &self,
        set: &TrainingSet,
        processor: &DataProcessor,
        loss: BlockLoss,
        scale: TargetScale,
        samples: &[usize],
        step_seed: u64,
        device: &B::Device,
    ) -> StepInputs<B> {
        if self.team == Team::UnlockDna {
            return self.unlockdna_inputs(set, processor, scale, samples, step_seed, device);
        }
        let kind = if loss == BlockLoss::SoftBins { Loss::SoftBins } else { Loss::Mse };
        let (x, y, _) = set.batch::<B>(processor, kind, samples, device);
        let y = if scale == TargetScale::IDENTITY || kind == Loss::SoftBins { y } else { (y - scale.shift) / scale.scale };
        StepInputs { x, y, nucleotides: None }
    }

    /// The step's loss from its inputs (the Trainer's `train_step`, §4.2, §4.4; autosome
    /// ARCHITECTURE.md §4): autosome the Final block's loss; BHI the mean of it on `x` and on
    /// `flip(x)` (two passes, own dropout masks); UnlockDNA the expression MSE plus the
    /// masked-nucleotide cross-entropy. Returns a 1-element tensor.
    ///
    /// # Panics
    /// UnlockDNA inputs without nucleotide targets, or a model without the UnlockDNA Final
    /// Layers Block (the compatibility rule R1 excludes both).
    pub fn step_loss<B: Backend>(&self, model: &PrixFixeNet<B>, inputs: StepInputs<B>, loss: BlockLoss) -> Tensor<B, 1> {
        let StepInputs { x, y, nucleotides } = inputs;
        if self.team == Team::UnlockDna {
            let (targets, mask) = nucleotides.expect("UnlockDNA step inputs carry nucleotide targets");
            let parts = model.forward_parts(x);
            let expression = mse_loss(parts.logits, y);
            let FinalBlock::ExpressionTokens(head) = &model.final_block else {
                panic!("the compatibility rule (R1) pairs the UnlockDNA Trainer with its Final Layers Block")
            };
            return expression + masked_token_loss(head.seq_logits(parts.core), targets, mask);
        }
        let head = model.head();
        let of = |x: Tensor<B, 3>, y: Tensor<B, 2>| {
            let raw = model.forward_logits(x);
            match loss {
                BlockLoss::SoftBins => kl_loss(raw, y),
                BlockLoss::Mse => mse_loss(head.outputs_of(raw), y),
                BlockLoss::Huber => huber_loss(head.outputs_of(raw), y, 1.0),
            }
        };
        match self.team {
            // Flipping channels and positions of the A,G,C,T one-hot is the reverse complement.
            Team::Bhi => (of(x.clone(), y.clone()) + of(x.flip([1, 2]), y)) / 2.0,
            _ => of(x, y),
        }
    }

    fn unlockdna_inputs<B: Backend>(
        &self,
        set: &TrainingSet,
        processor: &DataProcessor,
        scale: TargetScale,
        samples: &[usize],
        step_seed: u64,
        device: &B::Device,
    ) -> StepInputs<B> {
        let l = set.sequences.seq_len();
        let c = processor.in_channels();
        let classes = 5; // A, C, G, T, N
        let b = samples.len();
        let mut x = vec![0f32; b * c * l];
        let mut target = vec![0f32; b * classes * l];
        let mut mask = vec![0f32; b * l];
        let mut y = Vec::with_capacity(b);
        let mut codes = vec![0u8; l];
        for (j, &s) in samples.iter().enumerate() {
            set.sequences.get_into(s, &mut codes);
            for (pos, &code) in codes.iter().enumerate() {
                target[j * classes * l + unlockdna_token(code).min(4) as usize * l + pos] = 1.0;
            }
            let hits = mask_tokens(&mut codes, self.mask_ratio, &mut Draws::new(step_seed, j as u64));
            for (pos, hit) in hits.into_iter().enumerate() {
                mask[j * l + pos] = f32::from(u8::from(hit));
            }
            processor.encode_strand_into(&codes, false, false, false, &mut x[j * c * l..(j + 1) * c * l]);
            y.push(scale.apply(set.row_targets(s)[0] as f64) as f32);
        }
        StepInputs {
            x: Tensor::from_data(TensorData::new(x, [b, c, l]), device),
            y: Tensor::from_data(TensorData::new(y, [b, 1]), device),
            nucleotides: Some((
                Tensor::from_data(TensorData::new(target, [b, classes, l]), device),
                Tensor::from_data(TensorData::new(mask, [b, l]), device),
            )),
        }
    }

    /// Applies the Trainer's gradient clipping to `grads` of `module` (UnlockDNA: PyTorch
    /// `clip_grad_norm_` on the global L2 norm of all gradients, then `clip_grad_value_`);
    /// other Trainers return `grads` unchanged.
    pub fn clip<B: AutodiffBackend, M: AutodiffModule<B>>(&self, module: &M, grads: GradientsParams) -> GradientsParams {
        if self.team != Team::UnlockDna {
            return grads;
        }
        clip_global_norm_then_value(module, grads, self.clip_norm, self.clip_value)
    }
}

/// `model` with `y = out · scale + shift` folded into the last Linear layer of its Final Layers
/// Block (BHI `main.4`, UnlockDNA `expression_dense`; both outputs are affine in that layer), so
/// that a model trained on standardised targets predicts on the data's own scale (DREAM:
/// expression bins). Other blocks, and [`TargetScale::IDENTITY`], are returned unchanged.
pub fn fold_target_scale<B: Backend>(mut model: PrixFixeNet<B>, scale: TargetScale) -> PrixFixeNet<B> {
    if scale == TargetScale::IDENTITY {
        return model;
    }
    let fold = |mut l: burn::nn::Linear<B>| {
        l.weight = l.weight.map(|w| w * scale.scale);
        l.bias = l.bias.map(|b| b.map(|b| b * scale.scale + scale.shift));
        l
    };
    model.final_block = match model.final_block {
        FinalBlock::FlattenMlp(mut h) => {
            h.out = fold(h.out);
            FinalBlock::FlattenMlp(h)
        }
        FinalBlock::ExpressionTokens(mut h) => {
            h.expression_dense = fold(h.expression_dense);
            FinalBlock::ExpressionTokens(h)
        }
        other => other,
    };
    model
}

/// PyTorch `clip_grad_norm_(max_norm)` (one norm over every gradient, scale `max_norm /
/// (norm + 1e-6)` when below 1) followed by `clip_grad_value_(max_value)`.
pub fn clip_global_norm_then_value<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    mut grads: GradientsParams,
    max_norm: f64,
    max_value: f64,
) -> GradientsParams {
    struct SumSquares<'a, B: AutodiffBackend> {
        grads: &'a GradientsParams,
        total: Option<Tensor<B::InnerBackend, 1>>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for SumSquares<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
                let s = g.square().sum();
                self.total = Some(match self.total.take() {
                    Some(t) => t + s,
                    None => s,
                });
            }
        }
    }
    struct Scale<'a, B: AutodiffBackend> {
        grads: &'a mut GradientsParams,
        factor: f64,
        max_value: f64,
        ids: Vec<ParamId>,
        _b: std::marker::PhantomData<B>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if self.ids.contains(&param.id) {
                return;
            }
            if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
                self.ids.push(param.id);
                self.grads.register(param.id, (g * self.factor).clamp(-self.max_value, self.max_value));
            }
        }
    }
    let mut sum = SumSquares::<B> { grads: &grads, total: None };
    module.visit(&mut sum);
    let Some(total) = sum.total else { return grads };
    let norm = total.into_data().convert::<f64>().to_vec::<f64>().map_or(0.0, |v| v[0]).sqrt();
    let factor = (max_norm / (norm + 1e-6)).min(1.0);
    let mut scale = Scale::<B> { grads: &mut grads, factor, max_value, ids: Vec::new(), _b: std::marker::PhantomData };
    module.visit(&mut scale);
    grads
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::combination::Combination;
    use burn::backend::Autodiff;
    use burn::module::Module;

    type B = Autodiff<crate::CpuBackend>;

    #[test]
    fn schedules_and_optimizers_follow_the_published_trainers() {
        let bhi = Recipe::new(Team::Bhi, 0.0015);
        let Schedule::Cosine(c) = bhi.schedule(2, 10, 100) else { panic!() };
        assert_eq!(c.t_max, 200);
        let unl = Recipe::new(Team::UnlockDna, 1e-3);
        let s = unl.schedule(1, 10, 100);
        assert_eq!(s.at(0), (1e-3, None));
        assert!((s.at(1).0 - 3.162_277_660_168_38e-8).abs() < 1e-15);
        let o = unl.optimizer(SharedBeta1::new(0.5));
        assert_eq!((o.beta1.get(), o.beta2, o.epsilon, o.weight_decay), (0.9, 0.98, 1e-9, 0.0));
        let a = Recipe::new(Team::Autosome, 0.005).schedule(1, 100, 10);
        assert_eq!(a.at(0).1, Some(0.95));
    }

    #[test]
    fn target_scales_standardise_as_the_trainers_do() {
        let mut set = TrainingSet::new(3, 1, false);
        for v in [9.0, 11.0, 13.0, 15.0] {
            set.push_row(&[0, 1, 2], &[v], false, false);
        }
        let std = 5f64.sqrt(); // ddof 0 of 9, 11, 13, 15
        let s = Recipe::new(Team::Bhi, 1.0).target_scale(BlockLoss::Huber, &set);
        assert_eq!(s.shift, 11.0);
        assert!((s.scale - std).abs() < 1e-12);
        let s = Recipe::new(Team::UnlockDna, 1.0).target_scale(BlockLoss::Mse, &set);
        assert!((s.shift - 12.0).abs() < 1e-12 && (s.scale - std).abs() < 1e-12);
        assert_eq!(Recipe::new(Team::Bhi, 1.0).target_scale(BlockLoss::SoftBins, &set), TargetScale::IDENTITY);
    }

    #[test]
    fn folding_the_target_scale_maps_outputs_to_the_data_scale() {
        type C = crate::CpuBackend;
        let dev = Default::default();
        let scale = TargetScale { shift: 11.0, scale: 2.5 };
        for code in ["1_1_0_1", "2_2_2_2"] {
            let combo: Combination = code.parse().unwrap();
            let model = combo.config_for(&combo.processor(), crate::blocks::FinalBlockConfig::soft_bins(0), crate::combination::Wiring { unlockdna_width: 32, conformer_layers: 1 }).init::<C>(&dev).unwrap();
            let x = Tensor::<C, 3>::random([3, combo.processor().in_channels(), combo.processor().seq_len()], burn::tensor::Distribution::Uniform(0.0, 1.0), &dev);
            let before: Vec<f32> = model.forward(x.clone()).into_data().to_vec().unwrap();
            let after: Vec<f32> = fold_target_scale(model, scale).forward(x).into_data().to_vec().unwrap();
            for (b, a) in before.iter().zip(&after) {
                assert!((b * 2.5 + 11.0 - a).abs() < 1e-4, "{code}: {b} → {a}");
            }
        }
    }

    /// The global-norm clip equals the definition: every gradient times `max / ‖g‖`, then
    /// clamped to ±value.
    #[test]
    fn global_norm_clipping_scales_every_gradient_by_one_factor() {
        let dev = Default::default();
        let model = Combination::new(Team::Bhi, Team::Bhi, Team::Autosome, Team::Bhi).config().unwrap().init::<B>(&dev).unwrap();
        let x = Tensor::<B, 3>::random([2, 4, 110], burn::tensor::Distribution::Uniform(0.0, 1.0), &dev);
        let loss = model.forward_logits(x).square().sum() * 1e4;
        let mut raw = loss.backward();
        let grads = GradientsParams::from_module(&mut raw, &model);
        let w = model.final_block.clone();
        let FinalBlock::FlattenMlp(h) = &w else { panic!() };
        let id = h.out.weight.id;
        let before: Vec<f32> = grads.get::<crate::CpuBackend, 2>(id).unwrap().into_data().to_vec().unwrap();
        let mut total = 0f64;
        struct All<'a>(&'a GradientsParams, &'a mut f64);
        impl ModuleVisitor<B> for All<'_> {
            fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
                if let Some(g) = self.0.get::<crate::CpuBackend, D>(p.id) {
                    *self.1 += g.into_data().to_vec::<f32>().unwrap().iter().map(|v| (*v as f64).powi(2)).sum::<f64>();
                }
            }
        }
        model.visit(&mut All(&grads, &mut total));
        let factor = 1.0 / (total.sqrt() + 1e-6);
        assert!(factor < 1.0, "the test needs a large gradient");
        let clipped = clip_global_norm_then_value(&model, grads, 1.0, 0.5);
        let after: Vec<f32> = clipped.get::<crate::CpuBackend, 2>(id).unwrap().into_data().to_vec().unwrap();
        for (b, a) in before.iter().zip(&after) {
            let want = ((*b as f64) * factor).clamp(-0.5, 0.5);
            assert!((want - *a as f64).abs() <= 1e-6 * want.abs().max(1e-3), "{a} vs {want}");
        }
    }
}
