//! Parity with the reference's secondary-benchmark models (PRIXFIXE-MODULES.md §7, fixtures
//! `dros_dream_rnn_*` and `human_dream_cnn_*` made by running the benchmark packages): the
//! benchmark DataProcessor's encodings (exact), the regression Final Layers Block, the full human
//! DREAM-CNN, and the parameter counts of §7.4.
//!
//! Drosophila: the repository keeps only the Final Layers Block of that fixture's state_dict
//! (`dros_dream_rnn_final.safetensors`, cut from the 17 MB file by
//! `scripts/subset-safetensors.py`); the heads are checked from the fixture's stored `core_out`,
//! the DREAM-RNN core itself by the yeast fixture (`parity.rs`), and the full state_dict's key
//! names and shapes against `dros_dream_rnn_names.json`.

use std::path::PathBuf;

use burn::tensor::{Tensor, TensorData};
use dream_tests::{load_json, load_tensors, max_abs_diff, read_fixture, Golden};
use prixfixe::blocks::FinalBlock;
use prixfixe::dataset::{Dataset, Loss};
use prixfixe::model::{ModelPreset, PrixFixeNet};
use prixfixe::training::mse_loss;
use prixfixe::weights::{Precision, TorchLoader, VisitTorch};
use prixfixe::CpuBackend as B;

fn device() -> burn::tensor::Device<B> {
    Default::default()
}

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("data").join(path)
}

fn tensor<const D: usize>(g: &Golden) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(g.values.clone(), g.shape.clone()), &device())
}

fn values<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec::<f32>().unwrap()
}

/// `max |ours − golden| ≤ rel · max |golden|` (untrained regression outputs are ~1e-4, so the
/// tolerance follows their size; the issue asks for 1e-3 of the largest magnitude).
fn check_rel(what: &str, ours: &[f32], golden: &Golden, rel: f32) {
    let scale = golden.values.iter().fold(0f32, |m, v| m.max(v.abs()));
    let err = max_abs_diff(ours, &golden.values);
    println!("{what:<28} max abs err {err:.3e}  (largest |value| {scale:.3e}, relative {:.2e})", err / scale);
    assert!(err <= rel * scale, "{what}: max abs error {err:e} > {rel:e} × {scale:e}");
}

/// Reads rows `rows` (0-based data rows) of a sample table with the dataset and encodes them as
/// the benchmark DataProcessor does: one pass per row, is_reverse from the id.
fn encode_rows(dataset: &Dataset, file: &str, rows: &[usize]) -> (Vec<f32>, Vec<f32>, Vec<String>) {
    let text = std::fs::read(data(file)).unwrap();
    let table = dataset.read_table(file, text.as_slice(), false).unwrap().select(rows);
    let p = dataset.processor();
    let samples: Vec<usize> = (0..rows.len()).collect();
    let (x, _, truth) = table.set.batch::<B>(&p, Loss::Mse, &samples, &device());
    (values(x), truth, table.ids)
}

fn fixture_ids(io_json: &str) -> Vec<String> {
    load_json(io_json)["sequences"].as_array().unwrap().iter().map(|s| {
        s.get("id").or_else(|| s.get("seq_id")).and_then(|v| v.as_str()).unwrap().to_string()
    }).collect()
}

/// The model's exported state_dict has exactly the reference keys and shapes of `names_json`.
fn assert_reference_keys(model: &PrixFixeNet<B>, names_json: &str) {
    let bytes = model.to_torch_safetensors(Precision::F32, None).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let names = load_json(names_json);
    let expected: std::collections::BTreeMap<String, Vec<usize>> = names["keys"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect()))
        .collect();
    let ours: std::collections::BTreeMap<String, Vec<usize>> = st.tensors().into_iter().map(|(k, v)| (k, v.shape().to_vec())).collect();
    assert_eq!(ours, expected, "{names_json}");
}

#[test]
fn parameter_counts_of_the_benchmark_models() {
    // PRIXFIXE-MODULES.md §7.4 (the notebooks' torchinfo).
    let expect = [
        (ModelPreset::DreamRnn, Dataset::deepstarr(), 4_285_826),
        (ModelPreset::DreamRnn, Dataset::lentimpra(), 4_203_393),
        (ModelPreset::DreamCnn, Dataset::deepstarr(), 1_962_754),
        (ModelPreset::DreamCnn, Dataset::lentimpra(), 1_945_857),
        (ModelPreset::DreamAttn, Dataset::deepstarr(), 4_690_434),
        (ModelPreset::DreamAttn, Dataset::lentimpra(), 4_619_521),
    ];
    for (preset, dataset, n) in expect {
        let model = dataset.model_config(preset).init::<B>(&device()).unwrap();
        assert_eq!(model.num_trainable(), n, "{preset} on {}", dataset.name);
    }
}

