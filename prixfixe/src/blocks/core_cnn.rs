//! Autosome EfficientNet-like Core Layers Block (DREAM-CNN; reference ARCHITECTURE.md §2.1).
//!
//! Each stage computes `x ← Resize(concat[x, InvRes(x)])`, where InvRes is an inverted residual
//! (1×1 expand → grouped k=7 conv with 2 channels per group → squeeze-excitation → 1×1 project,
//! each conv followed by BatchNorm and SiLU) and Resize is a k=7 conv → BN → SiLU to the stage
//! width. Every conv has no bias.

use burn::module::Module;
use burn::nn::conv::Conv1d;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::{sigmoid, silu};
use burn::tensor::{backend::Backend, Tensor};
use serde::{Deserialize, Serialize};

use crate::nn::{conv1d_same, visit_conv, visit_linear, BatchNorm1d, ConvInit};
use crate::weights::{ParamVisitor, VisitTorch};

/// Configuration of [`EfficientNetCore`]. DREAM-CNN: 320 → [128, 128, 64, 64, 64, 64],
/// expansion 4, kernel 7, 2 filters per group, SE reduction 4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EfficientNetCoreConfig {
    /// Input channels (320: the BHI first block's 2 × 160).
    pub in_channels: usize,
    /// Output width of each stage.
    pub channels: Vec<usize>,
    /// Expansion factor of the inverted residual (4).
    pub expansion: usize,
    /// Kernel of the grouped and resize convolutions (7).
    pub kernel: usize,
    /// Channels per group of the grouped convolution (2).
    pub filters_per_group: usize,
    /// SE hidden width = stage input channels / this (4).
    pub se_reduction: usize,
}

impl EfficientNetCoreConfig {
    /// Multiply-adds per sequence of `len` bp: per stage the 1×1 expand and project, the grouped
    /// conv, the squeeze-excitation (once per sequence) and the resize conv.
    pub fn macs(&self, len: usize) -> u64 {
        let mut prev = self.in_channels;
        let mut total = 0;
        for &sz in &self.channels {
            let e = self.expansion * sz;
            let per_position = prev * e + e * self.filters_per_group * self.kernel + e * prev + 2 * prev * sz * self.kernel;
            total += (per_position * len + 2 * e * (prev / self.se_reduction)) as u64;
            prev = sz;
        }
        total
    }

    /// Output channels (the last stage's width).
    pub fn out_channels(&self) -> usize {
        *self.channels.last().unwrap_or(&self.in_channels)
    }

    /// Autosome initialisation (reference §3).
    pub fn init<B: Backend>(&self, device: &B::Device) -> EfficientNetCore<B> {
        let mut prev = self.in_channels;
        let mut stages = Vec::new();
        for &sz in &self.channels {
            let e = self.expansion * sz;
            let se_hidden = prev / self.se_reduction;
            let lin = |i, o| {
                let mut l = LinearConfig::new(i, o)
                    .with_initializer(Initializer::Normal { mean: 0.0, std: 0.001 })
                    .init(device);
                if let Some(b) = l.bias.as_mut() {
                    *b = burn::module::Param::from_tensor(Tensor::zeros([o], device));
                }
                l
            };
            stages.push(EfficientStage {
                expand: conv1d_same(prev, e, 1, 1, false, ConvInit::Autosome, device),
                expand_bn: BatchNorm1d::new(e, device),
                grouped: conv1d_same(e, e, self.kernel, e / self.filters_per_group, false, ConvInit::Autosome, device),
                grouped_bn: BatchNorm1d::new(e, device),
                se_fc1: lin(e, se_hidden),
                se_fc2: lin(se_hidden, e),
                project: conv1d_same(e, prev, 1, 1, false, ConvInit::Autosome, device),
                project_bn: BatchNorm1d::new(prev, device),
                resize: conv1d_same(2 * prev, sz, self.kernel, 1, false, ConvInit::Autosome, device),
                resize_bn: BatchNorm1d::new(sz, device),
            });
            prev = sz;
        }
        EfficientNetCore { stages }
    }
}

