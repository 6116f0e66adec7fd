//! Predictions for the sequences in the box: a table and a CSV download. DREAM yeast models:
//! expression, both strands, the 18-bin distribution; other datasets' models: one column per
//! output (e.g. Dev and Hk), named as the bundle's dataset targets.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::engine;
use crate::input::InputProblem;
use crate::render;
use crate::state::{csv_url, engine, predict_chunked, read_box, record_task, revoke, State};
use crate::urlstate::Task;

/// A predicted sequence, for the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    id: String,
    len: usize,
    form: &'static str,
    expression: f32,
    forward: f32,
    reverse: f32,
    bins_svg: String,
    outputs: Vec<f32>,
}

/// The panel's state.
#[derive(Clone, Copy)]
pub struct PredictionsState {
    /// The last prediction, one row per sequence.
    pub rows: RwSignal<Vec<Row>>,
    /// Object URL of its CSV.
    pub csv: RwSignal<Option<String>>,
}

impl PredictionsState {
    /// Nothing predicted yet.
    pub fn new() -> Self {
        Self { rows: RwSignal::new(Vec::new()), csv: RwSignal::new(None) }
    }
}

impl Default for PredictionsState {
    fn default() -> Self {
        Self::new()
    }
}

/// Predicts every sequence of the box (the predict button, or `task=predict` in the address).
pub fn run(state: State) {
    let Some(entries) = read_box(state) else { return };
    let Some(eng) = engine() else { return };
    let windows: Result<Vec<_>, _> = entries.iter().map(|e| eng.processor().pad(&e.sequence)).collect();
    let windows = match windows {
        Ok(w) => w,
        Err(e) => {
            state.problem.set(Some(InputProblem { message: e.to_string(), line: None, bad_chars: vec![] }));
            return;
        }
    };
    record_task(state, Task::Predict);
    let p = state.predictions;
    state.busy.set(true);
    spawn_local(async move {
        let t0 = engine::now_ms();
        match predict_chunked(state, &windows, |_, _| {}).await {
            Ok(preds) => {
                state.predict_ms.set(Some(engine::now_ms() - t0));
                state.predictions_run.update(|n| *n += 1);
                revoke(p.csv.get_untracked());
                let assay = state.assay.get_untracked();
                let csv = if assay.is_yeast() { render::predictions_csv(&entries, &preds) } else { render::outputs_csv(&entries, &preds, &assay.outputs) };
                p.csv.set(csv_url(&csv));
                p.rows.set(
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
                            outputs: p.outputs.clone(),
                        })
                        .collect(),
                );
            }
            Err(e) => state.problem.set(Some(InputProblem { message: format!("prediction failed: {e}"), line: None, bad_chars: vec![] })),
        }
        state.busy.set(false);
    });
}

/// The predictions table and its CSV.
#[component]
pub fn Predictions(state: State) -> impl IntoView {
    let p = state.predictions;
    let yeast = move || state.assay.with(|a| a.is_yeast());
    let table = move || {
        let a = state.assay.get();
        if a.is_yeast() {
            view! {
                <table class="results">
                    <thead><tr><th>"id"</th><th>"bp"</th><th>"input"</th><th>"expression"</th><th>"forward"</th><th>"reverse"</th><th>"bins 0–17"</th></tr></thead>
                    <tbody>
                        {p.rows.get().into_iter().map(|r| view! {
                            <tr>
                                <td>{r.id}</td><td>{r.len}</td><td>{r.form}</td>
                                <td class="num"><strong data-testid="prediction-value">{format!("{:.4}", r.expression)}</strong></td>
                                <td class="num">{format!("{:.3}", r.forward)}</td><td class="num">{format!("{:.3}", r.reverse)}</td>
                                <td inner_html=r.bins_svg></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }
            .into_any()
        } else {
            let heads: Vec<String> = (0..a.outputs.len()).map(|k| a.labelled(k)).collect();
            let names = a.outputs.clone();
            view! {
                <table class="results" data-testid="outputs-table">
                    <thead><tr><th>"id"</th><th>"bp"</th>{heads.into_iter().map(|h| view! { <th>{h}</th> }).collect_view()}</tr></thead>
                    <tbody>
                        {p.rows.get().into_iter().map(|r| {
                            let names = names.clone();
                            view! {
                                <tr>
                                    <td>{r.id}</td><td>{r.len}</td>
                                    {r.outputs.iter().zip(names).map(|(v, n)| view! {
                                        <td class="num"><strong data-testid="prediction-value" data-output=n>{format!("{v:.4}")}</strong></td>
                                    }).collect_view()}
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }
            .into_any()
        }
    };
    view! {
        <section>
            <h2>{move || if yeast() { "Predicted expression".to_string() } else { format!("Predicted {}", state.assay.with(|a| a.outputs.join(" and "))) }}</h2>
            <p class="help">{move || state.assay.with(|a| a.predictions_help())}</p>
            {table}
            {move || p.csv.get().map(|u| view! { <a data-testid="predict-csv" href=u download="dream-predictions.csv">"Download CSV"</a> })}
        </section>
    }
}
