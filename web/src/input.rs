//! The sequence box: one or many sequences, raw (one per line) or FASTA, any case, whitespace
//! ignored (the reading itself is `prixfixe::seqio`, shared with `dream predict`).
//!
//! Length rule (shown on the page, [`LENGTH_RULE`]): exactly 80 bp is the random region, exactly
//! 150 bp is a model window, 81–149 bp is the challenge form (17 bp adapter + 80 bp + 13 bp,
//! ~110 bp); see `prixfixe::data::InputForm`. Anything shorter or longer is refused with the
//! reason, never truncated silently. A Prix Fixe combination bundle reads with its own
//! DataProcessor, and the box takes what that one takes ([`BHI_RULE`], [`UNLOCKDNA_RULE`]).

use prixfixe::data::{base_code, DataProcessor, InputForm, Scheme, ADAPTER_5P, RANDOM_REGION_LEN};
use prixfixe::dataprocessors::{BHI_LEN, UNLOCKDNA_CUT, UNLOCKDNA_HALF};
use prixfixe::seqio::{read_sequence_file, InputError};

/// The rule, in words, as the page states it.
pub const LENGTH_RULE: &str = "Each sequence is read by its length: exactly 80 bp = the random region (the constant 17 bp 5' adapter TGCATTTTTTTCACATC and 13 bp 3' end GGTTACGGCTGTT are added); 81–149 bp = the challenge form with its flanks (~110 bp; as in the DREAM data, the first 17 bp are replaced by the plasmid sequence upstream of the insert); exactly 150 bp = a full model window, used as is. A, C, G, T and N (unknown) in any case; spaces and line breaks are ignored.";

/// The rule of a combination bundle with the BHI DataProcessor (any length).
pub const BHI_RULE: &str = "This model reads with the BHI DataProcessor: any length of 1 bp or more. Only the first 110 bp are read (the 5' adapter included; anything after base 110 is ignored); a shorter sequence is padded with plasmid vector sequence on both sides to 110 bp. Exactly 80 bp = the random region, which first gets its constant 17 bp 5' adapter and 13 bp 3' end. A, C, G, T and N (unknown) in any case; spaces and line breaks are ignored.";

/// The rule of a combination bundle with the UnlockDNA DataProcessor (41–140 bp).
pub const UNLOCKDNA_RULE: &str = "This model reads with the UnlockDNA DataProcessor: 41–140 bp. 20 bp are cut at each end and the rest (1–100 bp) is padded with N on both sides to 100 bp, followed by its reverse complement; so the model reads positions 21 to length − 20. Exactly 80 bp = the random region, which first gets its constant 17 bp 5' adapter and 13 bp 3' end. A, C, G, T and N (unknown) in any case; spaces and line breaks are ignored.";

/// Shortest and longest input of the UnlockDNA DataProcessor, in bp (41, 140).
pub const UNLOCKDNA_LENGTHS: (usize, usize) = (2 * UNLOCKDNA_CUT + 1, UNLOCKDNA_HALF + 2 * UNLOCKDNA_CUT);

/// The length rule of `processor`'s model, in words: [`LENGTH_RULE`] for the DREAM plasmid
/// window, "exactly L bp" for a fixed-length one (the bundle's `input.exact_length`, e.g. 249 bp
/// for DeepSTARR, 230 bp for lentiMPRA), [`BHI_RULE`] / [`UNLOCKDNA_RULE`] for those
/// DataProcessors.
pub fn length_rule(processor: &DataProcessor) -> String {
    match processor.scheme() {
        Scheme::Bhi => return BHI_RULE.to_string(),
        Scheme::UnlockDna => return UNLOCKDNA_RULE.to_string(),
        Scheme::Autosome => {}
    }
    if processor.is_exact() {
        format!(
            "Each sequence must be exactly {} bp, the length this model was trained on (it is read as is, never padded or cut). A, C, G, T and N (unknown) in any case; spaces and line breaks are ignored.",
            processor.seq_len()
        )
    } else {
        LENGTH_RULE.to_string()
    }
}

/// Shortest and longest accepted input of the DREAM plasmid window, in bp.
pub const MIN_LEN: usize = RANDOM_REGION_LEN;
/// See [`MIN_LEN`].
pub const MAX_LEN: usize = prixfixe::SEQ_LEN;

