//! Reading user inputs: sequences (FASTA, TSV, one per line) and seq→expression tables (the
//! DREAM `sequence<TAB>expression` format), plain or gzip-compressed.
//!
//! - [`read_sequences`] / [`read_sequence_file`]: sequences to predict. The format is detected
//!   from the content (see [`SequenceFormat`]); a TSV header and the other columns of each row
//!   are kept so that output can repeat the user's columns.
//! - [`read_expression_table`]: a whole training table in memory; [`for_each_expression_row`]
//!   (and [`for_each_expression_row_at`], which also gives the line number) stream the rows of a
//!   large table (the 6.7 M-row DREAM training file) from any [`BufRead`] without holding its
//!   text, one line buffer reused for every row.
//! - [`open_maybe_gz`], [`open_maybe_gz_read`], [`decompress_if_gz`]: transparent gzip (magic
//!   bytes `1f 8b`, multi-member streams such as bgzip included).
//!
//! Bases are validated with [`crate::data::parse_bases`] (A, C, G, T, N; any case; whitespace
//! ignored). Errors ([`InputError`]) say what and where: `FILE:LINE:COLUMN: message`, with the
//! 1-based line of the file and the 1-based character column in that line. Line ends may be LF
//! or CRLF, blank lines are skipped, and a UTF-8 byte-order mark is ignored. Nothing here panics
//! on user input.

use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Cursor, Read};

use flate2::bufread::MultiGzDecoder;

use crate::data::{base_code, parse_bases, SequenceError};

/// The two magic bytes that start a gzip stream.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// Buffer size of the readers made here.
const READ_BUFFER: usize = 1 << 16;

/// Header names (case-insensitive, a leading `#` ignored) of a sequence column.
const SEQUENCE_COLUMN_NAMES: &[&str] = &["sequence", "sequences", "seq", "seqs", "dna"];
/// Header names of an identifier column (the left-most one is used).
const ID_COLUMN_NAMES: &[&str] = &[
    "id",
    "name",
    "pos",
    "seq_id",
    "seqid",
    "sequence_id",
    "sequence_name",
    "identifier",
];
/// Other header names that mark a first line as a header.
const OTHER_COLUMN_NAMES: &[&str] = &[
    "expression",
    "expr",
    "activity",
    "label",
    "measured",
    "prediction",
    "predicted",
    "subset",
    "tag",
];

/// A problem with an input file. `Display` is `FILE:LINE:COLUMN: message`, `FILE:LINE: message`
/// when there is no column, or `FILE: message` when there is no line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// A character that is not a base (A, C, G, T, N) or whitespace in a sequence.
    #[error(
        "{file}:{line}:{column}: invalid character {character:?} at base {position}{}; only A, C, G, T and N are allowed",
        of_sequence(.id)
    )]
    InvalidBase {
        /// File name as given by the caller.
        file: String,
        /// 1-based line in the file.
        line: usize,
        /// 1-based character column in that line.
        column: usize,
        /// The offending character.
        character: char,
        /// 1-based position among the bases of the sequence (whitespace not counted; across all
        /// lines of a multi-line FASTA record).
        position: usize,
        /// Identifier of the sequence, when it has one.
        id: Option<String>,
    },
    /// Any other problem with the content (missing column, bad number, empty input, …).
    #[error("{}: {message}", location(.file, .line, .column))]
    Format {
        /// File name as given by the caller.
        file: String,
        /// 1-based line, when the problem is on one line.
        line: Option<usize>,
        /// 1-based character column, when the problem is at one place of the line.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// Reading or decompressing failed (includes invalid UTF-8 text).
    #[error("{}: {message}", location(.file, .line, .column))]
    Io {
        /// File name as given by the caller.
        file: String,
        /// 1-based line being read, when known.
        line: Option<usize>,
        /// 1-based character column, when known (invalid UTF-8).
        column: Option<usize>,
        /// What failed.
        message: String,
    },
}

fn location(file: &str, line: &Option<usize>, column: &Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
        (Some(l), None) => format!("{file}:{l}"),
        _ => file.to_string(),
    }
}

fn of_sequence(id: &Option<String>) -> String {
    match id {
        Some(id) => format!(" of sequence '{id}'"),
        None => String::new(),
    }
}

impl InputError {
    /// A [`InputError::Format`] error at `file[:line[:column]]`.
    pub fn new(
        file: &str,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self::Format {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    /// Places a [`SequenceError`] (from [`parse_bases`] or
    /// [`crate::data::DataProcessor::pad`]) in a file: `column_offset` is the number of
    /// characters before the sequence text on its line (0 when the sequence starts the line),
    /// `id` names the sequence in the message.
    pub fn from_sequence_error(
        file: &str,
        line: usize,
        column_offset: usize,
        id: Option<&str>,
        err: SequenceError,
    ) -> Self {
        match err {
            SequenceError::InvalidBase {
                character,
                position,
                column,
            } => Self::InvalidBase {
                file: file.to_string(),
                line,
                column: column_offset + column,
                character,
                position,
                id: id.map(str::to_string),
            },
            SequenceError::Empty => Self::new(
                file,
                Some(line),
                Some(column_offset + 1),
                format!("empty sequence{}", of_sequence(&id.map(str::to_string))),
            ),
            other => {
                let message = match id {
                    Some(id) => format!("sequence '{id}': {other}"),
                    None => other.to_string(),
                };
                Self::new(file, Some(line), None, message)
            }
        }
    }

    fn io(file: &str, line: Option<usize>, what: &str, err: &io::Error) -> Self {
        Self::Io {
            file: file.to_string(),
            line,
            column: None,
            message: format!("{what}: {err}"),
        }
    }

    /// The file name the error refers to.
    pub fn file(&self) -> &str {
        match self {
            Self::InvalidBase { file, .. } | Self::Format { file, .. } | Self::Io { file, .. } => {
                file
            }
        }
    }

    /// The 1-based line, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::InvalidBase { line, .. } => Some(*line),
            Self::Format { line, .. } | Self::Io { line, .. } => *line,
        }
    }