/// One stage: inverted residual with squeeze-excitation, channel concat, resize.
#[derive(Module, Debug)]
pub struct EfficientStage<B: Backend> {
    /// 1×1 conv `prev → E` (key `inv_res_blc{i}.0`).
    pub expand: Conv1d<B>,
    /// (key `.1`).
    pub expand_bn: BatchNorm1d<B>,
    /// Grouped conv `E → E`, k=7, groups E/2 (key `.3`).
    pub grouped: Conv1d<B>,
    /// (key `.4`).
    pub grouped_bn: BatchNorm1d<B>,
    /// SE squeeze `E → prev/4` (key `.6.fc.0`).
    pub se_fc1: Linear<B>,
    /// SE excite `prev/4 → E` (key `.6.fc.2`).
    pub se_fc2: Linear<B>,
    /// 1×1 conv `E → prev` (key `.7`).
    pub project: Conv1d<B>,
    /// (key `.8`).
    pub project_bn: BatchNorm1d<B>,
    /// k=7 conv `2·prev → sz` (key `resize_blc{i}.0`).
    pub resize: Conv1d<B>,
    /// (key `resize_blc{i}.1`).
    pub resize_bn: BatchNorm1d<B>,
}

impl<B: Backend> EfficientStage<B> {
    /// Inverted residual branch `(batch, prev, L)` → `(batch, prev, L)`.
    pub fn inverted_residual(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let h = self.expand_bn.conv_silu(&self.expand, vec![x], None);
        let h = self.grouped_bn.conv_silu(&self.grouped, vec![h], None);
        let gate = self.se_gate(h.clone());
        self.project_bn.conv_silu(&self.project, vec![h], Some(gate))
    }

    /// Squeeze-excitation gate `(batch, E, L)` → `(batch, E)` in (0, 1).
    pub fn se_gate(&self, h: Tensor<B, 3>) -> Tensor<B, 2> {
        let s: Tensor<B, 2> = h.mean_dim(2).squeeze_dim(2);
        sigmoid(self.se_fc2.forward(silu(self.se_fc1.forward(s))))
    }

    /// `(batch, prev, L)` → `(batch, sz, L)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let inv = self.inverted_residual(x.clone());
        self.resize_bn.conv_silu(&self.resize, vec![x, inv], None)
    }
}

/// DREAM-CNN Core Layers Block. `(batch, 320, L)` → `(batch, 64, L)`. Reference keys
/// `seqextractor.inv_res_blc{i}.*`, `seqextractor.resize_blc{i}.*`.
#[derive(Module, Debug)]
pub struct EfficientNetCore<B: Backend> {
    /// The stages, in order.
    pub stages: Vec<EfficientStage<B>>,
}

impl<B: Backend> EfficientNetCore<B> {
    /// `(batch, c_in, L)` → `(batch, c_out, L)`.
    pub fn forward(&self, mut x: Tensor<B, 3>) -> Tensor<B, 3> {
        for s in &self.stages {
            x = s.forward(x);
        }
        x
    }
}

impl<B: Backend> VisitTorch<B> for EfficientNetCore<B> {
    fn visit_torch<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        for (i, s) in self.stages.iter_mut().enumerate() {
            let p = format!("{prefix}seqextractor.inv_res_blc{i}.");
            visit_conv(&mut s.expand, v, &format!("{p}0."));
            s.expand_bn.visit_params(v, &format!("{p}1."));
            visit_conv(&mut s.grouped, v, &format!("{p}3."));
            s.grouped_bn.visit_params(v, &format!("{p}4."));
            visit_linear(&mut s.se_fc1, v, &format!("{p}6.fc.0."));
            visit_linear(&mut s.se_fc2, v, &format!("{p}6.fc.2."));
            visit_conv(&mut s.project, v, &format!("{p}7."));
            s.project_bn.visit_params(v, &format!("{p}8."));
            let r = format!("{prefix}seqextractor.resize_blc{i}.");
            visit_conv(&mut s.resize, v, &format!("{r}0."));
            s.resize_bn.visit_params(v, &format!("{r}1."));
        }
    }
}
