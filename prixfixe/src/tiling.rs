//! Motif insertion and tiling: a motif (or its reverse complement) written over a background
//! sequence at every position of a region, each variant scored by the model against the
//! background — the design of the DREAM test set's "motif tiling" subset (paper, Methods "Test
//! data": a consensus embedded at every position, contained completely within the 80 bp variable
//! region, in both orientations, for three background sequences; de Boer et al. 2020).
//!
//! One implementation for `dream tile` and the browser: [`plan_tiling`] lists the sequences,
//! the caller predicts them (synchronously or not) and [`TilePlan::effects`] scores them.

use burn::tensor::backend::Backend;

use crate::data::{base_code, codes_to_string, parse_bases, reverse_complement, DataProcessor, SequenceError, CODE_N};
use crate::predictor::Predictor;

/// Shortest and longest motif accepted, in bp.
pub const MOTIF_LEN: std::ops::RangeInclusive<usize> = 4..=30;

/// A named consensus binding site with its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownMotif {
    /// Short name (case-insensitive on the command line).
    pub name: &'static str,
    /// The transcription factor (or element) it stands for.
    pub factor: &'static str,
    /// Consensus, A/C/G/T.
    pub consensus: &'static str,
    /// Where the consensus comes from.
    pub source: &'static str,
}

const TILING_SOURCE: &str =
    "DREAM test set, motif tiling subset (Rafi et al., Methods \"Test data\"; from de Boer et al. 2020)";

/// Yeast consensus sites used by the DREAM Challenge test set.
pub const KNOWN_MOTIFS: &[KnownMotif] = &[
    KnownMotif { name: "polyA", factor: "poly-A tract", consensus: "AAAAA", source: TILING_SOURCE },
    KnownMotif { name: "Skn7", factor: "Skn7", consensus: "GTCTGGCCC", source: TILING_SOURCE },
    KnownMotif { name: "Mga1", factor: "Mga1", consensus: "TTCT", source: TILING_SOURCE },
    KnownMotif { name: "Ume6", factor: "Ume6", consensus: "AGCCGCC", source: TILING_SOURCE },
    KnownMotif { name: "Mot3", factor: "Mot3", consensus: "GCAGGCACG", source: TILING_SOURCE },
    KnownMotif { name: "Azf1", factor: "Azf1", consensus: "TAAAAGAAA", source: TILING_SOURCE },
    KnownMotif {
        name: "Hsf1",
        factor: "Hsf1 (monomeric site)",
        consensus: "ATGGAACA",
        source: "DREAM test set, motif perturbation subset (Rafi et al., Methods \"Test data\")",
    },
];

/// Finds a known motif by name (case-insensitive).
pub fn known_motif(name: &str) -> Option<&'static KnownMotif> {
    KNOWN_MOTIFS.iter().find(|m| m.name.eq_ignore_ascii_case(name))
}

/// Strand of an inserted motif.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Orientation {
    /// The motif as given (`+`).
    Forward,
    /// Its reverse complement (`-`).
    Reverse,
}

impl Orientation {
    /// `+` or `-`.
    pub fn symbol(self) -> char {
        match self {
            Self::Forward => '+',
            Self::Reverse => '-',
        }
    }
}

/// Why a tiling cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// The background is not DNA.
    #[error("background sequence: {0}")]
    Background(SequenceError),
    /// The motif holds something other than A, C, G, T.
    #[error("motif {motif:?}: character {character:?} at position {position} is not A, C, G or T (for a known site give its name: {names})")]
    MotifBase {
        /// The motif as given.
        motif: String,
        /// The bad character.
        character: char,
        /// 1-based position in the motif.
        position: usize,
        /// The known motif names.
        names: String,
    },
    /// The motif is shorter or longer than [`MOTIF_LEN`].
    #[error("motif {motif:?} is {len} bp; motifs of {} to {} bp are accepted", MOTIF_LEN.start(), MOTIF_LEN.end())]
    MotifLength {
        /// The motif as given.
        motif: String,
        /// Its length.
        len: usize,
    },
    /// The region does not fit the background or the motif does not fit the region.
    #[error("{0}")]
    Region(String),
}

