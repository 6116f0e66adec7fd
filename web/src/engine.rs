//! The browser runtime: WebGPU detection, the model on burn-wgpu (WebGPU) or the burn CPU
//! backend, asynchronous batched prediction, bundle loading over HTTP or from files.
//!
//! Everything that predicts goes through `prixfixe` (`Bundle::predictor`, `Predictor`,
//! `plan_ism`), the same code as `dream predict` / `dream ism`.

use burn::backend::wgpu::{graphics::WebGpu, init_setup_async, RuntimeOptions, WgpuDevice};
use burn::backend::Wgpu;
use burn::tensor::backend::Backend;
use js_sys::{Function, Promise, Reflect, Uint8Array};
use prixfixe::bundle::Bundle;
use prixfixe::predictor::Prediction;
use prixfixe::{CpuBackend, Predictor};
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Which backend runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// burn-wgpu on the browser's WebGPU adapter.
    WebGpu,
    /// The burn CPU backend (burn-flex) in WebAssembly.
    Cpu,
}

impl BackendKind {
    /// `webgpu` or `cpu` (the page's backend indicator).
    pub fn name(self) -> &'static str {
        match self {
            Self::WebGpu => "webgpu",
            Self::Cpu => "cpu",
        }
    }
}

/// A loaded model on one backend.
pub enum Engine {
    /// On WebGPU.
    Gpu(Predictor<Wgpu>),
    /// On the CPU.
    Cpu(Predictor<CpuBackend>),
}

/// Sequences per forward pass on the CPU: small enough that the page stays responsive between
/// batches and that the worker pool shares work evenly.
pub const CHUNK: usize = 16;

/// Sequences per forward pass on WebGPU (the work is on the GPU and read back asynchronously, so
/// the page stays responsive; large dispatches use the GPU well): an SNV scan of 241 windows is
/// two dispatches.
pub const GPU_CHUNK: usize = 128;

impl Engine {
    /// Builds the model of `bundle` on `kind` (`gpu` must be an initialised WebGPU device).
    ///
    /// # Errors
    /// The bundle's load error (architecture, weights) as text.
    pub fn new(bundle: &Bundle, kind: BackendKind, gpu: Option<&WgpuDevice>) -> Result<Self, String> {
        match (kind, gpu) {
            (BackendKind::WebGpu, Some(device)) => {
                bundle.predictor::<Wgpu>(device).map(Engine::Gpu).map_err(|e| e.to_string())
            }
            _ => bundle.predictor::<CpuBackend>(&Default::default()).map(Engine::Cpu).map_err(|e| e.to_string()),
        }
    }

    /// The backend in use.
    pub fn kind(&self) -> BackendKind {
        match self {
            Self::Gpu(_) => BackendKind::WebGpu,
            Self::Cpu(_) => BackendKind::Cpu,
        }
    }

    /// The readout of the model's Final Layers Block (18 bins or one value per task).
    pub fn head(&self) -> prixfixe::blocks::Head {
        match self {
            Self::Gpu(p) => p.head(),
            Self::Cpu(p) => p.head(),
        }
    }

    /// The DataProcessor.
    pub fn processor(&self) -> &prixfixe::DataProcessor {
        match self {
            Self::Gpu(p) => p.processor(),
            Self::Cpu(p) => p.processor(),
        }
    }

    /// Predictions for padded windows (one forward pass; read asynchronously).
    ///
    /// # Errors
    /// A backend failure (e.g. a lost WebGPU device) as text.
    pub async fn predict_windows(&self, windows: &[Vec<u8>]) -> Result<Vec<Prediction>, String> {
        match self {
            Self::Gpu(p) => forward(p, windows).await,
            Self::Cpu(p) => forward(p, windows).await,
        }
    }
}

async fn forward<B: Backend>(p: &Predictor<B>, windows: &[Vec<u8>]) -> Result<Vec<Prediction>, String> {
    let data = p.forward_probs(windows).into_data_async().await.map_err(|e| format!("{e:?}"))?;
    let data = data.convert::<f32>();
    let probs = data.as_slice::<f32>().map_err(|e| format!("{e:?}"))?;
    Ok(p.combine(probs, windows.len()))
}

