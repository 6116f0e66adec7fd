//! BHI BiLSTM Core Layers Block (DREAM-RNN; reference ARCHITECTURE.md §2.2):
//! BiLSTM (hidden 320 per direction) → dual-kernel convolutions (2 × 160, k 9 and 15) → Dropout 0.5.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{backend::Backend, Tensor};
use serde::{Deserialize, Serialize};

use super::first::ConvBranches;
use crate::nn::BiLstm;
use crate::weights::{ParamVisitor, VisitTorch};

/// Configuration of [`BiLstmCore`]. DREAM-RNN: 320 in, hidden 320, 2 × 160 out, kernels 9 / 15.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BiLstmCoreConfig {
    /// Input channels (320).
    pub in_channels: usize,
    /// LSTM hidden units per direction (320).
    pub hidden: usize,
    /// Output channels of each conv branch (160).
    pub channels_per_kernel: usize,
    /// Conv kernel sizes ([9, 15]).
    pub kernels: Vec<usize>,
    /// Dropout after each conv branch (0.2).
    pub branch_dropout: f64,
    /// Dropout on the block output (0.5).
    pub dropout: f64,
}

impl BiLstmCoreConfig {
    /// Multiply-adds per sequence of `len` bp: both LSTM directions (input and recurrent
    /// products of the four gates at every step), then the conv branches.
    pub fn macs(&self, len: usize) -> u64 {
        let lstm = 2 * 4 * self.hidden * (self.in_channels + self.hidden);
        let branches: usize = self.kernels.iter().map(|&k| 2 * self.hidden * self.channels_per_kernel * k).sum();
        ((lstm + branches) * len) as u64
    }

    /// [`Self::macs`] as native CPU inference executes it: the conv branches through the DFT
    /// where that costs at most half ([`crate::spectral::pays`]; DREAM-RNN: 88 M instead of 369 M).
    pub fn cpu_inference_macs(&self, len: usize) -> u64 {
        let shapes: Vec<(usize, usize)> = self.kernels.iter().map(|&k| (self.channels_per_kernel, k)).collect();
        let (spectral, direct) = crate::spectral::macs(len, 2 * self.hidden, &shapes);
        let branches = if crate::spectral::pays(len, 2 * self.hidden, &shapes) { spectral } else { direct };
        self.macs(len) - direct + branches
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.kernels.len() * self.channels_per_kernel
    }
    /// PyTorch-default initialisation (reference §3).
    pub fn init<B: Backend>(&self, device: &B::Device) -> BiLstmCore<B> {
        BiLstmCore {
            lstm: BiLstm::new(self.in_channels, self.hidden, device),
            branches: ConvBranches::new(2 * self.hidden, self.channels_per_kernel, &self.kernels, self.branch_dropout, device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

/// DREAM-RNN Core Layers Block. `(batch, 320, L)` → `(batch, 320, L)`. Reference keys
/// `lstm.*`, `conv_list.{i}.conv.*`.
#[derive(Module, Debug)]
pub struct BiLstmCore<B: Backend> {
    /// Bidirectional LSTM over positions.
    pub lstm: BiLstm<B>,
    /// Convolutions on the `(batch, 2H, L)` LSTM output.
    pub branches: ConvBranches<B>,
    /// Output dropout.
    pub dropout: Dropout,
}

impl<B: Backend> BiLstmCore<B> {
    /// LSTM output `(batch, L, 2H)` of a `(batch, c_in, L)` input.
    pub fn lstm_output(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.lstm.forward(x.swap_dims(1, 2))
    }

    /// `(batch, c_in, L)` → `(batch, c_out, L)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
        if let Some(y) = self.forward_spectral(&x) {
            return y;
        }
        let h = self.lstm_output(x).swap_dims(1, 2);
        crate::nn::dropout(&self.dropout, self.branches.forward(h))
    }

    /// Native CPU inference: the BiLSTM's time-major output goes straight into the conv
    /// branches computed through the DFT ([`crate::spectral`]; the dropouts are identities in
    /// inference). `None` where that path does not apply or would not pay.
    #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
    fn forward_spectral(&self, x: &Tensor<B, 3>) -> Option<Tensor<B, 3>> {
        use crate::kernels::{fast_path, host, own_gemm};
        let device = x.device();
        let [batch, _, len] = x.dims();
        let c_in = 2 * self.lstm.hidden();
        let shapes: Vec<(usize, usize)> = self.branches.convs.iter().map(|c| (c.weight.dims()[0], c.weight.dims()[2])).collect();
        let dense_same = self.branches.convs.iter().all(|c| crate::nn::is_dense_same(c));
        if !fast_path::<B>(&device) || own_gemm::<B>(&device) || !dense_same || !crate::spectral::pays(len, c_in, &shapes) {
            return None;
        }
        let h = self.lstm.forward_time_major_host(x.clone().swap_dims(1, 2));
        let weights: Vec<(Vec<f32>, Option<Vec<f32>>)> =
            self.branches.convs.iter().map(|c| (host(c.weight.val()), c.bias.as_ref().map(|b| host(b.val())))).collect();
        let branches: Vec<crate::spectral::Branch> = weights
            .iter()
            .zip(&shapes)
            .map(|((w, b), &(out, k))| crate::spectral::Branch { weight: w, bias: b.as_deref(), out, k })
            .collect();
        let y = crate::spectral::conv_branches_relu(&h, batch, len, c_in, &branches);
        let o_all = shapes.iter().map(|s| s.0).sum::<usize>();
        Some(Tensor::from_data(burn::tensor::TensorData::new(y, [batch, o_all, len]), &device))
    }
}

impl<B: Backend> VisitTorch<B> for BiLstmCore<B> {
    fn visit_torch<V: ParamVisitor<B>>(&mut self, v: &mut V, prefix: &str) {
        self.lstm.visit_params(v, &format!("{prefix}lstm."));
        self.branches.visit_params(v, prefix);
    }
}
