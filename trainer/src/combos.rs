//! `dream combos`: the 81 Prix Fixe combinations with the compatibility rule's verdict
//! (PRIXFIXE-MODULES.md §6), as a table or JSON.

use anyhow::Result;
use prixfixe::combination::{Combination, Wiring};
use prixfixe::data::DataProcessor;
use prixfixe::blocks::FinalBlockConfig;

/// Arguments of `dream combos`.
#[derive(clap::Args, Debug)]
pub struct CombosArgs {
    /// Print JSON: a list of {code, number, dp_trainer, first, core, final, compatible, reason,
    /// preset, parameters}.
    #[arg(long)]
    pub json: bool,
    /// Only the compatible ones.
    #[arg(long)]
    pub compatible: bool,
}

/// One combination's row.
pub fn row(c: Combination) -> serde_json::Value {
    let parameters = c.check().ok().map(|()| {
        let cfg = c.config_for(&c.processor(), FinalBlockConfig::soft_bins(0), Wiring::default());
        let model = cfg.init::<prixfixe::CpuBackend>(&Default::default()).expect("the wiring rule builds every compatible combination");
        model.num_trainable()
    });
    serde_json::json!({
        "code": c.code(),
        "number": c.number(),
        "dp_trainer": c.trainer.name(),
        "first": c.first.name(),
        "core": c.core.name(),
        "final": c.final_block.name(),
        "compatible": c.check().is_ok(),
        "reason": c.check().err().map(|e| e.reason()),
        "preset": c.preset().map(|p| p.name()),
        "parameters": parameters,
    })
}

/// Writes to stdout; a closed pipe (`dream combos | head`) is not an error.
fn print(text: &str) -> Result<()> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Prints the combinations.
pub fn run(args: CombosArgs) -> Result<()> {
    let list: Vec<Combination> = if args.compatible { Combination::compatible() } else { Combination::all() };
    let rows: Vec<serde_json::Value> = list.into_iter().map(row).collect();
    if args.json {
        return print(&(serde_json::to_string_pretty(&rows)? + "\n"));
    }
    let mut out = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(out, "{:>2}  {:<8} {:<10} {:<10} {:<10} {:<10} {:<10} {:>10}  reason / model", "#", "code", "DP+Trainer", "First", "Core", "Final", "compatible", "parameters");
    for r in &rows {
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        let note = if r["compatible"].as_bool() == Some(true) {
            r["preset"].as_str().map(|p| p.parse::<prixfixe::ModelPreset>().map(|m| m.display_name().to_string()).unwrap_or_default()).unwrap_or_default()
        } else {
            s("reason").split(':').next().unwrap_or_default().to_string()
        };
        let _ = writeln!(
            out,
            "{:>2}  {:<8} {:<10} {:<10} {:<10} {:<10} {:<10} {:>10}  {note}",
            r["number"],
            s("code"),
            s("dp_trainer"),
            s("first"),
            s("core"),
            s("final"),
            if r["compatible"].as_bool() == Some(true) { "yes" } else { "no" },
            r["parameters"].as_u64().map_or("–".into(), |n| n.to_string()),
        );
    }
    print(&out)?;
    eprintln!(
        "{} of {} combinations compatible. Rule: (Final = UnlockDNA) ⇔ (DataProcessor + Trainer = UnlockDNA); R1 = {}; R2 = {}. Parameters: UnlockDNA First width 256, 4 conformer layers; DataProcessor inputs {} / {} / {} bp.",
        Combination::compatible().len(),
        Combination::all().len(),
        prixfixe::combination::Incompatibility::R1.reason().trim_start_matches("R1: "),
        prixfixe::combination::Incompatibility::R2.reason().trim_start_matches("R2: "),
        DataProcessor::dream().seq_len(),
        DataProcessor::bhi().seq_len(),
        DataProcessor::unlockdna().seq_len()
    );
    Ok(())
}
