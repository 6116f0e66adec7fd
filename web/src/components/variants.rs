//! Variant table: many variants at once — `id sequence position ref alt` or `id ref_sequence
//! alt_sequence` — each scored as the predicted expression of its reference and alternative and
//! their difference (the variant effect), as `dream variants` does (`prixfixe::variants`: the
//! same reading, planning and table code). A sortable table and a CSV.

use leptos::prelude::*;
use leptos::task::spawn_local;
use prixfixe::variants::{variant_table, VariantScore};

use crate::engine;
use crate::examples::example_variant_table;
use crate::plans::{self, VARIANT_LAYOUTS};
use crate::render::{variant_order, VariantSort};
use crate::state::{csv_url, engine, predict_chunked, record_task, revoke, State};
use crate::urlstate::Task;

/// Rows shown on the page (all are in the CSV).
const SHOWN: usize = 500;

/// The panel's state.
#[derive(Clone, Copy)]
pub struct VariantsState {
    /// The table as typed (never rewritten by the page).
    pub text: RwSignal<String>,
    /// Progress and result line.
    pub status: RwSignal<String>,
    /// Runs finished (the status line's `data-run`, which the browser tests wait on).
    pub runs: RwSignal<u32>,
    /// Why the table could not be read or scored.
    pub error: RwSignal<Option<String>>,
    /// Notes on the table (identical rows, long sequences).
    pub notes: RwSignal<Vec<String>>,
    /// The last scores, in table order.
    pub scores: RwSignal<Vec<VariantScore>>,
    /// Sort column and whether descending.
    pub sort: RwSignal<(VariantSort, bool)>,
    /// Object URL of the CSV.
    pub csv: RwSignal<Option<String>>,
}

impl VariantsState {
    /// Empty table.
    pub fn new() -> Self {
        Self {
            text: RwSignal::new(String::new()),
            status: RwSignal::new(String::new()),
            runs: RwSignal::new(0),
            error: RwSignal::new(None),
            notes: RwSignal::new(Vec::new()),
            scores: RwSignal::new(Vec::new()),
            sort: RwSignal::new((VariantSort::Effect, true)),
            csv: RwSignal::new(None),
        }
    }
}

