//! `dream-web`: the DREAM model website (Leptos, client-side rendered, built by Trunk into a
//! static `dist/`).
//!
//! - [`input`]: the sequence box (raw or FASTA; the 80 / 110 / 150 bp rule of the DREAM models,
//!   or the exact length of another dataset's model) — pure, tested natively.
//! - [`assay`]: what the loaded bundle measures (output names and units, length rule) for the
//!   page's wording — pure.
//! - [`render`]: the 18-bin bar chart, SNV heatmap and motif tiling plot as SVG, CSV tables, the
//!   variant table's sort order — pure, tested natively.
//! - [`examples`]: example sequences per dataset (native yeast promoters from the DREAM test set,
//!   Drosophila enhancers, human lentiMPRA elements), and an example variant table.
//! - [`trajectory`]: a design's trajectory plot (SVG) and its changed bases — pure.
//! - [`urlstate`]: the view in the address (`?model=…&task=scan&seq=…`), parsed and written — pure.
//! - [`plans`]: the variant table and motif tiling inputs read and planned into model windows — pure.
//! - `engine` (wasm32): WebGPU detection, burn-wgpu or CPU model, bundle fetching, async batches.
//! - `state` (wasm32): the shared state of signals, the loaded model, prediction helpers.
//! - `components` (wasm32): one component per task (model bar, model card, sequences,
//!   predictions, SNV scan + attribution logo, alleles, variant table, motif tiling, design).
//! - `app` (wasm32): the page, laying out the components.
//!
//! Prediction, ISM, variant scoring, motif tiling and bundle checks are `prixfixe`'s, the same
//! code as the `dream` CLI.

pub mod assay;
pub mod examples;
pub mod input;
pub mod plans;
pub mod render;
pub mod trajectory;
pub mod urlstate;

#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
pub mod components;
#[cfg(target_arch = "wasm32")]
pub mod engine;
#[cfg(target_arch = "wasm32")]
pub mod state;

/// Mounts the page on `<body>`; in a Web Worker (no document: see `assets/dream-worker.js`) it
/// does nothing, the worker calls [`worker_load`] and [`worker_predict`].
#[cfg(target_arch = "wasm32")]
pub fn start() {
    console_error_panic_hook::set_once();
    if web_sys::window().is_some() {
        leptos::mount::mount_to_body(app::App);
    }
}

#[cfg(target_arch = "wasm32")]
thread_local! {
    static WORKER_MODEL: std::cell::RefCell<Option<prixfixe::Predictor<prixfixe::CpuBackend>>> =
        const { std::cell::RefCell::new(None) };
    /// The bundle on the CPU autodiff backend for Taylor ISM previews, with the output it scores.
    static WORKER_TAYLOR: std::cell::RefCell<Option<(usize, prixfixe::Predictor<TaylorBackend>)>> =
        const { std::cell::RefCell::new(None) };
    static WORKER_BUNDLE: std::cell::RefCell<Option<prixfixe::bundle::Bundle>> = const { std::cell::RefCell::new(None) };
}

/// The CPU backend with autodiff: Taylor ISM previews (`prixfixe::taylor`), on the page and in
/// the scan workers.
#[cfg(target_arch = "wasm32")]
pub type TaylorBackend = burn::backend::Autodiff<prixfixe::CpuBackend>;

/// Web Worker side of the SNV-scan pool: loads a bundle (`model.json` bytes, weights bytes) on
/// the CPU backend.
///
/// # Errors
/// The bundle loader's message (format, checksum, architecture).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn worker_load(manifest: &[u8], weights: Vec<u8>) -> Result<(), wasm_bindgen::JsValue> {
    let bundle = prixfixe::bundle::Bundle::from_bytes(manifest, weights).map_err(|e| e.to_string())?;
    let predictor = bundle.predictor::<prixfixe::CpuBackend>(&Default::default()).map_err(|e| e.to_string())?;
    // One window through the model now: the engine compiles the hot functions with its
    // optimising tier before the first chunk of a scan instead of during it (~20 % slower).
    let _ = predictor.predict_padded(&[vec![0u8; predictor.processor().seq_len()]]);
    WORKER_MODEL.with(|m| *m.borrow_mut() = Some(predictor));
    // The Taylor predictor of output 0 now, so that a scan's preview pays only its two passes.
    let taylor = bundle.predictor::<TaylorBackend>(&Default::default()).map_err(|e| e.to_string())?;
    WORKER_TAYLOR.with(|t| *t.borrow_mut() = Some((0, taylor)));
    WORKER_BUNDLE.with(|b| *b.borrow_mut() = Some(bundle));
    Ok(())
}

