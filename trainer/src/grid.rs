//! `dream grid`: the paper's Prix Fixe experiment (Rafi et al., Fig. 2B; PRIXFIXE-MODULES.md §6):
//! every requested combination of the three teams' modules trained on the same data — one load,
//! one train/validation split, one seed — and compared on the validation set.
//!
//! Every combination is a resumable `dream train` run directory `OUT/<code>/` (e.g.
//! `OUT/0_1_1_0/`). When its [`fit`] returns finished, the grid writes `OUT/<code>/done.json`
//! (the kept epoch's metrics, epochs, wall time, parameter count); that marker, written only
//! after the run's last checkpoint, is what `--resume` trusts: a directory with it is not
//! retrained, one with a checkpoint but no marker is resumed, one with neither starts over.
//! `OUT/grid.tsv` (one row per requested combination, the paper's order) and `OUT/grid.svg`
//! (the Fig. 2B heatmap of validation Pearson r) are rewritten atomically after every combination.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::tensor::backend::AutodiffBackend;
use prixfixe::combination::{Combination, Team, Wiring};
use prixfixe::dataset::{Dataset, LabelledTable};
use prixfixe::training::TrainingSet;
use serde::{Deserialize, Serialize};

use crate::model_io::RUN_CONFIG;
use crate::training::{fit, interrupted, load_table_for, split_table, write_atomic, EpochMetrics, TrainArgs, TrainJob};
use crate::DeviceKind;

/// Name of the table in the output directory.
pub const GRID_TSV: &str = "grid.tsv";
/// Name of the heatmap in the output directory.
pub const GRID_SVG: &str = "grid.svg";
/// The grid's recorded settings (what `--resume` compares).
const GRID_ARGS: &str = "grid-args.json";
/// Written into a combination's directory once its training finished.
const DONE: &str = "done.json";
/// The columns of grid.tsv.
pub const COLUMNS: [&str; 13] = [
    "number", "combination", "trainer", "first", "core", "final", "parameters", "epochs", "best_epoch", "val_pearson_r",
    "val_spearman_rho", "seconds", "status",
];

fn default_dataset() -> String {
    "dream-yeast".into()
}

/// Arguments of `dream grid`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct GridArgs {
    /// `all` (the 45 compatible combinations, in the paper's order) or a comma-separated list of
    /// codes DP/Trainer_First_Core_Final (e.g. 0_1_1_0) and preset names (dream-cnn, dream-rnn,
    /// dream-attn). An incompatible code is refused before any work.
    #[arg(long, value_delimiter = ',', required = true)]
    pub combos: Vec<String>,
    /// The dataset: dream-yeast (default), deepstarr, lentimpra, or a dataset description file.
    #[arg(long, default_value = "dream-yeast")]
    #[serde(default = "default_dataset")]
    pub dataset: String,
    /// Training data in the dataset's format; .gz accepted. Loaded and split once for all
    /// combinations.
    #[arg(long)]
    pub train: PathBuf,
    /// Validation data (same format). Default: the dataset's split column if it marks
    /// validation rows, else a random --val-fraction of --train (the same rows for every
    /// combination).
    #[arg(long)]
    pub val: Option<PathBuf>,
    /// Fraction of --train held out for validation when --val is not given.
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Output directory: grid.tsv, grid.svg and one `dream train` run directory per combination
    /// (OUT/0_1_1_0/ …).
    #[arg(long)]
    pub out: PathBuf,
    /// Epochs per combination (default: the dataset's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Batch size (default: the dataset's).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Peak learning rate for every combination (default: each combination's own, as `dream
    /// train --combo` picks it).
    #[arg(long)]
    pub lr: Option<f64>,
    /// UnlockDNA Trainer: warm-up steps of its inverse-sqrt schedule (default 12,500, sized for
    /// the full 6.7 M rows; shorten it on small data).
    #[arg(long)]
    #[serde(default)]
    pub warmup_steps: Option<usize>,
    /// Cap on optimizer steps per epoch.
    #[arg(long)]
    pub steps_per_epoch: Option<usize>,
    /// Seed (validation split, shuffling, dropout), the same for every combination.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// cpu, cuda or wgpu.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceKind,
    /// Continue the grid in OUT: finished combinations are kept, a half-trained one resumes from
    /// its checkpoint. The list given with --combos may differ from the first run's.
    #[arg(long)]
    #[serde(default)]
    pub resume: bool,
    /// Skip rows whose target is missing or not a number.
    #[arg(long)]
    #[serde(default)]
    pub skip_missing_targets: bool,
    /// Stop as if interrupted after this many optimizer steps of one combination (testing).
    #[arg(long, hide = true)]
    #[serde(default)]
    pub stop_after_steps: Option<usize>,
}

