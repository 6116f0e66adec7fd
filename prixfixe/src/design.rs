//! Sequence design: from a start sequence, reach a goal — maximise, minimise or approach a target
//! expression — with at most `k` substitutions inside an editable region (default: the
//! DataProcessor's variable region, the 80 bp random region of a DREAM sequence), some positions
//! optionally protected.
//!
//! Two searches, both model-guided and deterministic:
//! - **greedy** (default): each round is a full SNV scan of the editable, not yet edited
//!   positions; the substitution that best serves the goal is kept; rounds stop after `k` edits or
//!   when no substitution improves the goal (the "in-silico evolution" of Vaishnav et al., Nature
//!   2022, and of the DREAM test set's designed sequences, restricted to single steps);
//! - **evolve**: a (μ + λ) evolutionary search (a population of `population` sequences, each
//!   generation every member makes `children` one-substitution mutants at random editable
//!   positions, the best `population` of parents and children survive), never more than `k`
//!   positions away from the start; the random choices come from a ChaCha8 stream seeded with
//!   `seed`, so a seed gives the same result on every machine.
//!
//! One implementation for `dream design` and the browser: a [`Design`] hands out batches of
//! windows ([`Design::next_batch`]), the caller predicts them (synchronously or in a worker pool)
//! and returns the expressions ([`Design::accept`]); [`Predictor::design`] is the synchronous loop.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::str::FromStr;

use burn::tensor::backend::Backend;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::data::{codes_to_string, parse_bases, DataProcessor, SequenceError, CODE_A, CODE_C, CODE_G, CODE_LETTERS, CODE_N, CODE_T};
use crate::predictor::{Predictor, Variant};

/// What the design aims at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// The highest expression.
    Maximize,
    /// The lowest expression.
    Minimize,
    /// An expression as close as possible to this value (training scale).
    Target(f32),
}

impl Goal {
    /// How well `expression` serves the goal: larger is better (`e`, `−e`, `−|e − target|`).
    pub fn score(self, expression: f32) -> f32 {
        match self {
            Self::Maximize => expression,
            Self::Minimize => -expression,
            Self::Target(t) => -(expression - t).abs(),
        }
    }
}

impl FromStr for Goal {
    type Err = String;

    /// `max`, `min` (also `maximize`, `minimize`, any case) or a number (the target expression).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "max" | "maximize" | "maximise" => Ok(Self::Maximize),
            "min" | "minimize" | "minimise" => Ok(Self::Minimize),
            t => match t.parse::<f32>() {
                Ok(v) if v.is_finite() => Ok(Self::Target(v)),
                _ => Err(format!("goal {s:?}: give max, min or a target expression (a number, e.g. 12.5)")),
            },
        }
    }
}

impl std::fmt::Display for Goal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Maximize => f.write_str("max"),
            Self::Minimize => f.write_str("min"),
            Self::Target(t) => write!(f, "{t}"),
        }
    }
}

/// The search method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Greedy rounds of full SNV scans, one substitution kept per round.
    Greedy,
    /// (μ + λ) evolutionary search.
    Evolve {
        /// Sequences kept per generation (μ).
        population: usize,
        /// One-substitution children per member per generation (λ / μ).
        children: usize,
        /// Generations.
        generations: usize,
    },
}

impl Method {
    /// The evolutionary search with its defaults (population 16, 4 children each, 20
    /// generations: 64 predictions per generation, ~5 SNV scans' worth in all).
    pub const EVOLVE: Method = Method::Evolve { population: 16, children: 4, generations: 20 };
}

/// Settings of a design.
#[derive(Debug, Clone, PartialEq)]
pub struct DesignConfig {
    /// The goal.
    pub goal: Goal,
    /// At most this many positions differ from the start (≥ 1).
    pub max_edits: usize,
    /// Editable positions, 1-based inclusive; `None` = the DataProcessor's variable region.
    pub region: Option<(usize, usize)>,
    /// 1-based positions that must not change.
    pub protected: Vec<usize>,
    /// The search.
    pub method: Method,
    /// Seed of the random choices (evolve; greedy has none, ties go to the first position).
    pub seed: u64,
}

impl DesignConfig {
    /// Greedy design toward `goal` with at most `max_edits` substitutions in the default region.
    pub fn new(goal: Goal, max_edits: usize) -> Self {
        Self { goal, max_edits, region: None, protected: Vec::new(), method: Method::Greedy, seed: 0 }
    }
}

