//! The page (Leptos, client-side rendered): model and backend, sequence box, predictions,
//! SNV effect scan, two alleles.
//!
//! URL parameters: `?backend=cpu` forces the CPU backend, `?model=dream-rnn` picks the model to
//! load first.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use prixfixe::bundle::{Bundle, Manifest};
use prixfixe::predictor::{ism_table, plan_ism, top_effects, Prediction};
use wasm_bindgen::JsCast;

use crate::engine::{self, BackendKind, Engine, IndexEntry};
use crate::examples::NATIVE_EXAMPLES;
use crate::input::{self, Entry, InputProblem, LENGTH_RULE};
use crate::render;

thread_local! {
    static ENGINE: RefCell<Option<Rc<Engine>>> = const { RefCell::new(None) };
    static BUNDLE: RefCell<Option<Rc<Bundle>>> = const { RefCell::new(None) };
    static GPU: RefCell<Option<burn::backend::wgpu::WgpuDevice>> = const { RefCell::new(None) };
}

fn engine() -> Option<Rc<Engine>> {
    ENGINE.with(|e| e.borrow().clone())
}

fn url_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    search.trim_start_matches('?').split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

fn csv_url(csv: &str) -> Option<String> {
    let parts = js_sys::Array::of1(&csv.into());
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("text/csv");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

fn revoke(url: Option<String>) {
    if let Some(u) = url {
        let _ = web_sys::Url::revoke_object_url(&u);
    }
}

/// A predicted sequence, for the table.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    id: String,
    len: usize,
    form: &'static str,
    expression: f32,
    forward: f32,
    reverse: f32,
    bins_svg: String,
}

/// A finished SNV scan.
#[derive(Debug, Clone, PartialEq)]
struct IsmView {
    id: String,
    range: (usize, usize),
    reference: f32,
    n: usize,
    svg: String,
    gains: Vec<String>,
    losses: Vec<String>,
    csv_url: Option<String>,
}

/// What the model card shows.
#[derive(Debug, Clone, PartialEq)]
struct Card {
    name: String,
    title: String,
    precision: String,
    parameters: usize,
    source: String,
    train: String,
    validation: String,
    test: String,
    notes: String,
    from_file: bool,
}

fn card_of(m: &Manifest, from_file: bool) -> Card {
    let p = &m.provenance;
    let opt = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.3}"));
    let train = match (&p.train_data, p.train_rows) {
        (Some(d), Some(n)) => format!(
            "{} ({n} training rows, {} validation rows; {} epoch(s), batch {}, seed {})",
            d.path,
            p.val_rows.unwrap_or(0),
            p.epochs.map_or("?".into(), |e| e.to_string()),
            p.batch_size.map_or("?".into(), |e| e.to_string()),
            p.seed.map_or("?".into(), |e| e.to_string())
        ),
        (Some(d), None) => d.path.clone(),
        _ => "not recorded".into(),
    };
    let test = p
        .test_scores
        .as_ref()
        .and_then(|t| {
            let get = |k: &str| t.get(k).and_then(|v| v.as_f64());
            let all = t.get("subsets").and_then(|s| s.as_array()).and_then(|a| {
                a.iter().find(|s| s.get("name").and_then(|n| n.as_str()) == Some("all"))
            });
            let all_r = all.and_then(|s| s.get("pearson_r")).and_then(|v| v.as_f64());
            match (get("pearson_score"), get("spearman_score"), all_r) {
                (None, None, None) => None,
                (ps, ss, r) => Some(format!(
                    "DREAM test set, public labels (some subsets have none): Pearson r (all) {}, Pearson Score {}, Spearman Score {}",
                    opt(r),
                    opt(ps),
                    opt(ss)
                )),
            }
        })
        .unwrap_or_else(|| "not recorded".into());
    Card {
        name: m.name.clone(),
        title: m.title.clone(),
        precision: format!("{:?}", m.precision).to_lowercase(),
        parameters: m.parameters,
        source: p.source.clone(),
        train,
        validation: format!("Pearson r {}, Spearman ρ {} (best epoch {})", opt(p.val_pearson_r), opt(p.val_spearman_rho), p.best_epoch.map_or("?".into(), |e| e.to_string())),
        test,
        notes: p.notes.clone().unwrap_or_default(),
        from_file,
    }
}

