//! Sequence design of the box's first sequence toward a goal — maximise, minimise or approach a
//! target expression — with at most k substitutions in an editable region (default: the 80 bp
//! random region), protected positions kept: greedy rounds of full SNV scans or a seeded
//! evolutionary search (`prixfixe::design`, the same code as `dream design`). Rounds run in the
//! Web Worker pool (CPU) or on WebGPU with progress; Cancel stops after the round in flight.

use leptos::prelude::*;
use leptos::task::spawn_local;
use prixfixe::design::{design_table, parse_positions, Design, DesignConfig, DesignStep, Goal, Method};

use crate::engine;
use crate::input::parse_region;
use crate::state::{csv_url, engine, predict_expressions, read_box, record_task, revoke, where_run, State};
use crate::trajectory::{marked_sequence, trajectory_svg, Segment};

/// A finished (or cancelled) design.
#[derive(Debug, Clone, PartialEq)]
pub struct DesignView {
    id: String,
    goal: Goal,
    steps: Vec<DesignStep>,
    svg: String,
}

/// The panel's state.
#[derive(Clone, Copy)]
pub struct DesignState {
    /// `max`, `min` or `target`.
    pub goal: RwSignal<String>,
    /// The target expression (as typed), for `target`.
    pub target: RwSignal<String>,
    /// Most substitutions (as typed).
    pub max_edits: RwSignal<String>,
    /// Seed (as typed).
    pub seed: RwSignal<String>,
    /// `greedy` or `evolve`.
    pub method: RwSignal<String>,
    /// Protected positions (as typed), e.g. `20-25,40`.
    pub protect: RwSignal<String>,
    /// Editable region `FROM-TO` (as typed; empty = the 80 bp random region).
    pub region: RwSignal<String>,
    /// Progress and result line.
    pub status: RwSignal<String>,
    /// Why the design could not start.
    pub error: RwSignal<Option<String>>,
    /// The last design.
    pub view: RwSignal<Option<DesignView>>,
    /// Object URL of its CSV.
    pub csv: RwSignal<Option<String>>,
    /// A design is running.
    pub running: RwSignal<bool>,
    /// Incremented by Cancel and by each new run: a run stops when it no longer holds the number.
    pub run_id: RwSignal<u32>,
}

impl DesignState {
    /// Defaults: maximise, 3 substitutions, greedy, seed 0.
    pub fn new() -> Self {
        Self {
            goal: RwSignal::new("max".into()),
            target: RwSignal::new(String::new()),
            max_edits: RwSignal::new("3".into()),
            seed: RwSignal::new("0".into()),
            method: RwSignal::new("greedy".into()),
            protect: RwSignal::new(String::new()),
            region: RwSignal::new(String::new()),
            status: RwSignal::new(String::new()),
            error: RwSignal::new(None),
            view: RwSignal::new(None),
            csv: RwSignal::new(None),
            running: RwSignal::new(false),
            run_id: RwSignal::new(0),
        }
    }
}

impl Default for DesignState {
    fn default() -> Self {
        Self::new()
    }
}

/// The settings of the fields, or what is wrong with them (field named).
fn config_of(d: DesignState, len: usize) -> Result<DesignConfig, String> {
    let goal = match d.goal.get_untracked().as_str() {
        "target" => {
            let t = d.target.get_untracked();
            match t.trim().parse::<f32>() {
                Ok(v) if v.is_finite() => Goal::Target(v),
                _ => return Err(format!("target expression: {:?} is not a number (on the model's training scale)", t.trim())),
            }
        }
        g => g.parse::<Goal>()?,
    };
    let k_text = d.max_edits.get_untracked();
    let max_edits = k_text.trim().parse::<usize>().map_err(|_| format!("substitutions (k): {:?} is not a whole number", k_text.trim()))?;
    let seed_text = d.seed.get_untracked();
    let seed = seed_text.trim().parse::<u64>().map_err(|_| format!("seed: {:?} is not a whole number ≥ 0", seed_text.trim()))?;
    let mut config = DesignConfig::new(goal, max_edits);
    config.seed = seed;
    config.protected = parse_positions(&d.protect.get_untracked(), len)?;
    config.region = parse_region(&d.region.get_untracked()).map_err(|e| format!("editable region: {e}"))?;
    if d.method.get_untracked() == "evolve" {
        config.method = Method::EVOLVE;
    }
    Ok(config)
}

