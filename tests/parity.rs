//! Parity with the published PyTorch models (golden fixtures in tests/fixtures, produced by the
//! reference code; see ../shared/reference/ARCHITECTURE.md §6). Every check: max abs error ≤ 1e-4.

use burn::tensor::{Tensor, TensorData};
use dream_tests::{load_json, load_tensors, max_abs_diff, read_fixture, Golden};
use prixfixe::blocks::{FinalBlock, FirstBlockConfig, ConvBnSiluConfig};
use prixfixe::model::{ConfigError, LoadError, ModelPreset, PrixFixeNet};
use prixfixe::weights::{Precision, WeightError};
use prixfixe::{CpuBackend as B, DataProcessor, Predictor};

const TOL: f32 = 1e-4;

fn device() -> burn::tensor::Device<B> {
    Default::default()
}

fn tensor3(g: &Golden) -> Tensor<B, 3> {
    Tensor::from_data(TensorData::new(g.values.clone(), g.shape.clone()), &device())
}

fn values<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec::<f32>().unwrap()
}

fn load(preset: ModelPreset, weights: &str) -> PrixFixeNet<B> {
    PrixFixeNet::<B>::from_torch_safetensors(&preset.config(), &read_fixture(weights), &device())
        .unwrap_or_else(|e| panic!("loading {weights}: {e}"))
}

fn check(name: &str, what: &str, ours: &[f32], golden: &Golden) {
    let err = max_abs_diff(ours, &golden.values);
    println!("{name:>12} {what:<14} max abs err {err:.3e}");
    assert!(err <= TOL, "{name} {what}: max abs error {err:e} > {TOL:e}");
}

