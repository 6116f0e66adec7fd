//! Test-time predictor: forward and reverse-complement predictions averaged, `is_singleton = 0`
//! (reference ARCHITECTURE.md §1.9), batched; and in-silico mutagenesis (ISM) of every SNV.
//!
//! One implementation serves the CLI and the browser: [`Predictor::forward_probs`] returns a
//! tensor and [`combine_strands`] turns its data into [`Prediction`]s, so a native caller reads
//! the tensor synchronously ([`Predictor::predict_padded`]) and the browser asynchronously.

use burn::tensor::{backend::Backend, Tensor, TensorData};

use crate::blocks::Head;
use crate::data::{codes_to_string, parse_bases, DataProcessor, SequenceError, CODE_A, CODE_C, CODE_G, CODE_LETTERS, CODE_T};
use crate::model::PrixFixeNet;
use crate::N_BINS;

/// One sequence's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The predictor's selected output, `(forward + reverse) / 2` (DREAM: expected bin on the
    /// training scale 0..17).
    pub expression: f32,
    /// The selected output on the forward strand (the sequence as given).
    pub forward: f32,
    /// The selected output on the reverse-complement strand.
    pub reverse: f32,
    /// Every output (one per dataset target), mean of both strands.
    pub outputs: Vec<f32>,
    /// 18-bin distribution, mean of both strands (the model's own uncertainty); empty for a
    /// regression model.
    pub probs: Vec<f32>,
}

/// A sequence in a batch that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sequence {index}: {error}")]
pub struct BatchError {
    /// 1-based index of the sequence in the batch.
    pub index: usize,
    /// What is wrong with it.
    pub error: SequenceError,
}

/// Turns strand readouts `(2n, W)` — rows `0..n` forward, `n..2n` reverse complement; `W` = 18
/// bin probabilities or one value per task (see [`Head::readout`]) — into predictions whose
/// `expression` is output `output`.
pub fn combine_strands_for(head: Head, output: usize, readout: &[f32], n: usize) -> Vec<Prediction> {
    let w = head.width();
    assert_eq!(readout.len(), 2 * n * w, "readout buffer size");
    (0..n)
        .map(|i| {
            let f = &readout[i * w..(i + 1) * w];
            let r = &readout[(n + i) * w..(n + i + 1) * w];
            let (of, or) = (head.decode(f), head.decode(r));
            let outputs: Vec<f32> = of.iter().zip(&or).map(|(a, b)| 0.5 * (a + b)).collect();
            let probs = match head {
                Head::SoftBins { .. } => f.iter().zip(r).map(|(a, b)| 0.5 * (a + b)).collect(),
                Head::Regression { .. } => Vec::new(),
            };
            Prediction { expression: outputs[output], forward: of[output], reverse: or[output], outputs, probs }
        })
        .collect()
}

/// [`combine_strands_for`] of an 18-bin model (the DREAM models).
pub fn combine_strands(probs: &[f32], n: usize) -> Vec<Prediction> {
    combine_strands_for(Head::SoftBins { bins: N_BINS }, 0, probs, n)
}

/// How the strands of a sequence are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strands {
    /// The mean of the sequence as given (is_reverse = the row's own flag, 0 when unknown) and
    /// its reverse complement with the flag flipped (DREAM test-time rule, §1.9; for the
    /// benchmarks this pairs each row with the other orientation as it was trained).
    #[default]
    Both,
    /// One pass per row with the row's own is_reverse, as the reference benchmark notebooks
    /// predict (§7.3).
    AsIs,
}

/// Logits `(batch, 18)` of an encoded batch, with the batch split over `parts` threads on the CPU
/// inference fast path (burn-flex runs many element-wise ops on one core; two half-batches on two
/// threads use both). Elsewhere (GPU, autodiff, wasm32) it is `model.forward_logits(x)`.
pub fn forward_logits_split<B: Backend>(model: &PrixFixeNet<B>, x: Tensor<B, 3>, parts: usize) -> Tensor<B, 2> {
    let batch = x.dims()[0];
    #[cfg(not(target_arch = "wasm32"))]
    if parts > 1 && batch >= 2 * parts && crate::kernels::fast_path::<B>(&x.device()) {
        let chunks = x.chunk(parts, 0);
        let outs: Vec<Tensor<B, 2>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunks.into_iter().map(|c| s.spawn(move || model.forward_logits(c))).collect();
            handles.into_iter().map(|h| h.join().expect("forward thread")).collect()
        });
        return Tensor::cat(outs, 0);
    }
    let _ = (parts, batch);
    model.forward_logits(x)
}

