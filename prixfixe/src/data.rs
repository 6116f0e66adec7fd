//! DataProcessor: the DREAM ("autosome") data pipeline shared by all three DREAM models.
//!
//! Source: reference ARCHITECTURE.md §1 (written from the public PyTorch prixfixe code), paper
//! Methods "DREAM-optimized data processor".
//!
//! - **Padding** (§1.2): `padded = (upstream150 + s[17..])[-150..]` — the 17 bp constant 5'
//!   adapter is dropped, the 150 plasmid bases upstream of the insert are prepended, and the
//!   **last** 150 bases are kept. Longer-than-window policy: the 3' end is kept and the 5' part
//!   is cut (reference behaviour).
//! - **Encoding** (§1.3): `(6, 150)` float32; channels 0–3 one-hot in the order **A, G, C, T**,
//!   `N` = all zeros; channel 4 = is_reverse; channel 5 = is_singleton.
//! - **Reverse complement** (§1.4) of the padded 150 bp string.
//! - **Soft-classification target** (§1.6): 18 bins, `Normal(e + 0.5, 0.5)` integrated over
//!   `[-inf, 1, 2, …, 17, +inf]`.
//!
//! Sequences are held compactly ([`PackedSequences`], 4 bits per base of the padded window:
//! 75 bytes per 150 bp row) and encoded per batch, so the 6.7 M-row challenge file fits in
//! memory.

use crate::{N_BINS, SEQ_LEN};

/// The 17 bp constant 5' adapter that starts every DREAM training sequence.
pub const ADAPTER_5P: &str = "TGCATTTTTTTCACATC";
/// The 13 bp constant 3' end of every DREAM training sequence.
pub const FLANK_3P: &str = "GGTTACGGCTGTT";
/// Length of the DREAM random (variable) region, in bp.
pub const RANDOM_REGION_LEN: usize = 80;
/// The 150 plasmid bases immediately upstream (5') of the N80 insert (reference §1.2).
pub const PLASMID_UPSTREAM_150: &str = "AGTCCACTATTAAAGAACGTGGACTCCAACGTCAAAGGGCGAAAAACCGTCTATCAGGGCGATGGCCCACTACGTGAACCATCACCCTAATCAAGTGCTAGCAGGAATGATGCAAAAGGTTCCCGATTCGAACTGCATTTTTTTCACATC";

/// Base codes in the reference's channel order (A=0, G=1, C=2, T=3, N=4).
pub const CODE_A: u8 = 0;
pub const CODE_G: u8 = 1;
pub const CODE_C: u8 = 2;
pub const CODE_T: u8 = 3;
pub const CODE_N: u8 = 4;
/// Letters of the codes above, indexable by code.
pub const CODE_LETTERS: [char; 5] = ['A', 'G', 'C', 'T', 'N'];

/// Why a sequence was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    /// A character that is not A, C, G, T or N (IUPAC ambiguity codes included).
    #[error(
        "invalid character {character:?} at position {position} (column {column}); only A, C, G, T and N are allowed"
    )]
    InvalidBase {
        /// The offending character.
        character: char,
        /// 1-based position among the bases (whitespace not counted).
        position: usize,
        /// 1-based character column in the text as given (whitespace counted).
        column: usize,
    },
    /// Nothing but whitespace.
    #[error("empty sequence")]
    Empty,
    /// Not the exact length a fixed-length model reads (the Drosophila and human benchmarks).
    #[error("sequence is {len} bp; this model reads exactly {expected} bp")]
    WrongLength {
        /// Length given, in bp.
        len: usize,
        /// The model window, in bp.
        expected: usize,
    },
    /// Longer than the model reads (UnlockDNA: at most 100 bp are left after cutting 20 bp at
    /// each end; PRIXFIXE-MODULES.md §4.3).
    #[error("sequence too long: {len} bp; this model reads at most {max} bp (20 bp are cut at each end and at most 100 bp may remain)")]
    TooLong {
        /// Length given, in bp.
        len: usize,
        /// Longest accepted, in bp.
        max: usize,
    },
    /// Too short for the UnlockDNA DataProcessor: nothing is left after cutting `cut` bp at
    /// each end (PRIXFIXE-MODULES.md §4.3).
    #[error("sequence too short: {len} bp; this model reads at least {min} bp ({cut} bp are cut at each end and at least 1 bp must remain)")]
    TooShortForCuts {
        /// Length given, in bp.
        len: usize,
        /// Minimum length, in bp.
        min: usize,
        /// Bases cut at each end, in bp.
        cut: usize,
    },
    /// Too short to carry any bases after the 5' adapter is removed.
    #[error("sequence too short: {len} bp; at least {min} bp are needed (the first {adapter} bp are the constant 5' adapter and are replaced by plasmid sequence)")]
    TooShort {
        /// Length given, in bp.
        len: usize,
        /// Minimum length, in bp.
        min: usize,
        /// Length of the 5' adapter that is dropped, in bp.
        adapter: usize,
    },
}

