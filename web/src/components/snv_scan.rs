//! SNV effect scan (in-silico mutagenesis) of the box's first sequence: every single-nucleotide
//! variant of the region, as a heatmap with a hover line, the top gains and losses, and a CSV
//! (`prixfixe::predictor::ism_table`, what `dream ism` writes); under it the attribution logo
//! (`prixfixe::attribution`, what `dream ism --attribution --logo` writes).
//!
//! A scan first shows the Taylor ISM preview (`prixfixe::taylor`, what `dream ism --method
//! taylor` writes: one forward and one backward pass, labelled approximate), computed by the
//! first scan worker (`worker_taylor`) while the others start the exact scan, then replaces its
//! cells by the exact effects as the worker pool's chunks come back. Cancel stops a scan at
//! once and keeps what it has; a new scan cancels the one running.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use prixfixe::attribution::{attribution_table, ism_attribution, logo_svg};
use prixfixe::metrics::pearson;
use prixfixe::predictor::{ism_table, plan_ism, top_effects, IsmPlan, VariantEffect};
use wasm_bindgen::JsCast;

use crate::engine::{self, BackendKind};
use crate::input::InputProblem;
use crate::render;
use crate::state::{blob_url, csv_url, engine, predict_streaming, read_box, record_task, revoke, taylor_predictor, where_run, State, CANCELLED};
use crate::urlstate::Task;

/// A scan: finished, or in progress (exact where known, the Taylor preview elsewhere).
#[derive(Debug, Clone, PartialEq)]
pub struct IsmView {
    id: String,
    what: String,
    range: (usize, usize),
    reference: f32,
    n: usize,
    /// Cells still showing the Taylor approximation.
    approximate: usize,
    /// The exact scan finished: tables, logo and downloads are there.
    finished: bool,
    svg: String,
    gains: Vec<String>,
    losses: Vec<String>,
    csv_url: Option<String>,
    logo: String,
    logo_url: Option<String>,
    attribution_url: Option<String>,
}

/// The panel's state.
#[derive(Clone, Copy)]
pub struct ScanState {
    /// Scan all the model reads rather than the 80 bp random region (`Assay::whole_choice`).
    pub whole: RwSignal<bool>,
    /// Progress and result line.
    pub status: RwSignal<String>,
    /// The Taylor ISM preview: when it appeared, and its Pearson r with the exact scan once known.
    pub preview: RwSignal<String>,
    /// Milliseconds from the button to the Taylor preview (the browser tests read it).
    pub preview_ms: RwSignal<Option<f64>>,
    /// The last scan.
    pub view: RwSignal<Option<IsmView>>,
    /// The heatmap cell under the pointer, in words.
    pub hover: RwSignal<String>,
    /// Incremented by each scan and by Cancel: a scan stops when it no longer holds the number.
    pub run_id: RwSignal<u32>,
    /// A scan is running.
    pub running: RwSignal<bool>,
    /// Exact effects known, of `total`, for the running scan.
    pub exact: RwSignal<(usize, usize)>,
}

impl ScanState {
    /// Nothing scanned yet.
    pub fn new() -> Self {
        Self {
            whole: RwSignal::new(false),
            status: RwSignal::new(String::new()),
            preview: RwSignal::new(String::new()),
            preview_ms: RwSignal::new(None),
            view: RwSignal::new(None),
            hover: RwSignal::new(String::new()),
            run_id: RwSignal::new(0),
            running: RwSignal::new(false),
            exact: RwSignal::new((0, 0)),
        }
    }
}

impl Default for ScanState {
    fn default() -> Self {
        Self::new()
    }
}

/// What a scan knows: the plan, the Taylor preview and the exact values that came back.
struct Partial {
    plan: IsmPlan,
    id: String,
    what: String,
    range: (usize, usize),
    taylor: Option<(f32, Vec<VariantEffect>)>,
    /// Exact output of window `i` (0 = the reference).
    exact: Vec<Option<f32>>,
}

