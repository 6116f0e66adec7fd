//! The page's shared state and the helpers every panel uses: the loaded model (thread-locals:
//! the engine on WebGPU or the CPU, its bundle, the WebGPU device), installing and loading a
//! bundle, the WebGPU → CPU fallback, batched prediction (page thread or the Web Worker pool),
//! reading the sequence box, and writing the address bar.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use prixfixe::bundle::Bundle;
use prixfixe::predictor::Prediction;
use wasm_bindgen::JsValue;

use crate::components::design::DesignState;
use crate::components::model_card::{card_of, Card};
use crate::components::predictions::PredictionsState;
use crate::components::snv_scan::ScanState;
use crate::components::tiling::TilingState;
use crate::components::variants::VariantsState;
use crate::assay::Assay;
use crate::engine::{self, BackendKind, Engine, IndexEntry};
use crate::input::{self, Entry, InputProblem};
use crate::urlstate::{self, Task, UrlState};

thread_local! {
    static ENGINE: RefCell<Option<Rc<Engine>>> = const { RefCell::new(None) };
    static BUNDLE: RefCell<Option<Rc<Bundle>>> = const { RefCell::new(None) };
    static GPU: RefCell<Option<burn::backend::wgpu::WgpuDevice>> = const { RefCell::new(None) };
    #[allow(clippy::type_complexity)]
    static TAYLOR: RefCell<Option<(Rc<Bundle>, usize, Rc<prixfixe::Predictor<TaylorBackend>>)>> = const { RefCell::new(None) };
}

/// The loaded model, if any.
pub fn engine() -> Option<Rc<Engine>> {
    ENGINE.with(|e| e.borrow().clone())
}

/// Shared page state, passed down to every component (all signals, so it is `Copy`).
#[derive(Clone, Copy)]
pub struct State {
    /// `webgpu`, `cpu` or `starting` (the backend indicator).
    pub backend: RwSignal<String>,
    /// Why the page is on the CPU, when it is not by choice.
    pub backend_note: RwSignal<String>,
    /// The shipped bundles (`models/index.json`).
    pub models: RwSignal<Vec<IndexEntry>>,
    /// The loaded bundle's name.
    pub model_name: RwSignal<String>,
    /// The loaded bundle's model card.
    pub card: RwSignal<Option<Card>>,
    /// What the loaded bundle measures (outputs, length rule) for the page's wording.
    pub assay: RwSignal<Assay>,
    /// The output that SNV scans, variant tables, tilings and designs score (index into
    /// `assay.outputs`; 0 for the DREAM models' expression).
    pub output: RwSignal<usize>,
    /// `ready`, `loading …` or the loading error.
    pub model_status: RwSignal<String>,
    /// A model is loaded.
    pub ready: RwSignal<bool>,
    /// A prediction task is running (the run buttons and the model select wait).
    pub busy: RwSignal<bool>,
    /// Milliseconds from navigation to the first model ready.
    pub ready_ms: RwSignal<Option<f64>>,
    /// Duration of the last prediction.
    pub predict_ms: RwSignal<Option<f64>>,
    /// Duration of the last SNV scan.
    pub ism_ms: RwSignal<Option<f64>>,
    /// Predictions finished (the browser tests wait on it).
    pub predictions_run: RwSignal<u32>,
    /// Web Workers of the CPU pool (0: none).
    pub workers: RwSignal<u32>,
    /// The sequence box's text, as typed (never rewritten by the page).
    pub text: RwSignal<String>,
    /// The sequences last read from the box.
    pub entries: RwSignal<Vec<Entry>>,
    /// Why the box could not be read (shown with the bad characters marked).
    pub problem: RwSignal<Option<InputProblem>>,
    /// The text the problem refers to.
    pub problem_text: RwSignal<String>,
    /// Notes under the sequence box.
    pub notes: RwSignal<Vec<String>>,
    /// What the address bar's link leaves out (too long), or empty.
    pub url_note: RwSignal<String>,
    /// The predictions panel.
    pub predictions: PredictionsState,
    /// The SNV effect scan panel.
    pub scan: ScanState,
    /// The variant table panel.
    pub variants: VariantsState,
    /// The motif tiling panel.
    pub tiling: TilingState,
    /// The sequence design panel.
    pub design: DesignState,
}