/// One sequence read from the box.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// FASTA id, else `seq1`, `seq2`, … (1-based record number).
    pub id: String,
    /// The bases, upper-case, whitespace removed.
    pub sequence: String,
    /// 1-based line of the box where the record starts.
    pub line: usize,
    /// How the sequence is placed in the model window.
    pub form: InputForm,
}

impl Entry {
    /// Short name of the input form for tables and CSV.
    pub fn form_name(&self) -> &'static str {
        form_name(self.form)
    }
}

/// `region80`, `challenge`, `window150` (for a fixed-length model every input is its window:
/// see [`Entry::form_name`] callers, which print the length instead).
pub fn form_name(form: InputForm) -> &'static str {
    match form {
        InputForm::RandomRegion => "region80",
        InputForm::Challenge => "challenge",
        InputForm::Window => "window150",
    }
}

/// A character of the box that is not a base, for highlighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadChar {
    /// 1-based line.
    pub line: usize,
    /// 1-based character column in that line.
    pub column: usize,
    /// The character.
    pub character: char,
}

/// Why the box could not be read: the first problem in words (with line and position), and
/// every invalid character so the page can mark them.
#[derive(Debug, Clone, PartialEq)]
pub struct InputProblem {
    /// What is wrong and where.
    pub message: String,
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// All characters that are not bases (FASTA header lines excluded).
    pub bad_chars: Vec<BadChar>,
}

/// Every character that is not a base or whitespace, outside FASTA header lines (`>`).
pub fn bad_characters(text: &str) -> Vec<BadChar> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('>') {
            continue;
        }
        for (j, c) in line.chars().enumerate() {
            if !c.is_whitespace() && base_code(c).is_none() && c != '\u{feff}' {
                out.push(BadChar { line: i + 1, column: j + 1, character: c });
            }
        }
    }
    out
}

/// A reading error of a text box in the page's words: `line L, column C: …` (seqio's messages
/// start with `FILE:LINE:COL: `, and the box has no file name; `file` is the name given to
/// the reader).
pub fn located(e: &InputError, file: &str) -> String {
    let s = e.to_string();
    let message = s.strip_prefix(&format!("{file}:")).unwrap_or(&s).trim_start();
    match (e.line(), e.column()) {
        (Some(l), Some(c)) => {
            let rest = message.split_once(": ").map_or(message, |(_, r)| r);
            format!("line {l}, column {c}: {rest}")
        }
        (Some(l), None) => {
            let rest = message.split_once(": ").map_or(message, |(_, r)| r);
            format!("line {l}: {rest}")
        }
        _ => message.strip_prefix(": ").unwrap_or(message).to_string(),
    }
}

/// Reads the box. Nothing is changed in `text`; on error the caller keeps showing it.
///
/// # Errors
/// [`InputProblem`]: no sequence, an invalid character (line, column, base position), or a
/// sequence of a length `processor` does not read (with its id and line): the DREAM window
/// [`MIN_LEN`]–[`MAX_LEN`], a fixed length, UnlockDNA's [`UNLOCKDNA_LENGTHS`]; BHI reads any.
pub fn read_input(text: &str, processor: &DataProcessor) -> Result<Vec<Entry>, InputProblem> {
    let bad_chars = bad_characters(text);
    if text.trim().is_empty() {
        return Err(InputProblem {
            message: "no sequence: paste one or more promoter sequences (one per line, or FASTA)".into(),
            line: None,
            bad_chars,
        });
    }
    let file = read_sequence_file("input", text.as_bytes())
        .map_err(|e| InputProblem { message: located(&e, "input"), line: e.line(), bad_chars: bad_chars.clone() })?;
    let mut entries = Vec::with_capacity(file.records.len());
    for r in file.records {
        let len = r.sequence.chars().count();
        let what = |detail: String| InputProblem {
            message: format!("line {}: sequence '{}' is {len} bp: {detail}", r.line, r.id),
            line: Some(r.line),
            bad_chars: bad_chars.clone(),
        };
        let (min, max) = UNLOCKDNA_LENGTHS;
        let problem = match processor.scheme() {
            // Any length: the first 110 bp are read, a shorter sequence is padded.
            Scheme::Bhi => None,
            Scheme::UnlockDna => (len < min || len > max).then(|| format!(
                "too {}. This model's UnlockDNA DataProcessor cuts {UNLOCKDNA_CUT} bp at each end and reads at most {UNLOCKDNA_HALF} bp of the rest, so it takes {min}–{max} bp; paste {min}–{max} bp sequences",
                if len < min { "short" } else { "long" }
            )),
            Scheme::Autosome if processor.is_exact() => (len != processor.seq_len()).then(|| format!(
                "this model reads sequences of exactly {} bp (its dataset's length rule); paste {} bp sequences",
                processor.seq_len(),
                processor.seq_len()
            )),
            Scheme::Autosome if len < MIN_LEN => Some(format!(
                "too short. The models read a 150 bp window built from the 80 bp random region; paste the 80 bp region, the ~110 bp challenge form ({ADAPTER_5P} + 80 bp + GGTTACGGCTGTT) or a 150 bp window"
            )),
            Scheme::Autosome if len > MAX_LEN => Some(format!(
                "too long. The models read {MAX_LEN} bp; paste the 80 bp random region, the ~110 bp challenge form or a {MAX_LEN} bp window (e.g. the {MAX_LEN} bp just upstream of the start codon)"
            )),
            Scheme::Autosome => None,
        };
        if let Some(detail) = problem {
            return Err(what(detail));
        }
        entries.push(Entry {
            form: processor.input_form(len),
            id: r.id,
            sequence: r.sequence.to_ascii_uppercase(),
            line: r.line,
        });
    }
    Ok(entries)
}