/// Why a design cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DesignError {
    /// The start sequence is not DNA or cannot be placed in the model window.
    #[error("start sequence: {0}")]
    Sequence(SequenceError),
    /// A setting that does not fit the sequence.
    #[error("{0}")]
    Setting(String),
}

/// One accepted step of a design.
#[derive(Debug, Clone, PartialEq)]
pub struct DesignStep {
    /// 0 = the start sequence, then 1, 2, … (greedy: one substitution each; evolve: a generation
    /// that improved the best sequence).
    pub step: usize,
    /// The sequence after this step (as the input's form, upper-case).
    pub sequence: String,
    /// Its predicted expression (fwd/RC average, training scale).
    pub expression: f32,
    /// Every difference from the start, in position order.
    pub changes: Vec<Variant>,
}

/// Parses protected positions of a `len` bp sequence: `5,7,20-25` (1-based; ranges inclusive).
///
/// # Errors
/// A field that is not a position or a `FROM-TO` range with `FROM ≤ TO`, or that reaches past
/// the sequence, named in the message.
pub fn parse_positions(text: &str, len: usize) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for field in text.split([',', ' ', ';']).map(str::trim).filter(|f| !f.is_empty()) {
        let bad = || format!("protected positions: {field:?} is not a 1-based position or a FROM-TO range (e.g. 20-25)");
        let (a, b) = match field.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>().map_err(|_| bad())?, b.trim().parse::<usize>().map_err(|_| bad())?),
            None => {
                let p = field.parse::<usize>().map_err(|_| bad())?;
                (p, p)
            }
        };
        if a == 0 || b < a {
            return Err(bad());
        }
        if b > len {
            return Err(format!("protected positions: {field:?} reaches past the sequence (1-{len} bp)"));
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// A batch of windows to predict, one expression each, in order.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Padded model windows.
    pub windows: Vec<Vec<u8>>,
}

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per design
enum Search {
    Greedy {
        /// Candidate of each window of the pending batch (`None` = the current sequence).
        pending: Vec<Option<(usize, u8)>>,
    },
    Evolve {
        rng: ChaCha8Rng,
        population: usize,
        children: usize,
        generations: usize,
        generation: usize,
        /// Members (codes, expression), best first.
        members: Vec<(Vec<u8>, f32)>,
        /// Children of the pending batch (not scored before).
        pending: Vec<Vec<u8>>,
        /// Children of this generation scored in an earlier one.
        known: Vec<(Vec<u8>, f32)>,
        /// Predictions seen, so a child already scored is not predicted again.
        seen: HashMap<Vec<u8>, f32>,
    },
}

/// A design in progress (see the module documentation).
#[derive(Debug, Clone)]
pub struct Design {
    processor: DataProcessor,
    config: DesignConfig,
    start: Vec<u8>,
    current: Vec<u8>,
    /// Editable 0-based positions, ascending.
    editable: Vec<usize>,
    steps: Vec<DesignStep>,
    search: Search,
    done: bool,
    predictions: usize,
}

const BASES: [u8; 4] = [CODE_A, CODE_C, CODE_G, CODE_T];