/// Entry point of `dream grid`.
///
/// # Errors
/// An unreadable or incompatible combination, unreadable data, bad numbers, or an output
/// directory that holds a grid (without `--resume`) or one made with other settings.
pub fn run(args: GridArgs) -> Result<()> {
    // Refuse bad lists before any work (and before a GPU is opened).
    parse_combos(&args.combos)?;
    crate::training::on_device(args.device, GridJob(args))
}

struct GridJob(GridArgs);

impl TrainJob for GridJob {
    type Output = ();
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        grid::<B>(self.0, device)
    }
}

/// The combinations `--combos` names, deduplicated, in the paper's order (`number`).
///
/// # Errors
/// An unreadable entry, an empty list, or an incompatible combination (with the rule's reason,
/// R1 or R2).
pub fn parse_combos(list: &[String]) -> Result<Vec<Combination>> {
    let mut out: Vec<Combination> = Vec::new();
    for item in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if item.eq_ignore_ascii_case("all") {
            out.extend(Combination::compatible());
            continue;
        }
        let c: Combination = item.parse().map_err(|e: String| anyhow::anyhow!("--combos: {e}"))?;
        if let Err(e) = c.check() {
            bail!("--combos: combination {c} cannot be trained: {} (`dream combos --compatible` lists the 45 that can)", e.reason());
        }
        out.push(c);
    }
    if out.is_empty() {
        bail!("--combos: no combination given; use `all` or codes such as 0_1_1_0");
    }
    out.sort_by_key(Combination::number);
    out.dedup();
    Ok(out)
}

/// What the grid writes into a combination's directory when its training finished.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Done {
    best: Option<EpochMetrics>,
    epochs: usize,
    seconds: f64,
    parameters: Option<usize>,
}

/// One combination's line of grid.tsv.
#[derive(Debug, Clone)]
struct Row {
    combination: Combination,
    parameters: Option<usize>,
    epochs: usize,
    best: Option<EpochMetrics>,
    seconds: Option<f64>,
    status: String,
}

impl Row {
    fn pending(c: Combination) -> Self {
        Self { combination: c, parameters: None, epochs: 0, best: None, seconds: None, status: "pending".into() }
    }

    fn cells(&self) -> Vec<String> {
        let c = self.combination;
        let opt = |v: Option<f64>, digits: usize| v.filter(|x| x.is_finite()).map_or(String::new(), |x| format!("{x:.digits$}"));
        vec![
            c.number().to_string(),
            c.code(),
            c.trainer.name().into(),
            c.first.name().into(),
            c.core.name().into(),
            c.final_block.name().into(),
            self.parameters.map_or(String::new(), |n| n.to_string()),
            self.epochs.to_string(),
            self.best.as_ref().map_or(String::new(), |b| b.epoch.to_string()),
            opt(self.best.as_ref().map(|b| b.val_pearson_r), 4),
            opt(self.best.as_ref().map(|b| b.val_spearman_rho), 4),
            opt(self.seconds, 1),
            self.status.clone(),
        ]
    }

    fn pearson(&self) -> Option<f64> {
        self.best.as_ref().map(|b| b.val_pearson_r).filter(|r| r.is_finite() && self.status == "ok")
    }
}

/// One TSV cell: no tabs or line breaks.
fn cell_text(s: &str) -> String {
    s.split(['\t', '\n', '\r']).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ")
}

fn table_tsv(rows: &[Row]) -> String {
    let mut out = COLUMNS.join("\t") + "\n";
    for r in rows {
        out.push_str(&r.cells().iter().map(|c| cell_text(c)).collect::<Vec<_>>().join("\t"));
        out.push('\n');
    }
    out
}

