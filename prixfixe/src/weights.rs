//! PyTorch `state_dict` import and export (safetensors), with the reference key names.
//!
//! Every block lists its tensors once, through [`VisitTorch::visit_torch`], with the key name the
//! public PyTorch reference uses (`../shared/reference/*_names.json`) and its PyTorch layout. The
//! same listing drives both directions:
//! - [`TorchLoader`] reads a safetensors `state_dict` (from bytes, so the browser can use it) into
//!   a freshly built model, checking every shape, reporting missing and unexpected keys;
//! - [`TorchExporter`] writes the model back as a `state_dict` that the reference PyTorch code
//!   loads with `strict=True` (BN `num_batches_tracked` and `final.bins` included).
//!
//! Layout notes (reference ARCHITECTURE.md §2): burn's `Linear` stores `(in, out)` where PyTorch
//! stores `(out, in)` — [`Layout::Linear`] transposes. The LSTM keeps PyTorch's packed gate order
//! `[i, f, g, o]` and the attention keeps the packed `in_proj` `[W_q; W_k; W_v]`, so both load
//! without reshuffling (see `nn.rs`).

use std::collections::{BTreeMap, HashSet};

use burn::module::{Param, RunningState};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use safetensors::{tensor::TensorView, Dtype, SafeTensors};

/// How a burn tensor relates to its PyTorch counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Same shape and memory order.
    Same,
    /// burn `Linear` weight `(in, out)` ↔ PyTorch `(out, in)`.
    Linear,
}

/// Receives each tensor of a module with its reference key.
pub trait ParamVisitor<B: Backend> {
    /// A trainable float tensor.
    fn param<const D: usize>(&mut self, key: &str, p: &mut Param<Tensor<B, D>>, layout: Layout);
    /// A non-trainable float buffer (BatchNorm running statistics).
    fn running<const D: usize>(&mut self, key: &str, r: &mut RunningState<Tensor<B, D>>);
    /// An int64 buffer the reference stores but the computation does not read
    /// (`num_batches_tracked`, `final.bins`).
    fn int64_buffer(&mut self, key: &str, shape: &[usize], values: &[i64]);
}

/// A module whose tensors carry PyTorch reference names.
pub trait VisitTorch<B: Backend> {
    /// Visits every tensor, keys prefixed with `prefix` (e.g. `"core.blocks.0."`).
    fn visit_torch<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str);
}

/// Why weights could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightError {
    /// Not a readable safetensors file (truncated, corrupt header, …).
    #[error("not a valid safetensors file: {0}")]
    Format(String),
    /// Tensors did not match the architecture.
    #[error("weights do not match the architecture:\n  {}", .0.join("\n  "))]
    Mismatch(Vec<String>),
}

/// Loads a safetensors `state_dict` into a model, by reference key.
pub struct TorchLoader<'a, B: Backend> {
    tensors: SafeTensors<'a>,
    device: B::Device,
    used: HashSet<String>,
    problems: Vec<String>,
}

impl<'a, B: Backend> TorchLoader<'a, B> {
    /// Parses the safetensors header of `bytes`.
    ///
    /// # Errors
    /// [`WeightError::Format`] when the bytes are not a safetensors file.
    pub fn new(bytes: &'a [u8], device: &B::Device) -> Result<Self, WeightError> {
        let tensors =
            SafeTensors::deserialize(bytes).map_err(|e| WeightError::Format(e.to_string()))?;
        Ok(Self { tensors, device: device.clone(), used: HashSet::new(), problems: Vec::new() })
    }

    /// Finishes loading: errors when any key was missing or mismatched, or when the file holds
    /// keys the architecture does not have.
    ///
    /// # Errors
    /// [`WeightError::Mismatch`] listing every problem.
    pub fn finish(mut self) -> Result<(), WeightError> {
        let mut unexpected: Vec<String> = self
            .tensors
            .names()
            .into_iter()
            .filter(|k| !self.used.contains(*k))
            .map(|k| k.to_string())
            .collect();
        unexpected.sort();
        if !unexpected.is_empty() {
            let shown: Vec<_> = unexpected.iter().take(8).cloned().collect();
            self.problems.push(format!(
                "{} unexpected key(s) not in this architecture: {}{}",
                unexpected.len(),
                shown.join(", "),
                if unexpected.len() > 8 { ", …" } else { "" }
            ));
        }
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(WeightError::Mismatch(self.problems))
        }
    }

    fn read_f32(&mut self, key: &str, expected: &[usize]) -> Option<Vec<f32>> {
        let view = match self.tensors.tensor(key) {
            Ok(v) => v,
            Err(_) => {
                self.problems.push(format!("missing key {key} (expected shape {expected:?})"));
                return None;
            }
        };
        self.used.insert(key.to_string());
        if view.shape() != expected {
            self.problems.push(format!(
                "{key}: shape {:?} in the file, the architecture needs {expected:?}",
                view.shape()
            ));
            return None;
        }
        match view_to_f32(&view) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problems.push(format!("{key}: {e}"));
                None
            }
        }
    }
}