/// Maps one character to its base code; case-insensitive.
#[inline]
pub fn base_code(c: char) -> Option<u8> {
    match c {
        'A' | 'a' => Some(CODE_A),
        'G' | 'g' => Some(CODE_G),
        'C' | 'c' => Some(CODE_C),
        'T' | 't' => Some(CODE_T),
        'N' | 'n' => Some(CODE_N),
        _ => None,
    }
}

/// Complement of a base code (A↔T, C↔G, N→N).
#[inline]
pub fn complement(code: u8) -> u8 {
    match code {
        CODE_A => CODE_T,
        CODE_T => CODE_A,
        CODE_G => CODE_C,
        CODE_C => CODE_G,
        _ => CODE_N,
    }
}

/// Parses a DNA sequence into base codes: case-insensitive, whitespace ignored, `N` allowed.
///
/// # Errors
/// [`SequenceError::InvalidBase`] naming the first bad character with its 1-based base position
/// and column; [`SequenceError::Empty`] when no base is present.
pub fn parse_bases(text: &str) -> Result<Vec<u8>, SequenceError> {
    let mut codes = Vec::with_capacity(text.len());
    for (col, c) in text.chars().enumerate() {
        if c.is_whitespace() {
            continue;
        }
        match base_code(c) {
            Some(code) => codes.push(code),
            None => {
                return Err(SequenceError::InvalidBase {
                    character: c,
                    position: codes.len() + 1,
                    column: col + 1,
                })
            }
        }
    }
    if codes.is_empty() {
        return Err(SequenceError::Empty);
    }
    Ok(codes)
}

/// Reverse complement of a code sequence.
pub fn reverse_complement(codes: &[u8]) -> Vec<u8> {
    codes.iter().rev().map(|&c| complement(c)).collect()
}

/// Text form of base codes (upper-case).
pub fn codes_to_string(codes: &[u8]) -> String {
    codes.iter().map(|&c| CODE_LETTERS[c.min(4) as usize]).collect()
}

/// `true` when an expression value is an integer: the sequence was seen in one cell only
/// ("singleton"; reference §1.3, `float.is_integer()`).
pub fn is_singleton(expression: f64) -> bool {
    expression.is_finite() && expression.fract() == 0.0
}

/// Standard normal CDF Φ(x).
fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// 18-bin soft-classification target for a measured expression `e` (reference §1.6):
/// `p_k = Φ((edge_{k+1} − (e+0.5))/0.5) − Φ((edge_k − (e+0.5))/0.5)` with edges
/// `[−inf, 1, 2, …, 17, +inf]`. Computed in f64, returned as f32; sums to 1.
pub fn soft_target(expression: f64) -> [f32; N_BINS] {
    const SHIFT: f64 = 0.5; // mean offset
    const SCALE: f64 = 0.5; // sd
    let mean = expression + SHIFT;
    let cdf = |edge: f64| normal_cdf((edge - mean) / SCALE);
    let mut out = [0f32; N_BINS];
    let mut lower = 0.0; // Φ(−inf)
    for (k, o) in out.iter_mut().enumerate() {
        let upper = if k == N_BINS - 1 { 1.0 } else { cdf((k + 1) as f64) };
        *o = (upper - lower) as f32;
        lower = upper;
    }
    out
}

/// Bin expectation `Σ k·p_k` of an 18-bin distribution (reference §1.8).
pub fn bin_expectation(probs: &[f32]) -> f32 {
    probs.iter().enumerate().map(|(k, p)| k as f32 * p).sum()
}

