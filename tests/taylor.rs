//! Taylor ISM (`prixfixe::taylor`) on the shipped DREAM models: the reference is the exact
//! prediction, and every Taylor delta is the directional derivative of the model's prediction
//! from the reference encoding towards the variant's (central finite difference on the
//! inference model), so the gradient, the strand mapping and the channel layout are right.

use std::path::PathBuf;

use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::tensor::{Tensor, TensorData};
use prixfixe::bundle::Bundle;
use prixfixe::predictor::plan_ism;
use prixfixe::{CpuBackend, Predictor};

/// YDL047W, a native promoter of the DREAM test set (the site's first example).
const SEQ: &str = "TGCATTTTTTTCACATCAAAAAAAAAAAGAAAAAGAAAGAAAAAGGGGGAATAACACAGCCGCGGGTAACATGAAGCGGCGCGAGCGATACTTCCGTGGTTACGGCTGTT";

fn check(model: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../public/models").join(model);
    let bundle = Bundle::read(&dir).unwrap();
    let p = bundle.predictor::<Autodiff<CpuBackend>>(&Default::default()).unwrap();
    let plan = plan_ism(p.processor(), SEQ, Some((18, 97))).unwrap();
    let (reference, effects) = prixfixe::taylor::taylor_ism(&p, &plan);
    assert_eq!(effects.len(), 240);

    let inner: Predictor<CpuBackend> = Predictor::new(p.model().valid(), p.processor().clone(), Default::default());
    let exact = inner.predict_padded(&plan.windows[..1])[0].expression;
    assert!((reference - exact).abs() < 1e-4, "{model}: Taylor reference {reference}, exact {exact}");

    // f(x0 + t·(x_v − x0)), both strands averaged, on the inference model.
    let f = |v: usize, t: f32| -> f32 {
        let x0 = inner.encode_strands(&plan.windows[..1]).into_data().to_vec::<f32>().unwrap();
        let xv = inner.encode_strands(&plan.windows[v..v + 1]).into_data().to_vec::<f32>().unwrap();
        let x: Vec<f32> = x0.iter().zip(&xv).map(|(a, b)| a + t * (b - a)).collect();
        let dims = [2, inner.processor().in_channels(), inner.processor().seq_len()];
        let x = Tensor::from_data(TensorData::new(x, dims), &Default::default());
        let out = inner.head().outputs_of(inner.model().forward_logits(x)).into_data().to_vec::<f32>().unwrap();
        0.5 * (out[0] + out[1])
    };
    let scale = effects.iter().map(|e| e.delta.abs()).fold(0.0f32, f32::max);
    assert!(scale > 1e-2, "{model}: gradient scale {scale}");
    // Variants at the region's start, middle and end (the reverse strand mirrors positions).
    for i in [0usize, 1, 2, 100, 121, 239] {
        let eps = 0.05;
        let fd = (f(i + 1, eps) - f(i + 1, -eps)) / (2.0 * eps);
        let t = effects[i].delta;
        assert!((fd - t).abs() <= 2e-2 * scale, "{model} {:?}: Taylor {t}, finite difference {fd} (scale {scale})", effects[i].variant);
    }
}

#[test]
fn taylor_ism_is_the_gradient_of_dream_cnn() {
    check("dream-cnn");
}

#[test]
fn taylor_ism_is_the_gradient_of_dream_rnn() {
    check("dream-rnn");
}

#[test]
fn taylor_ism_is_the_gradient_of_dream_attn() {
    check("dream-attn");
}
