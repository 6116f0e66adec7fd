//! `dream predict`, `dream ism`, `dream evaluate`: thin file handling around the shared
//! predictor (`prixfixe::Predictor`) and challenge scoring (`prixfixe::challenge`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use prixfixe::model::ModelPreset;

use burn::tensor::backend::{AutodiffBackend, Backend};
use prixfixe::predictor::{plan_ism, IsmPlan, Strands, VariantEffect};
use prixfixe::Predictor;

use crate::model_io::{load_predictor, load_predictor_for_task_on, load_predictor_with_dataset};
use crate::training::{on_device, write_atomic, TrainJob};
use crate::{DeviceKind, IsmMethod};

pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = read(path)?;
    String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8 text", path.display()))
}

/// Fails early when `output`'s directory does not exist (before minutes of prediction).
pub(crate) fn check_output(output: &Path) -> Result<()> {
    let dir = output.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!("--output {}: directory {} does not exist", output.display(), dir.display());
    }
    if output.is_dir() {
        bail!("--output {} is a directory; give a file name", output.display());
    }
    Ok(())
}

/// `--strands`: how each row is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum StrandsArg {
    /// Mean of the row as given (is_reverse from its id where the dataset says so, else 0) and
    /// its reverse complement with the flag flipped.
    #[default]
    Both,
    /// One pass per row with the row's own is_reverse, as the reference benchmark notebooks.
    AsIs,
}

impl From<StrandsArg> for Strands {
    fn from(s: StrandsArg) -> Self {
        match s {
            StrandsArg::Both => Strands::Both,
            StrandsArg::AsIs => Strands::AsIs,
        }
    }
}

/// `dream predict` on `device` (its backend without autodiff).
pub fn predict(model: &Path, combo: Option<prixfixe::combination::Combination>, input: &Path, output: &Path, batch_size: usize, strands: StrandsArg, device: DeviceKind) -> Result<()> {
    if batch_size == 0 {
        bail!("--batch-size must be positive");
    }
    check_output(output)?;
    struct Job<'a>(&'a Path, Option<prixfixe::combination::Combination>, &'a Path, &'a Path, usize, StrandsArg);
    impl TrainJob for Job<'_> {
        type Output = ();
        fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
            predict_on::<B::InnerBackend>(self.0, self.1, self.2, self.3, self.4, self.5, &device)
        }
    }
    on_device(device, Job(model, combo, input, output, batch_size, strands))
}