/// The DREAM DataProcessor: plasmid extension to the model window and 6-channel encoding.
///
/// `DataProcessor::dream()` is the reference configuration (150 bp window, 17 bp adapter,
/// [`PLASMID_UPSTREAM_150`]). Other windows can be used for other seq→activity data with
/// [`DataProcessor::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct DataProcessor {
    /// Whose DataProcessor: autosome (DREAM window, benchmarks), BHI or UnlockDNA.
    scheme: Scheme,
    upstream: Vec<u8>,
    adapter_len: usize,
    seq_len: usize,
    /// Every input must be exactly `seq_len` bp; nothing is padded (benchmark DataProcessor,
    /// PRIXFIXE-MODULES.md §7.1).
    exact: bool,
    /// Channel 5 = is_singleton (DREAM); the benchmarks drop it (5 channels).
    singleton_channel: bool,
    /// The constant 5' adapter and 3' end around the variable region, when known (DREAM: 17 bp
    /// + 80 bp + 13 bp): lets a bare variable region be given (see [`InputForm`]).
    flanks: Option<(Vec<u8>, Vec<u8>, usize)>,
}

/// The three teams' DataProcessors (PRIXFIXE-MODULES.md §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// autosome.org: plasmid-extended window (or an exact benchmark length), one-hot A,G,C,T +
    /// is_reverse (+ is_singleton).
    Autosome,
    /// BHI: the first 110 bp, shorter sequences padded with plasmid vector; one-hot A,G,C,T.
    Bhi,
    /// UnlockDNA: 20 bp cut at each end, N-padded to 100, + its reverse complement = 200
    /// tokens, one-hot A,C,G,T,N,M.
    #[serde(rename = "unlockdna")]
    UnlockDna,
}

/// How an input sequence is placed in the model window, decided by its length alone
/// ([`DataProcessor::input_form`]). For the DREAM processor: exactly 80 bp is the random region,
/// exactly 150 bp is a model window, any other length is the challenge form (~110 bp: 17 bp
/// adapter + 80 bp + 13 bp; 87–135 bp in the data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputForm {
    /// The variable region alone (80 bp): the constant 5' adapter and 3' end are added, then it
    /// is padded as [`InputForm::Challenge`].
    RandomRegion,
    /// The challenge form: the reference padding (adapter dropped, plasmid prepended, last
    /// `seq_len` bases kept; §1.2).
    Challenge,
    /// Exactly `seq_len` bases: used as the window, unchanged.
    Window,
}

impl Default for DataProcessor {
    fn default() -> Self {
        Self::dream()
    }
}

impl DataProcessor {
    /// The reference DREAM DataProcessor (seqsize 150, 6 channels).
    pub fn dream() -> Self {
        let upstream = parse_bases(PLASMID_UPSTREAM_150).expect("constant is valid DNA");
        let flanks = (parse_bases(ADAPTER_5P).expect("constant"), parse_bases(FLANK_3P).expect("constant"), RANDOM_REGION_LEN);
        Self {
            scheme: Scheme::Autosome,
            upstream,
            adapter_len: ADAPTER_5P.len(),
            seq_len: SEQ_LEN,
            exact: false,
            singleton_channel: true,
            flanks: Some(flanks),
        }
    }

    /// The BHI DataProcessor (PRIXFIXE-MODULES.md §4.1): the first 110 bp of the sequence as
    /// given (adapters kept); a shorter one padded with plasmid vector sequence
    /// ([`crate::dataprocessors::bhi_window`]; at prediction time on both sides, see
    /// [`crate::dataprocessors::BhiPad`]); one-hot A,G,C,T, N = all zero; 4 channels, no
    /// is_reverse or is_singleton.
    pub fn bhi() -> Self {
        Self { scheme: Scheme::Bhi, seq_len: crate::dataprocessors::BHI_LEN, adapter_len: 0, ..Self::dream() }
    }

    /// The UnlockDNA DataProcessor (PRIXFIXE-MODULES.md §4.3): 20 bp dropped at each end, the
    /// rest (≤ 100 bp) N-padded on both sides to 100 and followed by its reverse complement;
    /// 200 positions one-hot in the order A, C, G, T, N, M (M = masked, training only).
    pub fn unlockdna() -> Self {
        Self { scheme: Scheme::UnlockDna, seq_len: 2 * crate::dataprocessors::UNLOCKDNA_HALF, adapter_len: 0, ..Self::dream() }
    }

    /// The DataProcessor of `scheme` on DREAM yeast data.
    pub fn for_scheme(scheme: Scheme) -> Self {
        match scheme {
            Scheme::Autosome => Self::dream(),
            Scheme::Bhi => Self::bhi(),
            Scheme::UnlockDna => Self::unlockdna(),
        }
    }

