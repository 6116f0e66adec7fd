//! The model bar: backend indicator (WebGPU or CPU, Web Workers), the shipped model select, the
//! loading status, and loading a bundle from disk.

use leptos::prelude::*;
use leptos::task::spawn_local;
use prixfixe::bundle::Bundle;
use wasm_bindgen::JsCast;

use crate::engine;
use crate::state::{install, load_shipped, State};

/// Backend, model choice and bundle-from-disk, and the backend note under them.
#[component]
pub fn ModelBar(state: State) -> impl IntoView {
    let file_status = RwSignal::new(String::new());

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

    view! {
        <div class="bar">
            <span>"Backend: "<strong data-testid="backend-indicator">{move || state.backend.get()}</strong>
                <span class="status">{move || match state.workers.get() { 0 => String::new(), n => format!(" (SNV scans and motif tilings on {n} Web Worker{}, {} SIMD)", if n == 1 { "" } else { "s" }, crate::engine::pool_simd()) }}</span></span>
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
                <input type="file" multiple accept=".json,.safetensors" data-testid="bundle-file" on:change=on_files disabled=move || state.busy.get()/>
            </label>
            <span class="status" data-testid="bundle-status">{move || file_status.get()}</span>
        </div>
        <p class="note" data-testid="backend-note">{move || state.backend_note.get()}</p>
    }
}
