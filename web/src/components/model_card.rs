//! The model card: what the loaded bundle is, how it was trained and how well it scores.

use leptos::prelude::*;
use prixfixe::bundle::Manifest;

use crate::state::State;

/// What the model card shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// Bundle name (folder under `models/`).
    pub name: String,
    /// Display title.
    pub title: String,
    /// Weights precision (`f32`, `f16`).
    pub precision: String,
    /// Trainable parameters.
    pub parameters: usize,
    /// Where the weights come from.
    pub source: String,
    /// Training data and settings.
    pub train: String,
    /// Validation scores.
    pub validation: String,
    /// Test scores: the DREAM test set, or per task on a labelled table.
    pub test: String,
    /// Free notes of the bundle.
    pub notes: String,
    /// Loaded from the user's files (not a shipped bundle).
    pub from_file: bool,
    /// How much data the model saw, in words (per dataset).
    pub caveat: String,
    /// The Prix Fixe combination: code and the team of each block (empty when unknown).
    pub combination: String,
}

/// The card of a bundle's manifest.
pub fn card_of(m: &Manifest, from_file: bool) -> Card {
    let p = &m.provenance;
    let opt = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.3}"));
    let train = match (&p.train_data, p.train_rows) {
        (Some(d), Some(n)) => format!(
            "{} ({n} training rows, {} validation rows; {} epoch(s), batch {}, seed {})",
            d.path,
            p.val_rows.unwrap_or(0),
            p.epochs.map_or("?".into(), |e| e.to_string()),
            p.batch_size.map_or("?".into(), |e| e.to_string()),
            p.seed.map_or("?".into(), |e| e.to_string())
        ),
        (Some(d), None) => d.path.clone(),
        _ => "not recorded".into(),
    };
    let test = p
        .test_scores
        .as_ref()
        .and_then(|t| {
            if let Some(tasks) = t.get("tasks").and_then(|v| v.as_array()) {
                let data = t.get("data").and_then(|v| v.as_str()).unwrap_or("held-out rows");
                let each: Vec<String> = tasks
                    .iter()
                    .map(|x| {
                        format!(
                            "{}: Pearson r {}, Spearman ρ {}",
                            x.get("name").and_then(|v| v.as_str()).unwrap_or("?"),
                            opt(x.get("pearson_r").and_then(|v| v.as_f64())),
                            opt(x.get("spearman_rho").and_then(|v| v.as_f64()))
                        )
                    })
                    .collect();
                let n = tasks.first().and_then(|x| x.get("n")).and_then(|v| v.as_u64()).unwrap_or(0);
                return Some(format!("{data} ({n} rows): {}", each.join("; ")));
            }
            let get = |k: &str| t.get(k).and_then(|v| v.as_f64());
            let all = t.get("subsets").and_then(|s| s.as_array()).and_then(|a| {
                a.iter().find(|s| s.get("name").and_then(|n| n.as_str()) == Some("all"))
            });
            let all_r = all.and_then(|s| s.get("pearson_r")).and_then(|v| v.as_f64());
            match (get("pearson_score"), get("spearman_score"), all_r) {
                (None, None, None) => None,
                (ps, ss, r) => Some(format!(
                    "DREAM test set, public labels (some subsets have none): Pearson r (all) {}, Pearson Score {}, Spearman Score {}",
                    opt(r),
                    opt(ps),
                    opt(ss)
                )),
            }
        })
        .unwrap_or_else(|| "not recorded".into());
    Card {
        name: m.name.clone(),
        title: m.title.clone(),
        precision: format!("{:?}", m.precision).to_lowercase(),
        parameters: m.parameters,
        source: p.source.clone(),
        train,
        validation: format!("Pearson r {}, Spearman ρ {} (best epoch {})", opt(p.val_pearson_r), opt(p.val_spearman_rho), p.best_epoch.map_or("?".into(), |e| e.to_string())),
        test,
        notes: p.notes.clone().unwrap_or_default(),
        from_file,
        caveat: crate::assay::card_caveat(m),
        combination: m.combination().map(|c| format!("{c} (#{} of 81) — {}", c.number(), c.describe())).unwrap_or_default(),
    }
}

/// The loaded model's card (collapsed).
#[component]
pub fn ModelCard(state: State) -> impl IntoView {
    move || {
        state.card.get().map(|c| {
            view! {
                <details class="card" data-testid="model-card">
                    <summary>{format!("Model card: {} — {} parameters, {} weights{}", c.title, c.parameters, c.precision, if c.from_file { ", loaded from your files" } else { "" })}</summary>
                    <dl>
                        <dt>"Prix Fixe combination"</dt><dd data-testid="model-combination">{c.combination.clone()}</dd>
                        <dt>"Source"</dt><dd>{c.source.clone()}</dd>
                        <dt>"Training data"</dt><dd>{c.train.clone()}</dd>
                        <dt>"Validation"</dt><dd>{c.validation.clone()}</dd>
                        <dt>"Test"</dt><dd>{c.test.clone()}</dd>
                        <dt>"Notes"</dt><dd>{c.notes.clone()}</dd>
                    </dl>
                    {(!c.from_file).then(|| view! { <a href=format!("models/{}/README.md", c.name) target="_blank">"Full model card"</a> })}
                    <p class="caveat">{c.caveat.clone()}</p>
                </details>
            }
        })
    }
}