    /// Whose DataProcessor this is.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The benchmark DataProcessor (PRIXFIXE-MODULES.md §7.1): every sequence exactly `seq_len`
    /// bp (Drosophila 249, human 230), no padding; channels one-hot A,G,C,T + is_reverse, plus
    /// is_singleton only when `singleton_channel`.
    pub fn exact(seq_len: usize, singleton_channel: bool) -> Self {
        Self { scheme: Scheme::Autosome, upstream: Vec::new(), adapter_len: 0, seq_len, exact: true, singleton_channel, flanks: None }
    }

    /// `true` for a fixed-length processor ([`DataProcessor::exact`]).
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// Input channels: 6 (A, G, C, T, is_reverse, is_singleton) or 5 without is_singleton; BHI
    /// 4 (A, G, C, T); UnlockDNA 6 (A, C, G, T, N, M).
    pub fn in_channels(&self) -> usize {
        match self.scheme {
            Scheme::Autosome => 5 + usize::from(self.singleton_channel),
            Scheme::Bhi => 4,
            Scheme::UnlockDna => 6,
        }
    }

    /// `true` when channel 5 is is_singleton.
    pub fn has_singleton_channel(&self) -> bool {
        self.singleton_channel
    }

    /// Channel names in order.
    pub fn channel_names(&self) -> Vec<&'static str> {
        match self.scheme {
            Scheme::Bhi => return vec!["A", "G", "C", "T"],
            Scheme::UnlockDna => return vec!["A", "C", "G", "T", "N", "M"],
            Scheme::Autosome => {}
        }
        let mut c = vec!["A", "G", "C", "T", "is_reverse"];
        if self.singleton_channel {
            c.push("is_singleton");
        }
        c
    }

    /// A processor for another window: `upstream` is the flank prepended on the 5' side (at least
    /// `seq_len` bases are used from its 3' end), `adapter_len` bases are dropped from the start
    /// of every input first.
    ///
    /// # Errors
    /// When `upstream` is not DNA or shorter than `seq_len`.
    pub fn new(upstream: &str, adapter_len: usize, seq_len: usize) -> Result<Self, String> {
        let up = parse_bases(upstream).map_err(|e| format!("upstream flank: {e}"))?;
        if up.len() < seq_len {
            return Err(format!(
                "upstream flank has {} bp, the window needs {seq_len}",
                up.len()
            ));
        }
        Ok(Self {
            scheme: Scheme::Autosome,
            upstream: up[up.len() - seq_len..].to_vec(),
            adapter_len,
            seq_len,
            exact: false,
            singleton_channel: true,
            flanks: None,
        })
    }

    /// Derives the upstream flank from the full plasmid text: the `seq_len` bases before the
    /// run of `N` that marks the random insert (reference §1.2; `plasmid.txt` of the data).
    ///
    /// # Errors
    /// When the text has no `N` run with at least `seq_len` bases before it, or is not DNA.
    pub fn upstream_from_plasmid(plasmid: &str, seq_len: usize) -> Result<String, String> {
        let clean: String = plasmid.chars().filter(|c| !c.is_whitespace()).collect();
        let start = clean
            .find(['N', 'n'])
            .ok_or("plasmid has no N run marking the insert")?;
        if start < seq_len {
            return Err(format!("insert starts at {start}, fewer than {seq_len} bases before it"));
        }
        Ok(clean[start - seq_len..start].to_uppercase())
    }

    /// Model window in bp.
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// Number of 5' bases dropped before padding.
    pub fn adapter_len(&self) -> usize {
        self.adapter_len
    }

    /// Minimum accepted input length in bp (adapter + 1; the window for a fixed-length processor).
    pub fn min_len(&self) -> usize {
        match self.scheme {
            Scheme::Bhi => return 1,
            Scheme::UnlockDna => return 2 * crate::dataprocessors::UNLOCKDNA_CUT + 1,
            Scheme::Autosome => {}
        }
        if self.exact {
            self.seq_len
        } else {
            self.adapter_len + 1
        }
    }

    /// Number of plasmid bases that padding adds to an input of `len` bp.
    pub fn n_flank_bases(&self, len: usize) -> usize {
        self.seq_len.saturating_sub(len.saturating_sub(self.adapter_len))
    }

    /// How an input of `len` bp is placed in the window (see [`InputForm`]).
    pub fn input_form(&self, len: usize) -> InputForm {
        if self.exact {
            return InputForm::Window;
        }
        if self.scheme != Scheme::Autosome {
            return match &self.flanks {
                Some((_, _, region)) if len == *region => InputForm::RandomRegion,
                _ => InputForm::Challenge,
            };
        }
        match &self.flanks {
            Some((_, _, region)) if len == *region => InputForm::RandomRegion,
            _ if len == self.seq_len => InputForm::Window,
            _ => InputForm::Challenge,
        }
    }

    /// The variable region of an input of `len` bp as 1-based inclusive positions of the input
    /// (DREAM: the 80 bp random region — 18–97 of a 110 bp sequence, 58–137 of a 150 bp
    /// window, all of an 80 bp one). Without known flanks: everything after the adapter.
    /// Only positions the model reads: BHI's random region within the first 110 bp (18–97 of
    /// 110 bp, 18–110 of a longer one, all of an 80 bp one); UnlockDNA's 21..len−20 (the 20 bp
    /// cut at each end; 4–73 of an 80 bp region, whose constant flanks are added first).
    /// `None` when the input has no such region (too short).
    pub fn variable_region(&self, len: usize) -> Option<(usize, usize)> {
        if self.exact {
            return (len == self.seq_len).then_some((1, len));
        }
        if self.scheme == Scheme::UnlockDna {
            // What the model sees: the 20 bp cut at each end of the sequence it reads.
            let cut = crate::dataprocessors::UNLOCKDNA_CUT;
            return match (self.input_form(len), &self.flanks) {
                (InputForm::RandomRegion, Some((f5, f3, _))) => {
                    let (lo, hi) = ((cut + 1).saturating_sub(f5.len()).max(1), (len + f3.len()).saturating_sub(cut).min(len));
                    (lo <= hi).then_some((lo, hi))
                }
                _ => (len > 2 * cut).then_some((cut + 1, len - cut)),
            };
        }
        if self.scheme == Scheme::Bhi && self.input_form(len) == InputForm::Challenge {
            // The random region (after the 5' adapter, before the 3' end), cut at 110 bp.
            let (lo, hi) = match &self.flanks {
                Some((f5, f3, _)) => (f5.len() + 1, len.saturating_sub(f3.len())),
                None => (1, len),
            };
            let hi = hi.min(crate::dataprocessors::BHI_LEN);
            return (lo <= hi).then_some((lo, hi));
        }
        let (lo, hi) = match (self.input_form(len), &self.flanks) {
            (InputForm::RandomRegion, _) => (1, len),
            (InputForm::Window, Some((_, f3, region))) => {
                (self.seq_len - f3.len() - region + 1, self.seq_len - f3.len())
            }
            (InputForm::Window, None) => (1, len),
            (InputForm::Challenge, Some((_, f3, _))) => (self.adapter_len + 1, len.saturating_sub(f3.len())),
            (InputForm::Challenge, None) => (self.adapter_len + 1, len),
        };
        (lo <= hi && hi <= len).then_some((lo, hi))
    }

    /// Pads parsed base codes to the window. Challenge form (the reference, §1.2):
    /// `(upstream + codes[adapter..])[-seq_len..]`; a bare random region gets its constant
    /// flanks first; a `seq_len` input is the window (see [`InputForm`]).
    ///
    /// # Errors
    /// [`SequenceError::TooShort`] when nothing is left after the adapter;
    /// [`SequenceError::WrongLength`] for a fixed-length processor and another length.
    pub fn pad_codes(&self, codes: &[u8]) -> Result<Vec<u8>, SequenceError> {
        if self.scheme != Scheme::Autosome {
            let full = match (self.input_form(codes.len()), &self.flanks) {
                (InputForm::RandomRegion, Some((f5, f3, _))) => f5.iter().chain(codes).chain(f3).copied().collect(),
                _ => codes.to_vec(),
            };
            return match self.scheme {
                Scheme::Bhi => Ok(crate::dataprocessors::bhi_window(&full, crate::dataprocessors::BhiPad::Both)),
                _ => crate::dataprocessors::unlockdna_window(&full),
            };
        }
        if self.exact {
            if codes.len() != self.seq_len {
                return Err(SequenceError::WrongLength { len: codes.len(), expected: self.seq_len });
            }
            return Ok(codes.to_vec());
        }
        match (self.input_form(codes.len()), &self.flanks) {
            (InputForm::Window, _) => return Ok(codes.to_vec()),
            (InputForm::RandomRegion, Some((f5, f3, _))) => {
                let full: Vec<u8> = f5.iter().chain(codes).chain(f3).copied().collect();
                return self.pad_challenge(&full);
            }
            _ => {}
        }
        self.pad_challenge(codes)
    }

    fn pad_challenge(&self, codes: &[u8]) -> Result<Vec<u8>, SequenceError> {
        if codes.len() < self.min_len() {
            return Err(SequenceError::TooShort {
                len: codes.len(),
                min: self.min_len(),
                adapter: self.adapter_len,
            });
        }
        let body = &codes[self.adapter_len..];
        let mut out = Vec::with_capacity(self.seq_len);
        if body.len() >= self.seq_len {
            out.extend_from_slice(&body[body.len() - self.seq_len..]);
        } else {
            let n_up = self.seq_len - body.len();
            out.extend_from_slice(&self.upstream[self.upstream.len() - n_up..]);
            out.extend_from_slice(body);
        }
        Ok(out)
    }

    /// Parses and pads a sequence given as text.
    ///
    /// # Errors
    /// See [`parse_bases`] and [`DataProcessor::pad_codes`].
    pub fn pad(&self, text: &str) -> Result<Vec<u8>, SequenceError> {
        self.pad_codes(&parse_bases(text)?)
    }

    /// [`DataProcessor::pad`] for training row `row`: the BHI DataProcessor draws the
    /// plasmid-pad side of a sequence shorter than 110 bp from `seed` and the row
    /// ([`crate::dataprocessors::bhi_training_pad`], the reference's 0.333 : 0.222 : 0.444 rule);
    /// every other case, and `seed = None`, is [`DataProcessor::pad`].
    ///
    /// # Errors
    /// See [`DataProcessor::pad`].
    pub fn pad_training(&self, text: &str, seed: Option<u64>, row: u64) -> Result<Vec<u8>, SequenceError> {
        match (self.scheme, seed) {
            (Scheme::Bhi, Some(seed)) => {
                let codes = parse_bases(text)?;
                let full: Vec<u8> = match (self.input_form(codes.len()), &self.flanks) {
                    (InputForm::RandomRegion, Some((f5, f3, _))) => f5.iter().chain(&codes).chain(f3).copied().collect(),
                    _ => codes,
                };
                Ok(crate::dataprocessors::bhi_window(&full, crate::dataprocessors::bhi_training_pad(seed, row)))
            }
            _ => self.pad(text),
        }
    }

    /// The padded window as a string, keeping the input's letter case as the reference does
    /// (plasmid bases are upper-case).
    ///
    /// # Errors
    /// See [`DataProcessor::pad`].
    pub fn pad_str(&self, text: &str) -> Result<String, SequenceError> {
        let codes = parse_bases(text)?;
        let window = self.pad_codes(&codes)?;
        if self.scheme != Scheme::Autosome {
            return Ok(codes_to_string(&window));
        }
        let mut letters: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
        if self.exact {
            return Ok(letters.into_iter().collect());
        }
        match (self.input_form(codes.len()), &self.flanks) {
            (InputForm::Window, _) => return Ok(letters.into_iter().collect()),
            (InputForm::RandomRegion, Some((f5, f3, _))) => {
                let mut full: Vec<char> = codes_to_string(f5).chars().collect();
                full.append(&mut letters);
                full.extend(codes_to_string(f3).chars());
                letters = full;
            }
            _ => {}
        }
        let body = &letters[self.adapter_len..];
        let mut out = String::with_capacity(self.seq_len);
        if body.len() >= self.seq_len {
            out.extend(&body[body.len() - self.seq_len..]);
        } else {
            let n_up = self.seq_len - body.len();
            out.push_str(&codes_to_string(&self.upstream[self.upstream.len() - n_up..]));
            out.extend(body);
        }
        Ok(out)
    }

    /// Writes the `(channels, seq_len)` encoding of a padded window into `out` (row-major:
    /// channel, then position), reverse-complementing it first when `reverse_complement`; the
    /// is_reverse channel is `is_reverse` (DREAM: the same flag; the benchmarks: the strand the
    /// row's id names, so a `-` row read as-is has is_reverse 1). is_singleton is written only
    /// when the processor has that channel.
    ///
    /// # Panics
    /// When `padded.len() != seq_len` or `out.len() != channels · seq_len` (internal contract).
    pub fn encode_strand_into(
        &self,
        padded: &[u8],
        reverse_complement: bool,
        is_reverse: bool,
        is_singleton: bool,
        out: &mut [f32],
    ) {
        let l = self.seq_len;
        assert_eq!(padded.len(), l, "padded window length");
        assert_eq!(out.len(), self.in_channels() * l, "encoding buffer length");
        if self.scheme == Scheme::UnlockDna {
            // Channel order A, C, G, T, N, M; every position is one-hot (N and M included).
            out.fill(0.0);
            for pos in 0..l {
                let code = if reverse_complement { complement(padded[l - 1 - pos]) } else { padded[pos] };
                out[crate::dataprocessors::unlockdna_token(code) as usize * l + pos] = 1.0;
            }
            return;
        }
        out[..4 * l].fill(0.0);
        for pos in 0..l {
            let code = if reverse_complement { complement(padded[l - 1 - pos]) } else { padded[pos] };
            if code < 4 {
                out[code as usize * l + pos] = 1.0;
            }
        }
        if self.scheme == Scheme::Bhi {
            return;
        }
        out[4 * l..5 * l].fill(if is_reverse { 1.0 } else { 0.0 });
        if self.singleton_channel {
            out[5 * l..6 * l].fill(if is_singleton { 1.0 } else { 0.0 });
        }
    }

    /// [`DataProcessor::encode_strand_into`] with is_reverse = `is_reverse` = whether the window
    /// is reverse-complemented (the DREAM convention).
    pub fn encode_into(&self, padded: &[u8], is_reverse: bool, is_singleton: bool, out: &mut [f32]) {
        self.encode_strand_into(padded, is_reverse, is_reverse, is_singleton, out);
    }

    /// `(channels, seq_len)` encoding of a padded window as a new vector.
    pub fn encode(&self, padded: &[u8], is_reverse: bool, is_singleton: bool) -> Vec<f32> {
        let mut out = vec![0.0; self.in_channels() * self.seq_len];
        self.encode_into(padded, is_reverse, is_singleton, &mut out);
        out
    }
}

