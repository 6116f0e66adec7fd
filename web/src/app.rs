//! The page (Leptos, client-side rendered): creates the shared [`State`], starts loading the
//! model, and lays out one component per task — model bar and card, sequence box, predictions,
//! SNV effect scan with its attribution logo, two alleles, variant table, motif tiling, sequence
//! design.
//!
//! The address carries the view (`crate::urlstate`): `?backend=cpu` forces the CPU backend,
//! `?model=dream-rnn` picks the model to load first, `seq=` fills the sequence box (FASTA allowed,
//! newlines as `%0A`), `motif=` / `region=` the tiling fields, `variants=` the variant table, and
//! `task=predict|scan|tile|variants` runs that task once the model is ready. Running a task writes
//! its view back into the address bar.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::alleles::Alleles;
use crate::components::design::DesignPanel;
use crate::components::model_bar::ModelBar;
use crate::components::model_card::ModelCard;
use crate::components::predictions::{self, Predictions};
use crate::components::sequences::Sequences;
use crate::components::snv_scan::{self, SnvScan};
use crate::components::tiling::{self, Tiling};
use crate::components::variants::{self, Variants};
use crate::state::{self, State};
use crate::urlstate::{self, Task};

/// Fills the boxes from the address, loads the model, then runs the address's task.
fn start_from_url(state: State) {
    let url = urlstate::parse(&state::url_search());
    if let Some(s) = &url.seq {
        state.text.set(s.clone());
    }
    if let Some(m) = &url.motif {
        state.tiling.motif.set(m.clone());
    }
    if let Some(r) = &url.region {
        state.tiling.region.set(r.clone());
    }
    if let Some(v) = &url.variants {
        state.variants.text.set(v.clone());
    }
    spawn_local(async move {
        state::start(state, &url).await;
        if !state.ready.get_untracked() {
            return;
        }
        match url.task {
            Some(Task::Predict) => predictions::run(state),
            Some(Task::Scan) => snv_scan::run(state),
            Some(Task::Tile) => tiling::run(state),
            Some(Task::Variants) => variants::run(state),
            None => {}
        }
    });
}

/// The page.
#[component]
pub fn App() -> impl IntoView {
    let state = State::new();
    start_from_url(state);

    view! {
        <header>
            <h1>"DREAM promoter expression"</h1>
            <p class="sub">"Predicted activity of regulatory sequences (yeast promoters of the Random Promoter DREAM Challenge 2022, Drosophila enhancers, human lentiMPRA elements) and the effect of every single-nucleotide variant, with the DREAM-optimized Prix Fixe models — computed in your browser; your sequences never leave this page."</p>
            <ModelBar state=state/>
            <ModelCard state=state/>
            <p class="note" data-testid="url-note">{move || state.url_note.get()}</p>
        </header>

        <main>
            <Sequences state=state/>
            <Predictions state=state/>
            <SnvScan state=state/>
            <Alleles state=state/>
            <Variants state=state/>
            <Tiling state=state/>
            <DesignPanel state=state/>
        </main>
        <footer>
            <p data-testid="timings" class="timings">
                "Timings (ms since page start / per run): model ready "<span data-testid="ready-ms">{move || state.ready_ms.get().map_or("–".into(), |v| format!("{v:.0}"))}</span>
                ", last prediction "<span data-testid="predict-ms">{move || state.predict_ms.get().map_or("–".into(), |v| format!("{v:.0}"))}</span>
                ", last SNV scan "<span data-testid="ism-ms">{move || state.ism_ms.get().map_or("–".into(), |v| format!("{v:.0}"))}</span>
                " (approximate preview after "<span data-testid="preview-ms">{move || state.scan.preview_ms.get().map_or("–".into(), |v| format!("{v:.0}"))}</span>")"
                "; predictions run: "<span data-testid="predict-runs">{move || state.predictions_run.get()}</span>
            </p>
            <p>"Models: Rafi et al., “A community effort to optimize sequence-based deep learning models of gene regulation” (Random Promoter DREAM Challenge 2022). Runs offline once loaded."</p>
        </footer>
    }
}