fn predict_on<B: Backend>(model: &Path, combo: Option<prixfixe::combination::Combination>, input: &Path, output: &Path, batch_size: usize, strands: StrandsArg, device: &B::Device) -> Result<()> {
    let (predictor, dataset) = crate::model_io::load_predictor_with_combination_on::<B>(model, combo, device)?;
    let predictor = predictor.with_batch_size(batch_size);
    let name = input.display().to_string();
    let bytes = read(input)?;
    let legacy = dataset.name == "dream-yeast" && dataset.loss == prixfixe::dataset::Loss::SoftBins;
    // A table in the model's own dataset format (e.g. a DeepSTARR or lentiMPRA file, or the
    // user's CSV): its sequence and id columns; otherwise FASTA / TSV / one sequence per line.
    let file = if !legacy && dataset.is_own_table(&bytes) {
        let rows = dataset.read_sequences(&name, bytes.as_slice())?;
        prixfixe::seqio::SequenceFile {
            format: prixfixe::seqio::SequenceFormat::Tsv,
            header: None,
            sequence_column: 0,
            id_column: None,
            records: rows.into_iter().map(|(id, sequence, line)| prixfixe::seqio::SequenceRecord { id, sequence, line, extra: Vec::new() }).collect(),
        }
    } else {
        prixfixe::seqio::read_sequence_file(&name, &bytes)?
    };
    let seqs: Vec<&str> = file.records.iter().map(|r| r.sequence.as_str()).collect();
    let processor = predictor.processor();
    // The BHI and UnlockDNA DataProcessors keep the adapter and read no plasmid window.
    if !processor.is_exact() && processor.scheme() == prixfixe::data::Scheme::Autosome {
        let adapter = prixfixe::data::ADAPTER_5P;
        let window = processor.seq_len() + processor.adapter_len();
        let challenge_form = |s: &&&str| processor.input_form(s.len()) == prixfixe::data::InputForm::Challenge;
        let no_adapter =
            seqs.iter().filter(challenge_form).filter(|s| !s.to_ascii_uppercase().starts_with(adapter)).count();
        let too_long = seqs.iter().filter(|s| s.len() > window).count();
        if no_adapter > 0 {
            eprintln!(
                "warning: {no_adapter} of {} sequences do not start with the DREAM 5' adapter {adapter}; the DataProcessor replaces the first 17 bp of every sequence (other than an 80 bp random region or a 150 bp window) by plasmid sequence, whatever they are",
                seqs.len()
            );
        }
        if too_long > 0 {
            eprintln!("warning: {too_long} sequences are longer than {window} bp; only their last 150 bp after the adapter reach the model");
        }
    }
    // is_reverse from the id where the dataset reads it so (benchmarks); 0 otherwise.
    let flags: Vec<bool> = file.records.iter().map(|r| dataset.id_is_reverse(&r.id)).collect();
    let t0 = Instant::now();
    let preds = predict_with_progress(&predictor, &seqs, Some(&flags), strands.into(), |i| {
        let line = file.records[i].line;
        format!("{name}:{line}")
    })?;
    let mut out = String::new();
    if legacy {
        // DREAM: the user's columns are kept (TSV) and `prediction` comes last; always an id.
        // Ragged TSV rows are padded with empty fields so every output row has every column.
        let n_extra = file.records.iter().map(|r| r.extra.len()).max().unwrap_or(0);
        let mut columns: Vec<String> = match file.extra_header() {
            Some(h) => h.iter().map(|s| s.to_string()).collect(),
            None => (0..n_extra).map(|i| format!("column{}", i + 2)).collect(),
        };
        while columns.len() < n_extra {
            columns.push(format!("column{}", columns.len() + 2));
        }
        let add_id = file.id_column.is_none();
        if add_id {
            columns.insert(0, "id".into());
        }
        columns.push("prediction".into());
        out.push_str(&columns.join("\t"));
        out.push('\n');
        for (r, p) in file.records.iter().zip(&preds) {
            let mut fields: Vec<&str> = r.extra.iter().map(String::as_str).collect();
            fields.resize(columns.len() - 1 - usize::from(add_id), "");
            if add_id {
                fields.insert(0, &r.id);
            }
            out.push_str(&fields.join("\t"));
            let _ = writeln!(out, "\t{:.6}", p.expression);
        }
    } else {
        // Other datasets: the id, then one column per output, named as the dataset's targets.
        let names = dataset.output_names();
        out.push_str(&format!("id\t{}\n", names.join("\t")));
        for (r, p) in file.records.iter().zip(&preds) {
            out.push_str(&r.id.replace(['\t', '\n'], " "));
            // Shortest text that reads back as the same f32: untrained or small-scale
            // regression outputs keep their digits.
            for v in &p.outputs {
                let _ = write!(out, "\t{v}");
            }
            out.push('\n');
        }
    }
    write_atomic(output, out.as_bytes())?;
    eprintln!(
        "{} sequences predicted in {:.1} s ({}; {}) -> {}",
        preds.len(),
        t0.elapsed().as_secs_f64(),
        match strands {
            StrandsArg::Both => "mean of each sequence and its reverse complement",
            StrandsArg::AsIs => "one pass per row with its own is_reverse",
        },
        if legacy { "expression bins 0–17".to_string() } else { dataset.output_names().join(", ") },
        output.display()
    );
    Ok(())
}