    /// The 1-based character column, when known.
    pub fn column(&self) -> Option<usize> {
        match self {
            Self::InvalidBase { column, .. } => Some(*column),
            Self::Format { column, .. } | Self::Io { column, .. } => *column,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// gzip
// ---------------------------------------------------------------------------------------------

/// `true` when `bytes` start with the gzip magic bytes `1f 8b`.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// The bytes themselves, or their decompressed content when they are gzip data.
///
/// # Errors
/// [`InputError::Io`] when the gzip data is corrupt or truncated.
pub fn decompress_if_gz<'a>(name: &str, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, InputError> {
    if !is_gzip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| InputError::io(name, None, "cannot decompress gzip data", &e))?;
    Ok(Cow::Owned(out))
}

/// Wraps a buffered reader so that gzip data (detected by its magic bytes) is decompressed on
/// the fly; other data is passed through unchanged. Concatenated gzip members (bgzip) are read
/// as one stream.
///
/// # Errors
/// When reading the first bytes fails. Corrupt gzip data is reported by the returned reader.
pub fn open_maybe_gz<'a, R: BufRead + 'a>(mut reader: R) -> io::Result<Box<dyn BufRead + 'a>> {
    let head = reader.fill_buf()?;
    if head.len() >= GZIP_MAGIC.len() || head.is_empty() {
        return Ok(if is_gzip(head) {
            Box::new(BufReader::with_capacity(
                READ_BUFFER,
                MultiGzDecoder::new(reader),
            ))
        } else {
            Box::new(reader)
        });
    }
    // A short first read: collect the first two bytes, then put them back in front.
    let mut prefix = Vec::with_capacity(GZIP_MAGIC.len());
    while prefix.len() < GZIP_MAGIC.len() {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let take = buf.len().min(GZIP_MAGIC.len() - prefix.len());
        prefix.extend_from_slice(&buf[..take]);
        reader.consume(take);
    }
    let gz = is_gzip(&prefix);
    let chained = Cursor::new(prefix).chain(reader);
    Ok(if gz {
        Box::new(BufReader::with_capacity(
            READ_BUFFER,
            MultiGzDecoder::new(chained),
        ))
    } else {
        Box::new(chained)
    })
}

/// [`open_maybe_gz`] for an unbuffered reader (a file, a network stream).
///
/// # Errors
/// When reading the first bytes fails.
pub fn open_maybe_gz_read<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn BufRead + 'a>> {
    open_maybe_gz(BufReader::with_capacity(READ_BUFFER, reader))
}

// ---------------------------------------------------------------------------------------------
// Lines
// ---------------------------------------------------------------------------------------------

/// One line as text: the line end (LF, CRLF) and, on line 1, a UTF-8 byte-order mark removed.
fn line_text<'b>(name: &str, line_no: usize, raw: &'b [u8]) -> Result<&'b str, InputError> {
    let mut raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    if line_no == 1 {
        raw = raw.strip_prefix(UTF8_BOM).unwrap_or(raw);
    }
    std::str::from_utf8(raw).map_err(|e| {
        let valid = &raw[..e.valid_up_to()];
        // `valid` is valid UTF-8 by construction.
        let column = std::str::from_utf8(valid).map_or(1, |s| s.chars().count() + 1);
        InputError::Io {
            file: name.to_string(),
            line: Some(line_no),
            column: Some(column),
            message: "not valid UTF-8 text (is this a text file?)".to_string(),
        }
    })
}

/// The non-blank lines of a whole text, numbered from 1.
pub(crate) fn non_blank_lines<'a>(name: &str, data: &'a [u8]) -> Result<Vec<(usize, &'a str)>, InputError> {
    let mut out = Vec::new();
    for (i, raw) in data.split(|&b| b == b'\n').enumerate() {
        let line = line_text(name, i + 1, raw)?;
        if !line.trim().is_empty() {
            out.push((i + 1, line));
        }
    }
    Ok(out)
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// The text with all whitespace removed (no copy work beyond the allocation when there is none).
fn without_whitespace(s: &str) -> String {
    if s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        s.to_string()
    } else {
        s.chars().filter(|c| !c.is_whitespace()).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Sequences
// ---------------------------------------------------------------------------------------------

/// The layout of a sequence file, detected by [`read_sequence_file`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceFormat {
    /// The first non-blank line starts with `>`: FASTA, records may span several lines; the id
    /// is the first word after `>`.
    Fasta,
    /// Some line contains a tab: one sequence per row in the sequence column (the column named
    /// `sequence`/`seq`/… by a header, else the first), other columns kept.
    Tsv,
    /// One sequence per line.
    Plain,
}

/// One input sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceRecord {
    /// The FASTA id, the value of the TSV id column (`id`, `name`, `pos`, …), else `seq{N}`
    /// (`N` = 1-based record number).
    pub id: String,
    /// The sequence as given (letter case kept), whitespace removed. Validated: A, C, G, T, N.
    pub sequence: String,
    /// 1-based line where the record starts (the `>` line for FASTA).
    pub line: usize,
    /// TSV only: the other columns of the row, in file order (the sequence column left out; the
    /// id column included). Empty for FASTA and one-per-line input.
    pub extra: Vec<String>,
}

/// A parsed sequence file: the records and what is needed to write output that keeps the
/// user's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceFile {
    /// Detected layout.
    pub format: SequenceFormat,
    /// The header line's fields (TSV: split on tabs, as given; one-per-line: the line), when
    /// the first line is a header.
    pub header: Option<Vec<String>>,
    /// TSV: 0-based index of the sequence column (0 for the other formats).
    pub sequence_column: usize,
    /// TSV: 0-based index of the column the ids come from, if any.
    pub id_column: Option<usize>,
    /// The sequences, in file order.
    pub records: Vec<SequenceRecord>,
}

