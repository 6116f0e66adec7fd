//! DREAM Challenge scoring (Rafi et al., Table 2): per-subset Pearson r² and Spearman ρ, pair
//! subsets scored on alt−ref differences, and the weighted Pearson / Spearman Scores.
//!
//! # Inputs (tab-separated, header required, columns found by name)
//! - test sequences ([`parse_test_sequences`]): `pos subset tag sequence` (`tag` optional).
//!   A `pos` may appear on several rows (one per subset); it must always carry the same sequence.
//! - pairs ([`parse_pairs`]): `subset alt_pos ref_pos alt_tag ref_tag` (tags optional).
//! - labels ([`parse_labels`]): `pos expression`.
//!
//! Lines may end in `\n` or `\r\n`; blank lines are skipped; a trailing newline is fine; fields
//! are trimmed of surrounding spaces; extra columns are ignored. Line numbers in
//! [`ChallengeError`] are 1-based physical lines of the input (the header is line 1 when the
//! input does not start with blank lines).
//!
//! # Scoring ([`score`])
//! For each of the nine subsets of [`SUBSET_WEIGHTS`]:
//! - `all`: every test sequence (unique `pos` of the test set) that has a label;
//! - single-sequence subsets (`high`, `low`, `native`, `random`, `challenging`): the rows of that
//!   subset (each `pos` once) whose `pos` has a label; metric between prediction and label;
//! - pair subsets ([`PAIR_SUBSETS`]: `snv`, `motif_perturbation`, `motif_tiling`): the pairs of
//!   that subset whose alt and ref both have a label; metric between predicted (alt − ref) and
//!   measured (alt − ref).
//!
//! Points whose prediction is absent or not finite are left out (and counted in
//! [`Report::unpredicted`]); labels that are not finite are treated as absent.
//!
//! A subset is **present** when both its Pearson r² and Spearman ρ are defined. It is
//! **missing** when it has no usable point, or when a metric is undefined (fewer than 2 points,
//! or constant predictions or measurements: see [`crate::metrics`]); a missing subset adds
//! nothing to the scores.
//!
//! ```text
//! pearson_score             = Σ_{s present} w_s · r²_s
//! spearman_score            = Σ_{s present} w_s · ρ_s
//! weight_present            = Σ_{s present} w_s
//! weight_total              = Σ_{all 9 subsets} w_s            (= 4.65)
//! pearson_score_normalised  = pearson_score  / weight_present × weight_total
//! spearman_score_normalised = spearman_score / weight_present × weight_total
//! ```
//! (both normalised scores are 0 when no subset is present). With every subset present the
//! normalised score equals the raw one, i.e. the challenge's Pearson / Spearman Score; with
//! subsets missing (the public labels lack some), it rescales the weighted mean over the present
//! subsets to the challenge's scale. It is an estimate, not the official score.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::metrics;

/// The nine scored subsets and their weights (paper, Table 2), in canonical order.
pub const SUBSET_WEIGHTS: [(&str, f64); 9] = [
    ("all", 1.0),
    ("high", 0.3),
    ("low", 0.3),
    ("native", 0.3),
    ("random", 0.3),
    ("challenging", 0.5),
    ("snv", 1.25),
    ("motif_perturbation", 0.3),
    ("motif_tiling", 0.4),
];

/// Subsets scored on alt − ref differences of [`Pair`]s.
pub const PAIR_SUBSETS: [&str; 3] = ["snv", "motif_perturbation", "motif_tiling"];

/// Sum of all nine weights of [`SUBSET_WEIGHTS`] (4.65).
pub fn total_weight() -> f64 {
    SUBSET_WEIGHTS.iter().map(|(_, w)| w).sum()
}

/// Weight of a subset, by canonical name (see [`canonical_subset`]).
pub fn subset_weight(name: &str) -> Option<f64> {
    let name = canonical_subset(name);
    SUBSET_WEIGHTS.iter().find(|(n, _)| *n == name).map(|&(_, w)| w)
}

/// Canonical subset name: trimmed, lower-case, spaces and hyphens turned into `_`, and the SNV
/// spellings (`SNVs`, `snvs`, `SNV`) mapped to `snv`. Unknown names are returned in that form.
pub fn canonical_subset(name: &str) -> String {
    let s: String = name
        .trim()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c.to_ascii_lowercase() })
        .collect();
    match s.as_str() {
        "snvs" => "snv".to_string(),
        _ => s,
    }
}