/// Challenge-form entries that do not start with the DREAM 5' adapter (their first 17 bp are
/// replaced by plasmid sequence all the same): worth a note on the page. Only the autosome
/// plasmid-window DataProcessor drops the adapter; BHI and UnlockDNA read it as given.
pub fn without_adapter<'a>(entries: &'a [Entry], processor: &DataProcessor) -> Vec<&'a Entry> {
    if processor.scheme() != Scheme::Autosome || processor.is_exact() {
        return Vec::new();
    }
    entries.iter().filter(|e| e.form == InputForm::Challenge && !e.sequence.starts_with(ADAPTER_5P)).collect()
}

/// The notes under the box for what was read: challenge-form sequences without the adapter
/// (autosome), sequences longer than 110 bp of which BHI reads only the first 110 bp.
pub fn read_notes(entries: &[Entry], processor: &DataProcessor) -> Vec<String> {
    let ids = |v: &[&Entry]| {
        let mut s = v.iter().take(3).map(|e| e.id.as_str()).collect::<Vec<_>>().join(", ");
        if v.len() > 3 {
            s.push_str(", …");
        }
        s
    };
    let mut notes = Vec::new();
    let missing = without_adapter(entries, processor);
    if !missing.is_empty() {
        notes.push(format!(
            "{} challenge-form sequence(s) ({}) do not start with the 5' adapter {ADAPTER_5P}; their first 17 bp are replaced by plasmid sequence all the same.",
            missing.len(),
            ids(&missing)
        ));
    }
    if processor.scheme() == Scheme::Bhi {
        let long: Vec<&Entry> = entries.iter().filter(|e| e.sequence.len() > BHI_LEN).collect();
        if !long.is_empty() {
            notes.push(format!(
                "{} sequence(s) ({}) are longer than {BHI_LEN} bp: the BHI DataProcessor reads only their first {BHI_LEN} bp.",
                long.len(),
                ids(&long)
            ));
        }
    }
    notes
}

/// The positions (1-based, inclusive) of an input of `len` bp that the model reads: BHI the
/// first 110 bp (all of an 80 bp random region, which gets its flanks), UnlockDNA 21..len−20
/// (the 20 bp cut at each end), else the whole input.
pub fn read_range(processor: &DataProcessor, len: usize) -> (usize, usize) {
    match processor.scheme() {
        Scheme::Bhi if processor.input_form(len) != InputForm::RandomRegion => (1, len.clamp(1, BHI_LEN)),
        Scheme::UnlockDna => processor.variable_region(len).unwrap_or((1, len)),
        _ => (1, len),
    }
}

/// The SNV scan's positions of an input of `len` bp: everything the model reads when `whole`
/// ([`read_range`]), else the variable region (`DataProcessor::variable_region`: the 80 bp
/// random region, within what the model reads), or what the model reads when there is none.
pub fn scan_range(processor: &DataProcessor, len: usize, whole: bool) -> (usize, usize) {
    if whole {
        read_range(processor, len)
    } else {
        processor.variable_region(len).unwrap_or_else(|| read_range(processor, len))
    }
}

