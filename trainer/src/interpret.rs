//! `dream variants`, `dream tile` and `dream design`: file handling around the shared variant
//! scorer (`prixfixe::variants`), motif tiling (`prixfixe::tiling`) and sequence design
//! (`prixfixe::design`), the same code the website runs.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use prixfixe::model::ModelPreset;

use crate::inference::{check_output, parse_region, read, sequence_from, IsmSource};
use crate::model_io::load_predictor_for_task;
use crate::training::write_atomic;

/// `dream variants`.
pub fn variants(model: &Path, arch: Option<ModelPreset>, task: Option<&str>, input: &Path, output: &Path, batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        bail!("--batch-size must be positive");
    }
    check_output(output)?;
    let name = input.display().to_string();
    let records = prixfixe::variants::read_variant_table(&name, &read(input)?)?;
    let same = prixfixe::variants::unchanged(&records);
    if !same.is_empty() {
        eprintln!(
            "warning: {} of {} variants have identical reference and alternative sequences (delta 0), e.g. {:?}",
            same.len(),
            records.len(),
            same[0]
        );
    }
    let predictor = load_predictor_for_task(model, arch, task)?.with_batch_size(batch_size);
    let t0 = Instant::now();
    let scores = predictor
        .score_variants(&records)
        .map_err(|e| anyhow::anyhow!("{name}:{}: variant {:?}: the {} sequence: {}", e.line, e.id, e.side, e.error))?;
    write_atomic(output, prixfixe::variants::variant_table(&scores, '\t').as_bytes())?;
    eprintln!("{} variants scored in {:.1} s (delta = alternative − reference) -> {}", scores.len(), t0.elapsed().as_secs_f64(), output.display());
    Ok(())
}

/// `dream tile`.
pub fn tile(model: &Path, arch: Option<ModelPreset>, task: Option<&str>, source: &IsmSource, motif: &str, region: Option<&str>, output: &Path) -> Result<()> {
    check_output(output)?;
    let motif_codes = prixfixe::tiling::parse_motif(motif).context("--motif")?;
    let background = sequence_from(source, "tile")?;
    let range = region.map(parse_region).transpose()?;
    let predictor = load_predictor_for_task(model, arch, task)?;
    let t0 = Instant::now();
    let (reference, effects) = predictor.tile(&background, &motif_codes, range)?;
    write_atomic(output, prixfixe::tiling::tile_table(&effects, '\t').as_bytes())?;
    let known = prixfixe::tiling::known_motif(motif).map(|m| format!(" ({}, {})", m.factor, m.consensus)).unwrap_or_default();
    eprintln!(
        "background prediction {reference:.4}; motif {motif}{known} at {} placements (both orientations) in {:.1} s -> {}",
        effects.len(),
        t0.elapsed().as_secs_f64(),
        output.display()
    );
    for label in ["largest gain", "largest loss"] {
        let best = if label == "largest gain" {
            effects.iter().max_by(|a, b| a.delta.total_cmp(&b.delta))
        } else {
            effects.iter().min_by(|a, b| a.delta.total_cmp(&b.delta))
        };
        if let Some(e) = best {
            eprintln!("{label}: position {} ({}) {:+.3}", e.placement.position, e.placement.orientation.symbol(), e.delta);
        }
    }
    Ok(())
}

/// Arguments of `dream design`.
#[derive(clap::Args, Debug)]
pub struct DesignArgs {
    /// Trained model (as for predict).
    #[arg(long)]
    model: std::path::PathBuf,
    /// Architecture of a bare state_dict file.
    #[arg(long, value_parser = |s: &str| s.parse::<ModelPreset>())]
    arch: Option<ModelPreset>,
    /// The output to design for, by name (a target of the model's dataset, e.g. Dev or Hk of
    /// a deepstarr model). Default: the first.
    #[arg(long)]
    task: Option<String>,
    /// The start sequence.
    #[command(flatten)]
    source: crate::OneSequence,
    /// max, min, or a target expression (training scale, e.g. 12.5).
    #[arg(long)]
    goal: String,
    /// At most this many positions may differ from the start.
    #[arg(long)]
    max_edits: usize,
    /// Seed of the evolutionary search's random choices (the greedy search has none: ties go to
    /// the first position).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Editable positions FROM-TO (1-based, inclusive). Default: the variable region (the 80 bp
    /// random region, e.g. 18-97 of a 110 bp DREAM sequence).
    #[arg(long)]
    region: Option<String>,
    /// Positions that must not change: a list of positions and ranges, e.g. 20-25,40.
    #[arg(long)]
    protect: Option<String>,
    /// greedy: each round a full SNV scan, the best substitution kept (stops when none helps);
    /// evolve: a (μ + λ) evolutionary search from --seed.
    #[arg(long, default_value = "greedy", value_parser = ["greedy", "evolve"])]
    method: String,
    /// evolve: sequences kept per generation.
    #[arg(long, default_value_t = 16)]
    population: usize,
    /// evolve: one-substitution children per sequence per generation.
    #[arg(long, default_value_t = 4)]
    children: usize,
    /// evolve: generations.
    #[arg(long, default_value_t = 20)]
    generations: usize,
    /// Output TSV: one row per accepted step — step (0 = the start), sequence, expression,
    /// changes (every difference from the start, e.g. 45A>G;60C>T); the last row is the result.
    #[arg(long)]
    output: std::path::PathBuf,
}

/// `dream design`.
pub fn design(a: DesignArgs) -> Result<()> {
    use prixfixe::design::{design_table, DesignConfig, Goal, Method};
    check_output(&a.output)?;
    let goal: Goal = a.goal.parse().map_err(|e: String| anyhow::anyhow!("--goal: {e}"))?;
    let start = sequence_from(&a.source.into(), "design")?;
    let mut config = DesignConfig::new(goal, a.max_edits);
    config.region = a.region.as_deref().map(parse_region).transpose()?;
    let len = prixfixe::data::parse_bases(&start).map_err(|e| anyhow::anyhow!("start sequence: {e}"))?.len();
    config.protected = match a.protect.as_deref() {
        Some(p) => prixfixe::design::parse_positions(p, len).map_err(|e| anyhow::anyhow!("--protect: {e}"))?,
        None => Vec::new(),
    };
    config.seed = a.seed;
    if a.method == "evolve" {
        config.method = Method::Evolve { population: a.population, children: a.children, generations: a.generations };
    }
    let predictor = load_predictor_for_task(&a.model, a.arch, a.task.as_deref())?;
    let t0 = Instant::now();
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} rounds  {msg}").expect("template"));
    let steps = predictor
        .design(&start, config, |d| {
            bar.set_length((d.steps().len().max(1) + d.batches_left()) as u64);
            bar.set_position(d.steps().len() as u64);
            if let Some(s) = d.steps().last() {
                bar.set_message(format!("expression {:.3}, {} edit(s), {} sequences predicted", s.expression, s.changes.len(), d.predictions()));
            }
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    write_atomic(&a.output, design_table(&steps, '\t').as_bytes())?;
    let (first, last) = (&steps[0], &steps[steps.len() - 1]);
    eprintln!(
        "goal {goal}: expression {:.4} -> {:.4} with {} substitution(s) in {} step(s), {:.1} s -> {}",
        first.expression,
        last.expression,
        last.changes.len(),
        steps.len() - 1,
        t0.elapsed().as_secs_f64(),
        a.output.display()
    );
    Ok(())
}
