//! Variant tables: many variants scored at once, each as the predicted expression of the
//! reference and of the alternative sequence and their difference (the variant effect).
//!
//! Two table layouts, told apart by the header (names case-insensitive, tab- or comma-separated,
//! gzip accepted):
//! - `id sequence position ref alt`: `ref` (one or more bases) must be the bases of `sequence`
//!   at the 1-based `position`; they are replaced by `alt` (bases, or `-` / empty for a
//!   deletion), as a VCF REF/ALT pair;
//! - `id ref_sequence alt_sequence`: both sequences given.
//!
//! One implementation for `dream variants` and the browser: [`read_variant_table`] parses and
//! checks every row, the caller predicts [`VariantRecord::reference`] and
//! [`VariantRecord::alternative`], and [`variant_table`] writes the result.

use std::collections::HashMap;
use std::fmt::Write as _;

use burn::tensor::backend::Backend;

use crate::data::{base_code, parse_bases, DataProcessor, SequenceError};
use crate::predictor::Predictor;
use crate::seqio::{decompress_if_gz, non_blank_lines, InputError};

/// One variant: its id and both sequences (validated DNA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantRecord {
    /// The row's id.
    pub id: String,
    /// 1-based line in the table.
    pub line: usize,
    /// Reference sequence (as given, whitespace removed).
    pub reference: String,
    /// Alternative sequence.
    pub alternative: String,
}

/// A scored variant.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantScore {
    /// The row's id.
    pub id: String,
    /// Predicted expression of the reference.
    pub reference: f32,
    /// Predicted expression of the alternative.
    pub alternative: f32,
}

impl VariantScore {
    /// The variant effect, `alternative − reference`.
    pub fn delta(&self) -> f32 {
        self.alternative - self.reference
    }
}

const SNV_COLUMNS: [&str; 5] = ["id", "sequence", "position", "ref", "alt"];
const PAIR_COLUMNS: [&str; 3] = ["id", "ref_sequence", "alt_sequence"];