impl Design {
    /// Starts a design of `sequence` with `processor`'s window.
    ///
    /// # Errors
    /// [`DesignError::Sequence`] for a start that is not DNA or too short for the window;
    /// [`DesignError::Setting`] for `max_edits` 0 or larger than the editable positions, a region
    /// outside the sequence, a protected position outside it, an evolve setting of 0.
    pub fn new(processor: &DataProcessor, sequence: &str, config: DesignConfig) -> Result<Self, DesignError> {
        let start = parse_bases(sequence).map_err(DesignError::Sequence)?;
        processor.pad_codes(&start).map_err(DesignError::Sequence)?;
        let len = start.len();
        let (lo, hi) = match config.region.or_else(|| processor.variable_region(len)) {
            Some(r) => r,
            None => return Err(DesignError::Setting(format!("the {len} bp sequence has no variable region; give the editable region"))),
        };
        if lo == 0 || hi < lo || hi > len {
            return Err(DesignError::Setting(format!("editable region {lo}-{hi} is not within the sequence (1-{len} bp)")));
        }
        if let Some(&p) = config.protected.iter().find(|&&p| p == 0 || p > len) {
            return Err(DesignError::Setting(format!("protected position {p} is outside the sequence (1-{len} bp)")));
        }
        let editable: Vec<usize> = (lo..=hi).filter(|p| !config.protected.contains(p)).map(|p| p - 1).collect();
        if config.max_edits == 0 {
            return Err(DesignError::Setting("the number of edits must be at least 1".into()));
        }
        if config.max_edits > editable.len() {
            return Err(DesignError::Setting(format!(
                "{} edits asked, but the editable region {lo}-{hi} has only {} editable position(s){}",
                config.max_edits,
                editable.len(),
                match config.protected.iter().filter(|&&p| p >= lo && p <= hi).count() {
                    0 => String::new(),
                    n => format!(" ({n} protected)"),
                }
            )));
        }
        let search = match config.method {
            Method::Greedy => Search::Greedy { pending: Vec::new() },
            Method::Evolve { population, children, generations } => {
                if population == 0 || children == 0 || generations == 0 {
                    return Err(DesignError::Setting("population, children and generations must each be at least 1".into()));
                }
                Search::Evolve {
                    rng: ChaCha8Rng::seed_from_u64(config.seed),
                    population,
                    children,
                    generations,
                    generation: 0,
                    members: Vec::new(),
                    pending: Vec::new(),
                    known: Vec::new(),
                    seen: HashMap::new(),
                }
            }
        };
        Ok(Self {
            processor: processor.clone(),
            current: start.clone(),
            start,
            editable,
            steps: Vec::new(),
            search,
            done: false,
            predictions: 0,
            config,
        })
    }

    /// The settings.
    pub fn config(&self) -> &DesignConfig {
        &self.config
    }

    /// The editable region actually used (1-based inclusive: first and last editable position).
    pub fn editable_span(&self) -> (usize, usize) {
        (self.editable[0] + 1, self.editable[self.editable.len() - 1] + 1)
    }

    /// Number of editable positions.
    pub fn editable_len(&self) -> usize {
        self.editable.len()
    }

    /// Accepted steps so far (step 0 once the first batch is scored).
    pub fn steps(&self) -> &[DesignStep] {
        &self.steps
    }

    /// `true` when the search has ended.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Sequences predicted so far.
    pub fn predictions(&self) -> usize {
        self.predictions
    }

    /// An upper bound on the batches still to come (for a progress bar).
    pub fn batches_left(&self) -> usize {
        if self.done {
            return 0;
        }
        match &self.search {
            Search::Greedy { .. } => self.config.max_edits + 1 - self.steps.len().min(self.config.max_edits + 1),
            Search::Evolve { generations, generation, .. } => generations + 1 - generation,
        }
    }

    fn window(&self, codes: &[u8]) -> Vec<u8> {
        // The start was placed in `new`; a substitution keeps the length, so this cannot fail.
        self.processor.pad_codes(codes).expect("same length as the start")
    }

    fn push_step(&mut self, codes: Vec<u8>, expression: f32) {
        let step = DesignStep { step: self.steps.len(), sequence: codes_to_string(&codes), expression, changes: changes(&self.start, &codes) };
        self.steps.push(step);
        self.current = codes;
    }