/// `true` when the browser has WebGPU **and** gives an adapter (`navigator.gpu.requestAdapter()`
/// resolves to non-null). burn 0.21's wgpu setup panics without an adapter, so this is asked
/// first.
pub async fn webgpu_adapter() -> bool {
    async fn ask() -> Result<bool, JsValue> {
        let nav = web_sys::window().ok_or("no window")?.navigator();
        let gpu = Reflect::get(&nav, &"gpu".into())?;
        if gpu.is_undefined() || gpu.is_null() {
            return Ok(false);
        }
        let request: Function = Reflect::get(&gpu, &"requestAdapter".into())?.dyn_into()?;
        let promise: Promise = request.call0(&gpu)?.dyn_into()?;
        let adapter = JsFuture::from(promise).await?;
        Ok(!adapter.is_null() && !adapter.is_undefined())
    }
    ask().await.unwrap_or(false)
}

/// Initialises burn-wgpu on the default WebGPU device.
pub async fn init_webgpu() -> WgpuDevice {
    let device = WgpuDevice::default();
    init_setup_async::<WebGpu>(&device, RuntimeOptions::default()).await;
    device
}

/// Lets the browser run (paint, handle input) before the next chunk of work.
pub async fn yield_to_browser() {
    let promise = Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Milliseconds since navigation started (`performance.now()`).
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

fn js_err(e: JsValue) -> String {
    e.as_string()
        .or_else(|| Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string()))
        .unwrap_or_else(|| format!("{e:?}"))
}

/// GETs `url` (relative to the page) as bytes.
///
/// # Errors
/// Network failure or a non-2xx status, with the URL.
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let window = web_sys::window().ok_or("no window")?;
    let resp = JsFuture::from(window.fetch_with_str(url)).await.map_err(|e| format!("{url}: {}", js_err(e)))?;
    let resp: web_sys::Response = resp.dyn_into().map_err(|_| format!("{url}: not a response"))?;
    if !resp.ok() {
        return Err(format!("{url}: HTTP {} {}", resp.status(), resp.status_text()));
    }
    let buf = JsFuture::from(resp.array_buffer().map_err(|e| format!("{url}: {}", js_err(e)))?)
        .await
        .map_err(|e| format!("{url}: {}", js_err(e)))?;
    Ok(Uint8Array::new(&buf).to_vec())
}

/// The contents of a file the user picked.
///
/// # Errors
/// The browser's read error.
pub async fn read_file(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buf = JsFuture::from(file.array_buffer()).await.map_err(|e| format!("{}: {}", file.name(), js_err(e)))?;
    Ok(Uint8Array::new(&buf).to_vec())
}

/// One entry of `models/index.json` (written by `model-export index`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct IndexEntry {
    /// Bundle name (`dream-cnn`, …).
    pub name: String,
    /// Display title.
    pub title: String,
    /// Folder under `models/`.
    pub path: String,
    /// `f32` or `f16`.
    pub precision: String,
    /// Trainable parameters.
    pub parameters: usize,
    /// Weights size in bytes.
    pub weights_bytes: u64,
    /// Validation Pearson r, when trained here.
    pub val_pearson_r: Option<f64>,
}

#[derive(Deserialize)]
struct Index {
    models: Vec<IndexEntry>,
}

/// The shipped bundles (`models/index.json`, relative to the page).
///
/// # Errors
/// Fetch or JSON error, with the URL.
pub async fn fetch_index() -> Result<Vec<IndexEntry>, String> {
    let bytes = fetch_bytes("models/index.json").await?;
    serde_json::from_slice::<Index>(&bytes).map(|i| i.models).map_err(|e| format!("models/index.json: {e}"))
}

/// Fetches and checks a shipped bundle (`models/<path>/model.json` + its weights file).
///
/// # Errors
/// Fetch errors with the URL; bundle errors (format, size, sha256) in the loader's words.
pub async fn fetch_bundle(path: &str) -> Result<Bundle, String> {
    let manifest_url = format!("models/{path}/model.json");
    let manifest_json = fetch_bytes(&manifest_url).await?;
    let manifest = Bundle::parse_manifest(&manifest_json).map_err(|e| format!("{manifest_url}: {e}"))?;
    let weights_url = format!("models/{path}/{}", manifest.weights.file);
    let weights = fetch_bytes(&weights_url).await?;
    Bundle::verified(manifest, weights).map_err(|e| format!("{weights_url}: {e}"))
}

fn pool() -> Result<JsValue, String> {
    let w = web_sys::window().ok_or("no window")?;
    let p = Reflect::get(&w, &"dreamPool".into()).map_err(js_err)?;
    if p.is_undefined() {
        return Err("dream-pool.js is not loaded".into());
    }
    Ok(p)
}