/// A malformed input file. `line` is 1-based (header = line 1); `column` is the header name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChallengeError {
    /// The input has no non-blank line, hence no header.
    #[error("empty input: no header line")]
    NoHeader,
    /// The header lacks a required column.
    #[error("line {line}: header lacks required column `{column}`")]
    MissingColumn { line: usize, column: &'static str },
    /// A row has too few fields to reach a required column.
    #[error("line {line}, column `{column}`: value missing (row has {found} fields)")]
    MissingField { line: usize, column: &'static str, found: usize },
    /// A required value is empty.
    #[error("line {line}, column `{column}`: empty value")]
    EmptyField { line: usize, column: &'static str },
    /// A value does not parse as the expected number.
    #[error("line {line}, column `{column}`: `{value}` is not {expected}")]
    BadNumber { line: usize, column: &'static str, value: String, expected: &'static str },
    /// A number parses but is NaN or infinite.
    #[error("line {line}, column `{column}`: `{value}` is not finite")]
    NotFinite { line: usize, column: &'static str, value: String },
    /// A `pos` already seen with a different sequence.
    #[error("line {line}, column `pos`: pos {pos} has a different sequence than on line {first_line}")]
    ConflictingSequence { line: usize, pos: u64, first_line: usize },
    /// A `pos` labelled twice.
    #[error("line {line}, column `pos`: pos {pos} is already labelled on line {first_line}")]
    DuplicateLabel { line: usize, pos: u64, first_line: usize },
}

/// One row of the test-sequence table (the sequence itself is kept once per `pos` in
/// [`TestSet`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestRow {
    pub pos: u64,
    /// Canonical subset name ([`canonical_subset`]).
    pub subset: String,
    /// `tag` column ("" when the column is absent).
    pub tag: String,
}

/// The parsed test-sequence table: rows (pos, subset, tag) and each `pos`'s sequence once.
#[derive(Debug, Clone, Default)]
pub struct TestSet {
    rows: Vec<TestRow>,
    seqs: Vec<(u64, String)>,
    index: HashMap<u64, usize>,
}

impl TestSet {
    /// All rows, in file order (a `pos` may appear in several subsets).
    pub fn rows(&self) -> &[TestRow] {
        &self.rows
    }

    /// The unique `(pos, sequence)` list to predict: each `pos` once, in first-seen order.
    pub fn sequences(&self) -> Vec<(u64, &str)> {
        self.seqs.iter().map(|(p, s)| (*p, s.as_str())).collect()
    }

    /// The sequence of `pos`, if it is in the test set.
    pub fn sequence(&self, pos: u64) -> Option<&str> {
        self.index.get(&pos).map(|&i| self.seqs[i].1.as_str())
    }

    /// Number of unique sequences (`pos`).
    pub fn len(&self) -> usize {
        self.seqs.len()
    }

    /// True when there is no sequence.
    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }

    /// Distinct subset names (canonical), in first-seen order.
    pub fn subsets(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.rows
            .iter()
            .filter(|r| seen.insert(r.subset.as_str()))
            .map(|r| r.subset.as_str())
            .collect()
    }

    /// The `pos` of a subset's rows (each once, file order); the name is canonicalised.
    pub fn subset_positions(&self, subset: &str) -> Vec<u64> {
        let subset = canonical_subset(subset);
        let mut seen = HashSet::new();
        self.rows
            .iter()
            .filter(|r| r.subset == subset && seen.insert(r.pos))
            .map(|r| r.pos)
            .collect()
    }
}

/// A pair scored on the alt − ref difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pair {
    /// Canonical subset name ([`canonical_subset`]).
    pub subset: String,
    pub alt_pos: u64,
    pub ref_pos: u64,
    /// "" when the column is absent.
    pub alt_tag: String,
    /// "" when the column is absent.
    pub ref_tag: String,
}

// ---------------------------------------------------------------------------------------------
// TSV reading

struct Tsv<'a> {
    /// Column index for each requested name (None: optional column absent).
    cols: Vec<Option<usize>>,
    names: Vec<&'static str>,
    /// (1-based line number, fields)
    rows: Vec<(usize, Vec<&'a str>)>,
}