/// Web Worker side: one Taylor ISM pass on an all-A window of output 0, result dropped, so that
/// the first scan's preview runs warm (its first pass takes ~1.5–2× as long: the engine's
/// optimising tier and the autodiff graph's first allocations). The pool asks its first worker
/// for it after the model is loaded.
///
/// # Errors
/// No model loaded.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn worker_taylor_warm() -> Result<(), wasm_bindgen::JsValue> {
    let len = WORKER_TAYLOR.with(|t| t.borrow().as_ref().map(|(_, p)| p.processor().seq_len())).ok_or("no model loaded in this worker")?;
    worker_taylor(&vec![0u8; len], 0).map(|_| ())
}

/// Web Worker side of the SNV scan's Taylor ISM preview: the reference prediction of output
/// `output` and its gradient with respect to the encoded window, `[reference, g...]` with `g`
/// `(2, channels, L)` flattened (`prixfixe::taylor::reference_gradient`); the page turns it into
/// every SNV's approximate effect (`prixfixe::taylor::taylor_effects`).
///
/// # Errors
/// No model loaded, a window that is not the model's length, or an output the model does not
/// have.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn worker_taylor(window: &[u8], output: usize) -> Result<Vec<f32>, wasm_bindgen::JsValue> {
    WORKER_BUNDLE.with(|b| {
        let b = b.borrow();
        let bundle = b.as_ref().ok_or("no model loaded in this worker")?;
        WORKER_TAYLOR.with(|t| {
            let mut t = t.borrow_mut();
            let outputs = t.as_ref().map_or(1, |(_, p)| p.head().outputs());
            if output >= outputs {
                return Err(format!("output {output}: the model has {outputs}").into());
            }
            if t.as_ref().is_none_or(|(o, _)| *o != output) {
                let p = bundle.predictor::<TaylorBackend>(&Default::default()).map_err(|e| e.to_string())?.with_output(output);
                *t = Some((output, p));
            }
            let (_, p) = t.as_ref().expect("set above");
            let len = p.processor().seq_len();
            if window.len() != len {
                return Err(format!("{} bytes is not one window of {len} bp", window.len()).into());
            }
            let (reference, g) = prixfixe::taylor::reference_gradient(p, window);
            let mut out = Vec::with_capacity(1 + g.len());
            out.push(reference);
            out.extend(g);
            Ok(out)
        })
    })
}

/// Web Worker side of the SNV-scan pool: output number `output` (fwd/RC average, training
/// scale; 0 for the DREAM models' expression) of `count` padded windows given as base codes,
/// row after row (`count × L` bytes, L the model window: 150, or the bundle's exact length).
///
/// # Errors
/// No model loaded, a buffer of the wrong size, or an output the model does not have.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn worker_predict(windows: &[u8], count: usize, output: usize) -> Result<Vec<f32>, wasm_bindgen::JsValue> {
    WORKER_MODEL.with(|m| {
        let m = m.borrow();
        let p = m.as_ref().ok_or("no model loaded in this worker")?;
        let len = p.processor().seq_len();
        if count == 0 || windows.len() != count * len {
            return Err(format!("{} bytes is not {count} windows of {len} bp", windows.len()).into());
        }
        let outputs = p.head().outputs();
        if output >= outputs {
            return Err(format!("output {output}: the model has {outputs}").into());
        }
        let rows: Vec<Vec<u8>> = windows.chunks(len).map(<[u8]>::to_vec).collect();
        Ok(p.predict_padded(&rows).iter().map(|x| x.outputs[output]).collect())
    })
}
