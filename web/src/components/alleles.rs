//! Two alleles: the reference and alternative sequence side by side, both predicted, and the
//! variant effect (alternative − reference) with the differing positions.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::input::{self, Entry};
use crate::state::{engine, predict_windows, State};

/// The two allele boxes, the compare button and the result (or an error naming the allele).
#[component]
pub fn Alleles(state: State) -> impl IntoView {
    let ref_text = RwSignal::new(String::new());
    let alt_text = RwSignal::new(String::new());
    let allele = RwSignal::new(None::<Result<String, String>>);

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
                    let (r, a) = (crate::state::selected(state, &p[0]), crate::state::selected(state, &p[1]));
                    let what = state.assay.get_untracked().change_words(state.output.get_untracked());
                    allele.set(Some(Ok(format!("{what}: reference {r:.3}, alternative {a:.3}, delta (alt − ref) {:+.3}; {diff}", a - r))));
                }
                Err(e) => allele.set(Some(Err(e))),
            }
        });
    };

    view! {
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
    }
}
