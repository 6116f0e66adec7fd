//! `dream`: the native trainer and command-line predictor for DREAM-CNN / DREAM-RNN / DREAM-Attn.
//!
//! Subcommands: `train`, `cv`, `predict`, `ism`, `variants`, `tile`, `design`, `evaluate`, `bench` (see `dream --help`). The CPU backend
//! (burn-flex) is the default; `--device cuda` / `wgpu` (train, predict, ism, bench, grid, cv) need
//! the `cuda` / `wgpu` cargo features.

mod bench;
mod combos;
mod cv;
mod grid;
mod inference;
mod interpret;
mod model_io;
mod training;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use prixfixe::combination::Combination;
use prixfixe::model::ModelPreset;

/// How `dream ism` scores the SNVs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum IsmMethod {
    /// Every variant predicted (both strands): the effects the model gives.
    #[default]
    Exact,
    /// First-order Taylor approximation from the gradient of the reference prediction (one
    /// forward and one backward pass; Sasse et al., iScience 2024): approximate, for previews.
    Taylor,
}

/// Where tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// CPU (burn-flex, SIMD + threads).
    Cpu,
    /// NVIDIA GPU through CUDA (build with `--features cuda`).
    Cuda,
    /// Any GPU through wgpu (build with `--features wgpu`).
    Wgpu,
}

