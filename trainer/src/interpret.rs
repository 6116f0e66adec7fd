//! `dream variants` and `dream tile`: file handling around the shared variant scorer
//! (`prixfixe::variants`) and motif tiling (`prixfixe::tiling`), the same code the website runs.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use prixfixe::model::ModelPreset;

use crate::inference::{check_output, parse_region, read, sequence_from, IsmSource};
use crate::model_io::load_predictor;
use crate::training::write_atomic;

/// `dream variants`.
pub fn variants(model: &Path, arch: Option<ModelPreset>, input: &Path, output: &Path, batch_size: usize) -> Result<()> {
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
    let predictor = load_predictor(model, arch)?.with_batch_size(batch_size);
    let t0 = Instant::now();
    let scores = predictor
        .score_variants(&records)
        .map_err(|e| anyhow::anyhow!("{name}:{}: variant {:?}: the {} sequence: {}", e.line, e.id, e.side, e.error))?;
    write_atomic(output, prixfixe::variants::variant_table(&scores, '\t').as_bytes())?;
    eprintln!("{} variants scored in {:.1} s (delta = alternative − reference) -> {}", scores.len(), t0.elapsed().as_secs_f64(), output.display());
    Ok(())
}

/// `dream tile`.
pub fn tile(model: &Path, arch: Option<ModelPreset>, source: &IsmSource, motif: &str, region: Option<&str>, output: &Path) -> Result<()> {
    check_output(output)?;
    let motif_codes = prixfixe::tiling::parse_motif(motif).context("--motif")?;
    let background = sequence_from(source, "tile")?;
    let range = region.map(parse_region).transpose()?;
    let predictor = load_predictor(model, arch)?;
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
