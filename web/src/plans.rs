//! The variant table and motif tiling panels' inputs, read and planned into the model windows to
//! predict: pure (tested natively), the reading and scoring being `prixfixe::variants` and
//! `prixfixe::tiling`, the same code as `dream variants` and `dream tile`. The page predicts
//! the windows (WebGPU, CPU or the Web Worker pool) and hands the expressions back.

use prixfixe::data::DataProcessor;
use prixfixe::tiling::{known_motif, parse_motif, plan_tiling_padded, TileEffect, TilePlan, KNOWN_MOTIFS};
use prixfixe::variants::{plan_variants, read_variant_table, unchanged, VariantPlan, VariantRecord};

use crate::input::{located, Entry};

/// The name the variant table box is read under (never shown: errors say line and column).
const VARIANTS_NAME: &str = "variants";

/// The two header layouts, in words, for messages.
pub const VARIANT_LAYOUTS: &str = "`id sequence position ref alt` (1-based position in that sequence; ref = the bases there) or `id ref_sequence alt_sequence`, tab- or comma-separated";

/// A variant table ready to predict.
#[derive(Debug, Clone)]
pub struct VariantJob {
    /// The rows, in table order.
    pub records: Vec<VariantRecord>,
    /// Distinct padded windows and the rows' slots in them.
    pub plan: VariantPlan,
    /// Notes for the page (rows with identical sequences, sequences the model reads in part).
    pub notes: Vec<String>,
}

/// Reads and plans the variant table box.
///
/// # Errors
/// A message naming the line and column (and the field) of the first bad row, or the row whose
/// sequence the model cannot read; an empty box or a header with no rows.
pub fn variant_job(processor: &DataProcessor, text: &str) -> Result<VariantJob, String> {
    if text.trim().is_empty() {
        return Err(format!("no variants: paste a table with the header {VARIANT_LAYOUTS}"));
    }
    let records = read_variant_table(VARIANTS_NAME, text.as_bytes()).map_err(|e| located(&e, VARIANTS_NAME))?;
    let plan = plan_variants(processor, &records).map_err(|e| e.to_string())?;
    let mut notes = Vec::new();
    let same = unchanged(&records);
    if !same.is_empty() {
        notes.push(format!(
            "{} of {} variants have identical reference and alternative sequences (delta 0), e.g. {:?}.",
            same.len(),
            records.len(),
            same[0]
        ));
    }
    // Past adapter + window, bases at the 5' end fall outside what the model reads (BHI: past
    // the first 110 bp, at the 3' end; UnlockDNA refuses what it cannot read whole).
    let reach = processor.seq_len() + processor.adapter_len();
    let long = records.iter().filter(|r| r.reference.len().max(r.alternative.len()) > reach).count();
    if long > 0 {
        let which = if processor.scheme() == prixfixe::data::Scheme::Bhi { "first" } else { "last" };
        notes.push(format!(
            "{long} variant(s) have a sequence longer than {reach} bp: the model reads only its {which} {} bp, as `dream variants` does.",
            processor.seq_len()
        ));
    }
    Ok(VariantJob { records, plan, notes })
}

/// One background of a motif tiling.
#[derive(Debug, Clone)]
pub struct TileBackground {
    /// The sequence's id in the box.
    pub id: String,
    /// The region tiled (1-based, inclusive).
    pub region: (usize, usize),
    /// The sequences (background first, then one per placement).
    pub plan: TilePlan,
}

/// A motif tiling of one or several backgrounds, ready to predict.
#[derive(Debug, Clone)]
pub struct TileJob {
    /// The motif's bases as given (a known name resolved to its consensus).
    pub consensus: String,
    /// What the motif is, for a known site (`Skn7 (GTCTGGCCC)`), else its bases.
    pub label: String,
    /// The backgrounds, in box order.
    pub backgrounds: Vec<TileBackground>,
    /// Padded model windows of every background's sequences, background after background.
    pub windows: Vec<Vec<u8>>,
}

/// A background's tiling, scored.
#[derive(Debug, Clone)]
pub struct TileResult {
    /// The background's id.
    pub id: String,
    /// The region tiled.
    pub region: (usize, usize),
    /// Predicted expression of the background.
    pub background: f32,
    /// Every placement's effect.
    pub effects: Vec<TileEffect>,
}

