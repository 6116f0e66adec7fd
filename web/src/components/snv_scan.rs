//! SNV effect scan (in-silico mutagenesis) of the box's first sequence: every single-nucleotide
//! variant of the region, as a heatmap with a hover line, the top gains and losses, and a CSV
//! (`prixfixe::predictor::ism_table`, what `dream ism` writes); under it the attribution logo
//! (`prixfixe::attribution`, what `dream ism --attribution --logo` writes).

use leptos::prelude::*;
use leptos::task::spawn_local;
use prixfixe::attribution::{attribution_table, ism_attribution, logo_svg};
use prixfixe::predictor::{ism_table, plan_ism, top_effects, VariantEffect};
use wasm_bindgen::JsCast;

use crate::engine;
use crate::input::InputProblem;
use crate::render;
use crate::state::{blob_url, csv_url, engine, predict_expressions, read_box, record_task, revoke, where_run, State};
use crate::urlstate::Task;

/// A finished SNV scan.
#[derive(Debug, Clone, PartialEq)]
pub struct IsmView {
    id: String,
    what: String,
    range: (usize, usize),
    reference: f32,
    n: usize,
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
    /// The last scan.
    pub view: RwSignal<Option<IsmView>>,
    /// The heatmap cell under the pointer, in words.
    pub hover: RwSignal<String>,
}

impl ScanState {
    /// Nothing scanned yet.
    pub fn new() -> Self {
        Self { whole: RwSignal::new(false), status: RwSignal::new(String::new()), view: RwSignal::new(None), hover: RwSignal::new(String::new()) }
    }
}

impl Default for ScanState {
    fn default() -> Self {
        Self::new()
    }
}

/// Scans the first sequence of the box (the scan button, or `task=scan` in the address).
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
    record_task(state, Task::Scan);
    state.busy.set(true);
    if let Some(old) = sc.view.get_untracked() {
        revoke(old.csv_url);
        revoke(old.logo_url);
        revoke(old.attribution_url);
    }
    sc.view.set(None);
    sc.status.set(format!("scanning 0 / {} variants…", plan.variants.len()));
    spawn_local(async move {
        let t0 = engine::now_ms();
        let total = plan.variants.len();
        let progress = move |done: usize| sc.status.set(format!("scanning {} / {total} variants…", done.saturating_sub(1).min(total)));
        match predict_expressions(state, &plan.windows, progress).await {
            Ok(values) => {
                let (reference, effects) = plan.effects(&values);
                let ms = engine::now_ms() - t0;
                state.ism_ms.set(Some(ms));
                let (gains, losses) = top_effects(&effects, 8);
                let fmt = |v: &Vec<&VariantEffect>| {
                    v.iter().map(|e| format!("{}{}>{} {:+.3}", e.variant.position, e.variant.reference, e.variant.alternative, e.delta)).collect()
                };
                let track = ism_attribution(&effects);
                let logo = logo_svg(&track, "ISM");
                sc.view.set(Some(IsmView {
                    id: entry.id.clone(),
                    what: state.assay.get_untracked().change_words(state.output.get_untracked()),
                    range,
                    reference,
                    n: effects.len(),
                    svg: render::heatmap_svg(&plan.sequence(), reference, &effects),
                    gains: fmt(&gains),
                    losses: fmt(&losses),
                    csv_url: csv_url(&ism_table(&effects, ',')),
                    logo_url: blob_url(&logo, "image/svg+xml"),
                    attribution_url: csv_url(&attribution_table(&track, ',')),
                    logo,
                }));
                sc.status.set(format!("done: {} SNVs in {:.2} s{}", effects.len(), ms / 1000.0, where_run()));
            }
            Err(e) => sc.status.set(format!("failed: {e}")),
        }
        state.busy.set(false);
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
            <p data-testid="ism-status" class="status">{move || sc.status.get()}</p>
            {move || sc.view.get().map(|v| view! {
                <p data-testid="ism-summary">{format!("{}: reference prediction of {} {:.3}; {} SNVs at positions {}–{}. Colour: predicted change of {} (red = higher, blue = lower); dotted grey = reference base.", v.id, v.what, v.reference, v.n, v.range.0, v.range.1, v.what)}</p>
                <div class="heatmap-wrap" data-testid="ism-heatmap" on:mouseover=on_hover inner_html=v.svg.clone()></div>
                <p class="hover" data-testid="ism-hover">{move || sc.hover.get()}</p>
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
        </section>
    }
}
