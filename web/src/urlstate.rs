//! The page's address as state: `?model=dream-rnn&task=scan&seq=ACGT…` reproduces a view with
//! no server. Pure parsing and formatting of the query string (tested natively); the page reads
//! it on load and rewrites it (`history.replaceState`) whenever the user runs a task.
//!
//! Keys: `backend` (`cpu` forces the CPU), `model` (a shipped bundle name), `task`
//! (`predict`, `scan`, `tile`, `variants`), `seq` (the sequence box: raw or FASTA, newlines as
//! `%0A`), `motif` and `region` (motif tiling), `variants` (the variant table). Values are
//! percent-encoded (UTF-8); `+` reads as a space. Unknown keys and a bad `task` are ignored.

use std::fmt::Write as _;

/// Longest percent-encoded `seq` (or `variants`) value put in the address (~8 kB): longer ones
/// are left out (the page says so), since browsers and servers limit URL length.
pub const MAX_URL_VALUE: usize = 8 * 1024;

/// A task the page runs on its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Predicted expression of the sequences in the box.
    Predict,
    /// SNV effect scan (in-silico mutagenesis) of the first sequence.
    Scan,
    /// Motif tiling over the sequences in the box.
    Tile,
    /// Variant table: reference, alternative, variant effect.
    Variants,
}

impl Task {
    /// The name in the address.
    pub fn name(self) -> &'static str {
        match self {
            Self::Predict => "predict",
            Self::Scan => "scan",
            Self::Tile => "tile",
            Self::Variants => "variants",
        }
    }

    /// The task of a name (`None` for anything else).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Predict, Self::Scan, Self::Tile, Self::Variants].into_iter().find(|t| t.name() == name)
    }
}

/// What the address carries; `None` = not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlState {
    /// `cpu` forces the CPU backend.
    pub backend: Option<String>,
    /// Bundle name of the model to load first.
    pub model: Option<String>,
    /// The task to run once the model is ready.
    pub task: Option<Task>,
    /// The sequence box's text.
    pub seq: Option<String>,
    /// Motif tiling: the motif (bases or a known name).
    pub motif: Option<String>,
    /// Motif tiling: the region, `FROM-TO`.
    pub region: Option<String>,
    /// The variant table's text.
    pub variants: Option<String>,
}

/// Decodes `%XX` escapes (UTF-8) and `+` (a space); a `%` not followed by two hex digits is
/// kept as is, invalid UTF-8 becomes U+FFFD.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything except the unreserved characters `A–Z a–z 0–9 - _ . ~`
/// (so `>`, newlines, `&`, `=`, `+`, `%`, spaces and tabs are escaped).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~') {
            out.push(c as char);
        } else {
            let _ = write!(out, "%{c:02X}");
        }
    }
    out
}

/// Reads a query string (`location.search`, with or without the leading `?`). The first of a
/// repeated key wins; empty values count as not given.
pub fn parse(search: &str) -> UrlState {
    let mut st = UrlState::default();
    for pair in search.trim_start_matches('?').split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        if v.is_empty() {
            continue;
        }
        let slot = match percent_decode(k).as_str() {
            "backend" => &mut st.backend,
            "model" => &mut st.model,
            "seq" => &mut st.seq,
            "motif" => &mut st.motif,
            "region" => &mut st.region,
            "variants" => &mut st.variants,
            "task" => {
                if st.task.is_none() {
                    st.task = Task::from_name(v.trim());
                }
                continue;
            }
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(v);
        }
    }
    st
}