pub use prixfixe::predictor::parse_region;

/// The positions where two equal-length sequences differ, as `POS REF>ALT` (1-based).
pub fn differences(reference: &str, alternative: &str) -> Vec<String> {
    reference
        .chars()
        .zip(alternative.chars())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| format!("{}{a}>{b}", i + 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NATIVE: &str = crate::examples::NATIVE_EXAMPLES[0].2;

    #[test]
    fn raw_fasta_and_forms() {
        let p = DataProcessor::dream();
        let region = &NATIVE[17..97];
        let window = p.pad_str(NATIVE).unwrap();
        let text = format!("{}\n\n{region}\n  {}  \n", NATIVE.to_lowercase(), window);
        let e = read_input(&text, &p).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].sequence, NATIVE);
        assert_eq!([e[0].form, e[1].form, e[2].form], [InputForm::Challenge, InputForm::RandomRegion, InputForm::Window]);
        assert_eq!((e[1].id.as_str(), e[1].line), ("seq2", 3));
        // All three are the same model window.
        let windows: Vec<_> = e.iter().map(|x| p.pad(&x.sequence).unwrap()).collect();
        assert_eq!(windows[0], windows[1]);
        assert_eq!(windows[0], windows[2]);

        let fasta = format!(">YDL047W native\n{}\n{}\n>second\n{region}\n", &NATIVE[..50], &NATIVE[50..]);
        let e = read_input(&fasta, &p).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].id.as_str(), e[0].sequence.as_str()), ("YDL047W", NATIVE));
        assert_eq!((e[1].id.as_str(), e[1].line, e[1].form), ("second", 4, InputForm::RandomRegion));
        assert!(without_adapter(&e, &p).is_empty());
    }

    #[test]
    fn problems_say_what_and_where() {
        let p = DataProcessor::dream();
        let bad = format!("{NATIVE}\n{}X{}Z\n", &NATIVE[..40], &NATIVE[41..109]);
        let err = read_input(&bad, &p).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.starts_with("line 2, column 41: invalid character 'X' at base 41"), "{}", err.message);
        assert_eq!(
            err.bad_chars,
            vec![BadChar { line: 2, column: 41, character: 'X' }, BadChar { line: 2, column: 110, character: 'Z' }]
        );
        // FASTA headers may hold any text.
        assert!(bad_characters(">id with XYZ\nACGT").is_empty());

        let short = read_input("ACGTACGTAC\n", &p).unwrap_err();
        assert!(short.message.starts_with("line 1: sequence 'seq1' is 10 bp: too short"), "{}", short.message);
        let long = read_input(&format!("{NATIVE}\n{NATIVE}{NATIVE}\n"), &p).unwrap_err();
        assert!(long.message.starts_with("line 2: sequence 'seq2' is 220 bp: too long"), "{}", long.message);
        assert!(read_input("  \n\n", &p).unwrap_err().message.starts_with("no sequence"));
        let no_adapter = read_input(&NATIVE[1..], &p).unwrap();
        assert_eq!(without_adapter(&no_adapter, &p).len(), 1);
        assert!(read_notes(&no_adapter, &p)[0].contains("do not start with the 5' adapter"));
    }

    #[test]
    fn exact_length_models_take_only_their_length() {
        let p = DataProcessor::exact(249, false);
        let (_, id, seq) = crate::examples::DROSOPHILA_EXAMPLES[0];
        let e = read_input(&format!(">{id}\n{}\n", seq.to_lowercase()), &p).unwrap();
        assert_eq!((e[0].id.as_str(), e[0].sequence.as_str()), (id, seq));
        let human = crate::examples::HUMAN_EXAMPLES[0].2;
        let err = read_input(&format!("{seq}\n{human}\n"), &p).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.starts_with("line 2: sequence 'seq2' is 230 bp: this model reads sequences of exactly 249 bp"), "{}", err.message);
        // The DREAM forms are not accepted by a fixed-length model.
        assert!(read_input(&NATIVE[17..97], &p).unwrap_err().message.contains("is 80 bp"));
        assert!(length_rule(&p).starts_with("Each sequence must be exactly 249 bp"));
        assert_eq!(length_rule(&DataProcessor::dream()), LENGTH_RULE);
        for (_, _, s) in crate::examples::HUMAN_EXAMPLES {
            assert!(read_input(s, &DataProcessor::exact(230, false)).is_ok());
        }
    }

    #[test]
    fn bhi_takes_any_length_and_reads_the_first_110_bp() {
        let p = DataProcessor::bhi();
        assert_eq!(length_rule(&p), BHI_RULE);
        assert!(BHI_RULE.contains("first 110 bp") && BHI_RULE.contains("plasmid vector"));
        let long = format!("{NATIVE}{}", &NATIVE[..30]);
        let e = read_input(&format!(">short\nACGTA\n>native\n{NATIVE}\n>long\n{long}\n"), &p).unwrap();
        assert_eq!(e.iter().map(|x| x.sequence.len()).collect::<Vec<_>>(), [5, 110, 140]);
        // Nothing from the adapter is replaced, and a long sequence is noted.
        assert!(without_adapter(&e, &p).is_empty());
        let notes = read_notes(&e, &p);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("1 sequence(s) (long) are longer than 110 bp"), "{notes:?}");
        // What the model reads: the first 110 bp; the scan's default is the random region in it.
        assert_eq!(read_range(&p, 140), (1, 110));
        assert_eq!(read_range(&p, 5), (1, 5));
        assert_eq!(read_range(&p, 80), (1, 80));
        assert_eq!(scan_range(&p, 110, false), (18, 97));
        assert_eq!(scan_range(&p, 140, false), (18, 110));
        assert_eq!(scan_range(&p, 140, true), (1, 110));
        assert_eq!(scan_range(&p, 20, false), (1, 20));
        // The same windows as the predictor: the first 110 bp of the long one.
        assert_eq!(p.pad(&long).unwrap(), p.pad(NATIVE).unwrap());
        assert!(read_input("  \n", &p).unwrap_err().message.starts_with("no sequence"));
    }

    #[test]
    fn unlockdna_takes_41_to_140_bp() {
        let p = DataProcessor::unlockdna();
        assert_eq!(length_rule(&p), UNLOCKDNA_RULE);
        assert!(UNLOCKDNA_RULE.contains("41–140 bp") && UNLOCKDNA_RULE.contains("20 bp are cut at each end"));
        let ok140 = format!("{NATIVE}{}", &NATIVE[..30]);
        let e = read_input(&format!("{}\n{NATIVE}\n{ok140}\n", &NATIVE[..41]), &p).unwrap();
        assert_eq!(e.len(), 3);
        assert!(read_notes(&e, &p).is_empty());
        let too_long = format!("{ok140}A");
        let text = format!(">a\n{NATIVE}\n>b\n{too_long}\n");
        let err = read_input(&text, &p).unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.message.starts_with("line 3: sequence 'b' is 141 bp: too long. This model's UnlockDNA DataProcessor cuts 20 bp at each end"), "{}", err.message);
        assert!(err.message.contains("41–140 bp"), "{}", err.message);
        let err = read_input(&NATIVE[..40], &p).unwrap_err();
        assert!(err.message.starts_with("line 1: sequence 'seq1' is 40 bp: too short"), "{}", err.message);
        // The scan covers what the model reads: 21..len−20 (4–73 of an 80 bp region).
        assert_eq!(scan_range(&p, 110, false), (21, 90));
        assert_eq!(scan_range(&p, 110, true), (21, 90));
        assert_eq!(scan_range(&p, 80, true), (4, 73));
    }

    #[test]
    fn regions() {
        assert_eq!(parse_region(" "), Ok(None));
        assert_eq!(parse_region("18-97"), Ok(Some((18, 97))));
        assert_eq!(parse_region(" 18 – 97 "), Ok(Some((18, 97))));
        assert_eq!(parse_region("5..9"), Ok(Some((5, 9))));
        assert!(parse_region("18").unwrap_err().contains("expected FROM-TO"));
        assert!(parse_region("a-b").unwrap_err().contains("\"a-b\""));
        assert!(parse_region("0-5").unwrap_err().contains("1-based"));
        assert!(parse_region("9-5").unwrap_err().contains("FROM ≤ TO"));
    }

    #[test]
    fn allele_differences() {
        assert_eq!(differences("ACGTA", "ACCTA"), vec!["3G>C".to_string()]);
        assert!(differences("ACGT", "ACGT").is_empty());
    }
}