impl Partial {
    /// The reference and every variant's effect: exact where the variant and the reference came
    /// back, else the Taylor value (when there is a preview); `exact[i]` says which.
    fn merged(&self) -> (f32, Vec<VariantEffect>, Vec<bool>) {
        let exact_ref = self.exact[0];
        let reference = exact_ref.or(self.taylor.as_ref().map(|t| t.0)).unwrap_or(f32::NAN);
        let mut effects = Vec::with_capacity(self.plan.variants.len());
        let mut is_exact = Vec::with_capacity(self.plan.variants.len());
        for (i, v) in self.plan.variants.iter().enumerate() {
            match (exact_ref, self.exact[i + 1]) {
                (Some(r), Some(p)) => {
                    effects.push(VariantEffect { variant: v.clone(), prediction: p, delta: p - r });
                    is_exact.push(true);
                }
                _ => {
                    if let Some((_, t)) = &self.taylor {
                        effects.push(t[i].clone());
                        is_exact.push(false);
                    }
                }
            }
        }
        (reference, effects, is_exact)
    }

    /// The view of a scan in progress (no tables or downloads yet).
    fn progress_view(&self) -> Option<IsmView> {
        let (reference, effects, exact) = self.merged();
        if effects.is_empty() {
            return None;
        }
        Some(IsmView {
            id: self.id.clone(),
            what: self.what.clone(),
            range: self.range,
            reference,
            n: effects.len(),
            approximate: exact.iter().filter(|&&e| !e).count(),
            finished: false,
            svg: render::heatmap_svg_marked(&self.plan.sequence(), reference, &effects, &exact),
            gains: Vec::new(),
            losses: Vec::new(),
            csv_url: None,
            logo: String::new(),
            logo_url: None,
            attribution_url: None,
        })
    }
}

/// Stops the running scan at once; what it computed stays on the page.
pub fn cancel(state: State) {
    let sc = state.scan;
    if !sc.running.get_untracked() {
        return;
    }
    sc.run_id.update(|n| *n += 1);
    engine::pool_cancel();
    sc.running.set(false);
    state.busy.set(false);
    let (done, total) = sc.exact.get_untracked();
    sc.status.set(format!(
        "cancelled: {done} of {total} SNVs scanned exactly{}",
        if done < total && sc.view.with_untracked(|v| v.as_ref().is_some_and(|v| v.approximate > 0)) { "; the others show the approximate preview" } else { "" }
    ));
}

