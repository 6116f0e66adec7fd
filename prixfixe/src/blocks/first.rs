//! First Layers Blocks.

use burn::module::Module;
use burn::nn::conv::Conv1d;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::activation::relu;
use burn::tensor::{backend::Backend, Tensor};
use serde::{Deserialize, Serialize};

use crate::nn::{conv1d_same, conv_forward, visit_conv, BatchNorm1d, ConvInit};
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
            .map(|c| crate::nn::dropout(&self.dropout, relu(conv_forward(c, x.clone()))))
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
    /// Multiply-adds per sequence of `len` bp: one 'same' conv per kernel.
    pub fn macs(&self, len: usize) -> u64 {
        self.kernels.iter().map(|&k| (self.in_channels * self.channels_per_kernel * k * len) as u64).sum()
    }

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
    /// Multiply-adds per sequence of `len` bp.
    pub fn macs(&self, len: usize) -> u64 {
        (self.in_channels * self.out_channels * self.kernel * len) as u64
    }

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
        self.bn.conv_silu(&self.conv, vec![x], None)
    }
}

impl<B: Backend> VisitTorch<B> for ConvBnSiluBlock<B> {
    fn visit_torch<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        visit_conv(&mut self.conv, v, &format!("{prefix}block.0."));
        self.bn.visit_params(v, &format!("{prefix}block.1."));
    }
}

/// Configuration of [`KmerEmbeddingBlock`], the UnlockDNA First Layers Block
/// (PRIXFIXE-MODULES.md §1.1). Works only with an even `kmer`, stride 1 and `seq_len` equal to
/// the (even) model window; the published defaults (k-mer 3, stride 2) cannot run with any
/// DataProcessor, so they are not offered. UnlockDNA's own setting is `kmer = 10`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KmerEmbeddingConfig {
    /// Input channels (autosome DP 6, BHI DP 4, UnlockDNA DP 6 = one-hot A,C,G,T,N,M).
    pub in_channels: usize,
    /// Output channels (embedding width; UnlockDNA 512, the fixture 128 or 32).
    pub out_channels: usize,
    /// Window of the k-mer projection, even (10).
    pub kmer: usize,
    /// The model window in bp = rows of the (unused) positional embedding; the strand embedding
    /// marks its first and second half.
    pub seq_len: usize,
}

impl KmerEmbeddingConfig {
    /// Multiply-adds per sequence of `len` bp: the k-mer dense layer at every position.
    pub fn macs(&self, len: usize) -> u64 {
        (self.in_channels * self.kmer * self.out_channels * len) as u64
    }

    /// PyTorch-default initialisation (embeddings `N(0, 1)`, linears `U(±1/√fan_in)`).
    pub fn init<B: Backend>(&self, device: &B::Device) -> KmerEmbeddingBlock<B> {
        let normal = |rows, cols| {
            burn::module::Param::from_tensor(Tensor::random([rows, cols], burn::tensor::Distribution::Normal(0.0, 1.0), device))
        };
        KmerEmbeddingBlock {
            pos_embedding: normal(self.seq_len, self.out_channels),
            strand_embedding: normal(2, self.out_channels),
            expression_embedding: burn::nn::LinearConfig::new(1, self.out_channels).init(device),
            kmer_dense: burn::nn::LinearConfig::new(self.in_channels * self.kmer, self.out_channels).init(device),
            kmer: self.kmer,
        }
    }
}

/// UnlockDNA First Layers Block: every window of `kmer` positions (zero-padded `kmer/2 − 1`
/// left, `kmer/2` right), laid out position-major (feature `j·C + c`), projected by a Linear,
/// plus a strand embedding (row 0 on the first half of the positions, row 1 on the second).
/// No activation or normalisation. `(batch, C, L)` → `(batch, out, L)`, L even
/// (PRIXFIXE-MODULES.md §1.1). Reference keys `pos_embedding.weight` and
/// `expression_embedding.*` (both unused by the forward pass but part of the state_dict),
/// `strand_embedding.weight`, `kmer_dense.*`.
#[derive(Module, Debug)]
pub struct KmerEmbeddingBlock<B: Backend> {
    /// `(seq_len, out)`; not used in the forward pass (the core adds its own).
    pub pos_embedding: burn::module::Param<Tensor<B, 2>>,
    /// `(2, out)`.
    pub strand_embedding: burn::module::Param<Tensor<B, 2>>,
    /// Linear `1 → out`; not used (the original model's pseudo-expression tokens).
    pub expression_embedding: burn::nn::Linear<B>,
    /// Linear `C·kmer → out`.
    pub kmer_dense: burn::nn::Linear<B>,
    /// Window size.
    pub kmer: usize,
}

impl<B: Backend> KmerEmbeddingBlock<B> {
    /// The k-mer features `(batch, L, C·kmer)` (reference hook `kmer_features`).
    pub fn kmer_features(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, c, l] = x.dims();
        let k = self.kmer;
        let (left, right) = ((k / 2).saturating_sub(1), k / 2);
        let device = x.device();
        let padded = Tensor::cat(
            vec![Tensor::zeros([b, c, left], &device), x, Tensor::zeros([b, c, right], &device)],
            2,
        );
        let windows = l + left + right + 1 - k;
        let shifted = (0..k).map(|j| padded.clone().slice([0..b, 0..c, j..j + windows])).collect();
        Tensor::cat(shifted, 1).swap_dims(1, 2)
    }

    /// `(batch, C, L)` → `(batch, out, L)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, _, _] = x.dims();
        let h = self.kmer_dense.forward(self.kmer_features(x));
        let [_, l, d] = h.dims();
        let strand = self.strand_embedding.val();
        let half = l / 2;
        let marks = Tensor::cat(
            vec![
                strand.clone().slice([0..1, 0..d]).repeat_dim(0, half),
                strand.slice([1..2, 0..d]).repeat_dim(0, l - half),
            ],
            0,
        );
        (h + marks.unsqueeze::<3>().repeat_dim(0, b)).swap_dims(1, 2)
    }
}

impl<B: Backend> VisitTorch<B> for KmerEmbeddingBlock<B> {
    fn visit_torch<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        use crate::weights::Layout;
        v.param(&format!("{prefix}pos_embedding.weight"), &mut self.pos_embedding, Layout::Same);
        v.param(&format!("{prefix}strand_embedding.weight"), &mut self.strand_embedding, Layout::Same);
        crate::nn::visit_linear(&mut self.expression_embedding, v, &format!("{prefix}expression_embedding."));
        crate::nn::visit_linear(&mut self.kmer_dense, v, &format!("{prefix}kmer_dense."));
    }
}