    /// The next windows to predict, or `None` when the design is finished.
    pub fn next_batch(&mut self) -> Option<Batch> {
        if self.done {
            return None;
        }
        let edits = self.steps.len().saturating_sub(1);
        let windows = match &mut self.search {
            Search::Greedy { pending } => {
                pending.clear();
                if self.steps.is_empty() {
                    pending.push(None);
                } else if edits >= self.config.max_edits {
                    self.done = true;
                    return None;
                }
                let edited: Vec<bool> = self.start.iter().zip(&self.current).map(|(a, b)| a != b).collect();
                for &p in &self.editable {
                    if edited[p] {
                        continue;
                    }
                    for b in BASES {
                        if b != self.current[p] {
                            pending.push(Some((p, b)));
                        }
                    }
                }
                if pending.iter().all(Option::is_none) && !self.steps.is_empty() {
                    self.done = true;
                    return None;
                }
                let pending = pending.clone();
                let mut mutant = self.current.clone();
                pending
                    .iter()
                    .map(|c| match *c {
                        None => self.window(&self.current),
                        Some((p, b)) => {
                            let r = mutant[p];
                            mutant[p] = b;
                            let w = self.window(&mutant);
                            mutant[p] = r;
                            w
                        }
                    })
                    .collect()
            }
            Search::Evolve { rng, population, children, generations, generation, members, pending, known, seen, .. } => {
                pending.clear();
                if members.is_empty() {
                    pending.push(self.start.clone());
                }
                while pending.is_empty() {
                    if *generation >= *generations {
                        self.done = true;
                        return None;
                    }
                    *generation += 1;
                    known.clear();
                    for (parent, _) in members.iter() {
                        for _ in 0..*children {
                            let child = mutate(rng, parent, &self.start, &self.editable, self.config.max_edits);
                            if let Some(&e) = seen.get(&child) {
                                known.push((child, e));
                            } else if !pending.contains(&child) {
                                pending.push(child);
                            }
                        }
                    }
                    if pending.is_empty() {
                        // Every child was scored before: select from memory, plan the next one.
                        let candidates = std::mem::take(known);
                        if let Some(best) = select(self.config.goal, *population, members, candidates, &self.steps) {
                            let codes = best.0.clone();
                            let step = DesignStep { step: self.steps.len(), sequence: codes_to_string(&codes), expression: best.1, changes: changes(&self.start, &codes) };
                            self.steps.push(step);
                            self.current = codes;
                        }
                    }
                }
                let pending = pending.clone();
                pending.iter().map(|c| self.window(c)).collect()
            }
        };
        Some(Batch { windows })
    }

    /// Takes the expressions of the last batch (one per window, in order); returns `true` when a
    /// substitution (greedy) or a better sequence (evolve) was accepted — the start's step 0 is
    /// recorded by the first batch either way.
    ///
    /// # Panics
    /// When `expressions` is not one per window of the last batch (a caller bug).
    pub fn accept(&mut self, expressions: &[f32]) -> bool {
        self.predictions += expressions.len();
        let goal = self.config.goal;
        match &mut self.search {
            Search::Greedy { pending } => {
                assert_eq!(expressions.len(), pending.len(), "one expression per window of the batch");
                let pending = std::mem::take(pending);
                let mut current_expr = self.steps.last().map(|s| s.expression);
                let mut best: Option<(usize, f32)> = None;
                for (i, (c, &e)) in pending.iter().zip(expressions).enumerate() {
                    match c {
                        None => current_expr = Some(e),
                        Some(_) => {
                            if best.is_none_or(|(_, be)| goal.score(e) > goal.score(be)) {
                                best = Some((i, e));
                            }
                        }
                    }
                }
                let current_expr = current_expr.expect("the first batch scores the start");
                if self.steps.is_empty() {
                    self.push_step(self.current.clone(), current_expr);
                }
                match best {
                    Some((i, e)) if goal.score(e) > goal.score(current_expr) => {
                        let (p, b) = pending[i].expect("a candidate");
                        let mut next = self.current.clone();
                        next[p] = b;
                        self.push_step(next, e);
                        true
                    }
                    // Only the start was scored (first batch holds the start and round 1).
                    _ => {
                        self.done = true;
                        false
                    }
                }
            }
            Search::Evolve { population, members, pending, known, seen, .. } => {
                assert_eq!(expressions.len(), pending.len(), "one expression per window of the batch");
                let scored: Vec<(Vec<u8>, f32)> = std::mem::take(pending).into_iter().zip(expressions.iter().copied()).collect();
                for (c, e) in &scored {
                    seen.insert(c.clone(), *e);
                }
                if members.is_empty() {
                    let e = expressions[0];
                    members.push((self.start.clone(), e));
                    let start = self.start.clone();
                    self.push_step(start, e);
                    return false;
                }
                let mut candidates = std::mem::take(known);
                candidates.extend(scored);
                match select(goal, *population, members, candidates, &self.steps) {
                    Some((codes, e)) => {
                        self.push_step(codes, e);
                        true
                    }
                    None => false,
                }
            }
        }
    }
}