/// The table with aligned columns (the status column last, unpadded).
fn table_aligned(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = std::iter::once(COLUMNS.iter().map(|s| s.to_string()).collect()).chain(rows.iter().map(Row::cells)).collect();
    let widths: Vec<usize> = (0..COLUMNS.len()).map(|k| cells.iter().map(|r| r[k].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in &cells {
        let mut line = String::new();
        for (k, v) in r.iter().enumerate() {
            let numeric = matches!(k, 0 | 6..=11);
            let pad = widths[k] - v.chars().count();
            if k == COLUMNS.len() - 1 {
                line.push_str(v);
            } else if numeric {
                let _ = write!(line, "{}{v}  ", " ".repeat(pad));
            } else {
                let _ = write!(line, "{v}{}  ", " ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Finished epochs recorded in a run directory's metrics.csv (0 when it has none).
fn finished_epochs(run_dir: &Path) -> usize {
    std::fs::read_to_string(run_dir.join("metrics.csv")).map_or(0, |t| t.lines().skip(1).filter(|l| !l.trim().is_empty()).count())
}

/// Trainable parameters of a combination: from the run's config.json when it has one (what was
/// trained), else from the wiring rule on the dataset (`None` when the rule refuses it there).
fn parameters(run_dir: &Path, c: Combination, dataset: &Dataset) -> Option<usize> {
    let config = std::fs::read(run_dir.join(RUN_CONFIG))
        .ok()
        .and_then(|b| serde_json::from_slice::<prixfixe::training::RunConfig>(&b).ok())
        .map(|r| r.model)
        .or_else(|| c.config_for_dataset(dataset, Wiring::default()).ok())?;
    config.init::<prixfixe::CpuBackend>(&Default::default()).ok().map(|m| m.num_trainable())
}

/// Seconds per combination code from an earlier grid.tsv (time spent before an interruption).
fn earlier_seconds(path: &Path) -> HashMap<String, f64> {
    let Ok(text) = std::fs::read_to_string(path) else { return HashMap::new() };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some((f.get(1)?.to_string(), f.get(11)?.parse().ok()?))
        })
        .collect()
}

/// The settings that must not change between a grid and its `--resume` (the list of
/// combinations, the device and the testing flag may).
fn recorded_settings(args: &GridArgs, dataset: &Dataset) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(args)?;
    if let Some(o) = v.as_object_mut() {
        for k in ["combos", "device", "resume", "stop_after_steps", "out"] {
            o.remove(k);
        }
    }
    v["dataset_description"] = serde_json::to_value(dataset)?;
    // The same paths must also hold the same data: the grid compares runs on one split.
    v["data"] = crate::training::data_digests(&args.train, args.val.as_deref())?;
    Ok(v)
}

/// The training and validation sets of every DataProcessor the dataset allows, on the same rows.
struct GridData {
    /// Per DataProcessor + Trainer team: (training set, validation set).
    sets: HashMap<Team, (TrainingSet, TrainingSet)>,
    /// Why a team's DataProcessor cannot read the dataset (BHI / UnlockDNA on non-yeast data).
    unavailable: HashMap<Team, String>,
    train_rows: usize,
    val_rows: usize,
}

/// The source lines every table holds.
fn common_lines<'a>(tables: impl Iterator<Item = &'a LabelledTable>) -> std::collections::HashSet<u32> {
    let mut sets = tables.map(|t| t.lines.iter().copied().collect::<std::collections::HashSet<u32>>());
    let first = sets.next().unwrap_or_default();
    sets.fold(first, |acc, s| acc.intersection(&s).copied().collect())
}

/// Keeps the rows of `table` whose source line is in `keep`.
fn keep_lines(table: LabelledTable, keep: &std::collections::HashSet<u32>) -> LabelledTable {
    if table.lines.iter().all(|l| keep.contains(l)) {
        return table;
    }
    let rows: Vec<usize> = (0..table.len()).filter(|&i| keep.contains(&table.lines[i])).collect();
    table.select(&rows)
}

/// Loads --train (and --val) once per DataProcessor (each team's windows its own way: the
/// combination's Trainer reads its own DataProcessor's windows) and splits them the same way: rows
/// one DataProcessor cannot read (UnlockDNA: more than 100 bp after its cuts) are left out for
/// all, so the seeded split (`split_table`) picks the same validation rows for every combination.
///
/// # Errors
/// Unreadable files (file:line:column), a bad split, too few rows.
fn load_data(args: &GridArgs, dataset: &Dataset) -> Result<GridData> {
    let mut loaded: Vec<(Team, LabelledTable, Option<LabelledTable>)> = Vec::new();
    let mut unavailable = HashMap::new();
    for team in Team::ALL {
        let any = Combination::new(team, Team::Autosome, Team::Autosome, Team::Autosome);
        let processor = match any.processor_for(dataset) {
            Ok(p) => p,
            Err(e) => {
                unavailable.insert(team, e);
                continue;
            }
        };
        let train = load_table_for(&args.train, dataset, &processor, Some(args.seed), args.skip_missing_targets)?;
        let val = args.val.as_ref().map(|v| load_table_for(v, dataset, &processor, None, args.skip_missing_targets)).transpose()?;
        loaded.push((team, train, val));
    }
    let keep_train = common_lines(loaded.iter().map(|x| &x.1));
    let keep_val = common_lines(loaded.iter().filter_map(|x| x.2.as_ref()));
    let mut sets = HashMap::new();
    let (mut train_rows, mut val_rows) = (0, 0);
    for (team, train, val) in loaded {
        let before = train.len() + val.as_ref().map_or(0, LabelledTable::len);
        let train = keep_lines(train, &keep_train);
        let val = val.map(|v| keep_lines(v, &keep_val));
        let after = train.len() + val.as_ref().map_or(0, LabelledTable::len);
        if after < before && team == Team::Autosome {
            eprintln!("{} rows that another team's DataProcessor cannot read are left out for every combination", before - after);
        }
        let (t, v) = match val {
            Some(v) => (train.set, v.set),
            None => split_table(train, dataset, args.val_fraction, args.seed, &args.train.display().to_string())?,
        };
        if t.is_empty() || v.len() < 2 {
            bail!("need training rows and at least 2 validation rows (got {} and {})", t.len(), v.len());
        }
        (train_rows, val_rows) = (t.len(), v.len());
        sets.insert(team, (t, v));
    }
    Ok(GridData { sets, unavailable, train_rows, val_rows })
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".into())
}

fn grid<B: AutodiffBackend>(args: GridArgs, device: B::Device) -> Result<()> {
    let combos = parse_combos(&args.combos)?;
    let dataset = Dataset::load(&args.dataset).map_err(anyhow::Error::msg)?;
    if args.epochs == Some(0) || args.batch_size == Some(0) || args.steps_per_epoch == Some(0) || args.warmup_steps == Some(0) {
        bail!("--batch-size, --epochs, --steps-per-epoch and --warmup-steps must be positive");
    }
    if let Some(lr) = args.lr.filter(|lr| !(lr.is_finite() && *lr > 0.0)) {
        bail!("--lr must be a positive number (got {lr})");
    }
    let out = &args.out;
    let settings_file = out.join(GRID_ARGS);
    let tsv_path = out.join(GRID_TSV);
    let svg_path = out.join(GRID_SVG);
    let recorded = recorded_settings(&args, &dataset)?;
    if args.resume {
        let before = std::fs::read(&settings_file).with_context(|| format!("--resume: no grid in {} (no {GRID_ARGS})", out.display()))?;
        let before: serde_json::Value =
            serde_json::from_slice(&before).with_context(|| format!("{}: unreadable grid settings", settings_file.display()))?;
        if before != recorded {
            bail!(
                "--resume: {} holds a grid made with other settings ({}); resume with the same --dataset, --train, --val, --val-fraction, --epochs, --batch-size, --lr, --warmup-steps, --steps-per-epoch, --seed and --skip-missing-targets, or choose another --out",
                out.display(),
                before
            );
        }
    } else {
        let existing = [&settings_file, &tsv_path].into_iter().find(|p| p.exists()).cloned().or_else(|| {
            Combination::all().into_iter().map(|c| out.join(c.code())).find(|d| d.join(RUN_CONFIG).exists() || d.join("checkpoint").exists())
        });
        if let Some(p) = existing {
            bail!(
                "{} already holds a grid ({} exists); continue it with --resume or choose another --out (nothing was overwritten)",
                out.display(),
                p.display()
            );
        }
    }

    // The data, loaded and split once: every combination sees the same rows.
    let t_load = Instant::now();
    let data = load_data(&args, &dataset)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    write_atomic(&settings_file, &serde_json::to_vec_pretty(&recorded)?)?;
    eprintln!(
        "Prix Fixe grid on {}: {} combination(s); {} training rows, {} validation rows (seed {}); loaded in {:.1} s",
        dataset.name,
        combos.len(),
        data.train_rows,
        data.val_rows,
        args.seed,
        t_load.elapsed().as_secs_f64()
    );

    let earlier = if args.resume { earlier_seconds(&tsv_path) } else { HashMap::new() };
    let mut rows: Vec<Row> = combos.iter().map(|&c| Row::pending(c)).collect();
    // Finished combinations (from this grid or an earlier invocation) are taken as they are.
    for row in rows.iter_mut() {
        let done_path = out.join(row.combination.code()).join(DONE);
        if let Ok(bytes) = std::fs::read(&done_path) {
            let done: Done = serde_json::from_slice(&bytes).with_context(|| format!("{}: unreadable grid marker", done_path.display()))?;
            *row = Row { combination: row.combination, parameters: done.parameters, epochs: done.epochs, best: done.best, seconds: Some(done.seconds), status: "ok".into() };
        }
    }
    let save = |rows: &[Row]| -> Result<()> {
        write_atomic(&tsv_path, table_tsv(rows).as_bytes())?;
        write_atomic(&svg_path, heatmap_svg(rows, &dataset.name)?.as_bytes())
    };
    save(&rows)?;

    let n = rows.len();
    let mut stopped_at: Option<Combination> = None;
    for i in 0..n {
        if rows[i].status == "ok" {
            eprintln!("[{}/{n}] {}: already trained ({})", i + 1, rows[i].combination, out.join(rows[i].combination.code()).display());
            continue;
        }
        if interrupted() {
            break;
        }
        let c = rows[i].combination;
        let run_dir = out.join(c.code());
        let has_checkpoint = run_dir.join("checkpoint").is_dir() || run_dir.join("checkpoint.old").is_dir();
        if !has_checkpoint && run_dir.join(RUN_CONFIG).is_file() {
            // An earlier attempt stopped before its first checkpoint: start it over.
            std::fs::remove_dir_all(&run_dir).with_context(|| format!("clearing {}", run_dir.display()))?;
        }
        let train_args = TrainArgs {
            model: None,
            combo: Some(c.code()),
            recipe: None,
            first: None,
            core: None,
            final_block: None,
            dataset: args.dataset.clone(),
            train: args.train.clone(),
            val: args.val.clone(),
            val_fraction: args.val_fraction,
            out: run_dir.clone(),
            epochs: args.epochs,
            batch_size: args.batch_size,
            lr: args.lr,
            warmup_steps: args.warmup_steps,
            steps_per_epoch: args.steps_per_epoch,
            seed: args.seed,
            device: args.device,
            resume: has_checkpoint,
            dry_run: false,
            skip_missing_targets: args.skip_missing_targets,
            stop_after_steps: args.stop_after_steps,
        };
        eprintln!(
            "[{}/{n}] {c} (#{}; {}){} -> {}",
            i + 1,
            c.number(),
            c.describe(),
            if has_checkpoint { ", resuming" } else { "" },
            run_dir.display()
        );
        let before = earlier.get(&c.code()).copied().filter(|_| has_checkpoint).unwrap_or(0.0);
        let t = Instant::now();
        let extra = serde_json::json!({ "grid": { "combinations": n, "index": i + 1 } });
        let result = train_args.check(&dataset).and_then(|()| {
            let (train_set, val_set) = data.sets.get(&c.trainer).ok_or_else(|| {
                anyhow::anyhow!("{}", data.unavailable.get(&c.trainer).cloned().unwrap_or_else(|| "no data for this DataProcessor".into()))
            })?;
            crate::keep_freed_memory();
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fit::<B>(&train_args, &dataset, train_set, val_set, extra, device.clone())))
                .unwrap_or_else(|p| Err(anyhow::anyhow!("training panicked: {}", panic_message(p.as_ref()))))
        });
        let seconds = before + t.elapsed().as_secs_f64();
        let parameters = parameters(&run_dir, c, &dataset);
        rows[i] = Row { combination: c, parameters, epochs: finished_epochs(&run_dir), best: None, seconds: Some(seconds), status: String::new() };
        match result {
            Ok(outcome) if outcome.finished => {
                let done = Done { best: outcome.best.clone(), epochs: rows[i].epochs, seconds, parameters };
                write_atomic(&run_dir.join(DONE), &serde_json::to_vec_pretty(&done)?)?;
                rows[i].best = outcome.best;
                rows[i].status = "ok".into();
            }
            Ok(_) => {
                rows[i].status = "interrupted".into();
                stopped_at = Some(c);
            }
            Err(e) => {
                eprintln!("{c}: failed: {e:#}");
                rows[i].status = format!("failed: {}", cell_text(&format!("{e:#}")));
            }
        }
        save(&rows)?;
        if stopped_at.is_some() {
            break;
        }
    }
    if stopped_at.is_none() && rows.iter().any(|r| r.status == "pending") {
        stopped_at = rows.iter().find(|r| r.status == "pending").map(|r| r.combination);
    }
    print_stdout(&table_aligned(&rows))?;
    let ok = rows.iter().filter(|r| r.status == "ok").count();
    let failed = rows.iter().filter(|r| r.status.starts_with("failed")).count();
    eprintln!(
        "{ok} of {n} combination(s) trained{}; table {} and heatmap {}",
        if failed > 0 { format!(", {failed} failed (see the status column)") } else { String::new() },
        tsv_path.display(),
        svg_path.display()
    );
    if let Some(c) = stopped_at {
        let state = if rows.iter().any(|r| r.combination == c && r.status == "interrupted") {
            format!("during {c} (its checkpoint is saved)")
        } else {
            format!("before {c}")
        };
        eprintln!(
            "grid stopped {state}; resume with the same command plus --resume: dream grid --combos {} --train {} --out {} … --resume",
            args.combos.join(","),
            args.train.display(),
            out.display()
        );
    }
    Ok(())
}

/// Writes to stdout; a closed pipe is not an error.
fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Viridis-like colour for `t` in 0..1 (linear between five anchors of matplotlib's viridis).
fn colour(t: f64) -> plotters::style::RGBColor {
    const ANCHORS: [(f64, f64, f64); 5] =
        [(68.0, 1.0, 84.0), (59.0, 82.0, 139.0), (33.0, 145.0, 140.0), (94.0, 201.0, 98.0), (253.0, 231.0, 37.0)];
    let x = t.clamp(0.0, 1.0) * (ANCHORS.len() - 1) as f64;
    let k = (x.floor() as usize).min(ANCHORS.len() - 2);
    let f = x - k as f64;
    let (a, b) = (ANCHORS[k], ANCHORS[k + 1]);
    let mixc = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    plotters::style::RGBColor(mixc(a.0, b.0), mixc(a.1, b.1), mixc(a.2, b.2))
}

/// The Fig. 2B layout as SVG: 9 × 9 cells, columns DP+Trainer (major) × Final (minor), rows
/// Core (major) × First (minor). Trained cells are coloured by validation Pearson r (value
/// printed), incompatible ones grey with R1/R2, the others hatched (failed ones say so).
fn heatmap_svg(rows: &[Row], dataset: &str) -> Result<String> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    const S: i32 = 64; // cell size, px
    const L: i32 = 250; // left of the grid
    const T: i32 = 150; // top of the grid
    let (w, h) = (L + 9 * S + 170, T + 9 * S + 70);
    let by_combo: HashMap<Combination, &Row> = rows.iter().map(|r| (r.combination, r)).collect();
    let values: Vec<f64> = rows.iter().filter_map(Row::pearson).collect();
    let (mut lo, mut hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    if values.is_empty() {
        (lo, hi) = (0.0, 1.0);
    } else if hi - lo < 1e-3 {
        (lo, hi) = (lo - 0.05, hi + 0.05);
    }
    let scale = |r: f64| (r - lo) / (hi - lo);
    let team = |t: Team| match t {
        Team::Autosome => "autosome",
        Team::Bhi => "BHI",
        Team::UnlockDna => "UnlockDNA",
    };
    let text = |size: f64, h: HPos| ("sans-serif", size).into_font().color(&BLACK).pos(Pos::new(h, VPos::Center));

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w as u32, h as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let ok = rows.iter().filter(|r| r.status == "ok").count();
        root.draw(&Text::new(format!("Prix Fixe combinations on {dataset}: validation Pearson r"), (L + 9 * S / 2, 22), text(20.0, HPos::Center)))?;
        root.draw(&Text::new(
            format!("{ok} of {} requested trained · grey: incompatible (R1/R2, PRIXFIXE-MODULES.md §6) · hatched: not trained", rows.len()),
            (L + 9 * S / 2, 46),
            text(12.0, HPos::Center),
        ))?;
        // Column headers: DP + Trainer (major), Final (minor).
        root.draw(&Text::new("DataProcessor + Trainer", (L - 10, T - 80), text(13.0, HPos::Right)))?;
        root.draw(&Text::new("Final Layers Block", (L - 10, T - 30), text(13.0, HPos::Right)))?;
        for (a, major) in Team::ALL.into_iter().enumerate() {
            let x0 = L + 3 * S * a as i32;
            root.draw(&Text::new(major.display_name(), (x0 + 3 * S / 2, T - 80), text(16.0, HPos::Center)))?;
            root.draw(&PathElement::new(vec![(x0 + 4, T - 62), (x0 + 3 * S - 4, T - 62)], BLACK.stroke_width(1)))?;
            for (b, minor) in Team::ALL.into_iter().enumerate() {
                root.draw(&Text::new(team(minor), (x0 + S * b as i32 + S / 2, T - 30), text(13.0, HPos::Center)))?;
            }
        }
        // Row headers: Core (major), First (minor).
        root.draw(&Text::new("Core Layers Block", (L - 120, T + 9 * S + 22), text(13.0, HPos::Right)))?;
        root.draw(&Text::new("First Layers Block", (L - 10, T + 9 * S + 44), text(13.0, HPos::Right)))?;
        for (a, major) in Team::ALL.into_iter().enumerate() {
            let y0 = T + 3 * S * a as i32;
            root.draw(&Text::new(major.display_name(), (L - 120, y0 + 3 * S / 2), text(16.0, HPos::Right)))?;
            root.draw(&PathElement::new(vec![(L - 108, y0 + 4), (L - 108, y0 + 3 * S - 4)], BLACK.stroke_width(1)))?;
            for (b, minor) in Team::ALL.into_iter().enumerate() {
                root.draw(&Text::new(team(minor), (L - 10, y0 + S * b as i32 + S / 2), text(13.0, HPos::Right)))?;
            }
        }
        // Cells.
        for c in Combination::all() {
            let col = 3 * c.trainer.digit() as i32 + c.final_block.digit() as i32;
            let row = 3 * c.core.digit() as i32 + c.first.digit() as i32;
            let (x0, y0) = (L + col * S, T + row * S);
            let centre = (x0 + S / 2, y0 + S / 2);
            let hatch = |root: &DrawingArea<SVGBackend, plotters::coord::Shift>| -> Result<()> {
                for d in (12..2 * S).step_by(12) {
                    let a = (x0 + (d - S).max(0), y0 + d.min(S));
                    let b = (x0 + d.min(S), y0 + (d - S).max(0));
                    root.draw(&PathElement::new(vec![a, b], RGBColor(200, 200, 200).stroke_width(1)))?;
                }
                Ok(())
            };
            match (c.check(), by_combo.get(&c)) {
                (Err(e), _) => {
                    root.draw(&Rectangle::new([(x0, y0), (x0 + S, y0 + S)], RGBColor(190, 190, 190).filled()))?;
                    let label = match e {
                        prixfixe::combination::Incompatibility::R1 => "R1",
                        prixfixe::combination::Incompatibility::R2 => "R2",
                    };
                    root.draw(&Text::new(label, centre, text(15.0, HPos::Center).color(&RGBColor(90, 90, 90))))?;
                }
                (Ok(()), Some(r)) if r.pearson().is_some() => {
                    let v = r.pearson().unwrap_or_default();
                    let t = scale(v);
                    root.draw(&Rectangle::new([(x0, y0), (x0 + S, y0 + S)], colour(t).filled()))?;
                    let ink = if t < 0.55 { WHITE } else { BLACK };
                    root.draw(&Text::new(format!("{v:.3}"), centre, text(16.0, HPos::Center).color(&ink)))?;
                    if let Some(p) = c.preset() {
                        root.draw(&Text::new(p.display_name(), (centre.0, y0 + S - 10), text(9.0, HPos::Center).color(&ink)))?;
                    }
                }
                (Ok(()), r) => {
                    hatch(&root)?;
                    let note = match r.map(|r| r.status.as_str()) {
                        Some(s) if s.starts_with("failed") => "failed",
                        Some("interrupted") => "stopped",
                        Some("pending") => "pending",
                        _ => "",
                    };
                    root.draw(&Text::new(note, centre, text(11.0, HPos::Center).color(&RGBColor(120, 30, 30))))?;
                }
            }
            root.draw(&Rectangle::new([(x0, y0), (x0 + S, y0 + S)], RGBColor(255, 255, 255).stroke_width(1)))?;
        }
        // Thicker lines between the teams' blocks.
        for k in 0..=3 {
            let p = 3 * S * k;
            root.draw(&PathElement::new(vec![(L + p, T), (L + p, T + 9 * S)], BLACK.stroke_width(2)))?;
            root.draw(&PathElement::new(vec![(L, T + p), (L + 9 * S, T + p)], BLACK.stroke_width(2)))?;
        }
        // Colour scale.
        let (bx, bw) = (L + 9 * S + 40, 22);
        let steps = 100;
        for k in 0..steps {
            let y_top = T + 9 * S * k / steps;
            let y_bottom = T + 9 * S * (k + 1) / steps;
            root.draw(&Rectangle::new([(bx, y_top), (bx + bw, y_bottom + 1)], colour(1.0 - (k as f64 + 0.5) / steps as f64).filled()))?;
        }
        root.draw(&Rectangle::new([(bx, T), (bx + bw, T + 9 * S)], BLACK.stroke_width(1)))?;
        for k in 0..=4 {
            let y = T + 9 * S * k / 4;
            let v = hi - (hi - lo) * k as f64 / 4.0;
            root.draw(&PathElement::new(vec![(bx + bw, y), (bx + bw + 5, y)], BLACK.stroke_width(1)))?;
            root.draw(&Text::new(format!("{v:.3}"), (bx + bw + 8, y), text(11.0, HPos::Left)))?;
        }
        root.draw(&Text::new("Pearson r", (bx + bw / 2, T - 14), text(12.0, HPos::Center)))?;
        root.present()?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combos_list_parses_sorts_and_refuses() {
        let all = parse_combos(&["all".into()]).unwrap();
        assert_eq!(all, Combination::compatible());
        let some = parse_combos(&["0_1_1_0".into(), "dream-cnn".into(), "0110".into()]).unwrap();
        assert_eq!(some, vec![Combination::DREAM_CNN, Combination::DREAM_RNN]);
        let e = parse_combos(&["0_0_0_2".into()]).unwrap_err().to_string();
        assert!(e.contains("R2"), "{e}");
        assert!(parse_combos(&["0_1_3_0".into()]).is_err());
        assert!(parse_combos(&[]).is_err());
    }

    #[test]
    fn heatmap_has_every_cell_kind() {
        let best = EpochMetrics {
            epoch: 1,
            steps: 2,
            train_kl: 1.0,
            val_pearson_r: 0.5,
            val_spearman_rho: 0.4,
            val_mse: 1.0,
            seconds: 1.0,
            tasks: vec![],
        };
        let rows = vec![
            Row { combination: Combination::DREAM_CNN, parameters: Some(1), epochs: 1, best: Some(best), seconds: Some(1.0), status: "ok".into() },
            Row { status: "failed: x".into(), ..Row::pending(Combination::DREAM_RNN) },
        ];
        let svg = heatmap_svg(&rows, "dream-yeast").unwrap();
        for s in ["R1", "R2", "0.500", "failed", "DREAM-CNN", "Pearson r"] {
            assert!(svg.contains(s), "{s}");
        }
        let tsv = table_tsv(&rows);
        assert!(tsv.starts_with("number\tcombination\t"), "{tsv}");
        assert!(tsv.contains("4\t0_1_0_0\tautosome\tbhi\tautosome\tautosome\t1\t1\t1\t0.5000\t0.4000\t1.0\tok\n"), "{tsv}");
        assert_eq!(table_aligned(&rows).lines().count(), 3);
    }
}
