//! Motif tiling: a motif (or its reverse complement) written over the box's sequences at every
//! position of a region (default: the 80 bp random region), each placement's predicted change of
//! expression — the design of the DREAM test set's motif tiling subset, as `dream tile` does
//! (`prixfixe::tiling`: the same motif reading, plan and table code). A line plot, the largest
//! gain and loss, and a CSV.

use leptos::prelude::*;
use leptos::task::spawn_local;
use prixfixe::tiling::{known_motif, KNOWN_MOTIFS};

use crate::engine;
use crate::input::parse_region;
use crate::plans::{self, TileResult};
use crate::render::{tiling_csv, tiling_svg};
use crate::state::{csv_url, engine, predict_expressions, read_box, record_task, revoke, where_run, State};
use crate::urlstate::Task;

/// A finished tiling.
#[derive(Debug, Clone, PartialEq)]
pub struct TileView {
    label: String,
    svg: String,
    /// One line per background: id, region, background prediction, largest gain and loss.
    lines: Vec<String>,
}

/// The panel's state.
#[derive(Clone, Copy)]
pub struct TilingState {
    /// The motif: bases or a known site's name (as typed).
    pub motif: RwSignal<String>,
    /// Optional region `FROM-TO` (as typed).
    pub region: RwSignal<String>,
    /// Progress and result line.
    pub status: RwSignal<String>,
    /// Runs finished (the status line's `data-run`, which the browser tests wait on).
    pub runs: RwSignal<u32>,
    /// Why the tiling could not be planned.
    pub error: RwSignal<Option<String>>,
    /// The last tiling.
    pub view: RwSignal<Option<TileView>>,
    /// Object URL of its CSV.
    pub csv: RwSignal<Option<String>>,
}

impl TilingState {
    /// No tiling yet, empty fields.
    pub fn new() -> Self {
        Self {
            motif: RwSignal::new(String::new()),
            region: RwSignal::new(String::new()),
            status: RwSignal::new(String::new()),
            runs: RwSignal::new(0),
            error: RwSignal::new(None),
            view: RwSignal::new(None),
            csv: RwSignal::new(None),
        }
    }
}

impl Default for TilingState {
    fn default() -> Self {
        Self::new()
    }
}

fn summary(r: &TileResult) -> String {
    let gain = r.effects.iter().max_by(|a, b| a.delta.total_cmp(&b.delta));
    let loss = r.effects.iter().min_by(|a, b| a.delta.total_cmp(&b.delta));
    let fmt = |e: Option<&prixfixe::tiling::TileEffect>| {
        e.map_or("–".to_string(), |e| format!("position {} ({}) {:+.3}", e.placement.position, e.placement.orientation.symbol(), e.delta))
    };
    format!(
        "{}: region {}–{}, background prediction {:.3}; largest gain {}, largest loss {}",
        r.id,
        r.region.0,
        r.region.1,
        r.background,
        fmt(gain),
        fmt(loss)
    )
}

/// Tiles the motif over the box's sequences (the tile button, or `task=tile` in the address).
pub fn run(state: State) {
    let Some(eng) = engine() else { return };
    let t = state.tiling;
    // A new run, good or bad, never leaves the previous plot on show.
    revoke(t.csv.get_untracked());
    t.csv.set(None);
    t.view.set(None);
    t.status.set(String::new());
    let Some(entries) = read_box(state) else {
        t.error.set(Some("background: the sequence box cannot be read (see the message under it).".into()));
        return;
    };
    let planned = parse_region(&t.region.get_untracked())
        .and_then(|region| plans::tile_job(eng.processor(), &entries, &t.motif.get_untracked(), region));
    let job = match planned {
        Ok(j) => j,
        Err(e) => {
            t.error.set(Some(e));
            return;
        }
    };
    t.error.set(None);
    record_task(state, Task::Tile);
    state.busy.set(true);
    let total = job.len();
    t.status.set(format!("tiling: 0 / {total} sequences…"));
    spawn_local(async move {
        let t0 = engine::now_ms();
        let progress = move |done: usize| t.status.set(format!("tiling: {} / {total} sequences…", done.min(total)));
        let result = predict_expressions(state, &job.windows, progress).await.and_then(|values| job.results(&values));
        match result {
            Ok(results) => {
                let ms = engine::now_ms() - t0;
                let effects: Vec<_> = results.iter().map(|r| r.effects.clone()).collect();
                let named: Vec<_> = results.iter().map(|r| (r.id.clone(), r.effects.clone())).collect();
                t.csv.set(csv_url(&tiling_csv(&named)));
                let placements = results.first().map_or(0, |r| r.effects.len());
                t.view.set(Some(TileView { label: job.label.clone(), svg: tiling_svg(&effects), lines: results.iter().map(summary).collect() }));
                t.status.set(format!(
                    "done: motif {} at {placements} placements (both orientations) × {} background(s), {total} sequences in {:.2} s{}",
                    job.label,
                    results.len(),
                    ms / 1000.0,
                    where_run()
                ));
            }
            Err(e) => t.status.set(format!("failed: {e}")),
        }
        t.runs.update(|n| *n += 1);
        state.busy.set(false);
    });
}