impl<'a> Tsv<'a> {
    fn parse(
        text: &'a str,
        required: &[&'static str],
        optional: &[&'static str],
    ) -> Result<Self, ChallengeError> {
        let mut lines = text
            .split('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
            .filter(|(_, l)| !l.trim().is_empty());
        let (header_line, header) = lines.next().ok_or(ChallengeError::NoHeader)?;
        let header = header.strip_prefix('\u{feff}').unwrap_or(header);
        let header: Vec<&str> = header.split('\t').map(str::trim).collect();
        let find = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
        let mut cols = Vec::new();
        let mut names = Vec::new();
        for &name in required {
            let c = find(name)
                .ok_or(ChallengeError::MissingColumn { line: header_line, column: name })?;
            cols.push(Some(c));
            names.push(name);
        }
        for &name in optional {
            cols.push(find(name));
            names.push(name);
        }
        let rows = lines.map(|(n, l)| (n, l.split('\t').map(str::trim).collect())).collect();
        Ok(Tsv { cols, names, rows })
    }

    /// Field `k` (index into required ++ optional) of a row; required fields must be non-empty.
    fn get(&self, row: &(usize, Vec<&'a str>), k: usize) -> Result<&'a str, ChallengeError> {
        let (line, fields) = row;
        let column = self.names[k];
        match self.cols[k] {
            None => Ok(""),
            Some(c) => match fields.get(c) {
                Some(v) if !v.is_empty() => Ok(v),
                Some(_) => Err(ChallengeError::EmptyField { line: *line, column }),
                None => {
                    Err(ChallengeError::MissingField { line: *line, column, found: fields.len() })
                }
            },
        }
    }

    /// Like [`Tsv::get`], but an empty or missing optional field is "".
    fn get_opt(&self, row: &(usize, Vec<&'a str>), k: usize) -> &'a str {
        self.cols[k].and_then(|c| row.1.get(c).copied()).unwrap_or("")
    }
}

fn short(v: &str) -> String {
    if v.chars().count() > 40 {
        let s: String = v.chars().take(40).collect();
        format!("{s}…")
    } else {
        v.to_string()
    }
}

fn parse_pos(v: &str, line: usize, column: &'static str) -> Result<u64, ChallengeError> {
    v.parse::<u64>().map_err(|_| ChallengeError::BadNumber {
        line,
        column,
        value: short(v),
        expected: "a non-negative integer",
    })
}

fn parse_value(v: &str, line: usize, column: &'static str) -> Result<f64, ChallengeError> {
    let x = v.parse::<f64>().map_err(|_| ChallengeError::BadNumber {
        line,
        column,
        value: short(v),
        expected: "a number",
    })?;
    if x.is_finite() {
        Ok(x)
    } else {
        Err(ChallengeError::NotFinite { line, column, value: short(v) })
    }
}

/// Parses `test_sequences.tsv` (`pos subset tag sequence`; `tag` optional, other columns
/// required; any column order). Subset names are canonicalised ([`canonical_subset`]).
///
/// # Errors
/// [`ChallengeError`] for an absent header or required column, a missing / empty field, a `pos`
/// that is not a non-negative integer, or a `pos` given two different sequences.
pub fn parse_test_sequences(text: &str) -> Result<TestSet, ChallengeError> {
    let t = Tsv::parse(text, &["pos", "subset", "sequence"], &["tag"])?;
    let mut set = TestSet::default();
    let mut first_line: HashMap<u64, usize> = HashMap::new();
    for row in &t.rows {
        let line = row.0;
        let pos = parse_pos(t.get(row, 0)?, line, "pos")?;
        let subset = canonical_subset(t.get(row, 1)?);
        let sequence = t.get(row, 2)?;
        let tag = t.get_opt(row, 3).to_string();
        match set.index.get(&pos) {
            Some(&i) => {
                if set.seqs[i].1 != sequence {
                    return Err(ChallengeError::ConflictingSequence {
                        line,
                        pos,
                        first_line: first_line[&pos],
                    });
                }
            }
            None => {
                set.index.insert(pos, set.seqs.len());
                set.seqs.push((pos, sequence.to_string()));
                first_line.insert(pos, line);
            }
        }
        set.rows.push(TestRow { pos, subset, tag });
    }
    Ok(set)
}

/// Parses `test_pairs.tsv` (`subset alt_pos ref_pos alt_tag ref_tag`; tags optional). Subset
/// names are canonicalised ([`canonical_subset`]).
///
/// # Errors
/// [`ChallengeError`] for an absent header or required column, a missing / empty field, or a
/// position that is not a non-negative integer.
pub fn parse_pairs(text: &str) -> Result<Vec<Pair>, ChallengeError> {
    let t = Tsv::parse(text, &["subset", "alt_pos", "ref_pos"], &["alt_tag", "ref_tag"])?;
    t.rows
        .iter()
        .map(|row| {
            let line = row.0;
            Ok(Pair {
                subset: canonical_subset(t.get(row, 0)?),
                alt_pos: parse_pos(t.get(row, 1)?, line, "alt_pos")?,
                ref_pos: parse_pos(t.get(row, 2)?, line, "ref_pos")?,
                alt_tag: t.get_opt(row, 3).to_string(),
                ref_tag: t.get_opt(row, 4).to_string(),
            })
        })
        .collect()
}

/// Parses `test_labels_public.tsv` (`pos expression`) into pos → expression.
///
/// # Errors
/// [`ChallengeError`] for an absent header or required column, a missing / empty field, a `pos`
/// that is not a non-negative integer, an expression that is not a number or not finite (NaN,
/// inf), or a `pos` labelled twice.
pub fn parse_labels(text: &str) -> Result<HashMap<u64, f64>, ChallengeError> {
    let t = Tsv::parse(text, &["pos", "expression"], &[])?;
    let mut labels = HashMap::with_capacity(t.rows.len());
    let mut first_line: HashMap<u64, usize> = HashMap::with_capacity(t.rows.len());
    for row in &t.rows {
        let line = row.0;
        let pos = parse_pos(t.get(row, 0)?, line, "pos")?;
        let value = parse_value(t.get(row, 1)?, line, "expression")?;
        if let Some(&first) = first_line.get(&pos) {
            return Err(ChallengeError::DuplicateLabel { line, pos, first_line: first });
        }
        first_line.insert(pos, line);
        labels.insert(pos, value);
    }
    Ok(labels)
}

// ---------------------------------------------------------------------------------------------
// Scoring

/// Score of one subset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubsetScore {
    /// Canonical name (one of [`SUBSET_WEIGHTS`]).
    pub name: String,
    /// Points used: labelled sequences with a prediction, or pairs (both ends labelled and
    /// predicted) for a pair subset.
    pub n: usize,
    /// Pearson r (signed: a negative r still gives a positive r²); None when undefined.
    pub pearson_r: Option<f64>,
    /// Pearson r²; None when undefined (n < 2 or constant values).
    pub pearson_r2: Option<f64>,
    /// Spearman ρ (average ranks for ties); None when undefined.
    pub spearman: Option<f64>,
    /// Challenge weight.
    pub weight: f64,
    /// Scored on alt − ref differences of pairs.
    pub is_pair: bool,
}

impl SubsetScore {
    /// Both metrics defined: the subset counts in the scores.
    pub fn is_present(&self) -> bool {
        self.pearson_r2.is_some() && self.spearman.is_some()
    }
}

/// Challenge scores. See the module documentation for the definitions.
///
/// - `pearson_score` = Σ over present subsets of weight · r² (raw, not normalised);
/// - `spearman_score` = Σ over present subsets of weight · ρ;
/// - `weight_present` = Σ of the weights of the present subsets;
/// - `weight_total` = Σ of all nine weights (4.65);
/// - `*_normalised` = raw score / `weight_present` × `weight_total` (0 when nothing is present).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The nine subsets, in [`SUBSET_WEIGHTS`] order (missing ones included, with n and None).
    pub subsets: Vec<SubsetScore>,
    /// Names of the subsets left out of the scores (no usable point or undefined metric).
    pub missing: Vec<String>,
    /// Σ_{present} w · r².
    pub pearson_score: f64,
    /// Σ_{present} w · ρ.
    pub spearman_score: f64,
    /// `pearson_score / weight_present × weight_total` (0 when `weight_present` is 0).
    pub pearson_score_normalised: f64,
    /// `spearman_score / weight_present × weight_total` (0 when `weight_present` is 0).
    pub spearman_score_normalised: f64,
    /// Σ of the weights of the present subsets.
    pub weight_present: f64,
    /// Σ of all nine weights (4.65).
    pub weight_total: f64,
    /// Labelled `pos` that a subset needed but that had no finite prediction (left out).
    pub unpredicted: usize,
    /// Subset names of the inputs that are not scored: test rows of an unknown subset, and
    /// pairs whose subset is not a pair subset (written `pairs:<name>`).
    pub ignored_subsets: Vec<String>,
}

impl Report {
    /// The score of a subset by name (canonicalised).
    pub fn subset(&self, name: &str) -> Option<&SubsetScore> {
        let name = canonical_subset(name);
        self.subsets.iter().find(|s| s.name == name)
    }

    /// A Markdown table `| subset | n | Pearson r | Pearson r² | Spearman ρ | weight |` followed by the
    /// scores, the missing subsets and the normalisation.
    pub fn to_markdown(&self) -> String {
        let fmt = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.4}"));
        let mut s = String::new();
        s.push_str("| subset | n | Pearson r | Pearson r² | Spearman ρ | weight |\n");
        s.push_str("|---|---:|---:|---:|---:|---:|\n");
        for sub in &self.subsets {
            let name = if sub.is_pair { format!("{} (pairs)", sub.name) } else { sub.name.clone() };
            let _ = writeln!(
                s,
                "| {name} | {} | {} | {} | {} | {:.2} |",
                sub.n,
                fmt(sub.pearson_r),
                fmt(sub.pearson_r2),
                fmt(sub.spearman),
                sub.weight
            );
        }
        s.push('\n');
        let _ = writeln!(
            s,
            "Pearson Score (Σ w·r² over present subsets): {:.4}  ",
            self.pearson_score
        );
        let _ = writeln!(
            s,
            "Spearman Score (Σ w·ρ over present subsets): {:.4}  ",
            self.spearman_score
        );
        let missing =
            if self.missing.is_empty() { "none".to_string() } else { self.missing.join(", ") };
        let _ = writeln!(s, "Missing subsets (no usable labelled point or undefined metric): {missing}  ");
        let _ = writeln!(
            s,
            "Normalised = score / weight_present ({:.2}) × weight_total ({:.2}): \
             Pearson {:.4}, Spearman {:.4}  ",
            self.weight_present,
            self.weight_total,
            self.pearson_score_normalised,
            self.spearman_score_normalised
        );
        s.push_str("Pair subsets are scored on predicted vs measured alt − ref differences.  \n");
        if self.unpredicted > 0 {
            let _ = writeln!(
                s,
                "Warning: {} labelled sequences had no finite prediction and were left out.  ",
                self.unpredicted
            );
        }
        if !self.ignored_subsets.is_empty() {
            let _ = writeln!(s, "Ignored subsets: {}  ", self.ignored_subsets.join(", "));
        }
        s
    }
}

/// Scores predictions (pos → predicted expression) against labels (pos → measured expression)
/// on the test set and pairs; see the module documentation for the subsets, the missing-subset
/// rule and the normalisation.
pub fn score(
    test: &TestSet,
    pairs: &[Pair],
    labels: &HashMap<u64, f64>,
    predictions: &HashMap<u64, f64>,
) -> Report {
    let label = |pos: u64| labels.get(&pos).copied().filter(|v| v.is_finite());
    let pred = |pos: u64| predictions.get(&pos).copied().filter(|v| v.is_finite());
    let mut unpredicted: BTreeSet<u64> = BTreeSet::new();
    let mut single = |positions: &mut dyn Iterator<Item = u64>| {
        let (mut p, mut m) = (Vec::new(), Vec::new());
        for pos in positions {
            if let Some(y) = label(pos) {
                match pred(pos) {
                    Some(x) => {
                        p.push(x);
                        m.push(y);
                    }
                    None => {
                        unpredicted.insert(pos);
                    }
                }
            }
        }
        (p, m)
    };

    let mut per_subset = Vec::with_capacity(SUBSET_WEIGHTS.len());
    for (name, weight) in SUBSET_WEIGHTS {
        let is_pair = PAIR_SUBSETS.contains(&name);
        let (p, m) = if name == "all" {
            single(&mut test.seqs.iter().map(|(pos, _)| *pos))
        } else if !is_pair {
            let mut seen = HashSet::new();
            single(
                &mut test
                    .rows
                    .iter()
                    .filter(|r| r.subset == name && seen.insert(r.pos))
                    .map(|r| r.pos),
            )
        } else {
            (Vec::new(), Vec::new())
        };
        per_subset.push((name, weight, is_pair, p, m));
    }
    for (name, _, is_pair, p, m) in per_subset.iter_mut() {
        if !*is_pair {
            continue;
        }
        for pair in pairs.iter().filter(|q| q.subset == *name) {
            let (Some(ya), Some(yr)) = (label(pair.alt_pos), label(pair.ref_pos)) else {
                continue;
            };
            match (pred(pair.alt_pos), pred(pair.ref_pos)) {
                (Some(xa), Some(xr)) => {
                    p.push(xa - xr);
                    m.push(ya - yr);
                }
                (xa, xr) => {
                    if xa.is_none() {
                        unpredicted.insert(pair.alt_pos);
                    }
                    if xr.is_none() {
                        unpredicted.insert(pair.ref_pos);
                    }
                }
            }
        }
    }

    let subsets: Vec<SubsetScore> = per_subset
        .into_iter()
        .map(|(name, weight, is_pair, p, m)| SubsetScore {
            name: name.to_string(),
            n: p.len(),
            pearson_r: metrics::pearson(&p, &m),
            pearson_r2: metrics::pearson_r2(&p, &m),
            spearman: metrics::spearman(&p, &m),
            weight,
            is_pair,
        })
        .collect();

    let present: Vec<&SubsetScore> = subsets.iter().filter(|s| s.is_present()).collect();
    let missing = subsets.iter().filter(|s| !s.is_present()).map(|s| s.name.clone()).collect();
    let pearson_score: f64 = present.iter().map(|s| s.weight * s.pearson_r2.unwrap_or(0.0)).sum();
    let spearman_score: f64 = present.iter().map(|s| s.weight * s.spearman.unwrap_or(0.0)).sum();
    let weight_present: f64 = present.iter().map(|s| s.weight).sum();
    let weight_total = total_weight();
    let normalise =
        |x: f64| if weight_present > 0.0 { x / weight_present * weight_total } else { 0.0 };

    let known = |n: &str| SUBSET_WEIGHTS.iter().any(|(k, _)| *k == n);
    let mut ignored: Vec<String> = Vec::new();
    for sub in test.subsets() {
        if !known(sub) && !ignored.iter().any(|i| i == sub) {
            ignored.push(sub.to_string());
        }
    }
    for pair in pairs {
        if !PAIR_SUBSETS.contains(&pair.subset.as_str()) {
            let tagged = format!("pairs:{}", pair.subset);
            if !ignored.contains(&tagged) {
                ignored.push(tagged);
            }
        }
    }

    Report {
        subsets,
        missing,
        pearson_score,
        spearman_score,
        pearson_score_normalised: normalise(pearson_score),
        spearman_score_normalised: normalise(spearman_score),
        weight_present,
        weight_total,
        unpredicted: unpredicted.len(),
        ignored_subsets: ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    fn map(pairs: &[(u64, f64)]) -> HashMap<u64, f64> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn weights_and_names() {
        // 1 + 4×0.3 + 0.5 + 1.25 + 0.3 + 0.4 = 4.65
        assert!(close(total_weight(), 4.65));
        assert_eq!(subset_weight("SNVs"), Some(1.25));
        assert_eq!(subset_weight("Motif Perturbation"), Some(0.3));
        assert_eq!(subset_weight("motif-tiling"), Some(0.4));
        assert_eq!(subset_weight("nope"), None);
        assert_eq!(canonical_subset(" SNV "), "snv");
    }

    // Subset "high": pos 1..4, predictions x = 1,2,2,5 ; labels y = 1,3,2,6 ; pos 9 unlabelled.
    // Pearson: mean x = 2.5, dx = -1.5,-.5,-.5,2.5, Sxx = 9 ; mean y = 3, dy = -2,0,-1,3, Syy = 14;
    //   Sxy = 3 + 0 + .5 + 7.5 = 11  ->  r = 11/sqrt(126), r² = 121/126 ≈ 0.960317.
    // Spearman: ranks x = 1,2.5,2.5,4 (tie averaged) ; ranks y = 1,3,2,4 ; rank deviations
    //   x = -1.5,0,0,1.5 (S=4.5), y = -1.5,.5,-.5,1.5 (S=5), Sxy = 2.25+2.25 = 4.5
    //   -> ρ = 4.5/sqrt(22.5) = 3/sqrt(10) ≈ 0.948683.
    // Subset "random": pos 5 only (x = 0, y = 3) -> n = 1, undefined -> missing.
    // "all" = pos 1..5: x = 1,2,2,5,0 (mean 2, dx = -1,0,0,3,-2, Sxx = 14);
    //   y = 1,3,2,6,3 (mean 3, dy = -2,0,-1,3,0, Syy = 14); Sxy = 2+0+0+9+0 = 11 -> r² = 121/196.
    //   ranks x = 2,3.5,3.5,5,1 ; ranks y = 1,3.5,2,5,3.5 ; deviations (mean 3)
    //   x = -1,.5,.5,2,-2 (S = 9.5), y = -2,.5,-1,2,.5 (S = 9.5),
    //   Sxy = 2 + .25 - .5 + 4 - 1 = 4.75 -> ρ = 0.5.
    const SEQS: &str = "pos\tsubset\ttag\tsequence\n\
        1\thigh\th1\tAAAA\n\
        2\thigh\th2\tCCCC\n\
        3\thigh\th3\tGGGG\n\
        4\thigh\th4\tTTTT\n\
        9\thigh\th9\tACGT\n\
        5\trandom\tr5\tAACC\n";

    fn example() -> (TestSet, HashMap<u64, f64>, HashMap<u64, f64>) {
        let test = parse_test_sequences(SEQS).unwrap();
        let labels = parse_labels("pos\texpression\n1\t1\n2\t3\n3\t2\n4\t6\n5\t3\n").unwrap();
        let preds = map(&[(1, 1.0), (2, 2.0), (3, 2.0), (4, 5.0), (5, 0.0), (9, 7.0)]);
        (test, labels, preds)
    }

    #[test]
    fn single_subset_hand_computed_with_tie() {
        let (test, labels, preds) = example();
        let r = score(&test, &[], &labels, &preds);
        let high = r.subset("high").unwrap();
        assert_eq!(high.n, 4);
        assert!(!high.is_pair);
        assert!(close(high.pearson_r2.unwrap(), 121.0 / 126.0));
        assert!(close(high.pearson_r.unwrap(), 11.0 / 126f64.sqrt()));
        assert!(close(high.spearman.unwrap(), 3.0 / 10f64.sqrt()));
        let random = r.subset("random").unwrap();
        assert_eq!((random.n, random.pearson_r2, random.spearman), (1, None, None));
        assert_eq!(r.unpredicted, 0);
    }

    #[test]
    fn weighted_score_and_normalisation_hand_computed() {
        let (test, labels, preds) = example();
        let r = score(&test, &[], &labels, &preds);
        let all = r.subset("all").unwrap();
        assert_eq!(all.n, 5);
        assert!(close(all.pearson_r2.unwrap(), 121.0 / 196.0));
        assert!(close(all.spearman.unwrap(), 0.5));
        // present: all (w 1) and high (w 0.3); random (n = 1) and the 6 empty subsets missing.
        assert_eq!(
            r.missing,
            ["low", "native", "random", "challenging", "snv", "motif_perturbation", "motif_tiling"]
        );
        assert!(close(r.weight_present, 1.3));
        assert!(close(r.weight_total, 4.65));
        // Pearson = 121/196 + 0.3·121/126 ≈ 0.617347 + 0.288095 = 0.905442
        let p = 121.0 / 196.0 + 0.3 * 121.0 / 126.0;
        assert!(close(r.pearson_score, p));
        assert!((r.pearson_score - 0.905442).abs() < 1e-6);
        // Spearman = 0.5 + 0.3·3/sqrt(10) ≈ 0.5 + 0.284605 = 0.784605
        let s = 0.5 + 0.3 * 3.0 / 10f64.sqrt();
        assert!(close(r.spearman_score, s));
        // normalised = raw / 1.3 × 4.65: Pearson ≈ 3.238697, Spearman ≈ 2.806472
        assert!(close(r.pearson_score_normalised, p / 1.3 * 4.65));
        assert!(close(r.spearman_score_normalised, s / 1.3 * 4.65));
        assert!((r.pearson_score_normalised - 3.238697).abs() < 1e-5);
        assert!((r.spearman_score_normalised - 2.806472).abs() < 1e-5);

        let md = r.to_markdown();
        assert!(md.starts_with("| subset | n | Pearson r | Pearson r² | Spearman ρ | weight |\n"));
        assert!(md.contains("| high | 4 | 0.9800 | 0.9603 | 0.9487 | 0.30 |"), "{md}");
        assert!(md.contains("| random | 1 | — | — | — | 0.30 |"), "{md}");
        assert!(md.contains("| motif_perturbation (pairs) | 0 | — | — | — | 0.30 |"), "{md}");
        assert!(md.contains("Pearson Score (Σ w·r² over present subsets): 0.9054"), "{md}");
        assert!(md.contains("low, native, random, challenging, snv, motif_perturbation"), "{md}");
        assert!(md.contains("weight_present (1.30) × weight_total (4.65): Pearson 3.2387"), "{md}");
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"pearson_score_normalised\""));
    }

    // Pairs (motif_perturbation): (alt 10, ref 11), (12, 11), (13, 14), and (15, 11) with 15
    // unlabelled (skipped). Labels: 10→6, 11→2, 12→0, 13→5, 14→4 -> measured d = 4, -2, 1.
    // Predictions: 10→2, 11→1, 12→0, 13→4, 14→1 -> predicted d = 1, -1, 3.
    // Pearson: pred mean 1, dx = 0,-2,2 (Sxx 8); meas mean 1, dy = 3,-3,0 (Syy 18); Sxy = 6
    //   -> r = 6/sqrt(144) = 0.5, r² = 0.25.
    // Spearman: ranks pred = 2,1,3 ; ranks meas = 3,1,2 ; deviations 0,-1,1 and 1,-1,0
    //   -> Sxy = 1, Sxx = Syy = 2 -> ρ = 0.5.
    #[test]
    fn pair_subset_hand_computed() {
        let pairs = parse_pairs(
            "subset\talt_pos\tref_pos\talt_tag\tref_tag\n\
             motif_perturbation\t10\t11\ta\tr\n\
             motif_perturbation\t12\t11\tb\tr\n\
             motif_perturbation\t13\t14\tc\ts\n\
             motif_perturbation\t15\t11\td\tr\n",
        )
        .unwrap();
        assert_eq!(pairs.len(), 4);
        assert_eq!(pairs[0].alt_tag, "a");
        let test = parse_test_sequences(
            "pos\tsubset\tsequence\n10\tmotif_perturbation\tA\n11\tmotif_perturbation\tC\n",
        )
        .unwrap();
        let labels = map(&[(10, 6.0), (11, 2.0), (12, 0.0), (13, 5.0), (14, 4.0)]);
        let preds = map(&[(10, 2.0), (11, 1.0), (12, 0.0), (13, 4.0), (14, 1.0), (15, 9.0)]);
        let r = score(&test, &pairs, &labels, &preds);
        let mp = r.subset("motif_perturbation").unwrap();
        assert!(mp.is_pair);
        assert_eq!(mp.n, 3);
        assert!(close(mp.pearson_r2.unwrap(), 0.25));
        assert!(close(mp.spearman.unwrap(), 0.5));
        assert!(close(mp.weight, 0.3));

        // A labelled but unpredicted end drops the pair and is counted.
        let mut fewer = preds.clone();
        fewer.remove(&14);
        let r = score(&test, &pairs, &labels, &fewer);
        assert_eq!(r.subset("motif_perturbation").unwrap().n, 2);
        assert_eq!(r.unpredicted, 1);
        assert!(r.to_markdown().contains("1 labelled sequences had no finite prediction"));
    }

    #[test]
    fn constant_predictions_are_missing() {
        let (test, labels, _) = example();
        let preds = map(&[(1, 1.0), (2, 1.0), (3, 1.0), (4, 1.0), (5, 1.0)]);
        let r = score(&test, &[], &labels, &preds);
        assert_eq!(r.missing.len(), 9);
        assert_eq!(r.weight_present, 0.0);
        assert_eq!((r.pearson_score, r.pearson_score_normalised), (0.0, 0.0));
    }

    #[test]
    fn unknown_subsets_are_reported() {
        let test = parse_test_sequences("pos\tsubset\tsequence\n1\tweird\tA\n").unwrap();
        let pairs = parse_pairs("subset\talt_pos\tref_pos\nhigh\t1\t2\n").unwrap();
        let r = score(&test, &pairs, &HashMap::new(), &HashMap::new());
        assert_eq!(r.ignored_subsets, ["weird", "pairs:high"]);
    }

    #[test]
    fn sequences_unique_first_seen_order() {
        let t = parse_test_sequences(
            "pos\tsubset\ttag\tsequence\n7\thigh\tx\tAC\n3\tlow\ty\tGG\n7\tnative\tz\tAC\n",
        )
        .unwrap();
        assert_eq!(t.sequences(), vec![(7, "AC"), (3, "GG")]);
        assert_eq!(t.rows().len(), 3);
        assert_eq!(t.len(), 2);
        assert_eq!(t.subsets(), vec!["high", "low", "native"]);
        assert_eq!(t.subset_positions("native"), vec![7]);
        assert_eq!(t.sequence(3), Some("GG"));
        let err = parse_test_sequences("pos\tsubset\tsequence\n7\thigh\tAC\n7\tlow\tAG\n")
            .unwrap_err();
        assert_eq!(err, ChallengeError::ConflictingSequence { line: 3, pos: 7, first_line: 2 });
    }

    #[test]
    fn crlf_blank_lines_and_column_order() {
        // columns in another order, CRLF, blank lines, trailing newline
        let t = parse_test_sequences(
            "sequence\tpos\tsubset\r\nACGT\t1\tHigh\r\n\r\nTTTT\t2\tSNVs\r\n\r\n",
        )
        .unwrap();
        assert_eq!(t.sequences(), vec![(1, "ACGT"), (2, "TTTT")]);
        assert_eq!(t.rows()[0].subset, "high");
        assert_eq!(t.rows()[1].subset, "snv");
        assert_eq!(t.rows()[0].tag, "");
        let l = parse_labels("pos\texpression\r\n1\t0.5\r\n\r\n2\t-1.25\r\n").unwrap();
        assert_eq!(l, map(&[(1, 0.5), (2, -1.25)]));
        let p = parse_pairs("subset\talt_pos\tref_pos\r\nmotif_tiling\t4\t5\r\n").unwrap();
        assert_eq!((p[0].alt_pos, p[0].ref_pos, p[0].subset.as_str()), (4, 5, "motif_tiling"));
        // error line numbers count the blank lines: the bad value is on line 4
        let err = parse_labels("pos\texpression\r\n1\t0.5\r\n\r\n2\tx\r\n").unwrap_err();
        assert!(err.to_string().contains("line 4"), "{err}");
    }

    #[test]
    fn malformed_rows_name_line_and_column() {
        let e = parse_labels("pos\texpression\n1\t0.5\n2\tabc\n").unwrap_err().to_string();
        assert_eq!(e, "line 3, column `expression`: `abc` is not a number");
        let e = parse_labels("pos\texpression\n1\t0.5\n2\tNaN\n").unwrap_err().to_string();
        assert_eq!(e, "line 3, column `expression`: `NaN` is not finite");
        let e = parse_labels("pos\texpression\n1\t0.5\n2\n").unwrap_err().to_string();
        assert_eq!(e, "line 3, column `expression`: value missing (row has 1 fields)");
        let e = parse_labels("pos\texpression\nx1\t0.5\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("column `pos`"), "{e}");
        let e = parse_labels("pos\texpression\n1\t0.5\n1\t0.7\n").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("line 2"), "{e}");
        let e = parse_test_sequences("pos\tsubset\ttag\n1\thigh\tt\n").unwrap_err();
        assert_eq!(e, ChallengeError::MissingColumn { line: 1, column: "sequence" });
        assert!(e.to_string().contains("line 1") && e.to_string().contains("`sequence`"));
        let e = parse_test_sequences("pos\tsubset\ttag\tsequence\n1\thigh\tt\t\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2, column `sequence`: empty value");
        let e = parse_pairs("subset\talt_pos\tref_pos\nsnv\t1\t-2\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("column `ref_pos`"), "{e}");
        assert_eq!(parse_labels("\n\r\n"), Err(ChallengeError::NoHeader));
    }

    #[test]
    fn real_dream_files() {
        let read = |f: &str| {
            let path = format!("{}/../data/dream/{f}", env!("CARGO_MANIFEST_DIR"));
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
        };
        let test = parse_test_sequences(&read("test_sequences.tsv")).unwrap();
        let pairs = parse_pairs(&read("test_pairs.tsv")).unwrap();
        let labels = parse_labels(&read("test_labels_public.tsv")).unwrap();
        assert_eq!(test.rows().len(), 16_759);
        assert_eq!(test.len(), 16_746);
        assert_eq!(labels.len(), 1_448);
        assert_eq!(pairs.len(), 6_120);

        // labelled rows per subset (rows whose pos has a label)
        let labelled = |s: &str| {
            test.rows().iter().filter(|r| r.subset == s && labels.contains_key(&r.pos)).count()
        };
        assert_eq!(labelled("random"), 730);
        assert_eq!(labelled("challenging"), 195);
        assert_eq!(labelled("low"), 99);
        assert_eq!(labelled("high"), 96);
        assert_eq!(labelled("motif_perturbation"), 338);
        assert_eq!(labelled("native"), 0);
        assert_eq!(labelled("motif_tiling"), 0);
        let both = |s: &str| {
            pairs
                .iter()
                .filter(|p| {
                    p.subset == s
                        && labels.contains_key(&p.alt_pos)
                        && labels.contains_key(&p.ref_pos)
                })
                .count()
        };
        assert_eq!(both("motif_perturbation"), 346);
        assert_eq!(both("motif_tiling"), 0);

        // Perfect predictions: every present subset scores 1.
        let r = score(&test, &pairs, &labels, &labels);
        let n: Vec<(&str, usize)> = r.subsets.iter().map(|s| (s.name.as_str(), s.n)).collect();
        assert_eq!(
            n,
            [
                ("all", 1448),
                ("high", 96),
                ("low", 99),
                ("native", 0),
                ("random", 730),
                ("challenging", 195),
                ("snv", 0),
                ("motif_perturbation", 346),
                ("motif_tiling", 0)
            ]
        );
        assert_eq!(r.missing, ["native", "snv", "motif_tiling"]);
        // weight_present = 1 + 0.3 + 0.3 + 0.3 + 0.5 + 0.3 = 2.7
        assert!((r.weight_present - 2.7).abs() < 1e-12);
        assert!((r.pearson_score - 2.7).abs() < 1e-9);
        assert!((r.spearman_score - 2.7).abs() < 1e-9);
        assert!((r.pearson_score_normalised - 4.65).abs() < 1e-9);
        assert!((r.spearman_score_normalised - 4.65).abs() < 1e-9);
        assert!(r.ignored_subsets.is_empty());
        assert_eq!(r.unpredicted, 0);
    }
}
