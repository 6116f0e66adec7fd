//! The sequence edits of the BHI and UnlockDNA DataProcessors (PRIXFIXE-MODULES.md §4.1, §4.3)
//! and their training-time randomness, reproducible from a seed. [`crate::DataProcessor::bhi`]
//! and [`crate::DataProcessor::unlockdna`] use them; the autosome edits are in [`crate::data`].
//!
//! Where the published code is not reproducible or drops data silently, the working thing is
//! done instead, as the specification says:
//! - the BHI pad side is drawn from a seeded generator (the reference uses Python's unseeded
//!   global `random`); at prediction time a short sequence is padded on both sides, the most
//!   frequent training branch (0.444), so a prediction does not depend on chance;
//! - the UnlockDNA processor accepts lower-case bases (the reference raises) and, at prediction
//!   time, refuses a sequence with more than 100 bp left instead of dropping it.

use crate::data::{complement, SequenceError, CODE_A, CODE_C, CODE_G, CODE_N, CODE_T};

/// The BHI model window, in bp.
pub const BHI_LEN: usize = 110;
/// The 37 plasmid bases right before the 5' adapter (BHI `vector_left`).
pub const BHI_VECTOR_LEFT: &str = "GCTAGCAGGAATGATGCAAAAGGTTCCCGATTCGAAC";
/// The 76 plasmid bases right after the 3' end (BHI `vector_right`).
pub const BHI_VECTOR_RIGHT: &str = "TCTTAATTAAAAAAAGATAGAAAACATTAGGAGTGTAACACAAGACTTTCGGATCCTGAGCAGGCAAGATAAACGA";

/// Where BHI pads a sequence shorter than 110 bp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BhiPad {
    /// `vector_right[..k]` after the sequence.
    Right,
    /// The last `k` bases of `vector_left` before it.
    Left,
    /// `k/2` from the end of `vector_left` before, `k − k/2` from `vector_right` after.
    Both,
}

impl BhiPad {
    /// The reference's branch rule on uniform draws in `[0, 1)`: `r1 < 0.333` → right; else
    /// `r2 > 0.666` → left; else both (probabilities 0.333 : 0.222 : 0.444; §4.1, §8.8).
    /// `r2` is drawn only when needed, as in the reference.
    pub fn from_draws(r1: f64, r2: impl FnOnce() -> f64) -> Self {
        if r1 < 0.333 {
            Self::Right
        } else if r2() > 0.666 {
            Self::Left
        } else {
            Self::Both
        }
    }
}

fn codes(text: &str) -> Vec<u8> {
    crate::data::parse_bases(text).expect("constant is DNA")
}

/// The BHI window of base codes: the first 110; a shorter sequence padded with plasmid vector
/// as `pad` says. Never fails (any length ≥ 1 works).
pub fn bhi_window(seq: &[u8], pad: BhiPad) -> Vec<u8> {
    if seq.len() >= BHI_LEN {
        return seq[..BHI_LEN].to_vec();
    }
    let k = BHI_LEN - seq.len();
    static VECTORS: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    let (left, right) = VECTORS.get_or_init(|| (codes(BHI_VECTOR_LEFT), codes(BHI_VECTOR_RIGHT)));
    let (n_left, n_right) = match pad {
        BhiPad::Right => (0, k),
        BhiPad::Left => (k, 0),
        BhiPad::Both => (k / 2, k - k / 2),
    };
    // Longer pads than the vector pieces cannot come from DREAM data (≥ 87 bp); repeat N then.
    let take_left: Vec<u8> = if n_left <= left.len() { left[left.len() - n_left..].to_vec() } else {
        let mut v = vec![CODE_N; n_left - left.len()];
        v.extend(left.iter());
        v
    };
    let take_right: Vec<u8> = if n_right <= right.len() { right[..n_right].to_vec() } else {
        let mut v = right.to_vec();
        v.resize(n_right, CODE_N);
        v
    };
    take_left.into_iter().chain(seq.iter().copied()).chain(take_right).collect()
}

/// Bases cut at each end by the UnlockDNA DataProcessor.
pub const UNLOCKDNA_CUT: usize = 20;
/// Width each strand is N-padded to (`max_width`).
pub const UNLOCKDNA_HALF: usize = 100;
/// Base code of the mask token M (UnlockDNA training only).
pub const CODE_M: u8 = 5;