/// Reads a variant table (see the module documentation for the two layouts).
///
/// # Errors
/// [`InputError`] with `FILE:LINE:COLUMN`: a header with neither layout (the columns found are
/// listed), a row with too few fields, a bad base, a position that is not a number or lies
/// outside the sequence, a `ref` that does not match the sequence there (both shown), an empty
/// table. Nothing is returned unless every row is valid.
pub fn read_variant_table(name: &str, bytes: &[u8]) -> Result<Vec<VariantRecord>, InputError> {
    let data = decompress_if_gz(name, bytes)?;
    let lines = non_blank_lines(name, &data)?;
    let Some(&(header_line, header)) = lines.first() else {
        return Err(InputError::new(name, None, None, "empty variant table"));
    };
    let sep = if header.contains('\t') { '\t' } else { ',' };
    let names: Vec<String> = header.split(sep).map(|h| h.trim().trim_start_matches('#').to_ascii_lowercase()).collect();
    let find = |col: &str| names.iter().position(|n| n == col);
    let layout: Vec<usize> = if let Some(idx) = SNV_COLUMNS.iter().map(|c| find(c)).collect::<Option<Vec<_>>>() {
        idx
    } else if let Some(idx) = PAIR_COLUMNS.iter().map(|c| find(c)).collect::<Option<Vec<_>>>() {
        idx
    } else {
        return Err(InputError::new(
            name,
            Some(header_line),
            None,
            format!(
                "the header must name the columns `{}` or `{}`; found: {}",
                SNV_COLUMNS.join(" "),
                PAIR_COLUMNS.join(" "),
                names.join(", ")
            ),
        ));
    };
    let snv = layout.len() == SNV_COLUMNS.len();
    let mut out = Vec::with_capacity(lines.len() - 1);
    for &(line, text) in &lines[1..] {
        let fields: Vec<&str> = text.split(sep).collect();
        // 1-based character column where field `i` starts.
        let column = |i: usize| fields[..i].iter().map(|f| f.chars().count() + 1).sum::<usize>() + 1;
        let field = |col: usize| -> Result<&str, InputError> {
            let i = layout[col];
            fields.get(i).map(|f| f.trim()).ok_or_else(|| {
                let wanted = if snv { SNV_COLUMNS[col] } else { PAIR_COLUMNS[col] };
                InputError::new(name, Some(line), None, format!("no `{wanted}` field (column {}): the row has {} fields", i + 1, fields.len()))
            })
        };
        let dna = |col: usize| -> Result<Vec<u8>, InputError> {
            field(col)?;
            // The untrimmed field, so that the column of a bad base is exact.
            parse_bases(fields[layout[col]]).map_err(|e| {
                InputError::from_sequence_error(name, line, column(layout[col]) - 1, None, e).with_field(if snv { SNV_COLUMNS[col] } else { PAIR_COLUMNS[col] })
            })
        };
        let id = field(0)?.to_string();
        let record = if snv {
            let sequence = field(1)?;
            let codes = dna(1)?;
            let pos_text = field(2)?;
            let at = |col: usize| Some(column(layout[col]));
            let position: usize = pos_text.parse().map_err(|_| {
                InputError::new(name, Some(line), at(2), format!("position {pos_text:?} is not a whole number (1-based position in the sequence)"))
            })?;
            let ref_text = field(3)?;
            let reference = bases_or_deletion(ref_text).map_err(|c| {
                InputError::new(name, Some(line), at(3), format!("ref {ref_text:?}: {c:?} is not a base (A, C, G, T, N)"))
            })?;
            let alt_text = field(4)?;
            let alternative = bases_or_deletion(alt_text).map_err(|c| {
                InputError::new(name, Some(line), at(4), format!("alt {alt_text:?}: {c:?} is not a base (A, C, G, T, N, or - for a deletion)"))
            })?;
            if reference.is_empty() {
                return Err(InputError::new(name, Some(line), at(3), "ref is empty: give the reference base(s) at the position"));
            }
            let end = position + reference.len() - 1;
            if position == 0 || end > codes.len() {
                return Err(InputError::new(
                    name,
                    Some(line),
                    at(2),
                    format!("position {position} (ref {ref_text}) is outside the {} bp sequence", codes.len()),
                ));
            }
            let seq: String = sequence.chars().filter(|c| !c.is_whitespace()).collect();
            let found = &seq[position - 1..end];
            if !found.eq_ignore_ascii_case(&reference) {
                return Err(InputError::new(
                    name,
                    Some(line),
                    at(3),
                    format!("ref {ref_text} does not match the sequence, which has {found} at position {position}"),
                ));
            }
            let alt_seq = format!("{}{alternative}{}", &seq[..position - 1], &seq[end..]);
            VariantRecord { id, line, reference: seq, alternative: alt_seq }
        } else {
            dna(1)?;
            dna(2)?;
            let strip = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            VariantRecord { id, line, reference: strip(field(1)?), alternative: strip(field(2)?) }
        };
        out.push(record);
    }
    if out.is_empty() {
        return Err(InputError::new(name, None, None, "the variant table has a header but no rows"));
    }
    Ok(out)
}

/// The bases of a ref/alt field (`-`, `.` or empty = none), or the first bad character.
fn bases_or_deletion(text: &str) -> Result<String, char> {
    if text.is_empty() || text == "-" || text == "." {
        return Ok(String::new());
    }
    match text.chars().find(|&c| base_code(c).is_none()) {
        Some(c) => Err(c),
        None => Ok(text.to_string()),
    }
}

/// A variant whose reference or alternative the DataProcessor cannot place (e.g. too short).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, variant {id:?}: the {side} sequence: {error}")]
pub struct VariantError {
    /// The row's id.
    pub id: String,
    /// 1-based line in the table.
    pub line: usize,
    /// `reference` or `alternative`.
    pub side: &'static str,
    /// What is wrong.
    pub error: SequenceError,
}