/// Checks every block output, logits, probabilities, prediction and the fwd/RC predictor.
fn parity(preset: ModelPreset, weights: &str, io: &str, io_json: &str, sequences_json: &str) {
    let name = format!("{preset}{}", if io.contains("trained") { "(trained)" } else { "" });
    let model = load(preset, weights);
    let g = load_tensors(io);

    let parts = model.forward_parts(tensor3(&g["input"]));
    check(&name, "first_out", &values(parts.first), &g["first_out"]);
    check(&name, "core_out", &values(parts.core), &g["core_out"]);
    check(&name, "final_logits", &values(parts.logits.clone()), &g["final_logits"]);
    let probs = FinalBlock::probs(parts.logits);
    check(&name, "final_probs", &values(probs.clone()), &g["final_probs"]);
    check(&name, "prediction", &values(FinalBlock::expectation(probs)), &g["prediction"]);

    // Predictor from the raw strings: encoding must be exact, then fwd/RC average.
    let seqs: Vec<String> = load_json(sequences_json)["sequences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["raw"].as_str().unwrap().to_string())
        .collect();
    let predictor = Predictor::new(model, DataProcessor::dream(), device());
    let padded = predictor.prepare(&seqs).unwrap();
    let enc = values(predictor.encode_strands(&padded));
    let half = enc.len() / 2;
    assert_eq!(enc[..half], g["input_pred_fwd"].values[..], "{name}: forward encoding");
    assert_eq!(enc[half..], g["input_pred_rc"].values[..], "{name}: RC encoding");
    let preds = predictor.predict(&seqs).unwrap();
    let fwd: Vec<f32> = preds.iter().map(|p| p.forward).collect();
    let rc: Vec<f32> = preds.iter().map(|p| p.reverse).collect();
    let avg: Vec<f32> = preds.iter().map(|p| p.expression).collect();
    check(&name, "pred_fwd", &fwd, &g["pred_fwd"]);
    check(&name, "pred_rc", &rc, &g["pred_rc"]);
    check(&name, "pred_avg", &avg, &g["pred_avg"]);
    let json_avg: Vec<f32> = load_json(io_json)["pred_avg"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert!(max_abs_diff(&avg, &json_avg) <= TOL);
}

#[test]
fn dream_cnn_matches_reference() {
    parity(ModelPreset::DreamCnn, "cnn_weights.safetensors", "cnn_io.safetensors", "cnn_io.json", "cnn_io.json");
}

#[test]
fn dream_cnn_trained_matches_reference() {
    // Non-trivial BatchNorm running statistics.
    parity(
        ModelPreset::DreamCnn,
        "cnn_trained_weights.safetensors",
        "cnn_trained_io.safetensors",
        "cnn_trained_io.json",
        "cnn_io.json",
    );
}

#[test]
fn dream_rnn_matches_reference() {
    parity(ModelPreset::DreamRnn, "rnn_weights.safetensors", "rnn_io.safetensors", "rnn_io.json", "rnn_io.json");
}

#[test]
fn dream_attn_matches_reference() {
    parity(ModelPreset::DreamAttn, "attn_weights.safetensors", "attn_io.safetensors", "attn_io.json", "attn_io.json");
}

#[test]
fn n_and_lower_case_match_reference_predictor() {
    // The reference predictor encodes N as zeros (ARCHITECTURE.md §1.3) and upper-cases input.
    let check = &load_json("cnn_trained_io.json")["predictor_N_and_lowercase_check"];
    let seqs: Vec<&str> = check["sequences"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    let expected: Vec<f32> =
        check["autosome_predictor"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let predictor = Predictor::new(load(ModelPreset::DreamCnn, "cnn_trained_weights.safetensors"), DataProcessor::dream(), device());
    let got: Vec<f32> = predictor.predict(&seqs).unwrap().iter().map(|p| p.expression).collect();
    assert!(max_abs_diff(&got, &expected) <= TOL, "{got:?} vs {expected:?}");
}

#[test]
fn parameter_counts_match_published_models() {
    for (preset, expected) in [
        (ModelPreset::DreamCnn, 1_933_970),
        (ModelPreset::DreamRnn, 4_130_578),
        (ModelPreset::DreamAttn, 4_539_410),
    ] {
        let model = preset.config().init::<B>(&device()).unwrap();
        assert_eq!(model.num_trainable(), expected, "{preset}");
        assert_eq!(preset.expected_params(), expected);
    }
}

#[test]
fn export_writes_every_reference_key_and_round_trips() {
    for (preset, m) in [(ModelPreset::DreamCnn, "cnn"), (ModelPreset::DreamRnn, "rnn"), (ModelPreset::DreamAttn, "attn")] {
        let model = load(preset, &format!("{m}_weights.safetensors"));
        let bytes = model.to_torch_safetensors(Precision::F32, None).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let names = load_json(&format!("{m}_names.json"));
        let mut expected: Vec<&String> = names.as_object().unwrap().keys().collect();
        let mut got: Vec<String> = st.names().into_iter().map(|s| s.to_string()).collect();
        expected.sort();
        got.sort();
        assert_eq!(got.iter().collect::<Vec<_>>(), expected, "{m}: exported keys");
        for (k, meta) in names.as_object().unwrap() {
            let shape: Vec<usize> = meta["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
            assert_eq!(st.tensor(k).unwrap().shape(), &shape[..], "{m}: {k}");
        }
        // Float tensors are bit-identical to the reference file.
        let reference = read_fixture(&format!("{m}_weights.safetensors"));
        let reference = safetensors::SafeTensors::deserialize(&reference).unwrap();
        for (k, v) in reference.tensors() {
            if v.dtype() == safetensors::Dtype::F32 {
                assert_eq!(st.tensor(&k).unwrap().data(), v.data(), "{m}: {k} bytes");
            }
        }
    }
}

#[test]
fn f16_export_loads_back_close_to_f32() {
    let model = load(ModelPreset::DreamCnn, "cnn_trained_weights.safetensors");
    let bytes = model.to_torch_safetensors(Precision::F16, None).unwrap();
    let half = PrixFixeNet::<B>::from_torch_safetensors(&ModelPreset::DreamCnn.config(), &bytes, &device()).unwrap();
    let g = load_tensors("cnn_trained_io.safetensors");
    let a = values(model.forward(tensor3(&g["input_pred_fwd"])));
    let b = values(half.forward(tensor3(&g["input_pred_fwd"])));
    let err = max_abs_diff(&a, &b);
    println!("f16 vs f32 prediction max abs diff {err:.3e}");
    assert!(err > 0.0 && err < 1e-2, "f16 difference {err}");
}

#[test]
fn wrong_architecture_is_a_clear_error() {
    let err = PrixFixeNet::<B>::from_torch_safetensors(&ModelPreset::DreamRnn.config(), &read_fixture("cnn_weights.safetensors"), &device())
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, LoadError::Weights(WeightError::Mismatch(_))), "{msg}");
    assert!(msg.contains("missing key core.lstm.weight_ih_l0"), "{msg}");
    assert!(msg.contains("unexpected key(s)"), "{msg}");
    assert!(msg.contains("final.mapper.0.weight: shape [18, 64, 1] in the file, the architecture needs [18, 320, 1]"), "{msg}");
}

#[test]
fn truncated_file_is_a_clear_error() {
    let bytes = read_fixture("cnn_weights.safetensors");
    let err = PrixFixeNet::<B>::from_torch_safetensors(&ModelPreset::DreamCnn.config(), &bytes[..bytes.len() / 2], &device())
        .unwrap_err();
    assert!(matches!(err, LoadError::Weights(WeightError::Format(_))), "{err}");
    assert!(err.to_string().starts_with("not a valid safetensors file"), "{err}");
}

#[test]
fn blocks_combine_when_shapes_fit_and_refuse_otherwise() {
    // Prix Fixe: autosome First Layers Block (6 → 320) + DREAM-CNN core + final block.
    let mut cfg = ModelPreset::DreamCnn.config();
    cfg.first = FirstBlockConfig::ConvBnSilu(ConvBnSiluConfig { in_channels: 6, out_channels: 320, kernel: 7 });
    let model = cfg.init::<B>(&device()).unwrap();
    let x = Tensor::<B, 3>::zeros([2, 6, 150], &device());
    assert_eq!(model.forward(x).dims(), [2, 1]);

    // DREAM-CNN first block (320 channels) into the Conformer core (256): refused.
    let mut bad = ModelPreset::DreamAttn.config();
    bad.first = ModelPreset::DreamCnn.config().first;
    let err = bad.init::<B>(&device()).unwrap_err();
    assert_eq!(
        err,
        ConfigError::ChannelMismatch { from: "the First Layers Block", out: 320, to: "the Core Layers Block", expected: 256 }
    );
    assert_eq!(err.to_string(), "the First Layers Block outputs 320 channels but the Core Layers Block expects 256");

    let mut bad = ModelPreset::DreamAttn.config();
    bad.seq_len = 230;
    assert_eq!(bad.validate(), Err(ConfigError::LengthMismatch { block: "Core", length: 150, window: 230 }));
}