/// Default number of batch parts for [`forward_logits_split`]: `DREAM_THREADS` if set, else
/// rayon's pool size (`RAYON_NUM_THREADS`, default: the number of cores); 1 on wasm32. On the
/// 2-core machine (2026-12-07, batch 1024) twice the pool size measured the same for DREAM-CNN
/// and DREAM-Attn (within 3 %) and 17 % slower for DREAM-RNN, whose BiLSTM steps and DFT
/// convolutions ([`crate::spectral`]) already use every core.
pub fn default_threads() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::env::var("DREAM_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(rayon::current_num_threads)
            .max(1)
    }
    #[cfg(target_arch = "wasm32")]
    {
        1
    }
}

/// A model with its DataProcessor, ready to score sequences.
#[derive(Debug, Clone)]
pub struct Predictor<B: Backend> {
    model: PrixFixeNet<B>,
    processor: DataProcessor,
    device: B::Device,
    batch_size: usize,
    threads: usize,
    head: Head,
    output: usize,
}

impl<B: Backend> Predictor<B> {
    /// Sequences per forward pass by default (each gives two rows: forward and RC).
    pub const DEFAULT_BATCH: usize = 256;

    /// A predictor for `model` on `device`.
    pub fn new(model: PrixFixeNet<B>, processor: DataProcessor, device: B::Device) -> Self {
        let head = model.head();
        Self { model, processor, device, batch_size: Self::DEFAULT_BATCH, threads: default_threads(), head, output: 0 }
    }

    /// Selects the output (0-based; one per dataset target) that [`Prediction::expression`],
    /// ISM, variant effects, tiling and design use. Clamped to the model's outputs.
    pub fn with_output(mut self, output: usize) -> Self {
        self.output = output.min(self.head.outputs() - 1);
        self
    }

    /// The selected output.
    pub fn output(&self) -> usize {
        self.output
    }

    /// What the model's Final Layers Block outputs.
    pub fn head(&self) -> Head {
        self.head
    }

    /// Sets the number of sequences per forward pass (at least 1).
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// Sets the number of CPU threads a batch is split over (see [`forward_logits_split`]).
    pub fn with_threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// Sequences per forward pass.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The model.
    pub fn model(&self) -> &PrixFixeNet<B> {
        &self.model
    }

    /// The DataProcessor.
    pub fn processor(&self) -> &DataProcessor {
        &self.processor
    }

    /// The device.
    pub fn device(&self) -> &B::Device {
        &self.device
    }

    /// Encodes padded windows as `(2n, channels, L)`: rows `0..n` as given (is_reverse 0),
    /// `n..2n` their reverse complements (is_reverse 1); is_singleton 0 everywhere.
    pub fn encode_strands(&self, padded: &[Vec<u8>]) -> Tensor<B, 3> {
        self.encode_strands_flagged(padded, None)
    }

    /// As [`Predictor::encode_strands`], with each row's own is_reverse (`flags[i]`) on the rows
    /// as given and the flipped flag on their reverse complements.
    pub fn encode_strands_flagged(&self, padded: &[Vec<u8>], flags: Option<&[bool]>) -> Tensor<B, 3> {
        let l = self.processor.seq_len();
        let c = self.processor.in_channels();
        let n = padded.len();
        let mut buf = vec![0f32; 2 * n * c * l];
        let row = c * l;
        for (i, p) in padded.iter().enumerate() {
            let rev = flags.is_some_and(|f| f[i]);
            self.processor.encode_strand_into(p, false, rev, false, &mut buf[i * row..(i + 1) * row]);
            self.processor.encode_strand_into(p, true, !rev, false, &mut buf[(n + i) * row..(n + i + 1) * row]);
        }
        Tensor::from_data(TensorData::new(buf, [2 * n, c, l]), &self.device)
    }

    /// Readout `(2n, W)` for padded windows (rows as given, then their reverse complements): bin
    /// probabilities of a soft-bin model, task values of a regression model. Read the data and
    /// pass it to [`Predictor::combine`].
    pub fn forward_probs(&self, padded: &[Vec<u8>]) -> Tensor<B, 2> {
        self.forward_readout(padded, None)
    }

    /// [`Predictor::forward_probs`] with each row's own is_reverse (see
    /// [`Predictor::encode_strands_flagged`]).
    pub fn forward_readout(&self, padded: &[Vec<u8>], flags: Option<&[bool]>) -> Tensor<B, 2> {
        let x = self.encode_strands_flagged(padded, flags);
        self.head.readout(forward_logits_split(&self.model, x, self.threads))
    }