/// The distinct padded windows of a variant table and, per row, which window is its reference
/// and which its alternative: a reference shared by many rows (an SNV table of one promoter) is
/// predicted once. The caller predicts [`VariantPlan::windows`] (synchronously or not) and
/// calls [`VariantPlan::scores`].
#[derive(Debug, Clone)]
pub struct VariantPlan {
    /// Padded model windows, each distinct sequence once.
    pub windows: Vec<Vec<u8>>,
    ids: Vec<String>,
    slots: Vec<(usize, usize)>,
}

/// Plans the predictions of a variant table (see [`VariantPlan`]).
///
/// # Errors
/// [`VariantError`] for the first row with a sequence that cannot be placed.
pub fn plan_variants(processor: &DataProcessor, records: &[VariantRecord]) -> Result<VariantPlan, VariantError> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut windows = Vec::new();
    let mut slots = Vec::with_capacity(records.len());
    for r in records {
        let mut slot = |seq: &str, side: &'static str| -> Result<usize, VariantError> {
            let key = seq.to_ascii_uppercase();
            if let Some(&i) = index.get(&key) {
                return Ok(i);
            }
            let p = processor.pad(seq).map_err(|error| VariantError { id: r.id.clone(), line: r.line, side, error })?;
            windows.push(p);
            index.insert(key, windows.len() - 1);
            Ok(windows.len() - 1)
        };
        slots.push((slot(&r.reference, "reference")?, slot(&r.alternative, "alternative")?));
    }
    Ok(VariantPlan { windows, ids: records.iter().map(|r| r.id.clone()).collect(), slots })
}

impl VariantPlan {
    /// The scores, one per table row in order, from one expression per [`VariantPlan::windows`].
    ///
    /// # Panics
    /// When `expressions` is not one per window (a caller bug, not user input).
    pub fn scores(&self, expressions: &[f32]) -> Vec<VariantScore> {
        assert_eq!(expressions.len(), self.windows.len(), "one prediction per window");
        self.ids
            .iter()
            .zip(&self.slots)
            .map(|(id, &(a, b))| VariantScore { id: id.clone(), reference: expressions[a], alternative: expressions[b] })
            .collect()
    }
}

impl<B: Backend> Predictor<B> {
    /// Predicts every variant's reference and alternative (fwd/RC averaged), each distinct
    /// sequence once ([`plan_variants`]).
    ///
    /// # Errors
    /// [`VariantError`] for the first row with a sequence that cannot be placed; nothing is
    /// predicted then.
    pub fn score_variants(&self, records: &[VariantRecord]) -> Result<Vec<VariantScore>, VariantError> {
        let plan = plan_variants(self.processor(), records)?;
        let preds: Vec<f32> = self.predict_padded(&plan.windows).iter().map(|p| p.expression).collect();
        Ok(plan.scores(&preds))
    }
}

/// The result table: header `id reference alternative delta` (delta = alternative − reference),
/// values with 6 decimals, fields separated by `sep`; an id holding `sep` or `"` is quoted as in
/// CSV (RFC 4180).
pub fn variant_table(scores: &[VariantScore], sep: char) -> String {
    let mut out = ["id", "reference", "alternative", "delta"].join(&sep.to_string());
    out.push('\n');
    for s in scores {
        let _ = writeln!(out, "{}{sep}{:.6}{sep}{:.6}{sep}{:.6}", quoted(&s.id, sep), s.reference, s.alternative, s.delta());
    }
    out
}

