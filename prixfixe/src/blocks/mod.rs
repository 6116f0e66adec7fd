//! First, Core and Final Layers Blocks (paper Fig. 3, "Prix Fixe framework").
//!
//! Every block maps `(batch, channels_in, length)` to `(batch, channels_out, length)`; the Final
//! Layers Block maps `(batch, channels_in, length)` to 18-bin logits `(batch, 18)` or to one
//! regression value per task `(batch, tasks)`. Any First ×
//! Core × Final combination whose channel counts agree can be assembled
//! ([`crate::model::PrixFixeConfig::validate`]).

pub mod core_attn;
pub mod core_cnn;
pub mod core_rnn;
pub mod final_block;
pub mod first;

use burn::module::Module;
use burn::tensor::{backend::Backend, Tensor};
use serde::{Deserialize, Serialize};

use crate::weights::{ParamVisitor, VisitTorch};

pub use core_attn::{ConformerCore, ConformerCoreConfig};
pub use core_cnn::{EfficientNetCore, EfficientNetCoreConfig};
pub use core_rnn::{BiLstmCore, BiLstmCoreConfig};
pub use final_block::{FinalBlock, FinalBlockConfig, Head, RegressionConfig, RegressionHead, SoftBinsConfig, SoftBinsHead};
pub use first::{ConvBnSiluBlock, ConvBnSiluConfig, DualKernelConvBlock, DualKernelConvConfig, KmerEmbeddingBlock, KmerEmbeddingConfig};
pub use final_block::{BlockLoss, ExpressionTokensConfig, ExpressionTokensHead, FlattenMlpConfig, FlattenMlpHead};

/// Configuration of a First Layers Block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FirstBlockConfig {
    /// Parallel convolutions with different kernels, concatenated (BHI; DREAM-CNN, DREAM-RNN).
    DualKernelConv(DualKernelConvConfig),
    /// Conv → BatchNorm → SiLU (autosome; DREAM-Attn).
    ConvBnSilu(ConvBnSiluConfig),
    /// k-mer projection + strand embedding (UnlockDNA).
    KmerEmbedding(KmerEmbeddingConfig),
}

impl FirstBlockConfig {
    /// Multiply-adds per sequence of `len` bp.
    pub fn macs(&self, len: usize) -> u64 {
        match self {
            Self::DualKernelConv(c) => c.macs(len),
            Self::ConvBnSilu(c) => c.macs(len),
            Self::KmerEmbedding(c) => c.macs(len),
        }
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        match self {
            Self::DualKernelConv(c) => c.in_channels,
            Self::ConvBnSilu(c) => c.in_channels,
            Self::KmerEmbedding(c) => c.in_channels,
        }
    }
    /// Output channels.
    pub fn out_channels(&self) -> usize {
        match self {
            Self::DualKernelConv(c) => c.out_channels(),
            Self::ConvBnSilu(c) => c.out_channels,
            Self::KmerEmbedding(c) => c.out_channels,
        }
    }
    /// The sequence length the block requires, if it has a fixed one (strand embedding).
    pub fn fixed_length(&self) -> Option<usize> {
        match self {
            Self::KmerEmbedding(c) => Some(c.seq_len),
            _ => None,
        }
    }
    /// Builds the block with the reference initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> FirstBlock<B> {
        match self {
            Self::DualKernelConv(c) => FirstBlock::DualKernelConv(c.init(device)),
            Self::ConvBnSilu(c) => FirstBlock::ConvBnSilu(c.init(device)),
            Self::KmerEmbedding(c) => FirstBlock::KmerEmbedding(c.init(device)),
        }
    }
}

/// A First Layers Block.
#[derive(Module, Debug)]
pub enum FirstBlock<B: Backend> {
    /// See [`DualKernelConvBlock`].
    DualKernelConv(DualKernelConvBlock<B>),
    /// See [`ConvBnSiluBlock`].
    ConvBnSilu(ConvBnSiluBlock<B>),
    /// See [`KmerEmbeddingBlock`].
    KmerEmbedding(KmerEmbeddingBlock<B>),
}