/// The UnlockDNA window of base codes (200): `seq[20..len−20]`, N-padded to 100 (left
/// `⌊pad/2⌋`, right `⌈pad/2⌉`), then its reverse complement.
///
/// # Errors
/// [`SequenceError::TooShortForCuts`] when nothing is left after the cuts; [`SequenceError::TooLong`]
/// when more than 100 bp are left (the reference drops such rows silently).
pub fn unlockdna_window(seq: &[u8]) -> Result<Vec<u8>, SequenceError> {
    let cut = UNLOCKDNA_CUT;
    if seq.len() <= 2 * cut {
        return Err(SequenceError::TooShortForCuts { len: seq.len(), min: 2 * cut + 1, cut });
    }
    let middle = &seq[cut..seq.len() - cut];
    if middle.len() > UNLOCKDNA_HALF {
        return Err(SequenceError::TooLong { len: seq.len(), max: UNLOCKDNA_HALF + 2 * cut });
    }
    let pad = UNLOCKDNA_HALF - middle.len();
    let mut fwd = vec![CODE_N; pad / 2];
    fwd.extend_from_slice(middle);
    fwd.resize(UNLOCKDNA_HALF, CODE_N);
    let rc: Vec<u8> = fwd.iter().rev().map(|&c| complement(c)).collect();
    fwd.extend(rc);
    Ok(fwd)
}

/// The UnlockDNA token (= one-hot channel) of a base code: A0 C1 G2 T3 N4 M5.
pub fn unlockdna_token(code: u8) -> u8 {
    match code {
        CODE_A => 0,
        CODE_C => 1,
        CODE_G => 2,
        CODE_T => 3,
        CODE_M => 5,
        _ => 4,
    }
}

/// A seeded uniform generator for the DataProcessors' and Trainers' draws (SplitMix64), the
/// same on every platform.
#[derive(Debug, Clone)]
pub struct Draws(u64);

impl Draws {
    /// Draws for `seed` and stream `stream` (e.g. a row or a step).
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut d = Self::from_state(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        d.next_u64();
        d
    }

    /// The generator in state `state` (what [`crate::training::Shuffler`] starts from).
    pub fn from_state(state: u64) -> Self {
        Self(state)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` (53 bits).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The BHI training pad side of row `row`, drawn from `seed` with the reference's rule.
pub fn bhi_training_pad(seed: u64, row: u64) -> BhiPad {
    let mut d = Draws::new(seed, row);
    let r1 = d.uniform();
    BhiPad::from_draws(r1, || d.uniform())
}

/// UnlockDNA's masked-language-model corruption (PRIXFIXE-MODULES.md §4.4): each position
/// whose base is not N is replaced by M with probability `ratio` (Prix Fixe 0.2; the paper and
/// the original code 5 %). Returns the mask (1 = masked) and changes `window` in place.
pub fn mask_tokens(window: &mut [u8], ratio: f64, draws: &mut Draws) -> Vec<bool> {
    window
        .iter_mut()
        .map(|c| {
            let hit = draws.uniform() < ratio && *c != CODE_N;
            if hit {
                *c = CODE_M;
            }
            hit
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{codes_to_string, parse_bases};

    #[test]
    fn bhi_branches_follow_the_reference_rule() {
        assert_eq!(BhiPad::from_draws(0.1, || unreachable!()), BhiPad::Right);
        assert_eq!(BhiPad::from_draws(0.5, || 0.9), BhiPad::Left);
        assert_eq!(BhiPad::from_draws(0.5, || 0.5), BhiPad::Both);
        let n = 20_000;
        let mut counts = [0usize; 3];
        for row in 0..n {
            counts[bhi_training_pad(7, row) as usize] += 1;
        }
        let frac: Vec<f64> = counts.iter().map(|&c| c as f64 / n as f64).collect();
        for (got, want) in frac.iter().zip([0.333, 0.667 * 0.334, 0.667 * 0.666]) {
            assert!((got - want).abs() < 0.015, "{frac:?}");
        }
    }

    #[test]
    fn unlockdna_window_is_symmetric_under_reverse_complement() {
        let seq = parse_bases(&"ACGTTGCA".repeat(14)[..110]).unwrap();
        let w = unlockdna_window(&seq).unwrap();
        assert_eq!(w.len(), 200);
        let rc: Vec<u8> = w.iter().rev().map(|&c| complement(c)).collect();
        assert_eq!(w, rc);
        assert_eq!(&codes_to_string(&w)[..15], "NNNNNNNNNNNNNNN");
        assert!(matches!(unlockdna_window(&parse_bases(&"A".repeat(141)).unwrap()), Err(SequenceError::TooLong { len: 141, max: 140 })));
        assert_eq!(unlockdna_window(&parse_bases(&"A".repeat(140)).unwrap()).unwrap()[..100], vec![CODE_A; 100][..]);
        assert!(matches!(unlockdna_window(&parse_bases(&"A".repeat(40)).unwrap()), Err(SequenceError::TooShortForCuts { len: 40, min: 41, cut: 20 })));
    }

    #[test]
    fn masking_skips_n_and_hits_about_the_ratio() {
        let mut w = vec![CODE_A; 10_000];
        w[..1000].fill(CODE_N);
        let mask = mask_tokens(&mut w, 0.2, &mut Draws::new(1, 2));
        assert!(mask[..1000].iter().all(|&m| !m));
        let hits = mask.iter().filter(|&&m| m).count() as f64 / 9000.0;
        assert!((hits - 0.2).abs() < 0.02, "{hits}");
        assert!(w.iter().zip(&mask).all(|(&c, &m)| (c == CODE_M) == m));
    }
}