impl Default for VariantsState {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads, predicts and scores the table (the score button, or `task=variants` in the address).
pub fn run(state: State) {
    let Some(eng) = engine() else { return };
    let v = state.variants;
    // A new run, good or bad, never leaves the previous table on show.
    revoke(v.csv.get_untracked());
    v.csv.set(None);
    v.scores.set(Vec::new());
    v.status.set(String::new());
    let job = match plans::variant_job(eng.processor(), &v.text.get_untracked()) {
        Ok(j) => j,
        Err(e) => {
            v.error.set(Some(e));
            v.notes.set(Vec::new());
            return;
        }
    };
    v.error.set(None);
    v.notes.set(job.notes.clone());
    record_task(state, Task::Variants);
    let (rows, seqs) = (job.records.len(), job.plan.windows.len());
    v.status.set(format!("scoring {rows} variants: 0 / {seqs} distinct sequences…"));
    state.busy.set(true);
    spawn_local(async move {
        let t0 = engine::now_ms();
        let progress = move |done: usize, total: usize| v.status.set(format!("scoring {rows} variants: {done} / {total} distinct sequences…"));
        match predict_chunked(state, &job.plan.windows, progress).await {
            Ok(preds) => {
                let expressions: Vec<f32> = preds.iter().map(|p| crate::state::selected(state, p)).collect();
                let scores = job.plan.scores(&expressions);
                v.csv.set(csv_url(&variant_table(&scores, ',')));
                v.scores.set(scores);
                v.status.set(format!("done: {rows} variants ({seqs} distinct sequences) in {:.2} s", (engine::now_ms() - t0) / 1000.0));
            }
            Err(e) => v.status.set(format!("failed: {e}")),
        }
        v.runs.update(|n| *n += 1);
        state.busy.set(false);
    });
}

/// A sortable header cell.
fn header(v: VariantsState, key: VariantSort, label: &'static str, testid: &'static str) -> impl IntoView {
    let mark = move || {
        let (k, desc) = v.sort.get();
        let arrow = if desc { "▼" } else { "▲" };
        match (k, key) {
            (VariantSort::Effect, VariantSort::Delta) => format!(" {arrow} |Δ|"),
            (k, key) if k == key => format!(" {arrow}"),
            _ => String::new(),
        }
    };
    let aria = move || {
        let (k, desc) = v.sort.get();
        let on = k == key || (k == VariantSort::Effect && key == VariantSort::Delta);
        if !on {
            "none"
        } else if desc {
            "descending"
        } else {
            "ascending"
        }
    };
    view! {
        <th class="sortable" data-testid=testid aria-sort=aria title="sort by this column (click again to reverse)"
            on:click=move |_| v.sort.update(|s| *s = VariantSort::after_click(*s, key))>{label}{mark}</th>
    }
}

/// The variant table box, the example and score buttons, the result table and its CSV.
#[component]
pub fn Variants(state: State) -> impl IntoView {
    let v = state.variants;
    let rows = move || {
        let scores = v.scores.get();
        let (key, desc) = v.sort.get();
        variant_order(&scores, key, desc)
            .into_iter()
            .take(SHOWN)
            .map(|i| {
                let s = &scores[i];
                view! {
                    <tr data-testid="variants-row">
                        <td>{s.id.clone()}</td>
                        <td class="num">{format!("{:.4}", s.reference)}</td>
                        <td class="num">{format!("{:.4}", s.alternative)}</td>
                        <td class="num">{format!("{:+.4}", s.delta())}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    view! {
        <section data-testid="variants-panel">
            <h2>"Variant table"</h2>
            <p class="help">{format!("Many variants at once, as `dream variants`: a table with the header {VARIANT_LAYOUTS}. `alt` may be several bases, or - for a deletion (a VCF REF/ALT pair). Each reference and alternative is predicted (a reference shared by several rows once); delta = alternative − reference.")}</p>
            <textarea data-testid="variants-input" rows="6" spellcheck="false"
                placeholder="id	sequence	position	ref	alt"
                prop:value=move || v.text.get()
                on:input=move |ev| v.text.set(event_target_value(&ev))></textarea>
            <div class="buttons">
                {move || state.assay.with(|a| a.is_yeast()).then(|| view! {
                    <button class="example-table" data-testid="variants-example" on:click=move |_| v.text.set(example_variant_table())>"Example: 6 variants of the example promoters"</button>
                })}
                <button data-testid="variants-button" class="primary" on:click=move |_| run(state) disabled=move || !state.ready.get() || state.busy.get()>"Score variants"</button>
            </div>
            <p data-testid="variants-status" class="status" data-run=move || v.runs.get().to_string()>{move || v.status.get()}</p>
            {move || v.error.get().map(|e| view! {
                <div class="error" data-testid="error-message" role="alert">
                    <strong>"Cannot read the variant table: "</strong>{e}
                    <p>"Nothing was changed in your text."</p>
                </div>
            })}
            {move || v.notes.get().into_iter().map(|n| view! { <p class="note">{n}</p> }).collect_view()}
            {move || (!v.scores.get().is_empty()).then(|| view! {
                <table class="results" data-testid="variants-table">
                    <thead><tr>
                        {header(v, VariantSort::Id, "id", "variants-sort-id")}
                        {header(v, VariantSort::Reference, "reference", "variants-sort-reference")}
                        {header(v, VariantSort::Alternative, "alternative", "variants-sort-alternative")}
                        {header(v, VariantSort::Delta, "delta", "variants-sort-delta")}
                    </tr></thead>
                    <tbody>{rows}</tbody>
                </table>
                {move || (v.scores.get().len() > SHOWN).then(|| view! { <p class="note">{format!("Showing {SHOWN} of {} variants; the CSV has all.", v.scores.get().len())}</p> })}
            })}
            {move || v.csv.get().map(|u| view! { <a data-testid="variants-csv" href=u download="dream-variants.csv">"Download CSV"</a> })}
        </section>
    }
}
