//! `dream-web`: the DREAM model website (Leptos, client-side rendered, built by Trunk into a
//! static `dist/`).
//!
//! - [`input`]: the sequence box (raw or FASTA; the 80 / 110 / 150 bp rule) — pure, tested natively.
//! - [`render`]: the 18-bin bar chart and SNV heatmap as SVG, CSV tables — pure, tested natively.
//! - [`examples`]: native yeast promoters from the DREAM test set for the example buttons.
//! - `engine` (wasm32): WebGPU detection, burn-wgpu or CPU model, bundle fetching, async batches.
//! - `app` (wasm32): the page.
//!
//! Prediction, ISM and bundle checks are `prixfixe`'s, the same code as the `dream` CLI.

pub mod examples;
pub mod input;
pub mod render;

#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
pub mod engine;

/// Mounts the page on `<body>`.
#[cfg(target_arch = "wasm32")]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