impl SequenceFile {
    /// The header names that go with [`SequenceRecord::extra`] (the header without the sequence
    /// column), when there is a header.
    pub fn extra_header(&self) -> Option<Vec<&str>> {
        self.header.as_ref().map(|h| {
            h.iter()
                .enumerate()
                .filter(|&(i, _)| i != self.sequence_column)
                .map(|(_, s)| s.as_str())
                .collect()
        })
    }
}

/// Reads sequences from the bytes of a file (FASTA, TSV or one per line; gzip or not). See
/// [`read_sequence_file`], which also returns the format and the TSV header.
///
/// # Errors
/// See [`read_sequence_file`].
pub fn read_sequences(name: &str, bytes: &[u8]) -> Result<Vec<SequenceRecord>, InputError> {
    read_sequence_file(name, bytes).map(|f| f.records)
}

/// Reads sequences from the bytes of a file named `name` (the name is only used in messages).
///
/// Format detection: gzip data is decompressed first; then FASTA when the first non-blank line
/// starts with `>`, TSV when any line contains a tab, else one sequence per line. A first line
/// is a header (skipped, returned in [`SequenceFile::header`]) when one of its fields is a known
/// column name (`sequence`, `seq`, `id`, `name`, `pos`, `expression`, …) or when its sequence
/// field is not DNA and is mostly other letters (so that a sequence with a typo in the first
/// row is reported, not skipped).
///
/// # Errors
/// `FILE: no sequences found` for an input without sequences; `FILE:LINE:COLUMN: invalid
/// character …` for a bad base; `FILE:LINE: …` for a missing column or an empty FASTA record;
/// `FILE:…` for corrupt gzip or non-UTF-8 text.
pub fn read_sequence_file(name: &str, bytes: &[u8]) -> Result<SequenceFile, InputError> {
    let data = decompress_if_gz(name, bytes)?;
    let lines = non_blank_lines(name, &data)?;
    let Some(&(_, first)) = lines.first() else {
        return Err(InputError::new(name, None, None, "no sequences found"));
    };
    let file = if first.trim_start().starts_with('>') {
        parse_fasta(name, &lines)?
    } else if lines.iter().any(|(_, l)| l.contains('\t')) {
        parse_tsv(name, &lines)?
    } else {
        parse_plain(name, &lines)?
    };
    if file.records.is_empty() {
        return Err(InputError::new(name, None, None, "no sequences found"));
    }
    Ok(file)
}

/// Validates one piece of sequence text at `line`, its text starting after `column_offset`
/// characters; `base_offset` bases of the same sequence came before it. Returns the number of
/// bases.
fn check_bases(
    name: &str,
    line: usize,
    column_offset: usize,
    base_offset: usize,
    id: &str,
    text: &str,
) -> Result<usize, InputError> {
    match parse_bases(text) {
        Ok(codes) => Ok(codes.len()),
        Err(SequenceError::InvalidBase {
            character,
            position,
            column,
        }) => Err(InputError::InvalidBase {
            file: name.to_string(),
            line,
            column: column_offset + column,
            character,
            position: base_offset + position,
            id: Some(id.to_string()),
        }),
        Err(e) => Err(InputError::from_sequence_error(
            name,
            line,
            column_offset,
            Some(id),
            e,
        )),
    }
}

fn parse_fasta(name: &str, lines: &[(usize, &str)]) -> Result<SequenceFile, InputError> {
    struct Open {
        id: String,
        line: usize,
        sequence: String,
    }
    fn close(name: &str, open: Open, out: &mut Vec<SequenceRecord>) -> Result<(), InputError> {
        if open.sequence.is_empty() {
            return Err(InputError::new(
                name,
                Some(open.line),
                None,
                format!("FASTA record '{}' has no sequence", open.id),
            ));
        }
        out.push(SequenceRecord {
            id: open.id,
            sequence: open.sequence,
            line: open.line,
            extra: Vec::new(),
        });
        Ok(())
    }

    let mut records = Vec::new();
    let mut open: Option<Open> = None;
    let mut bases = 0usize;
    for &(line_no, line) in lines {
        let trimmed = line.trim_start();
        if let Some(title) = trimmed.strip_prefix('>') {
            if let Some(done) = open.take() {
                close(name, done, &mut records)?;
            }
            let n = records.len() + 1;
            let id = title
                .split_whitespace()
                .next()
                .map_or_else(|| format!("seq{n}"), str::to_string);
            open = Some(Open {
                id,
                line: line_no,
                sequence: String::new(),
            });
            bases = 0;
        } else if let Some(rec) = open.as_mut() {
            bases += check_bases(name, line_no, 0, bases, &rec.id, line)?;
            rec.sequence
                .extend(line.chars().filter(|c| !c.is_whitespace()));
        } else {
            // Unreachable: the first non-blank line starts with '>'.
            return Err(InputError::new(
                name,
                Some(line_no),
                None,
                "sequence line before any '>' line",
            ));
        }
    }
    if let Some(done) = open.take() {
        close(name, done, &mut records)?;
    }
    Ok(SequenceFile {
        format: SequenceFormat::Fasta,
        header: None,
        sequence_column: 0,
        id_column: None,
        records,
    })
}

fn column_name(field: &str) -> String {
    field
        .trim()
        .trim_start_matches('#')
        .trim()
        .to_ascii_lowercase()
}

fn find_column(fields: &[&str], names: &[&str], skip: Option<usize>) -> Option<usize> {
    fields
        .iter()
        .enumerate()
        .find(|&(i, f)| Some(i) != skip && names.contains(&column_name(f).as_str()))
        .map(|(i, _)| i)
}