fn pool_call(name: &str, args: &[JsValue]) -> Result<JsValue, String> {
    let p = pool()?;
    let f: Function = Reflect::get(&p, &name.into()).map_err(js_err)?.dyn_into().map_err(|_| format!("dreamPool.{name}"))?;
    f.apply(&p, &args.iter().collect::<js_sys::Array>()).map_err(js_err)
}

/// Starts the Web Worker pool (`assets/dream-pool.js`, one worker per core) with a bundle for
/// CPU SNV scans; returns the number of workers (0: no pool, scans run on the page's thread).
pub async fn pool_start(bundle: &Bundle) -> Result<u32, String> {
    let manifest = Uint8Array::from(bundle.manifest_json().as_bytes());
    let weights = Uint8Array::from(bundle.weights.as_slice());
    let promise: Promise = pool_call("init", &[manifest.into(), weights.into()])?.dyn_into().map_err(|_| "init")?;
    let n = JsFuture::from(promise).await.map_err(js_err)?;
    Ok(n.as_f64().unwrap_or(0.0) as u32)
}

/// Stops the pool (model switched to WebGPU, or a failure).
pub fn pool_stop() {
    let _ = pool_call("stop", &[]);
}

/// Workers in the pool.
pub fn pool_size() -> u32 {
    pool_call("size", &[]).ok().and_then(|v| v.as_f64()).unwrap_or(0.0) as u32
}

/// The pool's kernels: `relaxed` (the relaxed-SIMD build: fused multiply-add) or `plain`
/// (128-bit SIMD without it).
pub fn pool_simd() -> String {
    pool_call("simd", &[]).ok().and_then(|v| v.as_string()).unwrap_or_else(|| "plain".into())
}

/// Output number `output` of padded windows computed by the worker pool, `CHUNK` windows per
/// message; `on_chunk(done, start, values)` as each chunk comes back (the outputs of windows
/// `start..start + values.len()`; `done` windows so far). With `on_taylor`, the first worker
/// first computes the Taylor ISM preview of window 0 and `on_taylor` gets
/// `Ok((reference, gradient))` (`prixfixe::taylor::reference_gradient`'s values) or the
/// worker's error; the exact scan goes on either way. Starting a run cancels the pool's
/// previous one.
///
/// # Errors
/// A worker's error message; `cancelled` when [`pool_cancel`] or a newer run stopped it.
pub async fn pool_predict(
    windows: &[Vec<u8>],
    output: usize,
    mut on_chunk: impl FnMut(usize, usize, Vec<f32>) + 'static,
    on_taylor: Option<Box<dyn FnOnce(Result<(f32, Vec<f32>), String>)>>,
) -> Result<Vec<f32>, String> {
    let len = windows.first().map_or(0, Vec::len);
    let flat: Vec<u8> = windows.concat();
    let cb = wasm_bindgen::closure::Closure::<dyn FnMut(u32, u32, js_sys::Float32Array)>::new(move |done: u32, start: u32, values: js_sys::Float32Array| {
        on_chunk(done as usize, start as usize, values.to_vec());
    });
    let taylor_cb = on_taylor.map(|f| {
        let mut f = Some(f);
        wasm_bindgen::closure::Closure::<dyn FnMut(JsValue, JsValue)>::new(move |values: JsValue, err: JsValue| {
            let Some(f) = f.take() else { return };
            if values.is_null() || values.is_undefined() {
                f(Err(err.as_string().unwrap_or_else(|| "the worker failed".into())));
            } else {
                let v = js_sys::Float32Array::new(&values).to_vec();
                match v.split_first() {
                    Some((&reference, g)) => f(Ok((reference, g.to_vec()))),
                    None => f(Err("empty Taylor result".into())),
                }
            }
        })
    });
    let args = [
        Uint8Array::from(flat.as_slice()).into(),
        JsValue::from(windows.len() as u32),
        JsValue::from(len as u32),
        JsValue::from(CHUNK as u32),
        cb.as_ref().clone(),
        JsValue::from(output as u32),
        taylor_cb.as_ref().map_or(JsValue::UNDEFINED, |c| c.as_ref().clone()),
    ];
    let promise: Promise = pool_call("run", &args)?.dyn_into().map_err(|_| "run")?;
    let out = JsFuture::from(promise).await.map_err(js_err)?;
    drop(cb);
    drop(taylor_cb);
    Ok(js_sys::Float32Array::new(&out).to_vec())
}

/// Stops the pool's run in progress at once (its promise rejects with `cancelled`; chunks in
/// flight are dropped when they come back).
pub fn pool_cancel() {
    let _ = pool_call("cancel", &[]);
}
