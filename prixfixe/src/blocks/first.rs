//! First Layers Blocks.

use burn::module::Module;
use burn::nn::conv::Conv1d;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::activation::relu;
use burn::tensor::{backend::Backend, Tensor};
use serde::{Deserialize, Serialize};

use crate::nn::{conv1d_same, visit_conv, BatchNorm1d, ConvInit};
use crate::weights::{ParamVisitor, VisitTorch};

/// Parallel 'same' convolutions, each → ReLU → (MaxPool k=1, identity) → Dropout, concatenated on
/// channels in kernel order. Used by the BHI First Layers Block and inside the BiLSTM core.
///
/// `(batch, c_in, L)` → `(batch, kernels.len() · channels_per_kernel, L)`. Reference keys
/// `conv_list.{i}.conv.{weight,bias}`.
#[derive(Module, Debug)]
pub struct ConvBranches<B: Backend> {
    /// One convolution per kernel size.
    pub convs: Vec<Conv1d<B>>,
    /// Dropout after each branch.
    pub dropout: Dropout,
}

impl<B: Backend> ConvBranches<B> {
    /// PyTorch-default initialised branches.
    pub fn new(c_in: usize, per_kernel: usize, kernels: &[usize], dropout: f64, device: &B::Device) -> Self {
        Self {
            convs: kernels
                .iter()
                .map(|&k| conv1d_same(c_in, per_kernel, k, 1, true, ConvInit::TorchDefault, device))
                .collect(),
            dropout: DropoutConfig::new(dropout).init(),
        }
    }

    /// `(batch, c_in, L)` → `(batch, Σ channels, L)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let outs = self
            .convs
            .iter()
            .map(|c| self.dropout.forward(relu(c.forward(x.clone()))))
            .collect();
        Tensor::cat(outs, 1)
    }

    /// Visits `{prefix}conv_list.{i}.conv.*`.
    pub fn visit_params<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        for (i, c) in self.convs.iter_mut().enumerate() {
            visit_conv(c, v, &format!("{prefix}conv_list.{i}.conv."));
        }
    }
}

/// Configuration of [`DualKernelConvBlock`]. DREAM-CNN / DREAM-RNN: 6 → 2 × 160, kernels 9 and 15,
/// dropout 0.2 (reference §2.1; the paper's "256 channels" is not what the code builds, §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DualKernelConvConfig {
    /// Input channels (6).
    pub in_channels: usize,
    /// Output channels of each branch (160).
    pub channels_per_kernel: usize,
    /// Kernel sizes, odd ([9, 15]).
    pub kernels: Vec<usize>,
    /// Dropout probability (0.2).
    pub dropout: f64,
}

impl DualKernelConvConfig {
    /// Output channels: `kernels.len() · channels_per_kernel`.
    pub fn out_channels(&self) -> usize {
        self.kernels.len() * self.channels_per_kernel
    }
    /// PyTorch-default initialisation (the BHI block keeps PyTorch defaults, reference §3).
    pub fn init<B: Backend>(&self, device: &B::Device) -> DualKernelConvBlock<B> {
        DualKernelConvBlock {
            branches: ConvBranches::new(
                self.in_channels,
                self.channels_per_kernel,
                &self.kernels,
                self.dropout,
                device,
            ),
        }
    }
}

/// BHI First Layers Block: parallel convolutions with different kernels, no normalisation.
/// `(batch, 6, L)` → `(batch, 320, L)` for DREAM-CNN / DREAM-RNN.
#[derive(Module, Debug)]
pub struct DualKernelConvBlock<B: Backend> {
    /// The parallel branches.
    pub branches: ConvBranches<B>,
}

impl<B: Backend> DualKernelConvBlock<B> {
    /// `(batch, c_in, L)` → `(batch, c_out, L)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.branches.forward(x)
    }
}

impl<B: Backend> VisitTorch<B> for DualKernelConvBlock<B> {
    fn visit_torch<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        self.branches.visit_params(v, prefix);
    }
}

/// Configuration of [`ConvBnSiluBlock`]. DREAM-Attn: 6 → 256, kernel 7 (reference §2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvBnSiluConfig {
    /// Input channels (6).
    pub in_channels: usize,
    /// Output channels (256).
    pub out_channels: usize,
    /// Kernel size, odd (7).
    pub kernel: usize,
}

impl ConvBnSiluConfig {
    /// Autosome initialisation (reference §3).
    pub fn init<B: Backend>(&self, device: &B::Device) -> ConvBnSiluBlock<B> {
        ConvBnSiluBlock {
            conv: conv1d_same(self.in_channels, self.out_channels, self.kernel, 1, false, ConvInit::Autosome, device),
            bn: BatchNorm1d::new(self.out_channels, device),
        }
    }
}

/// Autosome First Layers Block: Conv1d (no bias) → BatchNorm → SiLU.
/// Reference keys `block.0.weight`, `block.1.*`.
#[derive(Module, Debug)]
pub struct ConvBnSiluBlock<B: Backend> {
    /// Convolution without bias.
    pub conv: Conv1d<B>,
    /// Batch normalisation.
    pub bn: BatchNorm1d<B>,
}

impl<B: Backend> ConvBnSiluBlock<B> {
    /// `(batch, c_in, L)` → `(batch, c_out, L)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.bn.forward_silu(self.conv.forward(x))
    }
}

impl<B: Backend> VisitTorch<B> for ConvBnSiluBlock<B> {
    fn visit_torch<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        visit_conv(&mut self.conv, v, &format!("{prefix}block.0."));
        self.bn.visit_params(v, &format!("{prefix}block.1."));
    }
}