impl<B: Backend> FirstBlock<B> {
    /// `(batch, c_in, L)` → `(batch, c_out, L)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        match self {
            Self::DualKernelConv(b) => b.forward(x),
            Self::ConvBnSilu(b) => b.forward(x),
            Self::KmerEmbedding(b) => b.forward(x),
        }
    }
}

impl<B: Backend> VisitTorch<B> for FirstBlock<B> {
    fn visit_torch<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        match self {
            Self::DualKernelConv(b) => b.visit_torch(v, prefix),
            Self::ConvBnSilu(b) => b.visit_torch(v, prefix),
            Self::KmerEmbedding(b) => b.visit_torch(v, prefix),
        }
    }
}

/// Configuration of a Core Layers Block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CoreBlockConfig {
    /// EfficientNet-like grouped-conv + squeeze-excitation stages (autosome; DREAM-CNN).
    EfficientNet(EfficientNetCoreConfig),
    /// BiLSTM followed by dual-kernel convolutions (BHI; DREAM-RNN).
    BiLstm(BiLstmCoreConfig),
    /// Conformer-style layers with a learned positional embedding (UnlockDNA; DREAM-Attn).
    Conformer(ConformerCoreConfig),
}

impl CoreBlockConfig {
    /// Multiply-adds per sequence of `len` bp.
    pub fn macs(&self, len: usize) -> u64 {
        match self {
            Self::EfficientNet(c) => c.macs(len),
            Self::BiLstm(c) => c.macs(len),
            Self::Conformer(c) => c.macs(len),
        }
    }

    /// Multiply-adds per sequence that native CPU inference executes: [`Self::macs`] except for
    /// the BiLSTM block's conv branches, which take the DFT there ([`crate::spectral`]).
    pub fn cpu_inference_macs(&self, len: usize) -> u64 {
        match self {
            Self::BiLstm(c) => c.cpu_inference_macs(len),
            other => other.macs(len),
        }
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        match self {
            Self::EfficientNet(c) => c.in_channels,
            Self::BiLstm(c) => c.in_channels,
            Self::Conformer(c) => c.dim,
        }
    }
    /// Output channels.
    pub fn out_channels(&self) -> usize {
        match self {
            Self::EfficientNet(c) => c.out_channels(),
            Self::BiLstm(c) => c.out_channels(),
            Self::Conformer(c) => c.dim,
        }
    }
    /// The sequence length the block requires, if it has a fixed one (positional embedding).
    pub fn fixed_length(&self) -> Option<usize> {
        match self {
            Self::Conformer(c) => Some(c.seq_len),
            _ => None,
        }
    }
    /// Builds the block with the reference initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> CoreBlock<B> {
        match self {
            Self::EfficientNet(c) => CoreBlock::EfficientNet(c.init(device)),
            Self::BiLstm(c) => CoreBlock::BiLstm(c.init(device)),
            Self::Conformer(c) => CoreBlock::Conformer(c.init(device)),
        }
    }
}

/// A Core Layers Block.
#[derive(Module, Debug)]
pub enum CoreBlock<B: Backend> {
    /// See [`EfficientNetCore`].
    EfficientNet(EfficientNetCore<B>),
    /// See [`BiLstmCore`].
    BiLstm(BiLstmCore<B>),
    /// See [`ConformerCore`].
    Conformer(ConformerCore<B>),
}

impl<B: Backend> CoreBlock<B> {
    /// `(batch, c_in, L)` → `(batch, c_out, L)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        match self {
            Self::EfficientNet(b) => b.forward(x),
            Self::BiLstm(b) => b.forward(x),
            Self::Conformer(b) => b.forward(x),
        }
    }
}

impl<B: Backend> VisitTorch<B> for CoreBlock<B> {
    fn visit_torch<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        match self {
            Self::EfficientNet(b) => b.visit_torch(v, prefix),
            Self::BiLstm(b) => b.visit_torch(v, prefix),
            Self::Conformer(b) => b.visit_torch(v, prefix),
        }
    }
}