/// Predicts in chunks with a progress bar (shown on a terminal only); `locate(i)` names record
/// `i` (0-based) in error messages; `flags`: each record's is_reverse.
pub(crate) fn predict_with_progress<B: Backend>(
    predictor: &prixfixe::Predictor<B>,
    seqs: &[&str],
    flags: Option<&[bool]>,
    strands: Strands,
    locate: impl Fn(usize) -> String,
) -> Result<Vec<prixfixe::predictor::Prediction>> {
    const CHUNK: usize = 4096;
    let pb = indicatif::ProgressBar::new(seqs.len() as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template("predict [{bar:30}] {pos}/{len} seq  {per_sec}  ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    if seqs.len() <= CHUNK {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut preds = Vec::with_capacity(seqs.len());
    for (c, chunk) in seqs.chunks(CHUNK).enumerate() {
        let padded = predictor.prepare(chunk).map_err(|e| {
            pb.abandon();
            anyhow::anyhow!("{}: {}", locate(c * CHUNK + e.index - 1), e.error)
        })?;
        let f = flags.map(|f| &f[c * CHUNK..c * CHUNK + chunk.len()]);
        preds.extend(predictor.predict_padded_flagged(&padded, f, strands));
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    Ok(preds)
}

/// `--region FROM-TO`, read as the page reads its region fields (`prixfixe::predictor::parse_region`).
pub(crate) fn parse_region(region: &str) -> Result<(usize, usize)> {
    match prixfixe::predictor::parse_region(region) {
        Ok(Some(r)) => Ok(r),
        Ok(None) => bail!("--region is empty: expected FROM-TO, e.g. 18-97"),
        Err(e) => bail!("--{e}"),
    }
}

/// Where `dream ism` takes its sequence from.
pub enum IsmSource {
    /// `--sequence SEQ`.
    Sequence(String),
    /// `--input FILE [--id ID]`.
    File { path: std::path::PathBuf, id: Option<String> },
}

/// The one sequence of `--sequence` or `--input FILE [--id ID]`; `what` names the command.
pub(crate) fn sequence_from(source: &IsmSource, what: &str) -> Result<String> {
    match source {
        IsmSource::Sequence(s) => Ok(s.clone()),
        IsmSource::File { path, id } => {
            let name = path.display().to_string();
            let file = prixfixe::seqio::read_sequence_file(&name, &read(path)?)?;
            let record = match id {
                Some(id) => file.records.iter().find(|r| &r.id == id).with_context(|| format!("{name}: no sequence with id {id:?}"))?,
                None if file.records.len() == 1 => &file.records[0],
                None => bail!("{name} holds {} sequences; {what} takes one: choose it with --id", file.records.len()),
            };
            eprintln!("{what} of {:?} ({name}:{})", record.id, record.line);
            Ok(record.sequence.clone())
        }
    }
}

/// `dream ism` on `device`: the exact scan on its backend without autodiff, Taylor ISM with it.
#[allow(clippy::too_many_arguments)]
pub fn ism(model: &Path, arch: Option<ModelPreset>, task: Option<&str>, source: &IsmSource, region: Option<&str>, method: IsmMethod, output: &Path, attribution: Option<&Path>, logo: Option<&Path>, device: DeviceKind) -> Result<()> {
    check_output(output)?;
    for extra in [attribution, logo].into_iter().flatten() {
        check_output(extra)?;
    }
    let sequence = &sequence_from(source, "ISM")?;
    struct Job<'a>(&'a Path, Option<ModelPreset>, Option<&'a str>, &'a str, Option<&'a str>, IsmMethod);
    impl TrainJob for Job<'_> {
        type Output = (f32, Vec<VariantEffect>);
        fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Self::Output> {
            let Job(model, arch, task, sequence, region, method) = self;
            match method {
                IsmMethod::Exact => {
                    let p = load_predictor_for_task_on::<B::InnerBackend>(model, arch, task, &device)?;
                    scan_with(&p, sequence, region, Predictor::scan)
                }
                IsmMethod::Taylor => {
                    let p = load_predictor_for_task_on::<B>(model, arch, task, &device)?;
                    eprintln!("note: Taylor ISM is a first-order approximation (gradient × substitution); use --method exact for the model's effects");
                    scan_with(&p, sequence, region, prixfixe::taylor::taylor_ism)
                }
            }
        }
    }
    let t0 = Instant::now();
    let (reference, effects) = on_device(device, Job(model, arch, task, sequence, region, method))?;
    let out = prixfixe::predictor::ism_table(&effects, '\t');
    write_atomic(output, out.as_bytes())?;
    if attribution.is_some() || logo.is_some() {
        let track = prixfixe::attribution::ism_attribution(&effects);
        if let Some(path) = attribution {
            write_atomic(path, prixfixe::attribution::attribution_table(&track, '\t').as_bytes())?;
        }
        if let Some(path) = logo {
            write_atomic(path, prixfixe::attribution::logo_svg(&track, "ISM").as_bytes())?;
        }
    }
    eprintln!("reference prediction {reference:.4}; {} SNVs ({}) in {:.2} s -> {}", effects.len(), method_name(method), t0.elapsed().as_secs_f64(), output.display());
    let (gains, losses) = prixfixe::predictor::top_effects(&effects, 5);
    for (label, list) in [("top gains", gains), ("top losses", losses)] {
        let items: Vec<String> = list
            .iter()
            .map(|e| format!("{}{}>{} {:+.3}", e.variant.position, e.variant.reference, e.variant.alternative, e.delta))
            .collect();
        eprintln!("{label}: {}", if items.is_empty() { "none".to_string() } else { items.join(", ") });
    }
    Ok(())
}

fn method_name(method: IsmMethod) -> &'static str {
    match method {
        IsmMethod::Exact => "exact",
        IsmMethod::Taylor => "Taylor approximation",
    }
}

/// Plans the scan of `sequence` (`region` as `dream ism` reads it) for `predictor` and scores it
/// with `score` (the exact scan or Taylor ISM).
fn scan_with<B: Backend>(
    predictor: &Predictor<B>,
    sequence: &str,
    region: Option<&str>,
    score: impl Fn(&Predictor<B>, &IsmPlan) -> (f32, Vec<VariantEffect>),
) -> Result<(f32, Vec<VariantEffect>)> {
    let range = region.map(parse_region).transpose()?;
    let len = prixfixe::data::parse_bases(sequence).map_err(|e| anyhow::anyhow!("--sequence: {e}"))?.len();
    if let Some((a, b)) = range {
        if b > len {
            bail!("--region {a}-{b} ends past the sequence ({len} bp)");
        }
    }
    let processor = predictor.processor();
    if len > processor.seq_len() + processor.adapter_len() {
        eprintln!(
            "note: only the last {} bp of this {len} bp sequence reach the model; variants at positions 1-{} have no effect",
            processor.seq_len(),
            len - processor.seq_len()
        );
    }
    let plan = plan_ism(processor, sequence, range).map_err(|e| anyhow::anyhow!("--sequence: {e}"))?;
    Ok(score(predictor, &plan))
}

/// `dream evaluate --data T.tsv`: per-task Pearson r, Spearman ρ and MSE of the model on a
/// labelled table in its dataset's format.
pub fn evaluate_table(model: &Path, arch: Option<ModelPreset>, data: &Path, json: Option<&Path>, strands: StrandsArg, skip_missing_targets: bool) -> Result<()> {
    if let Some(j) = json {
        check_output(j)?;
    }
    let (predictor, dataset) = load_predictor_with_dataset(model, arch)?;
    let table = crate::training::load_table(data, &dataset, skip_missing_targets)?;
    let n = table.len();
    let padded: Vec<Vec<u8>> = (0..n).map(|i| table.set.sequences.get(i)).collect();
    let t0 = Instant::now();
    let preds = predictor.predict_padded_flagged(&padded, Some(&table.set.is_reverse), strands.into());
    let p: Vec<f64> = preds.iter().flat_map(|p| p.outputs.iter().map(|&v| v as f64)).collect();
    let y: Vec<f64> = table.set.targets.iter().map(|&v| v as f64).collect();
    let names = dataset.output_names();
    let tasks = crate::training::task_metrics(&p, &y, &names);
    eprintln!("{n} rows of {} predicted in {:.1} s", data.display(), t0.elapsed().as_secs_f64());
    println!("| task | n | Pearson r | Spearman ρ | MSE |\n|---|---|---|---|---|");
    for t in &tasks {
        println!("| {} | {n} | {:.4} | {:.4} | {:.4} |", t.name, t.pearson_r, t.spearman_rho, t.mse);
    }
    if let Some(j) = json {
        let report = serde_json::json!({
            "data": data.display().to_string(),
            "dataset": dataset.name,
            "strands": match strands { StrandsArg::Both => "both", StrandsArg::AsIs => "as-is" },
            "tasks": tasks.iter().map(|t| serde_json::json!({
                "name": t.name, "n": n, "pearson_r": t.pearson_r, "spearman_rho": t.spearman_rho, "mse": t.mse })).collect::<Vec<_>>(),
        });
        write_atomic(j, &serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(())
}

/// `dream evaluate`.
pub fn evaluate(
    model: &Path,
    arch: Option<ModelPreset>,
    test: &Path,
    labels: &Path,
    pairs: Option<&Path>,
    json: Option<&Path>,
) -> Result<()> {
    use prixfixe::challenge;
    let predictor = load_predictor(model, arch)?;
    let test_set = challenge::parse_test_sequences(&read_text(test)?)
        .with_context(|| format!("{} (--test: expected columns pos, subset, tag, sequence)", test.display()))?;
    let labels_name = labels.display().to_string();
    let labels = challenge::parse_labels(&read_text(labels)?)
        .with_context(|| format!("{labels_name} (--labels: expected columns pos, expression)"))?;
    let pairs = match pairs {
        Some(p) => challenge::parse_pairs(&read_text(p)?)
            .with_context(|| format!("{} (--pairs: expected columns subset, alt_pos, ref_pos)", p.display()))?,
        None => Vec::new(),
    };
    // Only labelled sequences (and pair ends) enter the scores: predict just those.
    let items: Vec<(u64, &str)> = test_set.sequences().into_iter().filter(|(pos, _)| labels.contains_key(pos)).collect();
    if items.is_empty() {
        bail!("{}: none of the {} test sequences has a label in {}; nothing to score", test.display(), test_set.len(), labels_name);
    }
    let seqs: Vec<&str> = items.iter().map(|(_, s)| *s).collect();
    let t0 = Instant::now();
    let preds = predict_with_progress(&predictor, &seqs, None, Strands::Both, |i| format!("{}: test sequence pos {}", test.display(), items[i].0))?;
    let predictions: HashMap<u64, f64> = items.iter().zip(&preds).map(|((pos, _), p)| (*pos, p.expression as f64)).collect();
    eprintln!("{} test sequences predicted in {:.1} s", preds.len(), t0.elapsed().as_secs_f64());
    if pairs.is_empty() {
        eprintln!("note: no --pairs file: the pair subsets (SNVs, motif perturbation, motif tiling) are not scored");
    }
    let report = challenge::score(&test_set, &pairs, &labels, &predictions);
    println!("{}", report.to_markdown());
    if let Some(j) = json {
        write_atomic(j, &serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(())
}