/// Parses a motif: a known name ([`KNOWN_MOTIFS`]) or A/C/G/T bases (any case) of 4–30 bp.
///
/// # Errors
/// [`TileError::MotifBase`] or [`TileError::MotifLength`].
pub fn parse_motif(text: &str) -> Result<Vec<u8>, TileError> {
    let text = text.trim();
    let bases = known_motif(text).map_or(text, |m| m.consensus);
    let mut codes = Vec::with_capacity(bases.len());
    for (i, c) in bases.chars().enumerate() {
        match base_code(c) {
            Some(code) if code != CODE_N => codes.push(code),
            _ => {
                return Err(TileError::MotifBase {
                    motif: text.to_string(),
                    character: c,
                    position: i + 1,
                    names: KNOWN_MOTIFS.iter().map(|m| m.name).collect::<Vec<_>>().join(", "),
                })
            }
        }
    }
    if !MOTIF_LEN.contains(&codes.len()) {
        return Err(TileError::MotifLength { motif: text.to_string(), len: codes.len() });
    }
    Ok(codes)
}

/// One placement of the motif.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// 1-based position in the background of the motif's first base.
    pub position: usize,
    /// 0-based offset from the region start (the index in the DREAM test set's tags, e.g.
    /// `rand311_Mga1.RC_1` = reverse orientation at offset 1).
    pub offset: usize,
    /// Orientation.
    pub orientation: Orientation,
}

/// The sequences of a tiling: the background first, then one per placement.
#[derive(Debug, Clone)]
pub struct TilePlan {
    /// The background's base codes.
    pub background: Vec<u8>,
    /// Placements: every position of the region (1-based, inclusive) where the whole motif fits,
    /// forward orientation first, then reverse.
    pub placements: Vec<Placement>,
    /// Base codes: index 0 is the background, `1 + i` is `placements[i]` (unpadded: give them to
    /// the predictor as any input).
    pub sequences: Vec<Vec<u8>>,
}

/// Plans a tiling of `motif` (base codes, [`parse_motif`]) over `background`, at every 1-based
/// position `p` with `region.0 ≤ p` and `p + len − 1 ≤ region.1`; the motif overwrites those
/// bases (same length out as in).
///
/// # Errors
/// [`TileError::Background`] for a background that is not DNA; [`TileError::Region`] when the
/// region leaves the background or is shorter than the motif.
pub fn plan_tiling(background: &str, motif: &[u8], region: (usize, usize)) -> Result<TilePlan, TileError> {
    let codes = parse_bases(background).map_err(TileError::Background)?;
    let (lo, hi) = region;
    if lo == 0 || hi < lo || hi > codes.len() {
        return Err(TileError::Region(format!(
            "region {lo}-{hi} is not within the background sequence (1-{} bp)",
            codes.len()
        )));
    }
    let len = motif.len();
    if hi - lo + 1 < len {
        return Err(TileError::Region(format!("the {len} bp motif does not fit in the region {lo}-{hi} ({} bp)", hi - lo + 1)));
    }
    let rc = reverse_complement(motif);
    let mut placements = Vec::new();
    let mut sequences = vec![codes.clone()];
    for (orientation, site) in [(Orientation::Forward, motif), (Orientation::Reverse, rc.as_slice())] {
        for position in lo..=hi + 1 - len {
            let mut s = codes.clone();
            s[position - 1..position - 1 + len].copy_from_slice(site);
            sequences.push(s);
            placements.push(Placement { position, offset: position - lo, orientation });
        }
    }
    Ok(TilePlan { background: codes, placements, sequences })
}

/// One scored placement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TileEffect {
    /// Where the motif is.
    pub placement: Placement,
    /// Predicted expression with the motif there.
    pub expression: f32,
    /// `expression − background expression`.
    pub delta: f32,
}

impl TilePlan {
    /// The sequence of `sequences[i]` as text.
    pub fn sequence(&self, i: usize) -> String {
        codes_to_string(&self.sequences[i])
    }