/// Header detection for the first line of a TSV or one-per-line file.
fn looks_like_header(fields: &[&str]) -> bool {
    let known = |f: &&str| {
        let n = column_name(f);
        SEQUENCE_COLUMN_NAMES.contains(&n.as_str())
            || ID_COLUMN_NAMES.contains(&n.as_str())
            || OTHER_COLUMN_NAMES.contains(&n.as_str())
    };
    if fields.iter().any(known) {
        return true;
    }
    let first = fields.first().copied().unwrap_or("");
    if parse_bases(first).is_ok() {
        return false;
    }
    let (mut total, mut dna, mut other_letter) = (0usize, 0usize, false);
    for c in first.chars().filter(|c| !c.is_whitespace()) {
        total += 1;
        if base_code(c).is_some() {
            dna += 1;
        } else if c.is_alphabetic() {
            other_letter = true;
        }
    }
    // Mostly bases (e.g. a sequence with one typo): data, so that the typo is reported.
    other_letter && 4 * dna < 3 * total
}

fn parse_tsv(name: &str, lines: &[(usize, &str)]) -> Result<SequenceFile, InputError> {
    let first_fields: Vec<&str> = lines[0].1.split('\t').collect();
    let (header, sequence_column, id_column, body) = if looks_like_header(&first_fields) {
        let seq_col = find_column(&first_fields, SEQUENCE_COLUMN_NAMES, None).unwrap_or(0);
        let id_col = find_column(&first_fields, ID_COLUMN_NAMES, Some(seq_col));
        let header = first_fields.iter().map(|s| s.to_string()).collect();
        (Some(header), seq_col, id_col, &lines[1..])
    } else {
        (None, 0, None, lines)
    };

    let mut records = Vec::with_capacity(body.len());
    let mut fields: Vec<&str> = Vec::new();
    for &(line_no, line) in body {
        fields.clear();
        fields.extend(line.split('\t'));
        let Some(&seq_field) = fields.get(sequence_column) else {
            return Err(InputError::new(
                name,
                Some(line_no),
                None,
                format!(
                    "expected at least {} tab-separated columns (the sequence is column {} of the header), found {}",
                    sequence_column + 1,
                    sequence_column + 1,
                    fields.len()
                ),
            ));
        };
        let column_offset: usize = fields[..sequence_column]
            .iter()
            .map(|f| char_len(f) + 1)
            .sum();
        let n = records.len() + 1;
        let id = id_column
            .and_then(|c| fields.get(c))
            .map(|f| f.trim())
            .filter(|f| !f.is_empty())
            .map_or_else(|| format!("seq{n}"), str::to_string);
        check_bases(name, line_no, column_offset, 0, &id, seq_field)?;
        let extra = fields
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != sequence_column)
            .map(|(_, f)| f.to_string())
            .collect();
        records.push(SequenceRecord {
            id,
            sequence: without_whitespace(seq_field),
            line: line_no,
            extra,
        });
    }
    Ok(SequenceFile {
        format: SequenceFormat::Tsv,
        header,
        sequence_column,
        id_column,
        records,
    })
}

fn parse_plain(name: &str, lines: &[(usize, &str)]) -> Result<SequenceFile, InputError> {
    let (header, body) = if looks_like_header(&[lines[0].1]) {
        (Some(vec![lines[0].1.to_string()]), &lines[1..])
    } else {
        (None, lines)
    };
    let mut records = Vec::with_capacity(body.len());
    for &(line_no, line) in body {
        let id = format!("seq{}", records.len() + 1);
        check_bases(name, line_no, 0, 0, &id, line)?;
        records.push(SequenceRecord {
            id,
            sequence: without_whitespace(line),
            line: line_no,
            extra: Vec::new(),
        });
    }
    Ok(SequenceFile {
        format: SequenceFormat::Plain,
        header,
        sequence_column: 0,
        id_column: None,
        records,
    })
}

// ---------------------------------------------------------------------------------------------
// Expression tables
// ---------------------------------------------------------------------------------------------

/// A sequence → expression table (training data), in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpressionTable {
    /// Sequences as given (letter case kept), whitespace removed. Validated: A, C, G, T, N.
    pub sequences: Vec<String>,
    /// Measured expression, finite.
    pub expression: Vec<f64>,
    /// 1-based file line of each row.
    pub lines: Vec<usize>,
}

impl ExpressionTable {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.sequences.len()
    }

    /// `true` when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.sequences.is_empty()
    }
}

/// Reads a whole `sequence<TAB>expression` table (gzip or not) into memory. See
/// [`for_each_expression_row_at`] for the format and the errors; for very large tables prefer
/// streaming with [`for_each_expression_row`] and packing the sequences.
///
/// # Errors
/// See [`for_each_expression_row_at`].
pub fn read_expression_table(name: &str, bytes: &[u8]) -> Result<ExpressionTable, InputError> {
    let reader =
        open_maybe_gz(bytes).map_err(|e| InputError::io(name, None, "cannot read input", &e))?;
    let mut table = ExpressionTable::default();
    if !is_gzip(bytes) {
        // DREAM rows are ~125 bytes; a guess that avoids most regrowth.
        let guess = bytes.len() / 100;
        table.sequences.reserve(guess);
        table.expression.reserve(guess);
        table.lines.reserve(guess);
    }
    for_each_expression_row_at(name, reader, |line, sequence, value| {
        table.sequences.push(without_whitespace(sequence));
        table.expression.push(value);
        table.lines.push(line);
        Ok(())
    })?;
    Ok(table)
}