/// Designs from the box's first sequence (the design button).
pub fn run(state: State) {
    let Some(eng) = engine() else { return };
    let d = state.design;
    // A new run, good or bad, never leaves the previous design on show.
    revoke(d.csv.get_untracked());
    d.csv.set(None);
    d.view.set(None);
    d.status.set(String::new());
    let Some(entries) = read_box(state) else {
        d.error.set(Some("start sequence: the sequence box cannot be read (see the message under it).".into()));
        return;
    };
    let entry = entries[0].clone();
    if entries.len() > 1 {
        state.notes.update(|n| n.push(format!("The design starts from the first sequence ({}).", entry.id)));
    }
    let started = config_of(d, entry.sequence.len()).and_then(|c| Design::new(eng.processor(), &entry.sequence, c).map_err(|e| e.to_string()));
    let mut design = match started {
        Ok(x) => x,
        Err(e) => {
            d.error.set(Some(e));
            return;
        }
    };
    d.error.set(None);
    let my_run = d.run_id.get_untracked() + 1;
    d.run_id.set(my_run);
    record_task(state, None);
    state.busy.set(true);
    d.running.set(true);
    let (lo, hi) = design.editable_span();
    let goal = design.config().goal;
    d.status.set(format!("designing: {} editable positions in {lo}–{hi}…", design.editable_len()));
    spawn_local(async move {
        let t0 = engine::now_ms();
        let mut failed = None;
        while let Some(batch) = design.next_batch() {
            if d.run_id.get_untracked() != my_run {
                break;
            }
            let round = design.steps().len().max(1);
            let n = batch.windows.len();
            let progress = move |done: usize| {
                if d.run_id.get_untracked() == my_run {
                    d.status.set(format!("designing: round {round}, {} / {n} sequences…", done.min(n)));
                }
            };
            match predict_expressions(state, &batch.windows, progress).await {
                Ok(values) => {
                    design.accept(&values);
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            let steps = design.steps().to_vec();
            d.view.set(Some(DesignView { id: entry.id.clone(), goal, svg: trajectory_svg(&steps, goal), steps }));
        }
        let cancelled = d.run_id.get_untracked() != my_run;
        let steps = design.steps().to_vec();
        if !steps.is_empty() {
            d.csv.set(csv_url(&design_table(&steps, ',')));
        }
        let ms = engine::now_ms() - t0;
        let last = steps.last();
        d.status.set(match (failed, cancelled, last) {
            (Some(e), _, _) => format!("failed: {e}"),
            (None, true, _) => format!("cancelled after {} step(s); the trajectory so far is kept", steps.len().saturating_sub(1)),
            (None, false, Some(l)) => format!(
                "done: expression {:.3} → {:.3} with {} substitution(s), {} sequences predicted in {:.2} s{}",
                steps[0].expression,
                l.expression,
                l.changes.len(),
                design.predictions(),
                ms / 1000.0,
                where_run()
            ),
            (None, false, None) => "nothing to do".into(),
        });
        d.running.set(false);
        state.busy.set(false);
    });
}

fn marked(step: &DesignStep) -> AnyView {
    marked_sequence(step)
        .into_iter()
        .map(|seg| match seg {
            Segment::Same(s) => s.into_any(),
            Segment::Changed(p, was, now) => view! { <mark title=format!("position {p}: {was}>{now}")>{now.to_string()}</mark> }.into_any(),
        })
        .collect_view()
        .into_any()
}

/// The goal, k, seed, method, protected and region fields; Design and Cancel; the trajectory, the
/// final sequence with its changes marked, the CSV.
#[component]
pub fn DesignPanel(state: State) -> impl IntoView {
    let d = state.design;
    let field = |sig: RwSignal<String>| move |ev: leptos::ev::Event| sig.set(event_target_value(&ev));
    view! {
        <section data-testid="design-panel">
            <h2>"Sequence design"</h2>
            <p class="help">{move || state.assay.with(|a| format!("From the first sequence of the box, substitutions toward a goal {} within the editable region (default: {}). ", a.change_words(state.output.get()), a.default_region()))}"Greedy: each round is a full SNV scan and the best substitution is kept, until k substitutions or none helps. Evolve: a (μ + λ) evolutionary search (population 16, 4 children each, 20 generations) drawn from the seed. The same seed gives the same design as "<code>"dream design"</code>" (its numbers equal the page's to 1e-4; only a near-tie could branch differently)."</p>
            <div class="buttons">
                <label>"Goal: "
                    <select data-testid="design-goal" prop:value=move || d.goal.get() on:change=field(d.goal)>
                        <option value="max">"maximise"</option>
                        <option value="min">"minimise"</option>
                        <option value="target">"approach a target"</option>
                    </select>
                </label>
                <label>"target: "<input type="text" data-testid="design-target" size="5" placeholder="e.g. 12" disabled=move || d.goal.get() != "target"
                    prop:value=move || d.target.get() on:input=field(d.target)/></label>
                <label>"k (most substitutions): "<input type="text" data-testid="design-k" size="3" prop:value=move || d.max_edits.get() on:input=field(d.max_edits)/></label>
                <label>"Method: "
                    <select data-testid="design-method" prop:value=move || d.method.get() on:change=field(d.method)>
                        <option value="greedy">"greedy SNV rounds"</option>
                        <option value="evolve">"evolutionary search"</option>
                    </select>
                </label>
                <label>"seed: "<input type="text" data-testid="design-seed" size="4" prop:value=move || d.seed.get() on:input=field(d.seed)/></label>
            </div>
            <div class="buttons">
                <label>"Editable region: "<input type="text" data-testid="design-region" size="10" placeholder="FROM-TO" spellcheck="false"
                    title=move || state.assay.with(|a| format!("1-based positions, inclusive; empty: {}", a.default_region())) prop:value=move || d.region.get() on:input=field(d.region)/></label>
                <label>"Protected positions: "<input type="text" data-testid="design-protect" size="16" placeholder="e.g. 20-25,40" spellcheck="false"
                    prop:value=move || d.protect.get() on:input=field(d.protect)/></label>
                <button data-testid="design-button" class="primary" on:click=move |_| run(state) disabled=move || !state.ready.get() || state.busy.get()>"Design"</button>
                <button data-testid="design-cancel" on:click=move |_| d.run_id.update(|n| *n += 1) disabled=move || !d.running.get()>"Cancel"</button>
            </div>
            <p data-testid="design-status" class="status">{move || d.status.get()}</p>
            {move || d.error.get().map(|e| view! {
                <div class="error" data-testid="error-message" role="alert"><strong>"Cannot design: "</strong>{e}<p>"Nothing was changed in your text."</p></div>
            })}
            {move || d.view.get().map(|v| {
                let last = v.steps.last().cloned();
                view! {
                    <p>{format!("{}: goal {}; predicted expression after each accepted step (hover a point for its change).", v.id, match v.goal { Goal::Maximize => "maximise".to_string(), Goal::Minimize => "minimise".to_string(), Goal::Target(t) => format!("target {t}") })}</p>
                    <div class="plot-wrap" data-testid="design-plot" inner_html=v.svg.clone()></div>
                    {last.map(|l| view! {
                        <p>{format!("Step {}: expression {:.3}, {} substitution(s): ", l.step, l.expression, l.changes.len())}
                            {l.changes.iter().map(|c| format!("{}{}>{}", c.position, c.reference, c.alternative)).collect::<Vec<_>>().join(", ")}</p>
                        <p class="seq" data-testid="design-sequence">{marked(&l)}</p>
                    })}
                }
            })}
            {move || d.csv.get().map(|u| view! { <a data-testid="design-csv" href=u download="dream-design.csv">"Download CSV (step, sequence, expression, changes)"</a> })}
        </section>
    }
}