/// Padded windows stored at 4 bits per base (two bases a byte): 75 bytes per 150 bp row, so
/// the 6.7 M-row DREAM training set takes ~0.5 GB instead of 24 GB of one-hot f32.
#[derive(Debug, Clone, Default)]
pub struct PackedSequences {
    seq_len: usize,
    row_bytes: usize,
    bytes: Vec<u8>,
    rows: usize,
}

impl PackedSequences {
    /// An empty store for windows of `seq_len` bp.
    pub fn new(seq_len: usize) -> Self {
        Self { seq_len, row_bytes: seq_len.div_ceil(2), bytes: Vec::new(), rows: 0 }
    }

    /// Reserves room for `rows` more rows.
    pub fn reserve(&mut self, rows: usize) {
        self.bytes.reserve(rows * self.row_bytes);
    }

    /// Window length in bp.
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// `true` when empty.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Heap bytes used by the packed bases.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    /// Appends one padded window.
    ///
    /// # Panics
    /// When `padded.len() != seq_len` (internal contract).
    pub fn push(&mut self, padded: &[u8]) {
        assert_eq!(padded.len(), self.seq_len, "padded window length");
        for pair in padded.chunks(2) {
            let lo = pair[0] & 0x0f;
            let hi = pair.get(1).map_or(0, |c| c & 0x0f);
            self.bytes.push(lo | (hi << 4));
        }
        self.rows += 1;
    }