/// Scans the first sequence of the box (the scan button, or `task=scan` in the address); a scan
/// already running is cancelled first. A box that cannot be read leaves a running scan alone.
pub fn run(state: State) {
    let Some(entries) = read_box(state) else { return };
    let Some(eng) = engine() else { return };
    let sc = state.scan;
    let entry = entries[0].clone();
    if entries.len() > 1 {
        state.notes.update(|n| n.push(format!("The SNV scan uses the first sequence ({}).", entry.id)));
    }
    let len = entry.sequence.len();
    // What the model reads (BHI: the first 110 bp; UnlockDNA: 21..len−20), by default its random region.
    let whole = sc.whole.get_untracked() && state.assay.with_untracked(|a| a.whole_choice().is_some());
    let range = crate::input::scan_range(eng.processor(), len, whole);
    let plan = match plan_ism(eng.processor(), &entry.sequence, Some(range)) {
        Ok(p) => p,
        Err(e) => {
            state.problem.set(Some(InputProblem { message: e.to_string(), line: Some(entry.line), bad_chars: vec![] }));
            return;
        }
    };
    if sc.running.get_untracked() {
        cancel(state);
    }
    let my_run = sc.run_id.get_untracked() + 1;
    sc.run_id.set(my_run);
    let mine = move || sc.run_id.get_untracked() == my_run;
    record_task(state, Task::Scan);
    state.busy.set(true);
    sc.running.set(true);
    if let Some(old) = sc.view.get_untracked() {
        revoke(old.csv_url);
        revoke(old.logo_url);
        revoke(old.attribution_url);
    }
    sc.view.set(None);
    sc.preview.set(String::new());
    sc.preview_ms.set(None);
    let total = plan.variants.len();
    sc.exact.set((0, total));
    sc.status.set(format!("scanning {total} variants: approximate preview first…"));
    let output = state.output.get_untracked();
    let what = state.assay.get_untracked().change_words(output);
    // On the worker pool the first worker computes the Taylor preview while the others start
    // the exact scan (it joins them afterwards): the page's thread stays free. Off the pool
    // (WebGPU, no workers) the page's thread computes the preview first.
    let pooled = eng.kind() == BackendKind::Cpu && engine::pool_size() >= 1;
    let processor = eng.processor().clone();
    spawn_local(async move {
        let t0 = engine::now_ms();
        let windows = plan.windows.clone();
        let partial = Rc::new(RefCell::new(Partial { exact: vec![None; windows.len()], plan, id: entry.id.clone(), what, range, taylor: None }));
        let p = partial.clone();
        // The heatmap is redrawn at most every 500 ms (each redraw, ~1,000 SVG cells parsed and
        // painted, takes the page's thread from the workers on a machine with few cores); the
        // status line at every chunk.
        let last_draw = std::cell::Cell::new(f64::NEG_INFINITY);
        let on_chunk = move |done: usize, start: usize, values: &[f32]| {
            if !mine() {
                return;
            }
            let mut p = p.borrow_mut();
            for (k, &v) in values.iter().enumerate() {
                if let Some(slot) = p.exact.get_mut(start + k) {
                    *slot = Some(v);
                }
            }
            let known = if p.exact[0].is_some() { p.exact[1..].iter().filter(|v| v.is_some()).count() } else { 0 };
            sc.exact.set((known, total));
            sc.status.set(format!("exact scan: {} / {total} variants…", done.saturating_sub(1).min(total)));
            let now = engine::now_ms();
            if now - last_draw.get() >= 500.0 {
                last_draw.set(now);
                sc.view.set(p.progress_view());
            }
        };
        // The Taylor preview, from a worker or the page's thread: shown unless a newer scan
        // started or this one finished first.
        let shown = partial.clone();
        let show_taylor = move |taylor: Result<(f32, Vec<VariantEffect>), String>| {
            if !mine() {
                return;
            }
            match taylor {
                Ok(t) => {
                    shown.borrow_mut().taylor = Some(t);
                    let ms = engine::now_ms() - t0;
                    sc.preview_ms.set(Some(ms));
                    sc.preview.set(format!("Approximate preview (Taylor ISM: gradient × substitution, one forward and one backward pass) shown after {ms:.0} ms; faded cells are still approximate."));
                    if sc.running.get_untracked() {
                        sc.view.set(shown.borrow().progress_view());
                    }
                }
                Err(e) => sc.preview.set(format!("No approximate preview ({e}).")),
            }
        };
        let in_worker = pooled.then(|| {
            let p = partial.clone();
            let show = show_taylor.clone();
            Box::new(move |r: Result<(f32, Vec<f32>), String>| {
                show(r.map(|(reference, g)| (reference, prixfixe::taylor::taylor_effects(&processor, &p.borrow().plan, reference, &g))));
            }) as Box<dyn FnOnce(Result<(f32, Vec<f32>), String>)>
        });
        let partial_exact = partial.clone();
        let exact = async move {
            let result = predict_streaming(state, &windows, in_worker, move || !mine(), on_chunk).await;
            if !mine() {
                return;
            }
            let partial = partial_exact;
            match result {
                Ok(values) => {
                    let p = partial.borrow();
                    let (reference, effects) = p.plan.effects(&values);
                    let ms = engine::now_ms() - t0;
                    state.ism_ms.set(Some(ms));
                    if let Some((_, t)) = &p.taylor {
                        let exact: Vec<f64> = effects.iter().map(|e| f64::from(e.delta)).collect();
                        let approx: Vec<f64> = t.iter().map(|e| f64::from(e.delta)).collect();
                        let r = pearson(&exact, &approx).map_or("–".to_string(), |r| format!("{r:.3}"));
                        sc.preview.set(format!(
                            "The approximate preview (Taylor ISM) appeared after {:.0} ms; its Pearson r with the exact effects: {r}.",
                            sc.preview_ms.get_untracked().unwrap_or(0.0)
                        ));
                    }
                    let (gains, losses) = top_effects(&effects, 8);
                    let fmt = |v: &Vec<&VariantEffect>| {
                        v.iter().map(|e| format!("{}{}>{} {:+.3}", e.variant.position, e.variant.reference, e.variant.alternative, e.delta)).collect()
                    };
                    let track = ism_attribution(&effects);
                    let logo = logo_svg(&track, "ISM");
                    sc.view.set(Some(IsmView {
                        id: p.id.clone(),
                        what: p.what.clone(),
                        range: p.range,
                        reference,
                        n: effects.len(),
                        approximate: 0,
                        finished: true,
                        svg: render::heatmap_svg(&p.plan.sequence(), reference, &effects),
                        gains: fmt(&gains),
                        losses: fmt(&losses),
                        csv_url: csv_url(&ism_table(&effects, ',')),
                        logo_url: blob_url(&logo, "image/svg+xml"),
                        attribution_url: csv_url(&attribution_table(&track, ',')),
                        logo,
                    }));
                    sc.exact.set((total, total));
                    sc.status.set(format!("done: {} SNVs in {:.2} s{}", effects.len(), ms / 1000.0, where_run()));
                }
                Err(e) if e == CANCELLED => {}
                Err(e) => sc.status.set(format!("failed: {e}")),
            }
            sc.running.set(false);
            state.busy.set(false);
        };
        if !pooled {
            // Lets the page paint the button state first.
            engine::yield_to_browser().await;
            // The Taylor preview: one forward and one backward pass on the page's thread.
            let taylor = taylor_predictor(output).map(|p| prixfixe::taylor::taylor_ism(&p, &partial.borrow().plan));
            show_taylor(taylor);
            if !mine() {
                return;
            }
            sc.status.set(format!("exact scan: 0 / {total} variants…"));
        }
        exact.await;
    });
}