/// (μ + λ) selection: the best `population` of members and candidates (distinct sequences; ties
/// keep the earlier, members first) become the members; returns the best when it beats the last
/// accepted step.
fn select(goal: Goal, population: usize, members: &mut Vec<(Vec<u8>, f32)>, candidates: Vec<(Vec<u8>, f32)>, steps: &[DesignStep]) -> Option<(Vec<u8>, f32)> {
    let mut pool: Vec<(Vec<u8>, f32)> = std::mem::take(members);
    for c in candidates {
        if !pool.iter().any(|m| m.0 == c.0) {
            pool.push(c);
        }
    }
    pool.sort_by(|a, b| goal.score(b.1).total_cmp(&goal.score(a.1)));
    pool.truncate(population);
    *members = pool;
    let best = &members[0];
    steps.last().is_some_and(|s| goal.score(best.1) > goal.score(s.expression)).then(|| best.clone())
}

fn changes(start: &[u8], codes: &[u8]) -> Vec<Variant> {
    start
        .iter()
        .zip(codes)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (&a, &b))| Variant { position: i + 1, reference: CODE_LETTERS[a.min(CODE_N) as usize], alternative: CODE_LETTERS[b.min(CODE_N) as usize] })
        .collect()
}

/// A one-substitution mutant of `parent` at a random editable position, never more than
/// `max_edits` positions away from `start` (at the limit only already changed positions move,
/// including back to the start's base).
fn mutate(rng: &mut ChaCha8Rng, parent: &[u8], start: &[u8], editable: &[usize], max_edits: usize) -> Vec<u8> {
    let changed: Vec<usize> = editable.iter().copied().filter(|&p| parent[p] != start[p]).collect();
    let choices: &[usize] = if changed.len() >= max_edits { &changed } else { editable };
    let p = choices[(rng.next_u64() % choices.len() as u64) as usize];
    let others: Vec<u8> = BASES.iter().copied().filter(|&b| b != parent[p]).collect();
    let b = others[(rng.next_u64() % others.len() as u64) as usize];
    let mut child = parent.to_vec();
    child[p] = b;
    child
}

impl<B: Backend> Predictor<B> {
    /// Runs a design to the end, predicting each batch synchronously; `progress(design)` after
    /// every batch.
    ///
    /// # Errors
    /// See [`Design::new`].
    pub fn design(&self, sequence: &str, config: DesignConfig, mut progress: impl FnMut(&Design)) -> Result<Vec<DesignStep>, DesignError> {
        let mut design = Design::new(self.processor(), sequence, config)?;
        while let Some(batch) = design.next_batch() {
            let e: Vec<f32> = self.predict_padded(&batch.windows).iter().map(|p| p.expression).collect();
            design.accept(&e);
            progress(&design);
        }
        Ok(design.steps().to_vec())
    }
}