/// Plans the tiling of `motif_text` (bases or a known name, `prixfixe::tiling::parse_motif`)
/// over every sequence of the box; `region` (1-based, inclusive) for all, else each
/// background's variable region (`DataProcessor::variable_region`: the 80 bp random region), as
/// `dream tile`.
///
/// # Errors
/// A message naming the field: the motif (its bad character and position, or its length), or
/// the background (id and line) whose region does not fit.
pub fn tile_job(processor: &DataProcessor, entries: &[Entry], motif_text: &str, region: Option<(usize, usize)>) -> Result<TileJob, String> {
    let names = KNOWN_MOTIFS.iter().map(|m| m.name).collect::<Vec<_>>().join(", ");
    if motif_text.trim().is_empty() {
        return Err(format!("motif: give the motif's bases (A, C, G, T; 4–30 bp) or a known site's name ({names})"));
    }
    let motif = parse_motif(motif_text).map_err(|e| e.to_string())?;
    let consensus = prixfixe::data::codes_to_string(&motif);
    let label = known_motif(motif_text.trim()).map_or(consensus.clone(), |m| format!("{} ({})", m.name, m.consensus));
    if entries.is_empty() {
        return Err("no background: paste one or more sequences in the sequence box".into());
    }
    let mut backgrounds = Vec::with_capacity(entries.len());
    let mut windows = Vec::new();
    for e in entries {
        let at = |msg: String| format!("background '{}' (line {}): {msg}", e.id, e.line);
        let t = plan_tiling_padded(processor, &e.sequence, &motif, region).map_err(|x| at(x.to_string()))?;
        let (plan, r) = (t.plan, t.region);
        windows.extend(t.windows);
        backgrounds.push(TileBackground { id: e.id.clone(), region: r, plan });
    }
    Ok(TileJob { consensus, label, backgrounds, windows })
}

