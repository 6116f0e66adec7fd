//! Helpers for the cross-crate tests: fixture paths and safetensors reading.

use std::collections::HashMap;
use std::path::PathBuf;

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// Reads a fixture file, with a clear message when it is missing.
pub fn read_fixture(name: &str) -> Vec<u8> {
    let p = fixture(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", p.display()))
}

/// A float32 tensor from a fixture: shape and values.
#[derive(Debug, Clone)]
pub struct Golden {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Every tensor of a safetensors fixture as f32 values (f32 as stored; u8, i64 and f64
/// converted).
pub fn load_tensors(name: &str) -> HashMap<String, Golden> {
    use safetensors::Dtype;
    let bytes = read_fixture(name);
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("valid safetensors fixture");
    st.tensors()
        .into_iter()
        .filter_map(|(k, v)| {
            let d = v.data();
            let values: Vec<f32> = match v.dtype() {
                Dtype::F32 => d.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
                Dtype::U8 => d.iter().map(|&b| b as f32).collect(),
                Dtype::I64 => d.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
                Dtype::F64 => d.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
                _ => return None,
            };
            Some((k, Golden { shape: v.shape().to_vec(), values }))
        })
        .collect()
}

/// A JSON fixture.
pub fn load_json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&read_fixture(name)).expect("valid JSON fixture")
}

/// Max absolute difference; panics on a length mismatch.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}