#[test]
fn human_dream_cnn_matches_reference() {
    let dataset = Dataset::lentimpra();
    let g = load_tensors("human_dream_cnn_io.safetensors");
    // Encoding: rows 0, 1, 3, 4 of the human test sample (F, Rev, F, Rev), exact.
    let (x, y, ids) = encode_rows(&dataset, "human/sample_test.tsv", &[0, 1, 3, 4]);
    assert_eq!(ids, fixture_ids("human_dream_cnn_io.json"));
    assert_eq!(x, g["input"].values, "benchmark DataProcessor encoding");
    assert_eq!(y, g["y"].values, "targets");

    let config = dataset.model_config(ModelPreset::DreamCnn);
    let model = PrixFixeNet::<B>::from_torch_safetensors(&config, &read_fixture("human_dream_cnn_weights.safetensors"), &device()).unwrap();
    assert_eq!(model.num_trainable(), 1_945_857);
    let parts = model.forward_parts(tensor(&g["input"]));
    check_rel("human core_out", &values(parts.core.clone()), &g["core_out"], 1e-5);
    let FinalBlock::Regression(head) = &model.final_block else { panic!("regression head expected") };
    let pooled = head.pooled(parts.core.clone()).remove(0);
    check_rel("human final_mapper_pooled", &values(pooled), &g["final_mapper_pooled"], 1e-5);
    check_rel("human prediction", &values(parts.logits.clone()), &g["prediction"], 1e-4);
    check_rel("human prediction (forward)", &values(model.forward(tensor(&g["input"]))), &g["prediction"], 1e-4);
    let loss: f32 = mse_loss(parts.logits, Tensor::<B, 1>::from_floats(y.as_slice(), &device()).unsqueeze_dim(1)).into_scalar();
    check_rel("human loss", &[loss], &g["loss"], 1e-5);

    // The weights go back out under the reference names, loadable with strict=True.
    assert_reference_keys(&model, "human_dream_cnn_names.json");
}

#[test]
fn drosophila_dream_rnn_matches_reference() {
    let dataset = Dataset::deepstarr();
    let g = load_tensors("dros_dream_rnn_io.safetensors");
    // Encoding: rows 0, 1, 4, 5 of the Drosophila test sample (strand −, +, +, −), exact.
    let (x, y, ids) = encode_rows(&dataset, "drosophila/sample_test.tsv", &[0, 1, 4, 5]);
    assert_eq!(ids, fixture_ids("dros_dream_rnn_io.json"));
    assert_eq!(x, g["input"].values, "benchmark DataProcessor encoding");
    assert_eq!(y, g["y"].values, "targets (Dev, Hk)");
    let channel4: Vec<f32> = (0..4).map(|b| x[b * 5 * 249 + 4 * 249]).collect();
    assert_eq!(channel4, vec![1.0, 0.0, 0.0, 1.0], "is_reverse from the id");

    // The whole model: parameters and reference key names / shapes.
    let config = dataset.model_config(ModelPreset::DreamRnn);
    let mut model = config.init::<B>(&device()).unwrap();
    assert_eq!(model.num_trainable(), 4_285_826);
    assert_reference_keys(&model, "dros_dream_rnn_names.json");

    // The two regression heads from the stored core output.
    let w = read_fixture("dros_dream_rnn_final.safetensors");
    let mut loader = TorchLoader::<B>::new(&w, &device()).unwrap();
    model.final_block.visit_torch(&mut loader, "final.");
    loader.finish().unwrap();
    let core = tensor::<3>(&g["core_out"]);
    let FinalBlock::Regression(head) = &model.final_block else { panic!("regression head expected") };
    let pooled = head.pooled(core.clone());
    check_rel("dros final_mapper1_pooled", &values(pooled[0].clone()), &g["final_mapper1_pooled"], 1e-5);
    check_rel("dros final_mapper2_pooled", &values(pooled[1].clone()), &g["final_mapper2_pooled"], 1e-5);
    let out = model.final_block.forward(core);
    assert_eq!(out.dims(), [4, 2]);
    let cols = |k: usize| values(out.clone().narrow(1, k, 1));
    check_rel("dros pred_dev", &cols(0), &g["pred_dev"], 1e-4);
    check_rel("dros pred_hk", &cols(1), &g["pred_hk"], 1e-4);
    let loss: f32 = mse_loss(out, tensor::<2>(&g["y"])).into_scalar();
    check_rel("dros loss (MSE Dev + MSE Hk)", &[loss], &g["loss"], 1e-5);
}

#[test]
fn benchmark_datasets_keep_both_orientations_together() {
    // Human: the fold column keeps F / _Reversed: pairs together in every sample file.
    let d = Dataset::lentimpra();
    let mut all = None::<prixfixe::dataset::LabelledTable>;
    for f in ["human/sample_train.tsv", "human/sample_valid.tsv", "human/sample_test.tsv"] {
        let t = d.read_table(f, std::fs::read(data(f)).unwrap().as_slice(), false).unwrap();
        assert_eq!(t.len(), 1000);
        match &mut all {
            Some(a) => a.append(t),
            None => all = Some(t),
        }
    }
    let all = all.unwrap();
    all.check_pairs_together(&d, &all.folds, "human", "fold").unwrap();
    let keys = all.pair_keys(&d);
    let mut counts = std::collections::HashMap::<&str, usize>::new();
    for k in &keys {
        *counts.entry(k).or_default() += 1;
    }
    assert!(counts.values().filter(|&&c| c == 2).count() >= 100, "pairs found in the samples");
    let rev = all.set.is_reverse.iter().filter(|&&r| r).count();
    assert!(rev > 0 && rev < all.len());
}