/// Shared page state (all signals are `Copy`).
#[derive(Clone, Copy)]
struct State {
    backend: RwSignal<String>,
    backend_note: RwSignal<String>,
    models: RwSignal<Vec<IndexEntry>>,
    model_name: RwSignal<String>,
    card: RwSignal<Option<Card>>,
    model_status: RwSignal<String>,
    ready: RwSignal<bool>,
    busy: RwSignal<bool>,
    ready_ms: RwSignal<Option<f64>>,
    predict_ms: RwSignal<Option<f64>>,
    ism_ms: RwSignal<Option<f64>>,
    predictions_run: RwSignal<u32>,
    workers: RwSignal<u32>,
}

/// Installs `bundle` on the current backend (WebGPU when initialised, else CPU); a WebGPU
/// failure falls back to the CPU with a note.
async fn install(state: State, bundle: Bundle, from_file: bool) -> Result<(), String> {
    let gpu = GPU.with(|g| g.borrow().clone());
    let kind = if gpu.is_some() { BackendKind::WebGpu } else { BackendKind::Cpu };
    let mut eng = Engine::new(&bundle, kind, gpu.as_ref());
    if let Ok(e) = &eng {
        if e.kind() == BackendKind::WebGpu {
            // Warm-up pass: compiles the GPU kernels now and proves the device works.
            let probe = vec![e.processor().pad(crate::examples::NATIVE_EXAMPLES[0].2).map_err(|x| x.to_string())?];
            if let Err(err) = e.predict_windows(&probe).await {
                fall_back(state, &err);
                eng = Engine::new(&bundle, BackendKind::Cpu, None);
            }
        }
    }
    let eng = eng?;
    if eng.kind() == BackendKind::Cpu {
        // SNV scans on the CPU go to one Web Worker per core; started in the background.
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
    state.model_name.set(bundle.manifest.name.clone());
    ENGINE.with(|e| *e.borrow_mut() = Some(Rc::new(eng)));
    BUNDLE.with(|b| *b.borrow_mut() = Some(Rc::new(bundle)));
    state.ready.set(true);
    Ok(())
}

fn fall_back(state: State, err: &str) {
    GPU.with(|g| *g.borrow_mut() = None);
    state.backend.set("cpu".into());
    state.backend_note.set(format!("WebGPU failed ({err}); running on the CPU instead."));
}

/// Predicts windows, falling back to the CPU (once) when WebGPU fails.
async fn predict_windows(state: State, windows: &[Vec<u8>]) -> Result<Vec<Prediction>, String> {
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

/// Predicts windows in chunks of [`engine::CHUNK`], yielding to the browser between chunks.
async fn predict_chunked(state: State, windows: &[Vec<u8>], mut progress: impl FnMut(usize, usize)) -> Result<Vec<Prediction>, String> {
    let mut out = Vec::with_capacity(windows.len());
    for chunk in windows.chunks(engine::CHUNK) {
        out.extend(predict_windows(state, chunk).await?);
        progress(out.len(), windows.len());
        engine::yield_to_browser().await;
    }
    Ok(out)
}

async fn load_shipped(state: State, path: String) {
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

async fn start(state: State) {
    let force_cpu = url_param("backend").as_deref() == Some("cpu");
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
    let wanted = url_param("model");
    let first = models
        .iter()
        .find(|m| Some(&m.name) == wanted.as_ref())
        .or_else(|| models.iter().find(|m| m.name == "dream-cnn"))
        .or(models.first())
        .map(|m| m.path.clone());
    state.models.set(models);
    if let Some(path) = first {
        load_shipped(state, path).await;
    }
}

fn problem_view(p: &InputProblem, text: &str) -> AnyView {
    let lines: Vec<&str> = text.lines().collect();
    let mut marked = Vec::new();
    let mut shown = 0;
    let mut last_line = 0;
    for b in &p.bad_chars {
        if b.line == last_line || shown >= 5 {
            continue;
        }
        last_line = b.line;
        shown += 1;
        let line = lines.get(b.line - 1).copied().unwrap_or("");
        let bad_cols: Vec<usize> = p.bad_chars.iter().filter(|x| x.line == b.line).map(|x| x.column).collect();
        let parts: Vec<AnyView> = line
            .chars()
            .enumerate()
            .map(|(j, c)| {
                if bad_cols.contains(&(j + 1)) {
                    view! { <mark title=format!("line {}, column {}", b.line, j + 1)>{c.to_string()}</mark> }.into_any()
                } else {
                    c.to_string().into_any()
                }
            })
            .collect();
        marked.push(view! { <div class="badline"><span class="ln">{format!("line {}: ", b.line)}</span>{parts}</div> });
    }
    let more = p.bad_chars.len();
    view! {
        <div class="error" data-testid="error-message" role="alert">
            <strong>"Cannot read the sequences: "</strong>{p.message.clone()}
            {(more > 0).then(|| view! { <p>{format!("{more} invalid character(s), marked below; nothing was changed in your text.")}</p> })}
            <div class="marked">{marked}</div>
        </div>
    }
    .into_any()
}

/// The page.
#[component]
pub fn App() -> impl IntoView {
    let state = State {
        backend: RwSignal::new("starting".into()),
        backend_note: RwSignal::new(String::new()),
        models: RwSignal::new(Vec::new()),
        model_name: RwSignal::new(String::new()),
        card: RwSignal::new(None),
        model_status: RwSignal::new("loading the model…".into()),
        ready: RwSignal::new(false),
        busy: RwSignal::new(false),
        ready_ms: RwSignal::new(None),
        predict_ms: RwSignal::new(None),
        ism_ms: RwSignal::new(None),
        predictions_run: RwSignal::new(0),
        workers: RwSignal::new(0),
    };
    let text = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<InputProblem>);
    let problem_text = RwSignal::new(String::new());
    let notes = RwSignal::new(Vec::<String>::new());
    let rows = RwSignal::new(Vec::<Row>::new());
    let predict_csv = RwSignal::new(None::<String>);
    let ism_whole = RwSignal::new(false);
    let ism_status = RwSignal::new(String::new());
    let ism = RwSignal::new(None::<IsmView>);
    let hover = RwSignal::new(String::new());
    let ref_text = RwSignal::new(String::new());
    let alt_text = RwSignal::new(String::new());
    let allele = RwSignal::new(None::<Result<String, String>>);
    let file_status = RwSignal::new(String::new());

    spawn_local(start(state));

    // Reads the box; on error shows where, keeps the text.
    let read_box = move || -> Option<Vec<Entry>> {
        let eng = engine()?;
        let t = text.get_untracked();
        match input::read_input(&t, eng.processor()) {
            Ok(entries) => {
                problem.set(None);
                let mut n = Vec::new();
                let missing = input::without_adapter(&entries);
                if !missing.is_empty() {
                    n.push(format!(
                        "{} challenge-form sequence(s) ({}) do not start with the 5' adapter {}; their first 17 bp are replaced by plasmid sequence all the same.",
                        missing.len(),
                        missing.iter().take(3).map(|e| e.id.as_str()).collect::<Vec<_>>().join(", "),
                        prixfixe::data::ADAPTER_5P
                    ));
                }
                notes.set(n);
                Some(entries)
            }
            Err(p) => {
                problem_text.set(t);
                problem.set(Some(p));
                None
            }
        }
    };

    let on_predict = move |_| {
        let Some(entries) = read_box() else { return };
        let Some(eng) = engine() else { return };
        let windows: Result<Vec<_>, _> = entries.iter().map(|e| eng.processor().pad(&e.sequence)).collect();
        let windows = match windows {
            Ok(w) => w,
            Err(e) => {
                problem.set(Some(InputProblem { message: e.to_string(), line: None, bad_chars: vec![] }));
                return;
            }
        };
        state.busy.set(true);
        spawn_local(async move {
            let t0 = engine::now_ms();
            match predict_chunked(state, &windows, |_, _| {}).await {
                Ok(preds) => {
                    state.predict_ms.set(Some(engine::now_ms() - t0));
                    state.predictions_run.update(|n| *n += 1);
                    revoke(predict_csv.get_untracked());
                    predict_csv.set(csv_url(&render::predictions_csv(&entries, &preds)));
                    rows.set(
                        entries
                            .iter()
                            .zip(&preds)
                            .map(|(e, p)| Row {
                                id: e.id.clone(),
                                len: e.sequence.len(),
                                form: e.form_name(),
                                expression: p.expression,
                                forward: p.forward,
                                reverse: p.reverse,
                                bins_svg: render::bins_svg(&p.probs),
                            })
                            .collect(),
                    );
                }
                Err(e) => problem.set(Some(InputProblem { message: format!("prediction failed: {e}"), line: None, bad_chars: vec![] })),
            }
            state.busy.set(false);
        });
    };

    let on_ism = move |_| {
        let Some(entries) = read_box() else { return };
        let Some(eng) = engine() else { return };
        let entry = entries[0].clone();
        if entries.len() > 1 {
            notes.update(|n| n.push(format!("The SNV scan uses the first sequence ({}).", entry.id)));
        }
        let len = entry.sequence.len();
        let range = if ism_whole.get_untracked() { (1, len) } else { eng.processor().variable_region(len).unwrap_or((1, len)) };
        let plan = match plan_ism(eng.processor(), &entry.sequence, Some(range)) {
            Ok(p) => p,
            Err(e) => {
                problem.set(Some(InputProblem { message: e.to_string(), line: Some(entry.line), bad_chars: vec![] }));
                return;
            }
        };
        state.busy.set(true);
        if let Some(old) = ism.get_untracked() {
            revoke(old.csv_url);
        }
        ism.set(None);
        ism_status.set(format!("scanning 0 / {} variants…", plan.variants.len()));
        spawn_local(async move {
            let t0 = engine::now_ms();
            let total = plan.variants.len();
            let progress = move |done: usize| ism_status.set(format!("scanning {} / {total} variants…", done.saturating_sub(1).min(total)));
            let on_cpu = engine().is_some_and(|e| e.kind() == BackendKind::Cpu);
            let mut result = Err(String::new());
            if on_cpu && engine::pool_size() > 0 {
                result = engine::pool_predict(&plan.windows, move |d| progress(d as usize)).await;
                if let Err(e) = &result {
                    notes.update(|n| n.push(format!("The Web Workers failed ({e}); scanning on the page's thread.")));
                }
            }
            if result.is_err() {
                result = predict_chunked(state, &plan.windows, |done, _| progress(done))
                    .await
                    .map(|preds| preds.iter().map(|p| p.expression).collect());
            }
            match result {
                Ok(values) => {
                    let (reference, effects) = plan.effects(&values);
                    let ms = engine::now_ms() - t0;
                    state.ism_ms.set(Some(ms));
                    let (gains, losses) = top_effects(&effects, 8);
                    let fmt = |v: &Vec<&prixfixe::predictor::VariantEffect>| {
                        v.iter().map(|e| format!("{}{}>{} {:+.3}", e.variant.position, e.variant.reference, e.variant.alternative, e.delta)).collect()
                    };
                    ism.set(Some(IsmView {
                        id: entry.id.clone(),
                        range,
                        reference,
                        n: effects.len(),
                        svg: render::heatmap_svg(&plan.sequence(), reference, &effects),
                        gains: fmt(&gains),
                        losses: fmt(&losses),
                        csv_url: csv_url(&ism_table(&effects, ',')),
                    }));
                    let how = match engine::pool_size() {
                        0 => engine().map_or("", |e| if e.kind() == BackendKind::WebGpu { " on WebGPU" } else { " on the page's thread" }).to_string(),
                        n if on_cpu => format!(" on {n} Web Worker(s)"),
                        _ => " on WebGPU".to_string(),
                    };
                    ism_status.set(format!("done: {} SNVs in {:.2} s{how}", effects.len(), ms / 1000.0));
                }
                Err(e) => ism_status.set(format!("failed: {e}")),
            }
            state.busy.set(false);
        });
    };

    let on_alleles = move |_| {
        let Some(eng) = engine() else { return };
        let read_one = |t: String, which: &str| -> Result<Entry, String> {
            let mut e = input::read_input(&t, eng.processor()).map_err(|p| format!("{which}: {}", p.message))?;
            if e.len() != 1 {
                return Err(format!("{which}: paste exactly one sequence ({} found)", e.len()));
            }
            Ok(e.remove(0))
        };
        let pair = read_one(ref_text.get_untracked(), "reference allele").and_then(|r| Ok((r, read_one(alt_text.get_untracked(), "alternative allele")?)));
        let (r, a) = match pair {
            Ok(p) => p,
            Err(e) => {
                allele.set(Some(Err(e)));
                return;
            }
        };
        let windows: Result<Vec<_>, _> = [&r, &a].iter().map(|e| eng.processor().pad(&e.sequence)).collect();
        let Ok(windows) = windows else {
            allele.set(Some(Err("could not place the sequences in the model window".into())));
            return;
        };
        spawn_local(async move {
            match predict_windows(state, &windows).await {
                Ok(p) => {
                    let diff = if r.sequence.len() == a.sequence.len() {
                        let d = input::differences(&r.sequence, &a.sequence);
                        format!("{} difference(s){}{}", d.len(), if d.is_empty() { "" } else { ": " }, d.iter().take(10).cloned().collect::<Vec<_>>().join(", "))
                    } else {
                        format!("lengths differ ({} vs {} bp)", r.sequence.len(), a.sequence.len())
                    };
                    allele.set(Some(Ok(format!(
                        "reference {:.3}, alternative {:.3}, delta (alt − ref) {:+.3}; {diff}",
                        p[0].expression, p[1].expression, p[1].expression - p[0].expression
                    ))));
                }
                Err(e) => allele.set(Some(Err(e))),
            }
        });
    };

    let on_model = move |ev: leptos::ev::Event| {
        let name = event_target_value(&ev);
        if let Some(m) = state.models.get_untracked().into_iter().find(|m| m.name == name) {
            spawn_local(load_shipped(state, m.path));
        }
    };

    let on_files = move |ev: leptos::ev::Event| {
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
        let Some(files) = input.files() else { return };
        let files: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
        spawn_local(async move {
            let manifest = files.iter().find(|f| f.name().ends_with(".json"));
            let weights = files.iter().find(|f| f.name().ends_with(".safetensors"));
            let (Some(m), Some(w)) = (manifest, weights) else {
                file_status.set("Pick both files of a bundle: model.json and its .safetensors weights (a PyTorch state_dict becomes a bundle with `model-export import-torch`).".into());
                return;
            };
            file_status.set(format!("reading {} and {}…", m.name(), w.name()));
            let loaded = async {
                let mj = engine::read_file(m).await?;
                let wb = engine::read_file(w).await?;
                let bundle = Bundle::from_bytes(&mj, wb).map_err(|e| e.to_string())?;
                install(state, bundle, true).await
            }
            .await;
            match loaded {
                Ok(()) => file_status.set(format!("loaded {} from your files", state.model_name.get_untracked())),
                Err(e) => file_status.set(format!("could not load that bundle: {e}")),
            }
        });
    };

    let on_hover = move |ev: leptos::ev::MouseEvent| {
        let tip = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.get_attribute("data-tip"));
        if let Some(t) = tip {
            hover.set(t);
        }
    };

    view! {
        <header>
            <h1>"DREAM promoter expression"</h1>
            <p class="sub">"Predicted expression of yeast promoter sequences and the effect of every single-nucleotide variant, with the DREAM-optimized Prix Fixe models of the Random Promoter DREAM Challenge 2022 — computed in your browser; your sequences never leave this page."</p>
            <div class="bar">
                <span>"Backend: "<strong data-testid="backend-indicator">{move || state.backend.get()}</strong>
                    <span class="status">{move || match state.workers.get() { 0 => String::new(), n => format!(" (SNV scans on {n} Web Worker{})", if n == 1 { "" } else { "s" }) }}</span></span>
                <label>"Model: "
                    <select data-testid="model-select" on:change=on_model prop:value=move || state.model_name.get() disabled=move || state.busy.get()>
                        {move || state.models.get().into_iter().map(|m| {
                            let label = format!("{} ({}, {:.1} MB{})", m.title, m.precision, m.weights_bytes as f64 / 1e6,
                                m.val_pearson_r.map_or(String::new(), |r| format!(", val r {r:.2}")));
                            view! { <option value=m.name.clone()>{label}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <span data-testid="model-status" class="status">{move || state.model_status.get()}</span>
                <label class="file">"Load a bundle from disk: "
                    <input type="file" multiple accept=".json,.safetensors" data-testid="bundle-file" on:change=on_files/>
                </label>
                <span class="status" data-testid="bundle-status">{move || file_status.get()}</span>
            </div>
            <p class="note" data-testid="backend-note">{move || state.backend_note.get()}</p>
            {move || state.card.get().map(|c| view! {
                <details class="card" data-testid="model-card">
                    <summary>{format!("Model card: {} — {} parameters, {} weights{}", c.title, c.parameters, c.precision, if c.from_file { ", loaded from your files" } else { "" })}</summary>
                    <dl>
                        <dt>"Source"</dt><dd>{c.source.clone()}</dd>
                        <dt>"Training data"</dt><dd>{c.train.clone()}</dd>
                        <dt>"Validation"</dt><dd>{c.validation.clone()}</dd>
                        <dt>"Test"</dt><dd>{c.test.clone()}</dd>
                        <dt>"Notes"</dt><dd>{c.notes.clone()}</dd>
                    </dl>
                    {(!c.from_file).then(|| view! { <a href=format!("models/{}/README.md", c.name) target="_blank">"Full model card"</a> })}
                    <p class="caveat">"The shipped models were trained on a small real sample of the 6.7 M-sequence challenge training set, so their accuracy is modest (numbers above); the published models were trained on all of it."</p>
                </details>
            })}
        </header>

        <main>
            <section>
                <h2>"Sequences"</h2>
                <textarea data-testid="sequence-input" rows="6" spellcheck="false"
                    placeholder="Paste one sequence per line, or FASTA (>id lines)"
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                <p class="rule">{LENGTH_RULE}</p>
                <div class="buttons">
                    <span>"Examples (native yeast promoters, DREAM test set): "</span>
                    {NATIVE_EXAMPLES.iter().map(|&(label, id, seq)| view! {
                        <button class="example" on:click=move |_| text.set(format!(">{id}\n{seq}\n"))>{label}</button>
                    }).collect_view()}
                    <button class="example" on:click=move |_| text.set(NATIVE_EXAMPLES.iter().map(|(_, id, s)| format!(">{id}\n{s}\n")).collect())>"all four"</button>
                </div>
                <div class="buttons">
                    <button data-testid="predict-button" class="primary" on:click=on_predict disabled=move || !state.ready.get() || state.busy.get()>"Predict expression"</button>
                    <label><input type="checkbox" data-testid="ism-whole" prop:checked=move || ism_whole.get() on:change=move |ev| ism_whole.set(event_target_checked(&ev))/>" scan the whole sequence (default: the 80 bp random region)"</label>
                    <button data-testid="ism-button" on:click=on_ism disabled=move || !state.ready.get() || state.busy.get()>"SNV effect scan"</button>
                </div>
                {move || problem.get().map(|p| problem_view(&p, &problem_text.get_untracked()))}
                {move || notes.get().into_iter().map(|n| view! { <p class="note">{n}</p> }).collect_view()}
            </section>

            <section>
                <h2>"Predicted expression"</h2>
                <p class="help">"Expected expression bin on the training scale (0–17: mean sorting bin of the DREAM sort-seq assay), averaged over the forward and reverse-complement strands; the bars are the model's 18-bin distribution (its own uncertainty)."</p>
                <table class="results">
                    <thead><tr><th>"id"</th><th>"bp"</th><th>"input"</th><th>"expression"</th><th>"forward"</th><th>"reverse"</th><th>"bins 0–17"</th></tr></thead>
                    <tbody>
                        {move || rows.get().into_iter().map(|r| view! {
                            <tr>
                                <td>{r.id}</td><td>{r.len}</td><td>{r.form}</td>
                                <td class="num"><strong data-testid="prediction-value">{format!("{:.4}", r.expression)}</strong></td>
                                <td class="num">{format!("{:.3}", r.forward)}</td><td class="num">{format!("{:.3}", r.reverse)}</td>
                                <td inner_html=r.bins_svg></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                {move || predict_csv.get().map(|u| view! { <a data-testid="predict-csv" href=u download="dream-predictions.csv">"Download CSV"</a> })}
            </section>

            <section>
                <h2>"SNV effect scan (in-silico mutagenesis)"</h2>
                <p data-testid="ism-status" class="status">{move || ism_status.get()}</p>
                {move || ism.get().map(|v| view! {
                    <p>{format!("{}: reference prediction {:.3}; {} SNVs at positions {}–{}. Colour: predicted change (red = higher, blue = lower expression); dotted grey = reference base.", v.id, v.reference, v.n, v.range.0, v.range.1)}</p>
                    <div class="heatmap-wrap" data-testid="ism-heatmap" on:mouseover=on_hover inner_html=v.svg.clone()></div>
                    <p class="hover" data-testid="ism-hover">{move || hover.get()}</p>
                    <div class="tops">
                        <div><h3>"Top gains"</h3><ol>{v.gains.iter().map(|g| view! { <li>{g.clone()}</li> }).collect_view()}</ol></div>
                        <div><h3>"Top losses"</h3><ol>{v.losses.iter().map(|g| view! { <li>{g.clone()}</li> }).collect_view()}</ol></div>
                    </div>
                    {v.csv_url.clone().map(|u| view! { <a data-testid="ism-csv" href=u download="dream-snv-scan.csv">"Download CSV"</a> })}
                })}
            </section>

            <section>
                <h2>"Two alleles"</h2>
                <div class="alleles">
                    <textarea data-testid="allele-ref" rows="3" spellcheck="false" placeholder="reference allele" prop:value=move || ref_text.get() on:input=move |ev| ref_text.set(event_target_value(&ev))></textarea>
                    <textarea data-testid="allele-alt" rows="3" spellcheck="false" placeholder="alternative allele" prop:value=move || alt_text.get() on:input=move |ev| alt_text.set(event_target_value(&ev))></textarea>
                </div>
                <button data-testid="allele-button" on:click=on_alleles disabled=move || !state.ready.get()>"Compare"</button>
                {move || allele.get().map(|r| match r {
                    Ok(s) => view! { <p data-testid="allele-result">{s}</p> }.into_any(),
                    Err(e) => view! { <p class="error" data-testid="error-message">{e}</p> }.into_any(),
                })}
            </section>
        </main>
        <footer>
            <p data-testid="timings" class="timings">
                "Timings (ms since page start / per run): model ready "<span data-testid="ready-ms">{move || state.ready_ms.get().map_or("–".into(), |v| format!("{v:.0}"))}</span>
                ", last prediction "<span data-testid="predict-ms">{move || state.predict_ms.get().map_or("–".into(), |v| format!("{v:.0}"))}</span>
                ", last SNV scan "<span data-testid="ism-ms">{move || state.ism_ms.get().map_or("–".into(), |v| format!("{v:.0}"))}</span>
                "; predictions run: "<span data-testid="predict-runs">{move || state.predictions_run.get()}</span>
            </p>
            <p>"Models: Rafi et al., “A community effort to optimize sequence-based deep learning models of gene regulation” (Random Promoter DREAM Challenge 2022). Runs offline once loaded."</p>
        </footer>
    }
}