    /// Scores the plan from the predictions of [`TilePlan::sequences`] (same order): the
    /// background's prediction and every placement's effect.
    ///
    /// # Panics
    /// When `predictions` is not one per sequence (a caller bug, not user input).
    pub fn effects(&self, predictions: &[f32]) -> (f32, Vec<TileEffect>) {
        assert_eq!(predictions.len(), self.sequences.len(), "one prediction per tiled sequence");
        let background = predictions[0];
        let effects = self
            .placements
            .iter()
            .zip(&predictions[1..])
            .map(|(&placement, &expression)| TileEffect { placement, expression, delta: expression - background })
            .collect();
        (background, effects)
    }
}

/// A tiling placed in a DataProcessor's window: the plan, the region used and one padded window
/// per [`TilePlan::sequences`] entry (what the model reads).
#[derive(Debug, Clone)]
pub struct PaddedTiling {
    /// The plan.
    pub plan: TilePlan,
    /// The region (1-based, inclusive): as given, or the processor's variable region.
    pub region: (usize, usize),
    /// Padded windows, same order as `plan.sequences`.
    pub windows: Vec<Vec<u8>>,
}

/// Plans a tiling for `processor`: `region` (1-based, inclusive) defaults to the DataProcessor's
/// variable region (DREAM: the 80 bp random region), every sequence padded to the window.
///
/// # Errors
/// As [`plan_tiling`]; [`TileError::Region`] when the background has no variable region and none
/// is given; [`TileError::Background`] for a background the DataProcessor cannot place.
pub fn plan_tiling_padded(processor: &DataProcessor, background: &str, motif: &[u8], region: Option<(usize, usize)>) -> Result<PaddedTiling, TileError> {
    let len = parse_bases(background).map_err(TileError::Background)?.len();
    let region = match region.or_else(|| processor.variable_region(len)) {
        Some(r) => r,
        None => return Err(TileError::Region(format!("the {len} bp background has no variable region; give the region"))),
    };
    let plan = plan_tiling(background, motif, region)?;
    let windows = plan.sequences.iter().map(|s| processor.pad_codes(s)).collect::<Result<Vec<_>, _>>().map_err(TileError::Background)?;
    Ok(PaddedTiling { plan, region, windows })
}

impl<B: Backend> Predictor<B> {
    /// Motif tiling of one background: its prediction and every placement's effect (fwd/RC
    /// averaged predictions, as everywhere); see [`plan_tiling_padded`] for the region.
    ///
    /// # Errors
    /// As [`plan_tiling_padded`].
    pub fn tile(&self, background: &str, motif: &[u8], region: Option<(usize, usize)>) -> Result<(f32, Vec<TileEffect>), TileError> {
        let t = plan_tiling_padded(self.processor(), background, motif, region)?;
        let preds: Vec<f32> = self.predict_padded(&t.windows).iter().map(|p| p.expression).collect();
        Ok(t.plan.effects(&preds))
    }
}

/// A tiling as a table: header `position orientation expression delta`, one row per placement,
/// values with 6 decimals, fields separated by `sep` (`'\t'` for `dream tile`, `','` for CSV).
pub fn tile_table(effects: &[TileEffect], sep: char) -> String {
    use std::fmt::Write;
    let mut out = ["position", "orientation", "expression", "delta"].join(&sep.to_string());
    out.push('\n');
    for e in effects {
        let p = e.placement;
        let _ = writeln!(out, "{}{sep}{}{sep}{:.6}{sep}{:.6}", p.position, p.orientation.symbol(), e.expression, e.delta);
    }
    out
}

/// Mean and spread of the effect at one region offset and orientation over several backgrounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TileBand {
    /// 0-based offset from the region start.
    pub offset: usize,
    /// Orientation.
    pub orientation: Orientation,
    /// Mean delta over the backgrounds.
    pub mean: f32,
    /// Sample standard deviation of the delta (0 for one background).
    pub sd: f32,
    /// Backgrounds that have this offset.
    pub n: usize,
}

