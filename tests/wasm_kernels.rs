//! The WebAssembly CPU path's matrix products (`prixfixe::gemm`, chosen by
//! `kernels::set_own_gemm`, the default on wasm32) run natively here on the shipped models: every
//! prediction equals the native path's (the gemm crate's products; DREAM-Attn's Conformer runs on
//! the same row code either way, its equality with the generic layers is a unit test in
//! `blocks::core_attn`), so the convolutions (k 1, 7, 9, 15, with and without bias), the BiLSTM,
//! multi-head attention and SwiGLU are wired with the right layouts. One test per binary: the
//! switch is process-wide.

use std::path::PathBuf;

use prixfixe::bundle::Bundle;
use prixfixe::predictor::plan_ism;
use prixfixe::{kernels, CpuBackend};

const SEQ: &str = "TGCATTTTTTTCACATCAAAAAAAAAAAGAAAAAGAAAGAAAAAGGGGGAATAACACAGCCGCGGGTAACATGAAGCGGCGCGAGCGATACTTCCGTGGTTACGGCTGTT";

#[test]
fn own_gemm_path_equals_burn_flex_on_the_shipped_models() {
    for model in ["dream-cnn", "dream-rnn", "dream-attn"] {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../public/models").join(model);
        let p = Bundle::read(&dir).unwrap().predictor::<CpuBackend>(&Default::default()).unwrap();
        let plan = plan_ism(p.processor(), SEQ, Some((18, 97))).unwrap();
        // 7 windows (14 rows): not a multiple of the 4-row tile.
        let windows = &plan.windows[..7];
        kernels::set_own_gemm(false);
        let want: Vec<f32> = p.predict_padded(windows).iter().map(|o| o.expression).collect();
        kernels::set_own_gemm(true);
        let got: Vec<f32> = p.predict_padded(windows).iter().map(|o| o.expression).collect();
        kernels::set_own_gemm(false);
        let spread = want.iter().fold(0f32, |m, v| m.max((v - want[0]).abs()));
        assert!(spread > 1e-3, "{model}: the windows must differ ({want:?})");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() < 1e-4, "{model} window {i}: own gemm {g}, burn-flex {w}");
        }
    }
}