/// Streams the rows of a `sequence<TAB>expression` table, calling `f(sequence, expression)` for
/// each; returns the number of rows. See [`for_each_expression_row_at`].
///
/// # Errors
/// See [`for_each_expression_row_at`].
pub fn for_each_expression_row<R: BufRead>(
    name: &str,
    reader: R,
    mut f: impl FnMut(&str, f64) -> Result<(), InputError>,
) -> Result<usize, InputError> {
    for_each_expression_row_at(name, reader, |_, sequence, value| f(sequence, value))
}

/// Streams the rows of a `sequence<TAB>expression` table (the DREAM training format), calling
/// `f(line, sequence, expression)` for each row, with the 1-based file line (for the caller's
/// own errors, e.g. [`InputError::from_sequence_error`] after padding); returns the number of
/// rows. The reader is not decompressed here: wrap it with [`open_maybe_gz`] for gzip.
///
/// Format: one row per line, fields separated by tabs: the sequence (validated: A, C, G, T, N,
/// any case; passed to `f` trimmed, otherwise as given), then the expression (a finite decimal
/// number); further columns are ignored. Blank lines are skipped; LF or CRLF. The first line is
/// skipped as a header when its second field is not a number and its first field is not DNA
/// (e.g. `sequence<TAB>expression`).
///
/// One line buffer is reused for all rows: no allocation per row.
///
/// # Errors
/// - `FILE:LINE: expected 2 tab-separated columns (sequence, expression), found 1`
/// - `FILE:LINE:COLUMN: expression "abc" is not a number` (also `nan`; `inf` is "not a finite
///   number"), COLUMN being where the expression field starts
/// - `FILE:LINE:COLUMN: invalid character 'R' at base …` / `empty sequence`
/// - `FILE: no data rows found …` when there is no row
/// - `FILE:LINE: cannot read input: …` when reading (e.g. decompressing) fails, or the line is
///   not UTF-8
/// - any error returned by `f`, unchanged (reading stops there).
pub fn for_each_expression_row_at<R: BufRead>(
    name: &str,
    mut reader: R,
    mut f: impl FnMut(usize, &str, f64) -> Result<(), InputError>,
) -> Result<usize, InputError> {
    let mut buf: Vec<u8> = Vec::with_capacity(512);
    let mut line_no = 0usize;
    let mut rows = 0usize;
    let mut seen_first = false;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| InputError::io(name, Some(line_no + 1), "cannot read input", &e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let line = line_text(name, line_no, &buf)?;
        if line.trim().is_empty() {
            continue;
        }
        let is_first = !seen_first;
        seen_first = true;

        let mut fields = line.split('\t');
        let seq_field = fields.next().unwrap_or("");
        let Some(expr_field) = fields.next() else {
            return Err(InputError::new(
                name,
                Some(line_no),
                None,
                "expected 2 tab-separated columns (sequence, expression), found 1",
            ));
        };
        let value = match parse_expression(expr_field) {
            Ok(v) => v,
            Err(message) => {
                if is_first && parse_bases(seq_field).is_err() {
                    continue; // header line
                }
                let column = char_len(seq_field) + 2;
                return Err(InputError::new(name, Some(line_no), Some(column), message));
            }
        };
        if !quick_all_bases(seq_field) {
            // The slow path names the first bad character (or accepts Unicode whitespace).
            if let Err(e) = parse_bases(seq_field) {
                return Err(InputError::from_sequence_error(name, line_no, 0, None, e));
            }
        }
        f(line_no, seq_field.trim(), value)?;
        rows += 1;
    }
    if rows == 0 {
        return Err(InputError::new(
            name,
            None,
            None,
            "no data rows found; expected lines of sequence<TAB>expression",
        ));
    }
    Ok(rows)
}

/// Fast check with the same alphabet as [`parse_bases`] ([`base_code`]) for ASCII text: at
/// least one base, only bases and ASCII whitespace. `false` means "look closer".
#[inline]
fn quick_all_bases(s: &str) -> bool {
    let mut any = false;
    for b in s.bytes() {
        if b.is_ascii_whitespace() {
            continue;
        }
        if !b.is_ascii() || base_code(b as char).is_none() {
            return false;
        }
        any = true;
    }
    any
}

/// Parses an expression field; the error is the message.
fn parse_expression(field: &str) -> Result<f64, String> {
    let t = field.trim();
    if t.is_empty() {
        return Err("expression is missing (empty field)".to_string());
    }
    let shown = shorten(t);
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) if v.is_nan() => Err(format!("expression {shown:?} is not a number")),
        Ok(_) => Err(format!("expression {shown:?} is not a finite number")),
        Err(_) => {
            let hint = if t.contains(',') && t.replace(',', ".").parse::<f64>().is_ok() {
                " (use '.' as the decimal separator)"
            } else {
                ""
            };
            Err(format!("expression {shown:?} is not a number{hint}"))
        }
    }
}