    /// Predictions from the data of [`Predictor::forward_probs`] for `n` windows.
    pub fn combine(&self, readout: &[f32], n: usize) -> Vec<Prediction> {
        combine_strands_for(self.head, self.output, readout, n)
    }

    /// Predictions for padded windows, batched, read synchronously (native backends).
    pub fn predict_padded(&self, padded: &[Vec<u8>]) -> Vec<Prediction> {
        self.predict_padded_flagged(padded, None, Strands::Both)
    }

    /// Predictions for padded windows with each row's own is_reverse (`flags`, `None` = all 0),
    /// scored as `strands` says. With [`Strands::AsIs`] one pass is made per row;
    /// `forward`, `reverse` and `expression` are then that pass's value.
    pub fn predict_padded_flagged(&self, padded: &[Vec<u8>], flags: Option<&[bool]>, strands: Strands) -> Vec<Prediction> {
        let mut out = Vec::with_capacity(padded.len());
        for (c, chunk) in padded.chunks(self.batch_size).enumerate() {
            let f = flags.map(|f| &f[c * self.batch_size..c * self.batch_size + chunk.len()]);
            match strands {
                Strands::Both => {
                    let data = self.forward_readout(chunk, f).into_data().convert::<f32>();
                    out.extend(self.combine(data.as_slice::<f32>().expect("f32 readout"), chunk.len()));
                }
                Strands::AsIs => {
                    let l = self.processor.seq_len();
                    let ch = self.processor.in_channels();
                    let mut buf = vec![0f32; chunk.len() * ch * l];
                    for (i, p) in chunk.iter().enumerate() {
                        let rev = f.is_some_and(|f| f[i]);
                        self.processor.encode_strand_into(p, false, rev, false, &mut buf[i * ch * l..(i + 1) * ch * l]);
                    }
                    let x = Tensor::from_data(TensorData::new(buf, [chunk.len(), ch, l]), &self.device);
                    let data = self.head.readout(forward_logits_split(&self.model, x, self.threads)).into_data().convert::<f32>();
                    let w = self.head.width();
                    for row in data.as_slice::<f32>().expect("f32 readout").chunks(w) {
                        let outputs = self.head.decode(row);
                        let probs = if matches!(self.head, Head::SoftBins { .. }) { row.to_vec() } else { Vec::new() };
                        let v = outputs[self.output];
                        out.push(Prediction { expression: v, forward: v, reverse: v, outputs, probs });
                    }
                }
            }
        }
        out
    }

    /// Parses and pads every sequence; the first bad one is reported with its 1-based index.
    ///
    /// # Errors
    /// [`BatchError`] naming the sequence and the problem.
    pub fn prepare<S: AsRef<str>>(&self, sequences: &[S]) -> Result<Vec<Vec<u8>>, BatchError> {
        sequences
            .iter()
            .enumerate()
            .map(|(i, s)| self.processor.pad(s.as_ref()).map_err(|error| BatchError { index: i + 1, error }))
            .collect()
    }

    /// Predicts raw sequences (any case, whitespace ignored, `N` allowed).
    ///
    /// # Errors
    /// [`BatchError`] for the first sequence that cannot be read; nothing is predicted then.
    pub fn predict<S: AsRef<str>>(&self, sequences: &[S]) -> Result<Vec<Prediction>, BatchError> {
        Ok(self.predict_padded(&self.prepare(sequences)?))
    }
}

/// Reads an optional region field, `FROM-TO` (1-based, inclusive; `–` or `..` also separate);
/// empty = `None` (the default region).
///
/// # Errors
/// What is wrong with the text, quoting it.
pub fn parse_region(text: &str) -> Result<Option<(usize, usize)>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let expected = || format!("region {t:?}: expected FROM-TO (1-based positions, inclusive), e.g. 18-97");
    let (a, b) = t.split_once("..").or_else(|| t.split_once(['-', '–'])).ok_or_else(expected)?;
    let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) else {
        return Err(expected());
    };
    if a == 0 || b < a {
        return Err(format!("region {t:?}: positions are 1-based and FROM ≤ TO"));
    }
    Ok(Some((a, b)))
}

/// One single-nucleotide variant of an ISM scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// 1-based position in the sequence as given.
    pub position: usize,
    /// Reference base.
    pub reference: char,
    /// Alternative base.
    pub alternative: char,
}

/// The variants of an ISM scan and their padded windows (the reference first).
#[derive(Debug, Clone)]
pub struct IsmPlan {
    /// The reference sequence's base codes.
    pub codes: Vec<u8>,
    /// The variants, in position order, alternatives in A, C, G, T order.
    pub variants: Vec<Variant>,
    /// Padded windows: index 0 is the reference, `1 + i` is `variants[i]`.
    pub windows: Vec<Vec<u8>>,
}