#[derive(Parser, Debug)]
#[command(
    name = "dream",
    version,
    about = "Train and run the DREAM-optimized sequence-to-expression models (Random Promoter DREAM Challenge 2022)",
    after_help = "Sequences: A, C, G, T, N (any case; other characters are errors). As in the challenge's DataProcessor, the\nfirst 17 bp (the constant 5' adapter TGCATTTTTTTCACATC) are replaced by the upstream plasmid sequence and the last\n150 bp are kept, so give DREAM-format sequences (17 bp adapter + insert + 13 bp 3' end; ~110 bp).\nPredictions are expected expression bins on the training scale, 0-17 (forward/reverse-complement average)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a DREAM model: on a sequence<TAB>expression file (DREAM challenge format, the default
    /// --dataset dream-yeast) or on another assay's table (--dataset deepstarr|lentimpra|FILE).
    Train(training::TrainArgs),
    /// Cross-validation as in the paper's benchmarks (human: 10 folds × 9 models; Drosophila:
    /// held-out chromosome × 10 folds): every fold model a resumable run; writes cv.tsv.
    Cv(cv::CvArgs),
    /// Predict expression (forward / reverse-complement average) for sequences in a file.
    Predict {
        /// Trained model: a model bundle directory (model-export), a training output directory, its
        /// model_best.safetensors, or a bare PyTorch state_dict: safetensors or torch.save .pth/.pt
        /// (read without executing anything; then give --arch or --combo, or keep it in a
        /// directory named by its combination, e.g. 0_1_1_0/model_best.pth).
        #[arg(long)]
        model: PathBuf,
        /// Architecture of a bare state_dict file (.safetensors, .pth, .pt): dream-cnn, dream-rnn or
        /// dream-attn.
        #[arg(long, value_parser = parse_preset, conflicts_with = "combo")]
        arch: Option<ModelPreset>,
        /// Prix Fixe combination of a bare state_dict file (.safetensors, .pth, .pt), as the official
        /// record names its directories: DP/Trainer_First_Core_Final, 0 autosome, 1 BHI, 2 UnlockDNA
        /// (e.g. 1_1_0_1); it runs with that combination's own DataProcessor and Predictor.
        /// Default: --arch, else the weights' path (…/1_1_0_1/model_best.pth).
        #[arg(long, value_parser = parse_combo)]
        combo: Option<Combination>,
        /// Input: FASTA, one sequence per line, or TSV (the column named `sequence`/`seq` in a header
        /// line, else the first column; ids from an `id`/`name`/`pos` column); .gz accepted.
        #[arg(long)]
        input: PathBuf,
        /// Output TSV. DREAM yeast models: id (or the input's other columns) and `prediction`
        /// (expected bin, 0–17). Other datasets: id, then one column per output, named as the
        /// dataset's targets (e.g. Dev, Hk).
        #[arg(long)]
        output: PathBuf,
        /// Sequences per forward pass.
        #[arg(long, default_value_t = 256)]
        batch_size: usize,
        /// both: mean of each sequence and its reverse complement (is_reverse from the id where
        /// the dataset reads it so, flipped on the reverse complement); as-is: one pass per row
        /// with its own is_reverse, as the reference benchmark notebooks predict.
        #[arg(long, value_enum, default_value = "both")]
        strands: inference::StrandsArg,
        /// cpu, cuda or wgpu.
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceKind,
    },
    /// In-silico mutagenesis: every single-nucleotide substitution of one sequence.
    Ism {
        /// Trained model (as for predict).
        #[arg(long)]
        model: PathBuf,
        /// Architecture of a bare state_dict file.
        #[arg(long, value_parser = parse_preset)]
        arch: Option<ModelPreset>,
        /// The output to score, by name (a target of the model's dataset, e.g. Dev or Hk of a
        /// deepstarr model). Default: the first.
        #[arg(long)]
        task: Option<String>,
        #[command(flatten)]
        source: OneSequence,
        /// Only positions FROM-TO (1-based, inclusive), e.g. 18-97 for the 80 bp random region of
        /// a 110 bp DREAM sequence. Default: the whole sequence.
        #[arg(long)]
        region: Option<String>,
        /// Output TSV: position, ref, alt, prediction, delta.
        #[arg(long)]
        output: PathBuf,
        /// Also write the per-position ISM attribution (−mean effect of the position's
        /// substitutions) as TSV: position, base, attribution.
        #[arg(long)]
        attribution: Option<PathBuf>,
        /// Also write the attribution as a sequence logo (SVG).
        #[arg(long)]
        logo: Option<PathBuf>,
        /// `exact` (every variant predicted) or `taylor` (approximate: gradient × substitution,
        /// from one forward and one backward pass).
        #[arg(long, value_enum, default_value_t = IsmMethod::Exact)]
        method: IsmMethod,
        /// cpu, cuda or wgpu.
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceKind,
    },
    /// Variant effects for a table of variants: predicted reference, alternative and delta.
    Variants {
        /// Trained model (as for predict).
        #[arg(long)]
        model: PathBuf,
        /// Architecture of a bare state_dict file.
        #[arg(long, value_parser = parse_preset)]
        arch: Option<ModelPreset>,
        /// The output to score, by name (a target of the model's dataset, e.g. Dev or Hk of a
        /// deepstarr model). Default: the first.
        #[arg(long)]
        task: Option<String>,
        /// Variant table (TSV or CSV, .gz ok) with the header `id sequence position ref alt`
        /// (1-based position in that sequence; ref must match it; alt may be several bases or -
        /// for a deletion) or `id ref_sequence alt_sequence`.
        #[arg(long)]
        input: PathBuf,
        /// Output TSV: id, reference, alternative, delta (= alternative − reference).
        #[arg(long)]
        output: PathBuf,
        /// Sequences per forward pass.
        #[arg(long, default_value_t = 256)]
        batch_size: usize,
    },
    /// Motif tiling: a motif (and its reverse complement) written over a background sequence at
    /// every position of a region, each scored against the background.
    Tile {
        /// Trained model (as for predict).
        #[arg(long)]
        model: PathBuf,
        /// Architecture of a bare state_dict file.
        #[arg(long, value_parser = parse_preset)]
        arch: Option<ModelPreset>,
        /// The output to score, by name (a target of the model's dataset, e.g. Dev or Hk of a
        /// deepstarr model). Default: the first.
        #[arg(long)]
        task: Option<String>,
        /// The background sequence.
        #[command(flatten)]
        source: OneSequence,
        /// The motif: A/C/G/T bases (4-30 bp), or a known yeast site of the DREAM test set:
        /// polyA, Skn7, Mga1, Ume6, Mot3, Azf1 (motif tiling subset), Hsf1.
        #[arg(long)]
        motif: String,
        /// Positions FROM-TO (1-based, inclusive) the motif must lie in. Default: the variable
        /// region (the 80 bp random region, e.g. 18-97 of a 110 bp DREAM sequence).
        #[arg(long)]
        region: Option<String>,
        /// Output TSV: position (1-based, of the motif's first base), orientation (+/-),
        /// expression, delta (vs the background).
        #[arg(long)]
        output: PathBuf,
    },
    /// Sequence design: substitutions toward a goal expression (max, min or a target) within an
    /// editable region, by greedy rounds of SNV scans or a seeded evolutionary search.
    Design(interpret::DesignArgs),
    /// Score predictions: on the DREAM test subsets the way the challenge did (--test, --labels),
    /// or per task (Pearson r, Spearman ρ, MSE) on any labelled table in the model's dataset
    /// format (--data).
    Evaluate {
        /// Trained model (as for predict).
        #[arg(long)]
        model: PathBuf,
        /// Architecture of a bare state_dict file.
        #[arg(long, value_parser = parse_preset)]
        arch: Option<ModelPreset>,
        /// A labelled table in the model's dataset format (e.g. data/drosophila/sample_test.tsv).
        #[arg(long, conflicts_with_all = ["test", "labels", "pairs"], required_unless_present = "test")]
        data: Option<PathBuf>,
        /// With --data: how rows are scored (as for predict).
        #[arg(long, value_enum, default_value = "both")]
        strands: inference::StrandsArg,
        /// With --data: skip rows whose target is missing or not a number (count reported).
        #[arg(long)]
        skip_missing_targets: bool,
        /// DREAM test sequences (header: pos subset tag sequence).
        #[arg(long, requires = "labels")]
        test: Option<PathBuf>,
        /// Measured expression (header: pos expression).
        #[arg(long, requires = "test")]
        labels: Option<PathBuf>,
        /// Pair subsets (header: subset alt_pos ref_pos alt_tag ref_tag).
        #[arg(long)]
        pairs: Option<PathBuf>,
        /// Also write the scores as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Training / inference throughput of the models on this machine (random data, sequences/s).
    Bench(bench::BenchArgs),
    /// The 81 Prix Fixe combinations (DP+Trainer_First_Core_Final, 0 autosome, 1 BHI,
    /// 2 UnlockDNA) with whether each is compatible and why not.
    Combos(combos::CombosArgs),
    /// The Prix Fixe experiment (paper Fig. 2B): train every requested combination on the same
    /// data split (resumable, one run directory each); writes grid.tsv and the grid.svg heatmap.
    Grid(grid::GridArgs),
}