    /// Unpacks row `i` into `out` (`seq_len` codes).
    pub fn get_into(&self, i: usize, out: &mut [u8]) {
        let row = &self.bytes[i * self.row_bytes..(i + 1) * self.row_bytes];
        for (pos, o) in out.iter_mut().enumerate().take(self.seq_len) {
            let b = row[pos / 2];
            *o = if pos % 2 == 0 { b & 0x0f } else { b >> 4 };
        }
    }

    /// Keeps the rows for which `keep(row)` is true, in order, compacting in place (no second
    /// copy of the store: splitting the 6.7 M-row set must not double its memory).
    pub fn retain_rows(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let rb = self.row_bytes;
        let mut kept = 0;
        for i in 0..self.rows {
            if keep(i) {
                if kept != i {
                    self.bytes.copy_within(i * rb..(i + 1) * rb, kept * rb);
                }
                kept += 1;
            }
        }
        self.rows = kept;
        self.bytes.truncate(kept * rb);
    }

    /// Row `i` as codes.
    pub fn get(&self, i: usize) -> Vec<u8> {
        let mut out = vec![0; self.seq_len];
        self.get_into(i, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_target_examples_from_reference() {
        let t = soft_target(12.0);
        assert!((t[12] - 0.682_689_5).abs() < 1e-6);
        assert!((t[11] - 0.157_305_5).abs() < 1e-6 && (t[13] - 0.157_305_5).abs() < 1e-6);
        assert!((t[10] - 0.001_349_9).abs() < 1e-6);
        let t0 = soft_target(0.0);
        assert!((t0[0] - 0.841_344_7).abs() < 1e-6);
        assert!((t.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn invalid_base_names_character_position_and_column() {
        let err = parse_bases("AC GTR").unwrap_err();
        assert_eq!(err, SequenceError::InvalidBase { character: 'R', position: 5, column: 6 });
        assert!(err.to_string().contains("'R'"));
        assert_eq!(parse_bases(" \n"), Err(SequenceError::Empty));
    }

    #[test]
    fn packed_roundtrip() {
        let mut p = PackedSequences::new(5);
        p.push(&[0, 1, 2, 3, 4]);
        p.push(&[4, 3, 2, 1, 0]);
        assert_eq!(p.get(0), vec![0, 1, 2, 3, 4]);
        assert_eq!(p.get(1), vec![4, 3, 2, 1, 0]);
        assert_eq!(p.heap_bytes() >= 6, true);
    }

    #[test]
    fn too_short_is_an_error() {
        let dp = DataProcessor::dream();
        assert!(matches!(dp.pad(ADAPTER_5P), Err(SequenceError::TooShort { len: 17, min: 18, .. })));
        assert_eq!(dp.pad(&format!("{ADAPTER_5P}A")).unwrap().len(), 150);
    }

    #[test]
    fn input_forms_80_110_150() {
        let p = DataProcessor::dream();
        let region = "ACGT".repeat(20);
        let challenge = format!("{ADAPTER_5P}{region}{FLANK_3P}");
        assert_eq!(p.input_form(80), InputForm::RandomRegion);
        assert_eq!(p.input_form(110), InputForm::Challenge);
        assert_eq!(p.input_form(150), InputForm::Window);
        // The bare region gets the constant flanks: same window as the 110 bp challenge form.
        assert_eq!(p.pad(&region).unwrap(), p.pad(&challenge).unwrap());
        assert_eq!(p.pad_str(&region).unwrap(), p.pad_str(&challenge).unwrap());
        // A 150 bp input is the window itself; the 110 bp form's window round-trips.
        let window = p.pad_str(&challenge).unwrap();
        assert_eq!(window.len(), 150);
        assert_eq!(p.pad_str(&window).unwrap(), window);
        assert_eq!(p.pad(&window).unwrap(), p.pad(&challenge).unwrap());
        // The random region: 18–97 of 110 bp, 58–137 of the window, all of 80 bp.
        assert_eq!(p.variable_region(110), Some((18, 97)));
        assert_eq!(p.variable_region(150), Some((58, 137)));
        assert_eq!(p.variable_region(80), Some((1, 80)));
        assert_eq!(&window[57..137], region);
        assert_eq!(&challenge[17..97], region);
        assert_eq!(p.variable_region(20), None);
    }

    #[test]
    fn bhi_and_unlockdna_regions_are_what_the_model_reads() {
        let b = DataProcessor::bhi();
        assert_eq!(b.variable_region(110), Some((18, 97)));
        assert_eq!(b.variable_region(150), Some((18, 110)));
        assert_eq!(b.variable_region(80), Some((1, 80)));
        assert_eq!(b.variable_region(25), None);
        let u = DataProcessor::unlockdna();
        assert_eq!(u.variable_region(110), Some((21, 90)));
        assert_eq!(u.variable_region(140), Some((21, 120)));
        assert_eq!(u.variable_region(41), Some((21, 21)));
        assert_eq!(u.variable_region(40), None);
        // An 80 bp region gets its flanks (17 + 80 + 13 bp), then loses 20 bp at each end.
        assert_eq!(u.variable_region(80), Some((4, 73)));
        let region = "ACGT".repeat(20);
        let w = u.pad(&region).unwrap();
        let mut m = parse_bases(&region).unwrap();
        for pos in [3usize, 74] {
            let r = m[pos - 1];
            m[pos - 1] = if r == CODE_A { CODE_C } else { CODE_A };
            assert_eq!(u.pad_codes(&m).unwrap(), w, "position {pos} is not read");
            m[pos - 1] = r;
        }
        for pos in [4usize, 73] {
            let r = m[pos - 1];
            m[pos - 1] = if r == CODE_A { CODE_C } else { CODE_A };
            assert_ne!(u.pad_codes(&m).unwrap(), w, "position {pos} is read");
            m[pos - 1] = r;
        }
    }
}