/// One scored variant.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantEffect {
    /// The variant.
    pub variant: Variant,
    /// Predicted expression of the mutant (fwd/RC average).
    pub prediction: f32,
    /// `prediction − reference prediction`.
    pub delta: f32,
}

/// Plans an in-silico mutagenesis scan: every substitution at each 1-based position in `range`
/// (inclusive; `None` = the whole sequence).
///
/// Positions that padding drops (the 17 bp 5' adapter, or the 5' excess of a sequence longer than
/// the window) are still listed: their effect is exactly 0, which is what the model sees.
///
/// # Errors
/// [`SequenceError`] for an unreadable sequence; [`SequenceError::TooShort`] as in padding. A
/// range outside the sequence is clamped to it.
pub fn plan_ism(
    processor: &DataProcessor,
    sequence: &str,
    range: Option<(usize, usize)>,
) -> Result<IsmPlan, SequenceError> {
    let codes = parse_bases(sequence)?;
    let reference = processor.pad_codes(&codes)?;
    let (lo, hi) = range.unwrap_or((1, codes.len()));
    let (lo, hi) = (lo.max(1), hi.min(codes.len()));
    let mut variants = Vec::new();
    let mut windows = vec![reference];
    let mut mutant = codes.clone();
    for pos in lo..=hi {
        let r = codes[pos - 1];
        for alt in [CODE_A, CODE_C, CODE_G, CODE_T] {
            if alt == r {
                continue;
            }
            mutant[pos - 1] = alt;
            windows.push(processor.pad_codes(&mutant)?);
            variants.push(Variant {
                position: pos,
                reference: CODE_LETTERS[r as usize],
                alternative: CODE_LETTERS[alt as usize],
            });
        }
        mutant[pos - 1] = r;
    }
    Ok(IsmPlan { codes, variants, windows })
}

impl IsmPlan {
    /// The reference sequence as upper-case text.
    pub fn sequence(&self) -> String {
        codes_to_string(&self.codes)
    }

    /// Scores the plan from predictions of `windows` (same order).
    pub fn effects(&self, predictions: &[f32]) -> (f32, Vec<VariantEffect>) {
        let reference = predictions[0];
        let effects = self
            .variants
            .iter()
            .zip(&predictions[1..])
            .map(|(v, &p)| VariantEffect { variant: v.clone(), prediction: p, delta: p - reference })
            .collect();
        (reference, effects)
    }
}

impl<B: Backend> Predictor<B> {
    /// In-silico mutagenesis: the reference prediction and every SNV's effect.
    ///
    /// # Errors
    /// See [`plan_ism`].
    pub fn ism(
        &self,
        sequence: &str,
        range: Option<(usize, usize)>,
    ) -> Result<(f32, Vec<VariantEffect>), SequenceError> {
        let plan = plan_ism(&self.processor, sequence, range)?;
        Ok(self.scan(&plan))
    }

    /// The exact scan of a plan: every window predicted (both strands), then
    /// [`IsmPlan::effects`].
    pub fn scan(&self, plan: &IsmPlan) -> (f32, Vec<VariantEffect>) {
        let preds: Vec<f32> = self.predict_padded(&plan.windows).iter().map(|p| p.expression).collect();
        plan.effects(&preds)
    }
}

/// An ISM result as a table: header `position ref alt prediction delta`, one row per variant,
/// values with 6 decimals, fields separated by `sep` (`'\t'` for `dream ism`, `','` for the
/// browser's CSV download).
pub fn ism_table(effects: &[VariantEffect], sep: char) -> String {
    use std::fmt::Write;
    let mut out = ["position", "ref", "alt", "prediction", "delta"].join(&sep.to_string());
    out.push('\n');
    for e in effects {
        let v = &e.variant;
        let _ = writeln!(out, "{}{sep}{}{sep}{}{sep}{:.6}{sep}{:.6}", v.position, v.reference, v.alternative, e.prediction, e.delta);
    }
    out
}

/// The `n` largest gains (delta > 0, largest first) and losses (delta < 0, most negative first).
pub fn top_effects(effects: &[VariantEffect], n: usize) -> (Vec<&VariantEffect>, Vec<&VariantEffect>) {
    let mut sorted: Vec<&VariantEffect> = effects.iter().collect();
    sorted.sort_by(|a, b| b.delta.total_cmp(&a.delta));
    let gains = sorted.iter().copied().filter(|e| e.delta > 0.0).take(n).collect();
    let losses = sorted.iter().rev().copied().filter(|e| e.delta < 0.0).take(n).collect();
    (gains, losses)
}