/// The motif, known-site select and region fields, the tile button, the plot and the CSV.
#[component]
pub fn Tiling(state: State) -> impl IntoView {
    let t = state.tiling;
    let known = move || known_motif(t.motif.get().trim()).map_or(String::new(), |m| m.name.to_string());
    view! {
        <section data-testid="tile-panel">
            <h2>"Motif tiling"</h2>
            <p class="help">{move || state.assay.with(|a| format!(
                "The motif (or its reverse complement, orientation −) is written over the sequences in the box at every position where it fits in the region — by default {} — and each placement's predicted {} is compared with the sequence's own (delta). With several sequences the plot shows the mean ± sd over them by offset from the region start.",
                if a.is_yeast() { "the 80 bp random region, as in the DREAM test set's motif tiling subset" } else { a.default_region() },
                a.change_words(state.output.get())
            ))}</p>
            <div class="buttons">
                <label>"Motif: "<input type="text" data-testid="tile-motif" spellcheck="false" size="16" placeholder="bases, or a name: Skn7"
                    prop:value=move || t.motif.get() on:input=move |ev| t.motif.set(event_target_value(&ev))/></label>
                <label>"Known site: "
                    <select data-testid="tile-known" prop:value=known on:change=move |ev| {
                        let v = event_target_value(&ev);
                        if !v.is_empty() {
                            t.motif.set(v);
                        }
                    }>
                        <option value="">"—"</option>
                        {KNOWN_MOTIFS.iter().map(|m| view! { <option value=m.name>{format!("{} — {} ({})", m.name, m.factor, m.consensus)}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Region: "<input type="text" data-testid="tile-region" spellcheck="false" size="10" placeholder="FROM-TO"
                    title=move || state.assay.with(|a| format!("1-based positions, inclusive; empty: {} of each sequence", a.default_region()))
                    prop:value=move || t.region.get() on:input=move |ev| t.region.set(event_target_value(&ev))/></label>
                <button data-testid="tile-button" class="primary" on:click=move |_| run(state) disabled=move || !state.ready.get() || state.busy.get()>"Tile the motif"</button>
            </div>
            <p class="note">{move || known_motif(t.motif.get().trim()).map(|m| format!("{}: {}, consensus {}; source: {}.", m.name, m.factor, m.consensus, m.source))}</p>
            <p data-testid="tile-status" class="status" data-run=move || t.runs.get().to_string()>{move || t.status.get()}</p>
            {move || t.error.get().map(|e| view! {
                <div class="error" data-testid="error-message" role="alert"><strong>"Cannot tile: "</strong>{e}<p>"Nothing was changed in your text."</p></div>
            })}
            {move || t.view.get().map(|v| view! {
                <p>{format!("Motif {}: predicted change of expression (delta vs the sequence without it) by where the motif starts.", v.label)}</p>
                <div class="plot-wrap" data-testid="tile-plot" inner_html=v.svg.clone()></div>
                <ul class="tile-lines">{v.lines.iter().map(|l| view! { <li>{l.clone()}</li> }).collect_view()}</ul>
            })}
            {move || t.csv.get().map(|u| view! { <a data-testid="tile-csv" href=u download="dream-motif-tiling.csv">"Download CSV"</a> })}
        </section>
    }
}