/// Writes the query string (with the leading `?`; empty for no keys), in the order `backend`,
/// `model`, `task`, `motif`, `region`, `seq`, `variants`. A `seq` or `variants` value longer
/// than [`MAX_URL_VALUE`] once encoded is left out; the second value is the names of the keys
/// left out, for the page's note.
pub fn format(st: &UrlState) -> (String, Vec<&'static str>) {
    let mut parts = Vec::new();
    let mut left_out = Vec::new();
    let fields: [(&'static str, Option<&str>, bool); 7] = [
        ("backend", st.backend.as_deref(), false),
        ("model", st.model.as_deref(), false),
        ("task", st.task.map(Task::name), false),
        ("motif", st.motif.as_deref(), false),
        ("region", st.region.as_deref(), false),
        ("seq", st.seq.as_deref(), true),
        ("variants", st.variants.as_deref(), true),
    ];
    for (key, value, limited) in fields {
        let Some(v) = value.filter(|v| !v.is_empty()) else { continue };
        let enc = percent_encode(v);
        if limited && enc.len() > MAX_URL_VALUE {
            left_out.push(key);
            continue;
        }
        parts.push(format!("{key}={enc}"));
    }
    let query = if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) };
    (query, left_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FASTA: &str = ">YDL047W.5|test_pos=115 native\nTGCATTTTTTTCACATCAAAAAAAAAAAG\nAAAAAGAAAG\n";

    #[test]
    fn round_trip() {
        let st = UrlState {
            backend: Some("cpu".into()),
            model: Some("dream-rnn".into()),
            task: Some(Task::Tile),
            seq: Some(FASTA.into()),
            motif: Some("Skn7".into()),
            region: Some("18-97".into()),
            variants: Some("id,sequence,position,ref,alt\nv1,ACGT,2,C,T\n".into()),
        };
        let (q, left_out) = format(&st);
        assert!(left_out.is_empty());
        assert!(q.starts_with("?backend=cpu&model=dream-rnn&task=tile&motif=Skn7&region=18-97&seq=%3EYDL047W.5%7Ctest_pos%3D115%20native%0ATGCA"), "{q}");
        assert_eq!(parse(&q), st);
        assert_eq!(format(&UrlState::default()).0, "");
        for task in [Task::Predict, Task::Scan, Task::Tile, Task::Variants] {
            assert_eq!(Task::from_name(task.name()), Some(task));
        }
    }

    #[test]
    fn percent_encoding_of_fasta() {
        assert_eq!(percent_encode(">a b\nAC\tG&=+%"), "%3Ea%20b%0AAC%09G%26%3D%2B%25");
        assert_eq!(percent_decode("%3Ea%20b%0aAC%09G%26%3D%2B%25"), ">a b\nAC\tG&=+%");
        // `+` is a space (form encoding); a lone or bad `%` stays; UTF-8 decodes.
        assert_eq!(percent_decode(">a+b%0A"), ">a b\n");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
        assert_eq!(percent_decode(&percent_encode("é ρ")), "é ρ");
        let st = parse("seq=%3Ea%0AACGT%0D%0A");
        assert_eq!(st.seq.as_deref(), Some(">a\nACGT\r\n"));
    }

    #[test]
    fn unknown_keys_and_bad_task_are_ignored() {
        let st = parse("?utm_source=x&task=fold&model=dream-cnn&flag&seq=&=x");
        assert_eq!(st, UrlState { model: Some("dream-cnn".into()), ..UrlState::default() });
        assert_eq!(parse("task=SCAN").task, None, "names are lower-case");
        assert_eq!(parse("task=scan&task=tile").task, Some(Task::Scan), "first wins");
        assert_eq!(parse("model=a&model=b").model.as_deref(), Some("a"));
        assert_eq!(parse(""), UrlState::default());
    }

    #[test]
    fn long_values_stay_out_of_the_address() {
        let long = "ACGT".repeat(MAX_URL_VALUE / 4 + 1);
        let st = UrlState { task: Some(Task::Predict), seq: Some(long), ..UrlState::default() };
        let (q, left_out) = format(&st);
        assert_eq!(q, "?task=predict");
        assert_eq!(left_out, vec!["seq"]);
        let fits = "ACGT".repeat(MAX_URL_VALUE / 4);
        let (q, left_out) = format(&UrlState { seq: Some(fits.clone()), ..UrlState::default() });
        assert!(left_out.is_empty());
        assert_eq!(parse(&q).seq, Some(fits));
    }
}
