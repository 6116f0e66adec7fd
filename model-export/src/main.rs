//! `model-export`: make model bundles (model.json + weights.safetensors + model card) from
//! `dream train` runs or PyTorch `state_dict`s; check bundles; index a folder of them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use prixfixe::combination::Combination;
use prixfixe::bundle::Bundle;
use prixfixe::model::ModelPreset;
use prixfixe::weights::Precision;

#[derive(Parser, Debug)]
#[command(
    name = "model-export",
    version,
    about = "Versioned, checksummed model bundles of the DREAM models for the web app and `dream predict`",
    after_help = "A bundle is a directory: model.json (format version, architecture, input/output spec, provenance, sha256 of\nthe weights), weights.safetensors (PyTorch state_dict layout, reference key names) and README.md (model card)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Prec {
    F32,
    F16,
}

impl From<Prec> for Precision {
    fn from(p: Prec) -> Self {
        match p {
            Prec::F32 => Precision::F32,
            Prec::F16 => Precision::F16,
        }
    }
}

/// Where and how a bundle is written (shared by `bundle` and `import-torch`).
#[derive(clap::Args, Debug)]
struct OutArgs {
    /// Bundle directory to write, e.g. public/models/dream-cnn.
    #[arg(long)]
    out: PathBuf,
    /// Storage precision of the weights (f16 halves the download; computation stays f32).
    #[arg(long, value_enum, default_value = "f32")]
    precision: Prec,
    /// Bundle name (default: the last component of --out).
    #[arg(long)]
    name: Option<String>,
    /// A remark for the model card.
    #[arg(long)]
    notes: Option<String>,
    /// Replace an existing bundle in --out.
    #[arg(long)]
    force: bool,
}

impl OutArgs {
    /// Refuses a file or an existing bundle (without --force); returns the bundle name.
    fn check(&self) -> Result<String> {
        check_out(&self.out, self.force)?;
        bundle_name(&self.out, self.name.clone())
    }

    fn write(&self, bundle: &Bundle) -> Result<()> {
        model_export::write_bundle(bundle, &self.out)?;
        report(bundle, &self.out);
        Ok(())
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Bundle the best weights of a `dream train --out` directory.
    Bundle {
        /// Training output directory (or its model_best.safetensors).
        #[arg(long)]
        from: PathBuf,
        /// Test scores to record: the JSON written by `dream evaluate --json`.
        #[arg(long)]
        scores: Option<PathBuf>,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Bundle a PyTorch state_dict (safetensors or torch.save .pth/.pt, reference key names) of a
    /// DREAM model or of any compatible Prix Fixe combination.
    ImportTorch {
        /// dream-cnn, dream-rnn or dream-attn (= --combo 0_1_0_0, 0_1_1_0, 0_0_2_0).
        #[arg(long, value_parser = parse_preset, conflicts_with = "combo")]
        arch: Option<ModelPreset>,
        /// The combination as the official record names its directories: DP/Trainer_First_Core_Final,
        /// 0 autosome, 1 BHI, 2 UnlockDNA (e.g. 1_1_0_1). Default: read from the weights' path
        /// (…/1_1_0_1/model_best.pth).
        #[arg(long)]
        combo: Option<String>,
        /// The dataset the model was built for: dream-yeast (default), deepstarr, lentimpra, or a
        /// dataset description file (JSON).
        #[arg(long, default_value = "dream-yeast")]
        dataset: String,
        /// The state_dict: safetensors, or a torch.save file (.pth/.pt; zip or legacy layout), read
        /// without executing anything: a pickle naming anything but tensors and their storages is
        /// refused. Tensors f32, f16, bf16 or f64 (int64 buffers too).
        #[arg(long)]
        weights: PathBuf,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Verify a bundle (format, checksum, architecture, weights) and print its summary.
    Check {
        /// Bundle directory or its model.json.
        bundle: PathBuf,
    },
    /// Write DIR/index.json listing the bundles in DIR's sub-directories (what the web app reads).
    Index {
        /// Folder of bundles, e.g. public/models.
        dir: PathBuf,
    },
}

fn parse_preset(s: &str) -> Result<ModelPreset, String> {
    s.parse()
}

fn bundle_name(out: &Path, name: Option<String>) -> Result<String> {
    match name.or_else(|| out.file_name().map(|n| n.to_string_lossy().into_owned())) {
        Some(n) if !n.is_empty() => Ok(n),
        _ => bail!("--out {}: cannot take a bundle name from it; give --name", out.display()),
    }
}

fn check_out(out: &Path, force: bool) -> Result<()> {
    if out.is_file() {
        bail!("--out {} is a file; a bundle is a directory", out.display());
    }
    if prixfixe::bundle::is_bundle(out) && !force {
        bail!("{} already holds a bundle; use --force to replace it (nothing was written)", out.display());
    }
    Ok(())
}

fn report(bundle: &Bundle, out: &Path) {
    let m = &bundle.manifest;
    eprintln!(
        "wrote {}: {} ({} parameters), {} weights {} bytes, sha256 {}",
        out.display(),
        m.title,
        m.parameters,
        match m.precision {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        },
        m.weights.bytes,
        m.weights.sha256
    );
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Bundle { from, scores, out } => {
            let name = out.check()?;
            out.write(&model_export::bundle_from_run(&from, &name, out.precision.into(), scores.as_deref(), out.notes.clone())?)?;
        }
        Command::ImportTorch { arch, combo, dataset, weights, out } => {
            let combination = match (arch, combo) {
                (Some(p), _) => p.combination(),
                (None, Some(c)) => c.parse::<Combination>().map_err(|e| anyhow::anyhow!("--combo: {e}"))?,
                (None, None) => Combination::from_path(&weights).with_context(|| {
                    format!("--weights {}: no combination in its path (like 0_1_1_0/model_best.pth); give --combo or --arch", weights.display())
                })?,
            };
            if let Err(e) = combination.check() {
                bail!("--combo {combination}: this combination cannot be built: {}", e.reason());
            }
            let dataset = prixfixe::dataset::Dataset::load(&dataset).map_err(anyhow::Error::msg)?;
            let name = out.check()?;
            out.write(&model_export::import_torch(combination, &dataset, &weights, &name, out.precision.into(), out.notes.clone())?)?;
        }
        Command::Check { bundle } => {
            let b = Bundle::read(&bundle)?;
            b.model::<prixfixe::CpuBackend>(&Default::default()).map_err(|e| anyhow::anyhow!("{}: {e}", bundle.display()))?;
            let m = &b.manifest;
            println!(
                "ok: {} `{}` (format v{}), {} parameters, {:?} weights {} bytes, sha256 verified; validation Pearson r {}",
                m.title,
                m.name,
                m.format_version,
                m.parameters,
                m.precision,
                m.weights.bytes,
                m.provenance.val_pearson_r.map_or("–".into(), |r| format!("{r:.3}"))
            );
        }
        Command::Index { dir } => {
            let index = model_export::write_index(&dir)?;
            eprintln!("wrote {} ({} bundles)", dir.join("index.json").display(), index["models"].as_array().map_or(0, Vec::len));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