impl State {
    /// Fresh state: nothing loaded, empty boxes.
    pub fn new() -> Self {
        Self {
            backend: RwSignal::new("starting".into()),
            backend_note: RwSignal::new(String::new()),
            models: RwSignal::new(Vec::new()),
            model_name: RwSignal::new(String::new()),
            card: RwSignal::new(None),
            assay: RwSignal::new(Assay::default()),
            output: RwSignal::new(0),
            model_status: RwSignal::new("loading the model…".into()),
            ready: RwSignal::new(false),
            busy: RwSignal::new(false),
            ready_ms: RwSignal::new(None),
            predict_ms: RwSignal::new(None),
            ism_ms: RwSignal::new(None),
            predictions_run: RwSignal::new(0),
            workers: RwSignal::new(0),
            text: RwSignal::new(String::new()),
            entries: RwSignal::new(Vec::new()),
            problem: RwSignal::new(None),
            problem_text: RwSignal::new(String::new()),
            notes: RwSignal::new(Vec::new()),
            url_note: RwSignal::new(String::new()),
            predictions: PredictionsState::new(),
            scan: ScanState::new(),
            variants: VariantsState::new(),
            tiling: TilingState::new(),
            design: DesignState::new(),
        }
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

/// An object URL for a CSV download.
pub fn csv_url(csv: &str) -> Option<String> {
    blob_url(csv, "text/csv")
}

/// An object URL for a download of `text` with the MIME type `mime`.
pub fn blob_url(text: &str, mime: &str) -> Option<String> {
    let parts = js_sys::Array::of1(&text.into());
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

/// Frees an object URL made by [`csv_url`].
pub fn revoke(url: Option<String>) {
    if let Some(u) = url {
        let _ = web_sys::Url::revoke_object_url(&u);
    }
}

/// Installs `bundle` on the current backend (WebGPU when initialised, else CPU); a WebGPU
/// failure falls back to the CPU with a note.
pub async fn install(state: State, bundle: Bundle, from_file: bool) -> Result<(), String> {
    let gpu = GPU.with(|g| g.borrow().clone());
    let kind = if gpu.is_some() { BackendKind::WebGpu } else { BackendKind::Cpu };
    let mut eng = Engine::new(&bundle, kind, gpu.as_ref());
    if let Ok(e) = &eng {
        if e.kind() == BackendKind::WebGpu {
            // Warm-up pass: compiles the GPU kernels now and proves the device works.
            let probe = vec![vec![prixfixe::data::CODE_A; e.processor().seq_len()]];
            if let Err(err) = e.predict_windows(&probe).await {
                fall_back(state, &err);
                eng = Engine::new(&bundle, BackendKind::Cpu, None);
            }
        }
    }
    let eng = eng?;
    if eng.kind() == BackendKind::Cpu {
        // SNV scans and tilings on the CPU go to one Web Worker per core; started in the background.
        let pool_bundle = bundle.clone();
        spawn_local(async move {
            match engine::pool_start(&pool_bundle).await {
                Ok(n) => state.workers.set(n),
                Err(e) => {
                    state.workers.set(0);
                    web_sys::console::warn_1(&format!("worker pool: {e}").into());
                }
            }
        });
    } else {
        engine::pool_stop();
        state.workers.set(0);
    }
    state.backend.set(eng.kind().name().to_string());
    state.card.set(Some(card_of(&bundle.manifest, from_file)));
    let assay = Assay::of(&bundle.manifest);
    if assay != state.assay.get_untracked() {
        state.output.set(0);
        state.assay.set(assay);
    }
    state.model_name.set(bundle.manifest.name.clone());
    ENGINE.with(|e| *e.borrow_mut() = Some(Rc::new(eng)));
    BUNDLE.with(|b| *b.borrow_mut() = Some(Rc::new(bundle)));
    TAYLOR.with(|t| *t.borrow_mut() = None);
    state.ready.set(true);
    // Build the Taylor ISM model once the page is idle, so the first scan's preview costs only
    // its forward and backward pass.
    spawn_local(async move {
        engine::yield_to_browser().await;
        if let Err(e) = taylor_predictor(state.output.get_untracked()) {
            web_sys::console::warn_1(&format!("Taylor ISM model: {e}").into());
        }
    });
    Ok(())
}

fn fall_back(state: State, err: &str) {
    GPU.with(|g| *g.borrow_mut() = None);
    state.backend.set("cpu".into());
    state.backend_note.set(format!("WebGPU failed ({err}); running on the CPU instead."));
}

/// Predicts windows, falling back to the CPU (once) when WebGPU fails.
pub async fn predict_windows(state: State, windows: &[Vec<u8>]) -> Result<Vec<Prediction>, String> {
    let eng = engine().ok_or("no model loaded")?;
    match eng.predict_windows(windows).await {
        Ok(p) => Ok(p),
        Err(err) if eng.kind() == BackendKind::WebGpu => {
            fall_back(state, &err);
            let bundle = BUNDLE.with(|b| b.borrow().clone()).ok_or("no model loaded")?;
            let cpu = Rc::new(Engine::new(&bundle, BackendKind::Cpu, None)?);
            ENGINE.with(|e| *e.borrow_mut() = Some(cpu.clone()));
            cpu.predict_windows(windows).await
        }
        Err(err) => Err(err),
    }
}

/// The selected output ([`State::output`]) of a prediction.
pub fn selected(state: State, p: &Prediction) -> f32 {
    p.outputs.get(state.output.get_untracked()).copied().unwrap_or(p.expression)
}

/// Predicts windows in chunks of [`engine::CHUNK`], yielding to the browser between chunks.
pub async fn predict_chunked(state: State, windows: &[Vec<u8>], mut progress: impl FnMut(usize, usize)) -> Result<Vec<Prediction>, String> {
    let mut out = Vec::with_capacity(windows.len());
    for chunk in windows.chunks(engine::CHUNK) {
        out.extend(predict_windows(state, chunk).await?);
        progress(out.len(), windows.len());
        engine::yield_to_browser().await;
    }
    Ok(out)
}

/// The selected output ([`State::output`]) of many windows (tilings, designs): on the CPU by the
/// Web Worker pool when it runs (a pool failure is noted and the page's thread takes over), else
/// on the page's thread in chunks; `progress(done)` as windows finish.
pub async fn predict_expressions(state: State, windows: &[Vec<u8>], progress: impl Fn(usize) + Copy + 'static) -> Result<Vec<f32>, String> {
    predict_streaming(state, windows, None, || false, move |done, _, _| progress(done)).await
}

/// [`predict_expressions`], streamed and cancellable: `on_chunk(done, start, values)` as each
/// chunk of windows finishes (values of windows `start..start + values.len()`, in any order on
/// the pool); stops with the error `cancelled` once `cancelled()` is true (checked between
/// chunks on the page's thread; the caller stops the pool with [`engine::pool_cancel`]). On the
/// pool, `on_taylor` gets the Taylor ISM preview of window 0 from the first worker
/// ([`engine::pool_predict`]); elsewhere it is dropped unused.
pub async fn predict_streaming<F: FnMut(usize, usize, &[f32]) + 'static>(
    state: State,
    windows: &[Vec<u8>],
    on_taylor: Option<Box<dyn FnOnce(Result<(f32, Vec<f32>), String>)>>,
    cancelled: impl Fn() -> bool,
    on_chunk: F,
) -> Result<Vec<f32>, String> {
    let on_chunk = Rc::new(RefCell::new(on_chunk));
    let on_cpu = engine().is_some_and(|e| e.kind() == BackendKind::Cpu);
    if on_cpu && engine::pool_size() > 0 {
        let cb = on_chunk.clone();
        match engine::pool_predict(windows, state.output.get_untracked(), move |done, start, values| (cb.borrow_mut())(done, start, &values), on_taylor).await {
            Ok(values) => return Ok(values),
            Err(e) if e == CANCELLED || cancelled() => return Err(CANCELLED.into()),
            Err(e) => state.notes.update(|n| n.push(format!("The Web Workers failed ({e}); running on the page's thread."))),
        }
    }
    let mut out = Vec::with_capacity(windows.len());
    let gpu = engine().is_some_and(|e| e.kind() == BackendKind::WebGpu);
    let size = if gpu { engine::GPU_CHUNK } else { engine::CHUNK };
    for chunk in windows.chunks(size) {
        if cancelled() {
            return Err(CANCELLED.into());
        }
        let values: Vec<f32> = predict_windows(state, chunk).await?.iter().map(|p| selected(state, p)).collect();
        let start = out.len();
        out.extend_from_slice(&values);
        (on_chunk.borrow_mut())(out.len(), start, &values);
        engine::yield_to_browser().await;
    }
    if cancelled() {
        return Err(CANCELLED.into());
    }
    Ok(out)
}

/// The error of a cancelled [`predict_streaming`].
pub const CANCELLED: &str = "cancelled";

/// The loaded bundle on the CPU autodiff backend, scoring output `output`: Taylor ISM previews
/// (`prixfixe::taylor`), on any backend the page uses. Built on first use, kept until the model
/// or the output changes.
///
/// # Errors
/// No model loaded; the bundle's load error.
pub fn taylor_predictor(output: usize) -> Result<Rc<prixfixe::Predictor<TaylorBackend>>, String> {
    let bundle = BUNDLE.with(|b| b.borrow().clone()).ok_or("no model loaded")?;
    if let Some((b, o, p)) = TAYLOR.with(|t| t.borrow().clone()) {
        if Rc::ptr_eq(&b, &bundle) && o == output {
            return Ok(p);
        }
    }
    let p = Rc::new(bundle.predictor::<TaylorBackend>(&Default::default()).map_err(|e| e.to_string())?.with_output(output));
    TAYLOR.with(|t| *t.borrow_mut() = Some((bundle, output, p.clone())));
    Ok(p)
}

/// The backend of [`taylor_predictor`]: the CPU backend with autodiff.
pub use crate::TaylorBackend;

/// Where [`predict_expressions`] ran, for status lines: ` on N Web Worker(s), relaxed SIMD`
/// (or `plain SIMD`), ` on WebGPU` or ` on the page's thread`.
pub fn where_run() -> String {
    let on_cpu = engine().is_some_and(|e| e.kind() == BackendKind::Cpu);
    match engine::pool_size() {
        0 => engine().map_or("", |e| if e.kind() == BackendKind::WebGpu { " on WebGPU" } else { " on the page's thread" }).to_string(),
        n if on_cpu => format!(" on {n} Web Worker(s), {} SIMD", engine::pool_simd()),
        _ => " on WebGPU".to_string(),
    }
}

/// Fetches, checks and installs a shipped bundle (`models/<path>/`).
pub async fn load_shipped(state: State, path: String) {
    state.ready.set(false);
    state.model_status.set(format!("loading {path}…"));
    let result = match engine::fetch_bundle(&path).await {
        Ok(b) => install(state, b, false).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            state.model_status.set("ready".into());
            if state.ready_ms.get_untracked().is_none() {
                state.ready_ms.set(Some(engine::now_ms()));
            }
        }
        Err(e) => state.model_status.set(format!("could not load the model: {e}")),
    }
}

/// Starts the page: WebGPU when the browser has an adapter (unless `backend=cpu`), the model
/// list, then the model of `model=` (else DREAM-CNN).
pub async fn start(state: State, url: &UrlState) {
    let force_cpu = url.backend.as_deref() == Some("cpu");
    if !force_cpu && engine::webgpu_adapter().await {
        state.model_status.set("starting WebGPU…".into());
        let device = engine::init_webgpu().await;
        GPU.with(|g| *g.borrow_mut() = Some(device));
    } else if !force_cpu {
        state.backend_note.set("No WebGPU adapter in this browser: running on the CPU (WebAssembly).".into());
    }
    state.backend.set(if GPU.with(|g| g.borrow().is_some()) { "webgpu" } else { "cpu" }.into());
    let models = match engine::fetch_index().await {
        Ok(m) => m,
        Err(e) => {
            state.model_status.set(format!("could not load the model list: {e}"));
            return;
        }
    };
    let first = models
        .iter()
        .find(|m| Some(&m.name) == url.model.as_ref())
        .or_else(|| models.iter().find(|m| m.name == "dream-cnn"))
        .or(models.first())
        .map(|m| m.path.clone());
    state.models.set(models);
    if let Some(path) = first {
        load_shipped(state, path).await;
    }
}

/// Reads the sequence box into [`State::entries`]; on error shows where (the text is kept).
pub fn read_box(state: State) -> Option<Vec<Entry>> {
    let eng = engine()?;
    let t = state.text.get_untracked();
    match input::read_input(&t, eng.processor()) {
        Ok(entries) => {
            state.problem.set(None);
            state.notes.set(input::read_notes(&entries, eng.processor()));
            state.entries.set(entries.clone());
            Some(entries)
        }
        Err(p) => {
            state.problem_text.set(t);
            state.problem.set(Some(p));
            None
        }
    }
}

/// The current address's query string (`location.search`).
pub fn url_search() -> String {
    web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default()
}

/// Writes the view of `task` into the address bar (`history.replaceState`, no reload) so the
/// link reproduces it: the backend choice of the current address, the shipped model, the task
/// and its inputs; inputs longer than [`urlstate::MAX_URL_VALUE`] are left out, with a note.
/// `None` (a task the address cannot carry yet: the design) keeps the model and the box only,
/// so the link never reruns an earlier task.
pub fn record_task(state: State, task: impl Into<Option<Task>>) {
    let task: Option<Task> = task.into();
    let current = urlstate::parse(&url_search());
    let shipped = state.card.get_untracked().is_some_and(|c| !c.from_file);
    let model = state.model_name.get_untracked();
    let uses_box = matches!(task, None | Some(Task::Predict | Task::Scan | Task::Tile));
    let st = UrlState {
        backend: current.backend,
        model: (shipped && !model.is_empty()).then_some(model),
        task,
        seq: uses_box.then(|| state.text.get_untracked()),
        motif: (task == Some(Task::Tile)).then(|| state.tiling.motif.get_untracked().trim().to_string()),
        region: (task == Some(Task::Tile)).then(|| state.tiling.region.get_untracked().trim().to_string()),
        variants: (task == Some(Task::Variants)).then(|| state.variants.text.get_untracked()),
    };
    let (query, left_out) = urlstate::format(&st);
    state.url_note.set(match left_out.as_slice() {
        [] => String::new(),
        keys => format!(
            "The link in the address bar holds the model and the task but not the {}: longer than {} kB, too long for a link.",
            keys.iter().map(|k| if *k == "seq" { "sequences" } else { "variant table" }).collect::<Vec<_>>().join(" and the "),
            urlstate::MAX_URL_VALUE / 1024
        ),
    });
    let Some(window) = web_sys::window() else { return };
    let loc = window.location();
    let path = loc.pathname().unwrap_or_default();
    let hash = loc.hash().unwrap_or_default();
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&format!("{path}{query}{hash}")));
    }
}