/// The heatmap, hover line, top gains and losses, and the CSV.
#[component]
pub fn SnvScan(state: State) -> impl IntoView {
    let sc = state.scan;
    let on_hover = move |ev: leptos::ev::MouseEvent| {
        let tip = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()).and_then(|e| e.get_attribute("data-tip"));
        if let Some(t) = tip {
            sc.hover.set(t);
        }
    };
    view! {
        <section data-testid="scan-panel">
            <h2>"SNV effect scan (in-silico mutagenesis)"</h2>
            <p data-testid="ism-status" class="status">{move || sc.status.get()}" "
                <button data-testid="ism-cancel" on:click=move |_| cancel(state) hidden=move || !sc.running.get()>"Cancel"</button>
            </p>
            <p data-testid="ism-preview" class="help">{move || sc.preview.get()}</p>
            {move || sc.view.get().map(|v| view! {
                <p data-testid="ism-summary">{format!("{}: reference prediction of {} {:.3}; {} SNVs at positions {}–{}. Colour: predicted change of {} (red = higher, blue = lower); dotted grey = reference base.", v.id, v.what, v.reference, v.n, v.range.0, v.range.1, v.what)}
                    {(v.approximate > 0).then(|| view! { <strong data-testid="ism-approximate">{format!(" {} of {} cells are approximate (Taylor ISM, faded) until the exact scan reaches them.", v.approximate, v.n)}</strong> })}
                </p>
                <div class="heatmap-wrap" data-testid="ism-heatmap" on:mouseover=on_hover inner_html=v.svg.clone()></div>
                <p class="hover" data-testid="ism-hover">{move || sc.hover.get()}</p>
                {v.finished.then(|| view! {
                <div class="tops">
                    <div><h3>"Top gains"</h3><ol>{v.gains.iter().map(|g| view! { <li>{g.clone()}</li> }).collect_view()}</ol></div>
                    <div><h3>"Top losses"</h3><ol>{v.losses.iter().map(|g| view! { <li>{g.clone()}</li> }).collect_view()}</ol></div>
                </div>
                {v.csv_url.clone().map(|u| view! { <a data-testid="ism-csv" href=u download="dream-snv-scan.csv">"Download CSV"</a> })}
                <h3>"Attribution logo"</h3>
                <p class="help">"Per position, the reference base drawn as tall as its ISM attribution: minus the mean effect of its three substitutions (up: the base supports the predicted activity, its substitutions lower it; down, flipped: it represses). Hover a letter for its value."</p>
                <div class="heatmap-wrap" data-testid="ism-logo" on:mouseover=on_hover inner_html=v.logo.clone()></div>
                <p>
                    {v.logo_url.clone().map(|u| view! { <a data-testid="ism-logo-svg" href=u download="dream-ism-logo.svg">"Download logo (SVG)"</a> })}" "
                    {v.attribution_url.clone().map(|u| view! { <a data-testid="ism-attribution-csv" href=u download="dream-ism-attribution.csv">"Download attribution (CSV)"</a> })}
                </p>
                })}
            })}
        </section>
    }
}