/// A design trajectory as a table: header `step sequence expression changes` (changes = every
/// difference from the start as `POSITIONref>alt`, `;`-separated, empty for the start),
/// expression with 6 decimals, fields separated by `sep`.
pub fn design_table(steps: &[DesignStep], sep: char) -> String {
    let mut out = ["step", "sequence", "expression", "changes"].join(&sep.to_string());
    out.push('\n');
    for s in steps {
        let changes: Vec<String> = s.changes.iter().map(|v| format!("{}{}>{}", v.position, v.reference, v.alternative)).collect();
        let _ = writeln!(out, "{}{sep}{}{sep}{:.6}{sep}{}", s.step, s.sequence, s.expression, changes.join(";"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy "model": expression = number of G bases in the window.
    fn g_count(w: &[u8]) -> f32 {
        w.iter().filter(|&&c| c == CODE_G).count() as f32
    }

    fn run(design: &mut Design) {
        while let Some(b) = design.next_batch() {
            let e: Vec<f32> = b.windows.iter().map(|w| g_count(w)).collect();
            design.accept(&e);
        }
    }

    fn start() -> String {
        // 110 bp challenge form: adapter + 80 bp random region of A + 13 bp 3' end.
        format!("{}{}{}", crate::data::ADAPTER_5P, "A".repeat(80), crate::data::FLANK_3P)
    }

    #[test]
    fn greedy_takes_the_best_substitution_each_round() {
        let p = DataProcessor::dream();
        let mut d = Design::new(&p, &start(), DesignConfig::new(Goal::Maximize, 3)).unwrap();
        assert_eq!(d.editable_span(), (18, 97));
        run(&mut d);
        let steps = d.steps();
        assert_eq!(steps.len(), 4);
        let base = steps[0].expression;
        for (i, s) in steps.iter().enumerate() {
            assert_eq!(s.step, i);
            assert_eq!(s.expression, base + i as f32);
            assert_eq!(s.changes.len(), i);
        }
        // Ties go to the first position and the first alternative in A, C, G, T order.
        assert_eq!(steps[1].changes[0], Variant { position: 18, reference: 'A', alternative: 'G' });
        assert_eq!(steps[3].changes.iter().map(|v| v.position).collect::<Vec<_>>(), vec![18, 19, 20]);
        let table = design_table(steps, '\t');
        assert!(table.starts_with("step\tsequence\texpression\tchanges\n0\t"));
        assert!(table.lines().nth(4).unwrap().ends_with("\t18A>G;19A>G;20A>G"));
    }

    #[test]
    fn greedy_stops_when_nothing_improves_and_respects_protection_and_targets() {
        let p = DataProcessor::dream();
        let mut cfg = DesignConfig::new(Goal::Minimize, 5);
        cfg.protected = vec![18, 19];
        let mut d = Design::new(&p, &start(), cfg).unwrap();
        run(&mut d);
        // No substitution of A lowers the G count: only the start.
        assert_eq!(d.steps().len(), 1);
        let mut cfg = DesignConfig::new(Goal::Target(g_count(&p.pad(&start()).unwrap()) + 2.0), 5);
        cfg.protected = vec![18, 19];
        let mut d = Design::new(&p, &start(), cfg).unwrap();
        run(&mut d);
        let steps = d.steps();
        assert_eq!(steps.len(), 3, "two steps reach the target, the third would overshoot");
        assert_eq!(steps[1].changes[0].position, 20);
    }

    #[test]
    fn evolve_is_deterministic_for_a_seed_and_stays_within_k_edits() {
        let p = DataProcessor::dream();
        let mut cfg = DesignConfig::new(Goal::Maximize, 4);
        cfg.method = Method::Evolve { population: 4, children: 3, generations: 8 };
        cfg.seed = 7;
        let mut a = Design::new(&p, &start(), cfg.clone()).unwrap();
        run(&mut a);
        let mut b = Design::new(&p, &start(), cfg.clone()).unwrap();
        run(&mut b);
        assert_eq!(a.steps(), b.steps());
        let last = a.steps().last().unwrap();
        assert!(last.changes.len() <= 4 && last.step >= 1);
        assert!(a.steps().windows(2).all(|w| w[1].expression > w[0].expression));
        assert_eq!(last.expression, a.steps()[0].expression + last.changes.iter().filter(|v| v.alternative == 'G').count() as f32);
        cfg.seed = 8;
        let mut c = Design::new(&p, &start(), cfg).unwrap();
        run(&mut c);
        assert_ne!(a.steps(), c.steps(), "another seed, another search");
    }

    #[test]
    fn bad_settings_are_explained() {
        let p = DataProcessor::dream();
        let err = |cfg: DesignConfig| Design::new(&p, &start(), cfg).unwrap_err().to_string();
        assert!(err(DesignConfig::new(Goal::Maximize, 81)).contains("only 80 editable"));
        assert!(err(DesignConfig::new(Goal::Maximize, 0)).contains("at least 1"));
        let mut cfg = DesignConfig::new(Goal::Maximize, 2);
        cfg.region = Some((100, 120));
        assert!(err(cfg).contains("not within the sequence (1-110 bp)"));
        let mut cfg = DesignConfig::new(Goal::Maximize, 2);
        cfg.protected = vec![111];
        assert!(err(cfg).contains("protected position 111"));
        assert!(matches!(Design::new(&p, "ACGX", DesignConfig::new(Goal::Maximize, 1)), Err(DesignError::Sequence(_))));
        assert_eq!("MAX".parse::<Goal>(), Ok(Goal::Maximize));
        assert_eq!("12.5".parse::<Goal>(), Ok(Goal::Target(12.5)));
        assert!("high".parse::<Goal>().unwrap_err().contains("max, min or a target"));
        assert!("nan".parse::<Goal>().is_err());
        assert_eq!(parse_positions("5, 7,20-22", 110).unwrap(), vec![5, 7, 20, 21, 22]);
        assert!(parse_positions("5-3", 110).unwrap_err().contains("\"5-3\""));
        assert!(parse_positions("x", 110).is_err());
        assert!(parse_positions("1-18446744073709551615", 110).unwrap_err().contains("reaches past the sequence (1-110 bp)"));
    }
}
