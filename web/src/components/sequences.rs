//! The sequence box: paste or pick example promoters, predict or scan them; what cannot be read
//! is shown in place (bad characters marked), the text never changed.

use leptos::prelude::*;

use crate::components::{predictions, snv_scan};
use crate::examples::examples_for;
use crate::input::{length_rule, InputProblem, LENGTH_RULE};
use crate::state::State;

/// The box's problem with the bad characters of (up to five of) its lines marked.
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

/// The sequence box, the example buttons, predict and SNV-scan, and the box's problems and notes.
#[component]
pub fn Sequences(state: State) -> impl IntoView {
    let text = state.text;
    let whole = state.scan.whole;
    let assay = state.assay;
    let rule = move || {
        assay.track();
        crate::state::engine().map_or(LENGTH_RULE.to_string(), |e| length_rule(e.processor()))
    };
    let examples = move || {
        let a = assay.get();
        let list = examples_for(&a.dataset);
        let what = match a.dataset.as_str() {
            "dream-yeast" => "native yeast promoters, DREAM test set",
            "deepstarr" => "Drosophila S2 enhancer candidates, DeepSTARR test chromosome",
            "lentimpra" => "human lentiMPRA elements, test sample",
            _ => "",
        };
        (!list.is_empty()).then(|| view! {
            <div class="buttons">
                <span>{format!("Examples ({what}): ")}</span>
                {list.iter().map(|&(label, id, seq)| view! {
                    <button class="example" on:click=move |_| text.set(format!(">{id}\n{seq}\n"))>{label}</button>
                }).collect_view()}
                <button class="example" on:click=move |_| text.set(list.iter().map(|(_, id, s)| format!(">{id}\n{s}\n")).collect())>{format!("all {}", list.len())}</button>
            </div>
        })
    };
    let output = state.output;
    let picker = move || {
        let a = assay.get();
        (a.outputs.len() > 1).then(|| view! {
            <label>" scan output "
                <select data-testid="output-select" on:change=move |ev| output.set(event_target_value(&ev).parse().unwrap_or(0))>
                    {a.outputs.iter().enumerate().map(|(k, n)| view! { <option value=k.to_string() selected=move || output.get() == k>{n.clone()}</option> }).collect_view()}
                </select>
            </label>
        })
    };
    view! {
        <section>
            <h2>"Sequences"</h2>
            <textarea data-testid="sequence-input" rows="6" spellcheck="false"
                placeholder="Paste one sequence per line, or FASTA (>id lines)"
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            <p class="rule" data-testid="length-rule">{rule}</p>
            {examples}
            <div class="buttons">
                <button data-testid="predict-button" class="primary" on:click=move |_| predictions::run(state) disabled=move || !state.ready.get() || state.busy.get()>{move || if assay.with(|a| a.is_yeast()) { "Predict expression" } else { "Predict" }}</button>
                {move || assay.with(|a| a.whole_choice()).map(|words| view! {
                    <label><input type="checkbox" data-testid="ism-whole" prop:checked=move || whole.get() on:change=move |ev| whole.set(event_target_checked(&ev))/>{words}</label>
                })}
                {picker}
                <button data-testid="ism-button" on:click=move |_| snv_scan::run(state) disabled=move || !state.ready.get() || (state.busy.get() && !state.scan.running.get())>"SNV effect scan"</button>
            </div>
            {move || state.problem.get().map(|p| problem_view(&p, &state.problem_text.get_untracked()))}
            {move || state.notes.get().into_iter().map(|n| view! { <p class="note" data-testid="box-note">{n}</p> }).collect_view()}
        </section>
    }
}