impl TileJob {
    /// Sequences to predict in all.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// `true` when there is nothing to predict.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Scores every background from one expression per [`TileJob::windows`] (same order).
    ///
    /// # Errors
    /// When `expressions` is not one per window (a failed prediction).
    pub fn results(&self, expressions: &[f32]) -> Result<Vec<TileResult>, String> {
        if expressions.len() != self.windows.len() {
            return Err(format!("{} predictions for {} sequences", expressions.len(), self.windows.len()));
        }
        let mut at = 0;
        Ok(self
            .backgrounds
            .iter()
            .map(|b| {
                let n = b.plan.sequences.len();
                let (background, effects) = b.plan.effects(&expressions[at..at + n]);
                at += n;
                TileResult { id: b.id.clone(), region: b.region, background, effects }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examples::{example_variant_table, NATIVE_EXAMPLES};
    use crate::input::read_input;

    const NATIVE: &str = NATIVE_EXAMPLES[0].2;

    #[test]
    fn variant_table_is_planned_once_per_distinct_sequence() {
        let p = DataProcessor::dream();
        let job = variant_job(&p, &example_variant_table()).unwrap();
        assert_eq!(job.records.len(), 6);
        // 4 references (one shared by two rows) + 6 alternatives.
        assert_eq!(job.plan.windows.len(), 10);
        assert!(job.notes.is_empty());
        let scores = job.plan.scores(&(0..10).map(|i| i as f32).collect::<Vec<_>>());
        assert_eq!(scores[0].reference, scores[1].reference);
        assert_eq!(scores.len(), 6);
    }

    #[test]
    fn variant_table_errors_name_line_column_and_field() {
        let p = DataProcessor::dream();
        let h = "id,sequence,position,ref,alt\n";
        let base = NATIVE.as_bytes()[49] as char;
        let wrong = if base == 'A' { 'C' } else { 'A' };
        let e = variant_job(&p, &format!("{h}v1,{NATIVE},50,{wrong},G\n")).unwrap_err();
        assert!(e.starts_with(&format!("line 2, column {}: ref {wrong} does not match the sequence, which has {base} at position 50", NATIVE.len() + 8)), "{e}");
        let e = variant_job(&p, &format!("{h}v1,{NATIVE},500,A,G\n")).unwrap_err();
        assert!(e.starts_with("line 2, column ") && e.contains("position 500 (ref A) is outside the 110 bp sequence"), "{e}");
        assert!(variant_job(&p, " \n").unwrap_err().starts_with("no variants"));
        assert_eq!(variant_job(&p, h).unwrap_err(), "the variant table has a header but no rows");
        let e = variant_job(&p, "name,seq\nx,ACGT\n").unwrap_err();
        assert!(e.starts_with("line 1: the header must name the columns"), "{e}");
        // Valid DNA the model cannot place: the row's line and id.
        let e = variant_job(&p, "id,ref_sequence,alt_sequence\nshort,ACGTACGT,ACGTACGA\n").unwrap_err();
        assert!(e.starts_with("line 2, variant \"short\": the reference sequence"), "{e}");
        let same = variant_job(&p, &format!("id,ref_sequence,alt_sequence\ns,{NATIVE},{NATIVE}\n")).unwrap();
        assert_eq!(same.notes.len(), 1);
    }

    #[test]
    fn variant_tables_with_the_bhi_and_unlockdna_dataprocessors() {
        let h = "id,sequence,position,ref,alt\n";
        let long = format!("{NATIVE}{}", &NATIVE[..20]);
        let base = long.as_bytes()[119] as char;
        let alt = if base == 'A' { 'C' } else { 'A' };
        // BHI reads the first 110 bp: a change past them is noted (and has delta 0).
        let job = variant_job(&DataProcessor::bhi(), &format!("{h}v1,{long},120,{base},{alt}\n")).unwrap();
        assert_eq!(job.notes.len(), 1);
        assert!(job.notes[0].contains("longer than 110 bp: the model reads only its first 110 bp"), "{:?}", job.notes);
        // UnlockDNA refuses a sequence longer than 140 bp with the row named.
        let too_long = format!("{NATIVE}{}", &NATIVE[..31]);
        let e = variant_job(&DataProcessor::unlockdna(), &format!("id,ref_sequence,alt_sequence\nx,{too_long},{too_long}\n")).unwrap_err();
        assert!(e.starts_with("line 2, variant \"x\""), "{e}");
        let (r, a) = (&NATIVE[49..50], if &NATIVE[49..50] == "G" { "A" } else { "G" });
        assert!(variant_job(&DataProcessor::unlockdna(), &format!("{h}v1,{NATIVE},50,{r},{a}\n")).is_ok());
    }

    #[test]
    fn tiling_of_one_and_several_backgrounds() {
        let p = DataProcessor::dream();
        let entries = read_input(&format!("{NATIVE}\n{}\n", &NATIVE_EXAMPLES[1].2[17..97]), &p).unwrap();
        let job = tile_job(&p, &entries[..1], "skn7", None).unwrap();
        assert_eq!((job.label.as_str(), job.consensus.as_str()), ("Skn7 (GTCTGGCCC)", "GTCTGGCCC"));
        // 80 bp region, 9 bp motif: 72 placements per orientation, plus the background.
        assert_eq!(job.len(), 1 + 2 * 72);
        assert_eq!(job.backgrounds[0].region, (18, 97));
        assert!(job.windows.iter().all(|w| w.len() == 150));
        let r = job.results(&(0..145).map(|i| i as f32).collect::<Vec<_>>()).unwrap();
        assert_eq!(r[0].background, 0.0);
        assert_eq!(r[0].effects[0].delta, 1.0);
        assert_eq!(r[0].effects[0].placement.position, 18);

        // The 80 bp region of another promoter: region 1-80, offsets line up.
        let job = tile_job(&p, &entries, "TTCT", None).unwrap();
        assert_eq!(job.backgrounds[1].region, (1, 80));
        assert_eq!(job.len(), 2 * (1 + 2 * 77));
        let r = job.results(&vec![1.0; job.len()]).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].effects[0].placement.offset, 0);
        assert!(job.results(&[1.0]).is_err());
        // A given region.
        let job = tile_job(&p, &entries[..1], "TTCT", Some((1, 10))).unwrap();
        assert_eq!(job.len(), 1 + 2 * 7);
    }

    #[test]
    fn tiling_errors_name_the_field() {
        let p = DataProcessor::dream();
        let entries = read_input(NATIVE, &p).unwrap();
        let e = tile_job(&p, &entries, "ACGX", None).unwrap_err();
        assert!(e.starts_with("motif \"ACGX\": character 'X' at position 4 is not A, C, G or T"), "{e}");
        assert!(tile_job(&p, &entries, "ACG", None).unwrap_err().contains("is 3 bp"));
        assert!(tile_job(&p, &entries, "  ", None).unwrap_err().starts_with("motif: give"));
        let e = tile_job(&p, &entries, "TTCT", Some((100, 200))).unwrap_err();
        assert!(e.starts_with("background 'seq1' (line 1): region 100-200 is not within"), "{e}");
        assert!(tile_job(&p, &[], "TTCT", None).unwrap_err().starts_with("no background"));
    }
}