/// One sequence, given inline or as a record of a file (`dream ism`, `dream tile`).
#[derive(clap::Args, Debug)]
pub(crate) struct OneSequence {
    /// The sequence (A, C, G, T, N; any case).
    #[arg(long, required_unless_present = "input", conflicts_with = "input")]
    sequence: Option<String>,
    /// Or: a file (FASTA, one sequence per line, or TSV) holding it.
    #[arg(long)]
    input: Option<PathBuf>,
    /// With --input: the id of the sequence (needed when the file holds several).
    #[arg(long, requires = "input")]
    id: Option<String>,
}

impl From<OneSequence> for inference::IsmSource {
    fn from(a: OneSequence) -> Self {
        match (a.sequence, a.input) {
            (Some(s), _) => Self::Sequence(s),
            // clap requires one of the two.
            (None, input) => Self::File { path: input.unwrap_or_default(), id: a.id },
        }
    }
}

fn parse_preset(s: &str) -> Result<ModelPreset, String> {
    s.parse()
}

fn parse_combo(s: &str) -> Result<Combination, String> {
    s.parse()
}

/// mimalloc keeps the large tensor buffers a training step frees for the next step's
/// allocations; glibc's malloc unmaps each one and the next faults its pages in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (v2 and v3): how long freed memory stays committed
/// before it is returned to the OS, in ms; -1 = never.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// From now on freed memory stays with the process for reuse (mimalloc never purges it). Called
/// once the training data is loaded: a training step frees and reallocates the same large
/// buffers, and returning them to the OS made the next step fault them in again (batch-1024
/// DREAM-CNN step: 34 s with mimalloc's default 10 ms delay, 35 s with 1 s, 22 s never; glibc
/// 37 s). Not from the start: loading the full challenge file would then peak at 1.08 GB
/// instead of ~0.64 GB (`scripts/bench-memory.sh`, goal ≤ 1 GB).
pub(crate) fn keep_freed_memory() {
    // SAFETY: sets a mimalloc option (a plain integer store); any thread may call it at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => training::run(args),
        Command::Cv(args) => cv::run(args),
        Command::Predict { model, arch, combo, input, output, batch_size, strands, device } => {
            inference::predict(&model, arch.map(ModelPreset::combination).or(combo), &input, &output, batch_size, strands, device)
        }
        Command::Ism { model, arch, task, source, region, output, attribution, logo, method, device } => {
            inference::ism(&model, arch, task.as_deref(), &source.into(), region.as_deref(), method, &output, attribution.as_deref(), logo.as_deref(), device)
        }
        Command::Design(args) => interpret::design(args),
        Command::Variants { model, arch, task, input, output, batch_size } => {
            interpret::variants(&model, arch, task.as_deref(), &input, &output, batch_size)
        }
        Command::Tile { model, arch, task, source, motif, region, output } => {
            interpret::tile(&model, arch, task.as_deref(), &source.into(), &motif, region.as_deref(), &output)
        }
        Command::Evaluate { model, arch, data, strands, skip_missing_targets, test, labels, pairs, json } => match (data, test, labels) {
            (Some(data), _, _) => inference::evaluate_table(&model, arch, &data, json.as_deref(), strands, skip_missing_targets),
            (None, Some(test), Some(labels)) => inference::evaluate(&model, arch, &test, &labels, pairs.as_deref(), json.as_deref()),
            _ => Err(anyhow::anyhow!("give --data, or --test with --labels")),
        },
        Command::Bench(args) => bench::run(args),
        Command::Combos(args) => combos::run(args),
        Command::Grid(args) => grid::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