/// At most 40 characters of a field, for messages.
fn shorten(s: &str) -> Cow<'_, str> {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => Cow::Owned(format!("{}…", &s[..i])),
        None => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::is_singleton;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    const TRAIN_DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/dream/train_demo.tsv");
    const TEST_SEQUENCES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/dream/test_sequences.tsv"
    );

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn err_text<T: std::fmt::Debug>(r: Result<T, InputError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn fasta_multiline_lower_case_and_n() {
        let text = ">r1 some description\nacgtN\nNNacg\n\n>r2\nTTTT\n  \n>\nGG\n";
        let file = read_sequence_file("in.fa", text.as_bytes()).unwrap();
        assert_eq!(file.format, SequenceFormat::Fasta);
        assert_eq!(file.header, None);
        let ids: Vec<&str> = file.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["r1", "r2", "seq3"]);
        assert_eq!(file.records[0].sequence, "acgtNNNacg");
        assert_eq!(file.records[0].line, 1);
        assert_eq!(file.records[1].sequence, "TTTT");
        assert_eq!(file.records[1].line, 5);
        assert_eq!(file.records[2].line, 8);
        assert!(file.records.iter().all(|r| r.extra.is_empty()));
    }

    #[test]
    fn fasta_invalid_character_reports_line_and_column() {
        let text = ">a\nACGT\nAC RT\n";
        let err = read_sequences("x.fa", text.as_bytes()).unwrap_err();
        assert_eq!(
            err,
            InputError::InvalidBase {
                file: "x.fa".into(),
                line: 3,
                column: 4,
                character: 'R',
                position: 7,
                id: Some("a".into()),
            }
        );
        assert_eq!(
            (err.line(), err.column(), err.file()),
            (Some(3), Some(4), "x.fa")
        );
        let msg = err.to_string();
        assert!(
            msg.starts_with("x.fa:3:4: invalid character 'R' at base 7 of sequence 'a'"),
            "{msg}"
        );
        // A record without sequence.
        let msg = err_text(read_sequences("x.fa", b">a\n>b\nAC\n"));
        assert_eq!(msg, "x.fa:1: FASTA record 'a' has no sequence");
    }

    #[test]
    fn tsv_header_and_extra_columns() {
        // The DREAM test file layout: the sequence is the last column, ids from `pos`.
        let text =
            "pos\tsubset\ttag\tsequence\n115\tnative\tYDL047W.5\tACGTN\n\n146\trandom\t\tacgt\n";
        let file = read_sequence_file("t.tsv", text.as_bytes()).unwrap();
        assert_eq!(file.format, SequenceFormat::Tsv);
        assert_eq!(
            file.header.as_deref(),
            Some(&["pos", "subset", "tag", "sequence"].map(String::from)[..])
        );
        assert_eq!((file.sequence_column, file.id_column), (3, Some(0)));
        assert_eq!(file.extra_header(), Some(vec!["pos", "subset", "tag"]));
        let r = &file.records;
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].id.as_str(), r[0].sequence.as_str(), r[0].line),
            ("115", "ACGTN", 2)
        );
        assert_eq!(r[0].extra, ["115", "native", "YDL047W.5"]);
        assert_eq!((r[1].id.as_str(), r[1].line), ("146", 4));
        assert_eq!(r[1].extra, ["146", "random", ""]);

        // Bad base in the 4th column: the column counts the characters before it.
        let bad = "pos\tsubset\ttag\tsequence\n115\tnative\tY\tACXT\n";
        let msg = err_text(read_sequences("t.tsv", bad.as_bytes()));
        assert!(
            msg.starts_with("t.tsv:2:16: invalid character 'X' at base 3 of sequence '115'"),
            "{msg}"
        );
        // Missing sequence column.
        let short = "pos\tsubset\ttag\tsequence\n115\tnative\n";
        let msg = err_text(read_sequences("t.tsv", short.as_bytes()));
        assert!(
            msg.starts_with("t.tsv:2: expected at least 4 tab-separated columns"),
            "{msg}"
        );

        // Sequence first, named header, `name` column for ids.
        let text = "Sequence\tname\tgroup\nACGT\tfoo\tg1\nTTGA\t\tg2\n";
        let file = read_sequence_file("t.tsv", text.as_bytes()).unwrap();
        assert_eq!((file.sequence_column, file.id_column), (0, Some(1)));
        assert_eq!(file.extra_header(), Some(vec!["name", "group"]));
        assert_eq!(file.records[0].id, "foo");
        assert_eq!(file.records[0].extra, ["foo", "g1"]);
        assert_eq!(file.records[1].id, "seq2"); // empty id cell

        // A header recognised by its words only.
        let file = read_sequence_file("t.tsv", b"my_dna\tnote\nACGT\tx\n").unwrap();
        assert_eq!(file.header.as_ref().map(Vec::len), Some(2));
        assert_eq!(file.records.len(), 1);

        // No header: the first row is data, ids seq{N}, other columns kept.
        let file = read_sequence_file("t.tsv", b"ACGT\t1.5\nGGCC\t2\n").unwrap();
        assert_eq!(file.header, None);
        assert_eq!(file.extra_header(), None);
        assert_eq!(file.records[1].id, "seq2");
        assert_eq!(file.records[1].extra, ["2"]);
        // A typo in the first row is reported, not taken for a header.
        let msg = err_text(read_sequences("t.tsv", b"ACGTACGTRA\t1.5\nGGCC\t2\n"));
        assert!(msg.starts_with("t.tsv:1:9: invalid character 'R'"), "{msg}");
    }

    #[test]
    fn plain_one_per_line() {
        let file = read_sequence_file("s.txt", b"ACGT\n\n  acgn  \nTTTT").unwrap();
        assert_eq!(file.format, SequenceFormat::Plain);
        let r = &file.records;
        assert_eq!(r.len(), 3);
        assert_eq!(
            (r[0].id.as_str(), r[0].sequence.as_str(), r[0].line),
            ("seq1", "ACGT", 1)
        );
        assert_eq!(
            (r[1].id.as_str(), r[1].sequence.as_str(), r[1].line),
            ("seq2", "acgn", 3)
        );
        assert_eq!((r[2].id.as_str(), r[2].line), ("seq3", 4));
        // A header line.
        let file = read_sequence_file("s.txt", b"sequence\nACGT\n").unwrap();
        assert_eq!(file.header, Some(vec!["sequence".to_string()]));
        assert_eq!(file.records.len(), 1);
        assert_eq!(file.records[0].line, 2);
        // Invalid character.
        let msg = err_text(read_sequences("s.txt", b"ACGT\nAC-T\n"));
        assert!(
            msg.starts_with("s.txt:2:3: invalid character '-' at base 3 of sequence 'seq2'"),
            "{msg}"
        );
    }

    #[test]
    fn crlf_line_ends() {
        let fa = read_sequences("a.fa", b">x desc\r\nAC\r\ngt\r\n\r\n>y\r\nNN\r\n").unwrap();
        assert_eq!(fa.len(), 2);
        assert_eq!((fa[0].id.as_str(), fa[0].sequence.as_str()), ("x", "ACgt"));
        assert_eq!(fa[1].sequence, "NN");
        let tsv = read_sequence_file("a.tsv", b"id\tsequence\r\nr1\tACGT\r\n").unwrap();
        assert_eq!(
            tsv.header,
            Some(vec!["id".to_string(), "sequence".to_string()])
        );
        assert_eq!(tsv.records[0].extra, ["r1"]);
        assert_eq!(tsv.records[0].sequence, "ACGT");
        let plain = read_sequences("a.txt", b"ACGT\r\nGG\r\n").unwrap();
        assert_eq!(plain[1].sequence, "GG");
        let msg = err_text(read_sequences("a.fa", b">x\r\nACGR\r\n"));
        assert!(msg.starts_with("a.fa:2:4: invalid character 'R'"), "{msg}");
        let t = read_expression_table("e.tsv", b"ACGT\t1.5\r\nGG\t2\r\n").unwrap();
        assert_eq!(t.expression, [1.5, 2.0]);
        assert_eq!(t.sequences, ["ACGT", "GG"]);
        // A UTF-8 byte-order mark is ignored.
        let bom = read_sequences("b.fa", b"\xEF\xBB\xBF>x\nAC\n").unwrap();
        assert_eq!(bom[0].id, "x");
    }

    #[test]
    fn gzip_round_trip() {
        let text = b">r1\nACGT\nNN\n>r2\nggcc\n";
        let plain = read_sequences("in.fa", text).unwrap();
        let packed = gz(text);
        assert!(is_gzip(&packed));
        assert_eq!(read_sequences("in.fa.gz", &packed).unwrap(), plain);
        assert_eq!(plain[0].sequence, "ACGTNN");

        let table = b"ACGT\t1.5\nGGCC\t3\n";
        let t = read_expression_table("t.tsv.gz", &gz(table)).unwrap();
        assert_eq!(t, read_expression_table("t.tsv", table).unwrap());
        assert_eq!(t.lines, [1, 2]);

        // Concatenated members (bgzip-style) are one stream.
        let mut two = gz(b"ACGT\t1\n");
        two.extend(gz(b"GGCC\t2\n"));
        assert_eq!(read_expression_table("t.tsv.gz", &two).unwrap().len(), 2);

        // A reader that hands out one byte at a time still detects the magic bytes.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        let gzt = gz(table);
        let reader = open_maybe_gz(BufReader::with_capacity(1, Trickle(&gzt))).unwrap();
        let mut rows = Vec::new();
        let n = for_each_expression_row("t.gz", reader, |s, e| {
            rows.push((s.to_string(), e));
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(rows[1], ("GGCC".to_string(), 3.0));
        let reader = open_maybe_gz(BufReader::with_capacity(1, Trickle(table))).unwrap();
        assert_eq!(
            for_each_expression_row("t", reader, |_, _| Ok(())).unwrap(),
            2
        );

        // Corrupt or truncated gzip: an error, not a panic.
        let truncated = &gzt[..gzt.len() - 6];
        let msg = err_text(read_expression_table("t.gz", truncated));
        assert!(msg.starts_with("t.gz:"), "{msg}");
        let mut corrupt = gz(text);
        let mid = corrupt.len() / 2;
        corrupt[mid] ^= 0xff;
        let e = read_sequences("in.fa.gz", &corrupt);
        assert!(matches!(
            e,
            Err(InputError::Io { .. })
                | Err(InputError::InvalidBase { .. })
                | Err(InputError::Format { .. })
        ));
        assert!(read_sequences("x.gz", &[0x1f, 0x8b]).is_err());
    }

    #[test]
    fn empty_input_is_an_error() {
        for input in [&b""[..], b"\n\n  \r\n", b"sequence\n", b"id\tsequence\n"] {
            let msg = err_text(read_sequences("e.txt", input));
            assert_eq!(msg, "e.txt: no sequences found");
        }
        assert_eq!(
            err_text(read_sequences("e.gz", &gz(b""))),
            "e.gz: no sequences found"
        );
        let msg = err_text(read_expression_table("e.tsv", b"\n"));
        assert!(msg.starts_with("e.tsv: no data rows found"), "{msg}");
        let msg = err_text(read_expression_table("e.tsv", b"sequence\texpression\n"));
        assert!(msg.starts_with("e.tsv: no data rows found"), "{msg}");
        // Not text.
        let msg = err_text(read_sequences("b.bin", b"ACGT\nAC\xff\xfeGT\n"));
        assert_eq!(
            msg,
            "b.bin:2:3: not valid UTF-8 text (is this a text file?)"
        );
        let msg = err_text(read_expression_table("b.bin", b"ACGT\t1\nAC\xffGT\t2\n"));
        assert!(msg.starts_with("b.bin:2:3: not valid UTF-8"), "{msg}");
    }

    #[test]
    fn expression_table_errors_and_header() {
        let msg = err_text(read_expression_table("t.tsv", b"ACGT\t1\nACGT\n"));
        assert_eq!(
            msg,
            "t.tsv:2: expected 2 tab-separated columns (sequence, expression), found 1"
        );
        let msg = err_text(read_expression_table("t.tsv", b"ACGT\t1\nACGT\tabc\n"));
        assert_eq!(msg, "t.tsv:2:6: expression \"abc\" is not a number");
        let msg = err_text(read_expression_table("t.tsv", b"ACGT\t1\nACGTACGT\tnan\n"));
        assert_eq!(msg, "t.tsv:2:10: expression \"nan\" is not a number");
        let msg = err_text(read_expression_table("t.tsv", b"ACGT\t1\nAC\t-inf\n"));
        assert_eq!(msg, "t.tsv:2:4: expression \"-inf\" is not a finite number");
        let msg = err_text(read_expression_table("t.tsv", b"AC\t1,5\n"));
        assert_eq!(
            msg,
            "t.tsv:1:4: expression \"1,5\" is not a number (use '.' as the decimal separator)"
        );
        let msg = err_text(read_expression_table("t.tsv", b"AC\t\n"));
        assert_eq!(msg, "t.tsv:1:4: expression is missing (empty field)");
        // Invalid base, empty sequence.
        let msg = err_text(read_expression_table("t.tsv", b"ACGT\t1\nACGY\t2\n"));
        assert!(
            msg.starts_with("t.tsv:2:4: invalid character 'Y' at base 4;"),
            "{msg}"
        );
        let msg = err_text(read_expression_table("t.tsv", b"ACGT\t1\n\t2\n"));
        assert_eq!(msg, "t.tsv:2:1: empty sequence");

        // Header skipped; extra columns ignored; blank lines skipped; lines kept.
        let t = read_expression_table(
            "t.tsv",
            b"sequence\texpression\tnote\n\nACGT\t1.25\tx\n ggnn \t-2e-1\n",
        )
        .unwrap();
        assert_eq!(t.sequences, ["ACGT", "ggnn"]);
        assert_eq!(t.expression, [1.25, -0.2]);
        assert_eq!(t.lines, [3, 4]);
        // A bad number on a DNA first row is an error, not a header.
        let msg = err_text(read_expression_table("t.tsv", b"ACGT\tabc\nACGT\t1\n"));
        assert_eq!(msg, "t.tsv:1:6: expression \"abc\" is not a number");
        // Only the first line can be a header.
        let msg = err_text(read_expression_table("t.tsv", b"ACGT\t1\nseq\texpr\n"));
        assert_eq!(msg, "t.tsv:2:5: expression \"expr\" is not a number");

        // Errors from the callback pass through; the line is given to it.
        let e = for_each_expression_row_at("t.tsv", &b"ACGT\t1\nAC\t2\n"[..], |line, s, _| {
            if s.len() < 4 {
                Err(InputError::new("t.tsv", Some(line), None, "too short"))
            } else {
                Ok(())
            }
        });
        assert_eq!(err_text(e), "t.tsv:2: too short");
    }

    #[test]
    fn sequence_error_placement() {
        let e = InputError::from_sequence_error(
            "f",
            7,
            10,
            Some("s1"),
            SequenceError::TooShort {
                len: 3,
                min: 18,
                adapter: 17,
            },
        );
        assert!(
            e.to_string()
                .starts_with("f:7: sequence 's1': sequence too short: 3 bp"),
            "{e}"
        );
        let e = InputError::from_sequence_error(
            "f",
            7,
            10,
            None,
            SequenceError::InvalidBase {
                character: 'x',
                position: 2,
                column: 3,
            },
        );
        assert_eq!(
            e.to_string(),
            "f:7:13: invalid character 'x' at base 2; only A, C, G, T and N are allowed"
        );
        assert_eq!(InputError::new("f", None, Some(3), "m").to_string(), "f: m");
    }

    #[test]
    fn real_dream_train_demo() {
        let bytes = std::fs::read(TRAIN_DEMO).unwrap();
        // 6,370 rows: `wc -l` (and the data README) count 6,369 because the last line has no
        // newline.
        assert_ne!(bytes.last(), Some(&b'\n'));
        let t = read_expression_table("train_demo.tsv", &bytes).unwrap();
        assert_eq!(t.len(), 6370);
        assert_eq!(t.expression.len(), 6370);
        assert_eq!(*t.lines.last().unwrap(), 6370);
        assert_eq!(
            t.expression.iter().filter(|&&e| is_singleton(e)).count(),
            3693
        );
        assert_eq!(t.sequences.iter().filter(|s| s.contains('N')).count(), 25);
        let (min, max) = t.sequences.iter().fold((usize::MAX, 0), |(a, b), s| {
            (a.min(s.len()), b.max(s.len()))
        });
        assert_eq!((min, max), (87, 135));
        assert!(t.expression.iter().all(|e| (0.0..=17.0).contains(e)));

        // Streaming, gzip-compressed, gives the same rows.
        let reader = open_maybe_gz_read(Cursor::new(gz(&bytes))).unwrap();
        let (mut n, mut singletons) = (0, 0);
        let rows = for_each_expression_row("train_demo.tsv.gz", reader, |s, e| {
            assert_eq!(s, t.sequences[n]);
            n += 1;
            singletons += usize::from(is_singleton(e));
            Ok(())
        })
        .unwrap();
        assert_eq!((rows, n, singletons), (6370, 6370, 3693));

        // As a sequence file: headerless TSV, the expression kept as an extra column.
        let file = read_sequence_file("train_demo.tsv", &bytes).unwrap();
        assert_eq!(
            (file.format, file.header.is_none()),
            (SequenceFormat::Tsv, true)
        );
        assert_eq!(file.records.len(), 6370);
        assert_eq!(file.records[1].extra, ["12"]);
    }

    #[test]
    fn real_dream_test_sequences() {
        let bytes = std::fs::read(TEST_SEQUENCES).unwrap();
        let file = read_sequence_file("test_sequences.tsv", &bytes).unwrap();
        assert_eq!(file.format, SequenceFormat::Tsv);
        assert_eq!(
            file.header.as_ref().unwrap(),
            &["pos", "subset", "tag", "sequence"]
        );
        assert_eq!((file.sequence_column, file.id_column), (3, Some(0)));
        assert_eq!(file.records.len(), 16_759);
        assert_eq!(file.records[0].id, "115");
        assert_eq!(file.records[0].extra, ["115", "native", "YDL047W.5"]);
        assert_eq!(file.records[0].line, 2);
    }
}