/// `text` as a CSV/TSV field: quoted (with `"` doubled) when it holds `sep`, `"` or a line break.
fn quoted(text: &str, sep: char) -> std::borrow::Cow<'_, str> {
    if text.contains([sep, '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

impl InputError {
    /// Names the table field a sequence error is in (`… in field 'sequence'`).
    fn with_field(self, field: &str) -> Self {
        match self {
            Self::Format { file, line, column, message } => {
                Self::Format { file, line, column, message: format!("{message} (field `{field}`)") }
            }
            other => other,
        }
    }
}

/// Checks that the reference and alternative differ (an identical pair is almost always a
/// mistake in the table); returns the ids of such rows.
pub fn unchanged(records: &[VariantRecord]) -> Vec<&str> {
    records.iter().filter(|r| r.reference.eq_ignore_ascii_case(&r.alternative)).map(|r| r.id.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEQ: &str = "ACGTACGTAC";

    #[test]
    fn ids_holding_the_separator_are_quoted() {
        let score = |id: &str| VariantScore { id: id.into(), reference: 1.0, alternative: 1.5 };
        let csv = variant_table(&[score("rs1,rs2"), score("a\"b"), score("plain")], ',');
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[1], "\"rs1,rs2\",1.000000,1.500000,0.500000");
        assert_eq!(rows[2], "\"a\"\"b\",1.000000,1.500000,0.500000");
        assert_eq!(rows[3], "plain,1.000000,1.500000,0.500000");
        assert!(variant_table(&[score("rs1,rs2")], '\t').contains("\nrs1,rs2\t"));
    }

    #[test]
    fn snv_rows_become_sequence_pairs() {
        let t = format!("id\tsequence\tposition\tref\talt\nv1\t{SEQ}\t3\tG\tT\nv2\t{SEQ}\t1\tacg\t-\nv3\t{SEQ}\t10\tC\tCTT\n");
        let v = read_variant_table("v.tsv", t.as_bytes()).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].alternative, "ACTTACGTAC");
        assert_eq!(v[0].reference, SEQ);
        assert_eq!(v[1].alternative, "TACGTAC");
        assert_eq!(v[2].alternative, "ACGTACGTACTT");
        assert_eq!(v[2].line, 4);
    }

    #[test]
    fn pair_rows_and_csv() {
        let t = "ID,ref_sequence,alt_sequence,note\nx,ACGT,ACGA,kept\n";
        let v = read_variant_table("p.csv", t.as_bytes()).unwrap();
        assert_eq!(v, vec![VariantRecord { id: "x".into(), line: 2, reference: "ACGT".into(), alternative: "ACGA".into() }]);
    }

    #[test]
    fn bad_rows_name_file_line_and_column() {
        let err = |t: &str| read_variant_table("v.tsv", t.as_bytes()).unwrap_err().to_string();
        let h = "id\tsequence\tposition\tref\talt\n";
        let e = err(&format!("{h}v1\t{SEQ}\t3\tA\tT\n"));
        assert_eq!(e, "v.tsv:2:17: ref A does not match the sequence, which has G at position 3");
        let e = err(&format!("{h}v1\t{SEQ}\tthree\tG\tT\n"));
        assert!(e.starts_with("v.tsv:2:15: position \"three\" is not a whole number"), "{e}");
        let e = err(&format!("{h}v1\t{SEQ}\t11\tG\tT\n"));
        assert!(e.starts_with("v.tsv:2:15: position 11 (ref G) is outside the 10 bp sequence"), "{e}");
        let e = err(&format!("{h}v1\tACGXACGT\t3\tG\tT\n"));
        assert!(e.starts_with("v.tsv:2:7: invalid character 'X' at base 4"), "{e}");
        let e = err(&format!("{h}v1\t{SEQ}\t3\tG\tU\n"));
        assert!(e.starts_with("v.tsv:2:19: alt \"U\""), "{e}");
        let e = err(&format!("{h}v1\t{SEQ}\t3\n"));
        assert!(e.starts_with("v.tsv:2: no `ref` field"), "{e}");
        let e = err("name\tseq\n");
        assert!(e.starts_with("v.tsv:1: the header must name the columns") && e.ends_with("found: name, seq"), "{e}");
        assert_eq!(err(h), "v.tsv: the variant table has a header but no rows");
    }

    #[test]
    fn table_has_the_contract_columns() {
        let s = VariantScore { id: "v1".into(), reference: 10.0, alternative: 9.5 };
        assert_eq!(variant_table(&[s], '\t'), "id\treference\talternative\tdelta\nv1\t10.000000\t9.500000\t-0.500000\n");
    }
}