/// Summarises the tilings of several backgrounds (aligned by region offset, so backgrounds of
/// different forms — 80 bp region, 110 bp challenge form — line up): mean ± sd of the delta per
/// offset and orientation, forward offsets first.
pub fn tile_bands(tilings: &[Vec<TileEffect>]) -> Vec<TileBand> {
    let mut bands = Vec::new();
    for orientation in [Orientation::Forward, Orientation::Reverse] {
        let max = tilings.iter().flatten().filter(|e| e.placement.orientation == orientation).map(|e| e.placement.offset).max();
        let Some(max) = max else { continue };
        for offset in 0..=max {
            let d: Vec<f64> = tilings
                .iter()
                .flatten()
                .filter(|e| e.placement.orientation == orientation && e.placement.offset == offset)
                .map(|e| f64::from(e.delta))
                .collect();
            if d.is_empty() {
                continue;
            }
            let n = d.len();
            let mean = d.iter().sum::<f64>() / n as f64;
            let sd = if n > 1 { (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
            bands.push(TileBand { offset, orientation, mean: mean as f32, sd: sd as f32, n });
        }
    }
    bands
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_motif_and_reverse_complement_in_the_region() {
        let motif = parse_motif("ttct").unwrap();
        let plan = plan_tiling("AAAAAAAAAA", &motif, (3, 8)).unwrap();
        // Positions 3..=5 per orientation (the motif must end by 8).
        assert_eq!(plan.placements.len(), 6);
        assert_eq!(plan.sequence(0), "AAAAAAAAAA");
        assert_eq!(plan.sequence(1), "AATTCTAAAA");
        assert_eq!(plan.sequence(3), "AAAATTCTAA");
        assert_eq!(plan.sequence(4), "AAAGAAAAAA");
        assert_eq!(plan.placements[3], Placement { position: 3, offset: 0, orientation: Orientation::Reverse });
        let (bg, effects) = plan.effects(&[1.0, 2.0, 3.0, 4.0, 0.5, 0.0, -1.0]);
        assert_eq!(bg, 1.0);
        assert_eq!(effects[2].delta, 3.0);
        assert_eq!(effects[5].delta, -2.0);
        assert_eq!(
            tile_table(&effects[..1], '\t'),
            "position\torientation\texpression\tdelta\n3\t+\t2.000000\t1.000000\n"
        );
    }

    #[test]
    fn bad_motifs_and_regions_are_explained() {
        assert!(matches!(parse_motif("ACGN"), Err(TileError::MotifBase { character: 'N', position: 4, .. })));
        assert!(matches!(parse_motif("ACG"), Err(TileError::MotifLength { len: 3, .. })));
        assert!(parse_motif("Reb9").unwrap_err().to_string().contains("Skn7"));
        assert_eq!(parse_motif("skn7").unwrap().len(), 9);
        let m = parse_motif("ACGT").unwrap();
        assert!(matches!(plan_tiling("ACGTACGT", &m, (5, 7)), Err(TileError::Region(_))));
        assert!(matches!(plan_tiling("ACGTACGT", &m, (1, 9)), Err(TileError::Region(_))));
        assert!(matches!(plan_tiling("ACGTXCGT", &m, (1, 8)), Err(TileError::Background(_))));
    }

    #[test]
    fn bands_average_over_backgrounds() {
        let e = |offset, delta| TileEffect {
            placement: Placement { position: offset + 1, offset, orientation: Orientation::Forward },
            expression: 0.0,
            delta,
        };
        let bands = tile_bands(&[vec![e(0, 1.0), e(1, 2.0)], vec![e(0, 3.0)]]);
        assert_eq!(bands.len(), 2);
        assert_eq!((bands[0].mean, bands[0].n), (2.0, 2));
        assert!((bands[0].sd - 2f32.sqrt()).abs() < 1e-6);
        assert_eq!((bands[1].mean, bands[1].sd, bands[1].n), (2.0, 0.0, 1));
    }
}
