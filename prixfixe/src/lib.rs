//! # prixfixe — the Prix Fixe framework of the Random Promoter DREAM Challenge 2022, in burn
//!
//! The DREAM-optimized models (DREAM-CNN, DREAM-RNN, DREAM-Attn; Rafi et al., "A community
//! effort to optimize sequence-based deep learning models of gene regulation") are each
//! `Final(Core(First(x)))`: a **First Layers Block**, a **Core Layers Block** and the shared
//! **Final Layers Block**, on a `(batch, 6, 150)` encoding made by the **DataProcessor**.
//!
//! Module map (see `ARCHITECTURE.md` at the repository root):
//! - [`data`]: DataProcessor — 150 bp plasmid extension, 6-channel one-hot encoding, reverse
//!   complement, 18-bin soft-classification targets, compact sequence storage.
//! - [`dataset`]: datasets as data — table format, targets, length rule, channels, loss,
//!   model selection, CV protocol; presets `dream-yeast`, `deepstarr`, `lentimpra`.
//! - [`blocks`]: First / Core / Final Layers Blocks, one shape contract `(batch, channels, length)`.
//! - [`combination`]: Prix Fixe combinations (`0_1_1_0`), the wiring and compatibility rules.
//! - [`dataprocessors`]: the BHI and UnlockDNA DataProcessors' sequence edits.
//! - [`model`]: [`model::PrixFixeNet`], the block configuration and the three DREAM presets.
//! - [`predictor`]: forward / reverse-complement averaged prediction, batched; ISM.
//! - [`attribution`]: per-position ISM attribution and its sequence logo (SVG).
//! - [`gemm`]: the WebAssembly CPU path's matrix products (4 × 8 SIMD128 register tile) for
//!   convolutions, linear layers, the BiLSTM and attention; [`kernels`]: fused CPU inference
//!   kernels around them.
//! - `autograd` (native, burn-flex): training ops with hand-written backward passes (the BiLSTM
//!   over the whole sequence), exact replacements of the generic autodiff path.
//! - [`spectral`]: dense 'same' convolution branches through the discrete
//!   Fourier transform (DREAM-RNN's core convolutions at inference, 4× fewer multiply-adds).
//! - [`metrics`]: Pearson r, r², Spearman ρ.
//! - [`challenge`]: DREAM Challenge scoring (per-subset r² / ρ, pair subsets, weighted scores).
//! - [`seqio`]: reading sequences and seq→activity tables (TSV, FASTA, one per line; gzip).
//! - [`tiling`]: motif insertion / tiling over a region (the DREAM test set's motif tiling).
//! - [`design`]: sequence design toward a goal expression (greedy SNV rounds or a seeded
//!   evolutionary search) within an editable region.
//! - [`variants`]: variant tables (sequence + position + ref/alt, or sequence pairs) → effects.
//! - [`trainer`]: the three teams' Trainers as data (step loss, schedule, optimizer, clipping).
//! - [`weights`]: PyTorch `state_dict` (safetensors) import and export, reference key names.
//!
//! Everything is generic over the burn [`Backend`](burn::tensor::backend::Backend) and builds for
//! native targets and `wasm32-unknown-unknown`.

pub mod attribution;
#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
pub mod autograd;
pub mod blocks;
pub mod bundle;
pub mod challenge;
pub mod combination;
pub mod data;
pub mod dataprocessors;
pub mod dataset;
pub mod design;
pub mod gemm;
pub mod kernels;
pub mod metrics;
pub mod model;
pub mod nn;
pub mod predictor;
pub mod seqio;
pub mod spectral;
pub mod taylor;
pub mod tiling;
pub mod trainer;
pub mod training;
pub mod variants;
pub mod weights;

pub use data::{DataProcessor, SequenceError};
pub use model::{ModelPreset, PrixFixeConfig, PrixFixeNet};
pub use predictor::Predictor;

/// Number of soft-classification bins (expression bins 0..=17 of the DREAM sort-seq assay).
pub const N_BINS: usize = 18;
/// Input channels: one-hot A, G, C, T, then is_reverse, then is_singleton.
pub const IN_CHANNELS: usize = 6;
/// The DREAM model window, in bp.
pub const SEQ_LEN: usize = 150;

/// The CPU backend the workspace uses by default (burn-flex when the `flex` feature is on, else
/// burn-ndarray).
#[cfg(feature = "flex")]
pub type CpuBackend = burn::backend::Flex;
#[cfg(all(feature = "ndarray", not(feature = "flex")))]
pub type CpuBackend = burn::backend::NdArray<f32>;