fn view_to_f32(view: &TensorView<'_>) -> Result<Vec<f32>, String> {
    let data = view.data();
    let out = match view.dtype() {
        Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        other => return Err(format!("dtype {other:?} is not a float type")),
    };
    Ok(out)
}

fn torch_shape(burn_shape: &[usize], layout: Layout) -> Vec<usize> {
    match layout {
        Layout::Same => burn_shape.to_vec(),
        Layout::Linear => burn_shape.iter().rev().copied().collect(),
    }
}

impl<B: Backend> ParamVisitor<B> for TorchLoader<'_, B> {
    fn param<const D: usize>(&mut self, key: &str, p: &mut Param<Tensor<B, D>>, layout: Layout) {
        let burn_shape = p.lazy_shape().to_vec();
        let tshape = torch_shape(&burn_shape, layout);
        if let Some(values) = self.read_f32(key, &tshape) {
            let t = Tensor::<B, D>::from_data(TensorData::new(values, tshape), &self.device);
            let t = match layout {
                Layout::Same => t,
                Layout::Linear => t.transpose(),
            };
            *p = Param::from_tensor(t);
        }
    }

    fn running<const D: usize>(&mut self, key: &str, r: &mut RunningState<Tensor<B, D>>) {
        let shape = r.value().dims().to_vec();
        if let Some(values) = self.read_f32(key, &shape) {
            let t = Tensor::<B, D>::from_data(TensorData::new(values, shape), &self.device);
            *r = RunningState::new(t);
        }
    }

    fn int64_buffer(&mut self, key: &str, _shape: &[usize], _values: &[i64]) {
        // Optional on load: informational in the reference, unused by the computation.
        self.used.insert(key.to_string());
    }
}

/// One exported tensor: shape and little-endian bytes.
struct Entry {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// Precision of exported float tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// IEEE float32.
    F32,
    /// IEEE float16 (halves the download; loaded back as f32).
    F16,
}

/// Collects a model's tensors as a PyTorch `state_dict` in safetensors format.
pub struct TorchExporter {
    precision: Precision,
    entries: BTreeMap<String, Entry>,
}

impl TorchExporter {
    /// A new exporter writing float tensors at `precision`.
    pub fn new(precision: Precision) -> Self {
        Self { precision, entries: BTreeMap::new() }
    }

    fn push_f32(&mut self, key: &str, shape: Vec<usize>, values: &[f32]) {
        let (dtype, bytes) = match self.precision {
            Precision::F32 => (Dtype::F32, values.iter().flat_map(|v| v.to_le_bytes()).collect()),
            Precision::F16 => (
                Dtype::F16,
                values.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect(),
            ),
        };
        self.entries.insert(key.to_string(), Entry { dtype, shape, bytes });
    }

    /// Serialises to safetensors bytes, with optional string metadata.
    ///
    /// # Errors
    /// Only on internal inconsistency (shape and byte count disagree).
    pub fn to_bytes(
        &self,
        metadata: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Vec<u8>, WeightError> {
        let views: Vec<(String, TensorView<'_>)> = self
            .entries
            .iter()
            .map(|(k, e)| {
                TensorView::new(e.dtype, e.shape.clone(), &e.bytes)
                    .map(|v| (k.clone(), v))
                    .map_err(|err| WeightError::Format(err.to_string()))
            })
            .collect::<Result<_, _>>()?;
        safetensors::serialize(views, metadata).map_err(|e| WeightError::Format(e.to_string()))
    }

    /// Number of tensors collected.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when nothing was collected.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn tensor_values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec::<f32>().expect("float tensor data")
}

impl<B: Backend> ParamVisitor<B> for TorchExporter {
    fn param<const D: usize>(&mut self, key: &str, p: &mut Param<Tensor<B, D>>, layout: Layout) {
        let t = p.val();
        let t = match layout {
            Layout::Same => t,
            Layout::Linear => t.transpose(),
        };
        let shape = t.dims().to_vec();
        self.push_f32(key, shape, &tensor_values(t));
    }

    fn running<const D: usize>(&mut self, key: &str, r: &mut RunningState<Tensor<B, D>>) {
        let t = r.value();
        let shape = t.dims().to_vec();
        self.push_f32(key, shape, &tensor_values(t));
    }

    fn int64_buffer(&mut self, key: &str, shape: &[usize], values: &[i64]) {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.entries
            .insert(key.to_string(), Entry { dtype: Dtype::I64, shape: shape.to_vec(), bytes });
    }
}

/// Counts trainable parameters (elements of every [`ParamVisitor::param`]).
#[derive(Debug, Default)]
pub struct ParamCounter {
    /// Total number of trainable scalars.
    pub count: usize,
}

impl<B: Backend> ParamVisitor<B> for ParamCounter {
    fn param<const D: usize>(&mut self, _key: &str, p: &mut Param<Tensor<B, D>>, _layout: Layout) {
        self.count += p.lazy_shape().num_elements();
    }
    fn running<const D: usize>(&mut self, _key: &str, _r: &mut RunningState<Tensor<B, D>>) {}
    fn int64_buffer(&mut self, _key: &str, _shape: &[usize], _values: &[i64]) {}
}
