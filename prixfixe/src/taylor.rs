//! Taylor ISM: every SNV's effect from one forward and one backward pass.
//!
//! The prediction `f` of the reference is linearised in the model's input: with `x` the encoded
//! reference (one-hot bases and the flag channels, both strands) and `g = ∂f/∂x`, a variant whose
//! encoding is `x'` is predicted `f(x) + g·(x' − x)`. For a substitution this is
//! `g[alt, i] − g[ref, i]` on the forward strand plus the same on the reverse complement's
//! mirrored position, halved as the strands are averaged (Sasse et al., "Quick and effective
//! approximation of in silico saturation mutagenesis experiments with first-order Taylor
//! expansion", iScience 2024). The encodings come from the DataProcessor itself, so padding,
//! cuts and the strand rule are those of the exact scan ([`crate::predictor::plan_ism`]).
//!
//! It is an approximation: exact where the model is linear in the base at that position, less
//! so where the effect of a base depends on its neighbours (motif grammar); its Pearson r with
//! the exact scan is reported per model in the README. The layers run in evaluation mode
//! ([`crate::nn::eval_mode`]), so `f` equals the exact scan's reference prediction.

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;

use crate::data::DataProcessor;
use crate::predictor::{IsmPlan, Predictor, VariantEffect};

/// The selected output of a padded window (the plan's reference: `plan.windows[0]`),
/// `(forward + reverse) / 2` as [`Predictor::predict_padded`] computes it, and its gradient with
/// respect to the encoded window `(2, channels, L)` (rows: as given, reverse complement),
/// flattened.
pub fn reference_gradient<B: AutodiffBackend>(p: &Predictor<B>, window: &[u8]) -> (f32, Vec<f32>) {
    crate::nn::eval_mode(|| {
        let x = p.encode_strands(&[window.to_vec()]).require_grad();
        let raw = p.model().forward_logits(x.clone());
        let outputs = p.head().outputs_of(raw);
        let [_, n_out] = outputs.dims();
        let out = p.output().min(n_out - 1);
        let value: Tensor<B, 1> = outputs.slice([0..2, out..out + 1]).mean().reshape([1]);
        let reference = value.clone().into_data().convert::<f32>().to_vec::<f32>().ok().and_then(|v| v.first().copied()).unwrap_or(f32::NAN);
        let grads = value.backward();
        let g = x.grad(&grads).map(|g| g.into_data().convert::<f32>().into_vec::<f32>().expect("f32 gradient"));
        (reference, g.unwrap_or_default())
    })
}

/// Taylor ISM of `plan`: the reference prediction (exact) and every variant's approximate
/// prediction and effect, in the plan's order — the same shape as
/// [`crate::predictor::IsmPlan::effects`] gives for the exact scan.
pub fn taylor_ism<B: AutodiffBackend>(p: &Predictor<B>, plan: &IsmPlan) -> (f32, Vec<VariantEffect>) {
    let (reference, g) = reference_gradient(p, &plan.windows[0]);
    (reference, taylor_effects(p.processor(), plan, reference, &g))
}

/// Every variant's approximate prediction and effect from the reference prediction and its
/// gradient (what [`reference_gradient`] returns, possibly computed elsewhere: the site's scan
/// workers), in the plan's order. A gradient of the wrong length (not `2 × channels × L`) gives
/// effects of 0.
pub fn taylor_effects(processor: &DataProcessor, plan: &IsmPlan, reference: f32, g: &[f32]) -> Vec<VariantEffect> {
    let row = processor.in_channels() * processor.seq_len();
    let encode = |w: &[u8]| {
        let mut buf = vec![0f32; 2 * row];
        processor.encode_strand_into(w, false, false, false, &mut buf[..row]);
        processor.encode_strand_into(w, true, true, false, &mut buf[row..]);
        buf
    };
    let x0 = encode(&plan.windows[0]);
    plan.variants
        .iter()
        .zip(&plan.windows[1..])
        .map(|(v, w)| {
            let x = encode(w);
            let delta: f32 = if g.len() == x.len() {
                x.iter().zip(&x0).zip(g).filter(|((a, b), _)| a != b).map(|((a, b), gi)| (a - b) * gi).sum()
            } else {
                0.0
            };
            VariantEffect { variant: v.clone(), prediction: reference + delta, delta }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::data::DataProcessor;
    use crate::model::ModelPreset;
    use crate::Predictor;
    use burn::module::AutodiffModule;

    type A = burn::backend::Autodiff<crate::CpuBackend>;

    /// In eval mode an autodiff model predicts what the inference model predicts (BatchNorm from
    /// running statistics, no dropout), and training mode comes back afterwards. (The gradient
    /// itself is checked on the shipped models in tests/taylor.rs.)
    #[test]
    fn eval_mode_on_autodiff_equals_inference() {
        let dev = Default::default();
        let model = ModelPreset::DreamCnn.config().init::<A>(&dev).unwrap();
        let p = Predictor::new(model, DataProcessor::dream(), dev);
        let seq = "TGCATTTTTTTCACATCAAAAAAAAAAAGAAAAAGAAAGAAAAAGGGGGAATAACACAGCCGCGGGTAACATGAAGCGGCGCGAGCGATACTTCCGTGGTTACGGCTGTT";
        let windows = vec![p.processor().pad(seq).unwrap()];
        let inner = Predictor::new(p.model().valid(), DataProcessor::dream(), Default::default());
        let want = inner.predict_padded(&windows)[0].expression;
        let got = crate::nn::eval_mode(|| p.predict_padded(&windows)[0].expression);
        assert!((want - got).abs() < 1e-5, "{want} vs {got}");
        let trained = p.predict_padded(&windows)[0].expression;
        assert!((want - trained).abs() > 1e-6, "training mode (batch statistics) differs: {want} vs {trained}");
        assert!(crate::nn::training::<A>(&Default::default()), "training mode restored");
        assert!(!crate::nn::training::<crate::CpuBackend>(&Default::default()));
    }
}
