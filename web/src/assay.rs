//! What the loaded bundle measures, for the page's wording: its dataset (`Manifest::dataset`),
//! output names and units, the input length rule. A DREAM yeast bundle reads as before (one
//! "expression" on the 0–17 bin scale); a DeepSTARR bundle has outputs Dev and Hk (log2
//! enrichment) and takes 249 bp; a lentiMPRA bundle one activity and 230 bp; a Prix Fixe
//! combination with the BHI or UnlockDNA DataProcessor reads its input as that DataProcessor
//! does (`scheme`), which the page's wording follows. Pure, tested natively.

use prixfixe::bundle::Manifest;
use prixfixe::data::Scheme;
use prixfixe::dataset::{Dataset, LengthRule, Loss};

/// The page-facing description of a bundle's assay.
#[derive(Debug, Clone, PartialEq)]
pub struct Assay {
    /// Dataset name (`dream-yeast`, `deepstarr`, `lentimpra`, or the user's).
    pub dataset: String,
    /// One line about the assay.
    pub description: String,
    /// Output names, one per target (`["expression"]` for yeast).
    pub outputs: Vec<String>,
    /// Units or scales in words, one per output ("" when not given).
    pub units: Vec<String>,
    /// `Some(L)` when every input must be exactly L bp; `None` for the DREAM plasmid window.
    pub exact_length: Option<usize>,
    /// The model predicts an 18-bin distribution (DREAM soft classification).
    pub soft_bins: bool,
    /// Whose DataProcessor reads the input: autosome (the DREAM models, the benchmarks), or
    /// BHI / UnlockDNA for a combination with theirs.
    pub scheme: Scheme,
}

impl Default for Assay {
    /// The DREAM yeast assay (bundles without a dataset).
    fn default() -> Self {
        Self::from_dataset(&prixfixe::dataset::Dataset::dream_yeast())
    }
}

impl Assay {
    /// The assay of a bundle's manifest (its dataset; DREAM yeast for older bundles).
    /// A combination whose Final Layers Block or Trainer is not the autosome one predicts one
    /// value (no 18-bin distribution), on the scale its manifest states.
    pub fn of(m: &Manifest) -> Self {
        let mut a = Self::from_dataset(&m.dataset());
        a.scheme = m.processor().map_or(Scheme::Autosome, |p| p.scheme());
        if a.soft_bins && m.output.bins == 0 {
            a.soft_bins = false;
            if let Some(u) = m.output.units.first().filter(|u| !u.is_empty()) {
                a.units = vec![u.clone()];
            }
        }
        a
    }

    /// The assay of a dataset description.
    pub fn from_dataset(d: &Dataset) -> Self {
        Self {
            dataset: d.name.clone(),
            description: d.description.clone(),
            outputs: d.output_names(),
            units: d.targets.iter().map(|t| t.unit.clone().unwrap_or_default()).collect(),
            exact_length: match d.length {
                LengthRule::Exact(l) => Some(l),
                LengthRule::DreamPlasmid => None,
            },
            soft_bins: d.loss == Loss::SoftBins,
            scheme: Scheme::Autosome,
        }
    }

    /// `true` for the DREAM yeast promoter models (plasmid window, 18 bins).
    pub fn is_yeast(&self) -> bool {
        self.exact_length.is_none() && self.soft_bins
    }

    /// The default region of the SNV scan, the motif tiling and the design, in words (what
    /// `DataProcessor::variable_region` gives).
    pub fn default_region(&self) -> &'static str {
        match (self.scheme, self.exact_length) {
            (_, Some(_)) => "the whole sequence",
            (Scheme::Autosome, None) => "the 80 bp random region",
            (Scheme::Bhi, None) => "the 80 bp random region, within the first 110 bp that the BHI DataProcessor reads",
            (Scheme::UnlockDna, None) => "positions 21 to length − 20, what the UnlockDNA DataProcessor reads (it cuts 20 bp at each end)",
        }
    }

    /// The SNV scan's "whole sequence" choice, in words, when it differs from the default
    /// region (`None`: the default already is all the model reads).
    pub fn whole_choice(&self) -> Option<&'static str> {
        match (self.scheme, self.exact_length) {
            (_, Some(_)) | (Scheme::UnlockDna, _) => None,
            (Scheme::Autosome, None) => Some(" scan the whole sequence (default: the 80 bp random region)"),
            (Scheme::Bhi, None) => Some(" scan all the model reads: the first 110 bp (default: the 80 bp random region in them)"),
        }
    }

    /// Output `k` with its unit, e.g. `Dev (log2 enrichment)`.
    pub fn labelled(&self, k: usize) -> String {
        let name = self.outputs.get(k).map_or("output", String::as_str);
        match self.units.get(k).map(String::as_str) {
            Some(u) if !u.is_empty() => format!("{name} ({u})"),
            _ => name.to_string(),
        }
    }

    /// The predictions panel's explanation.
    pub fn predictions_help(&self) -> String {
        if self.is_yeast() {
            return "Expected expression bin on the training scale (0–17: mean sorting bin of the DREAM sort-seq assay), averaged over the forward and reverse-complement strands; the bars are the model's 18-bin distribution (its own uncertainty).".into();
        }
        let outs: Vec<String> = (0..self.outputs.len()).map(|k| self.labelled(k)).collect();
        let how = match self.scheme {
            Scheme::Autosome => "each the mean of the sequence as given and its reverse complement (as `dream predict` does by default)",
            Scheme::Bhi => "read by the BHI DataProcessor (the first 110 bp, a shorter sequence padded with plasmid vector on both sides), the mean of the sequence and its reverse complement (as `dream predict` does)",
            Scheme::UnlockDna => "read by the UnlockDNA DataProcessor (20 bp cut at each end, the rest N-padded to 100 bp and followed by its reverse complement, both strands in one pass; as `dream predict` does)",
        };
        format!(
            "{}Predicted {}, on the scale of the training targets, {how}.",
            if self.description.is_empty() { String::new() } else { format!("{}. ", self.description.trim_end_matches('.')) },
            outs.join(" and ")
        )
    }

    /// What a change of output `k` means, for the scan's colour legend.
    pub fn change_words(&self, k: usize) -> String {
        if self.is_yeast() {
            "expression".into()
        } else {
            self.outputs.get(k).cloned().unwrap_or_else(|| "output".into())
        }
    }

    /// The model card's caveat about the training data.
    pub fn caveat(&self) -> String {
        match self.dataset.as_str() {
            "dream-yeast" => "The shipped models were trained on a small real sample of the 6.7 M-sequence challenge training set, so their accuracy is modest (numbers above); the published models were trained on all of it.".into(),
            "deepstarr" => "This model was trained on a 1,000-row real sample of the DeepSTARR training set (~400,000 rows in the paper's benchmark), so its accuracy is far below the paper's (numbers above).".into(),
            "lentimpra" => "This model was trained on a 1,000-row real sample of the human lentiMPRA data (~226,000 rows in the paper's benchmark), so its accuracy is far below the paper's (numbers above).".into(),
            _ => "Check the model card for how much data this model saw.".into(),
        }
    }
}

/// The model card's caveat: the dataset's ([`Assay::caveat`]: how much of it the shipped models
/// saw), or, for weights not trained here (`model-export import-torch`), that no training run is
/// recorded.
pub fn card_caveat(m: &Manifest) -> String {
    if m.provenance.source == "imported" && m.provenance.train_data.is_none() {
        return "These weights were imported (e.g. a PyTorch state_dict), not trained here: the bundle records no training data or scores, so this card cannot say how well they predict.".into();
    }
    Assay::of(m).caveat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_of(d: &Dataset) -> Manifest {
        let config = d.model_config(prixfixe::model::ModelPreset::DreamCnn);
        let model = config.init::<prixfixe::CpuBackend>(&Default::default()).unwrap();
        prixfixe::bundle::Bundle::from_model(&model, config, d, "t", "t", prixfixe::weights::Precision::F32, Default::default())
            .unwrap()
            .manifest
    }

    #[test]
    fn assays_of_the_presets() {
        let y = Assay::of(&manifest_of(&Dataset::dream_yeast()));
        assert_eq!(y, Assay::default());
        assert!(y.is_yeast());
        assert_eq!((y.outputs.clone(), y.exact_length), (vec!["expression".to_string()], None));
        assert!(y.predictions_help().starts_with("Expected expression bin"));

        let d = Assay::of(&manifest_of(&Dataset::deepstarr()));
        assert!(!d.is_yeast());
        assert_eq!(d.outputs, ["Dev", "Hk"]);
        assert_eq!(d.exact_length, Some(249));
        assert_eq!(d.change_words(1), "Hk");
        let help = d.predictions_help();
        assert!(help.contains("Dev") && help.contains("Hk") && !help.contains("bin"), "{help}");
        assert!(d.caveat().contains("1,000-row"));

        let h = Assay::of(&manifest_of(&Dataset::lentimpra()));
        assert_eq!((h.outputs.clone(), h.exact_length), (vec!["activity".to_string()], Some(230)));
    }

    #[test]
    fn a_bhi_trainer_combination_reads_as_one_standardised_output() {
        let c: prixfixe::combination::Combination = "1_1_0_1".parse().unwrap();
        let config = c.config().unwrap();
        let model = config.init::<prixfixe::CpuBackend>(&Default::default()).unwrap();
        let d = Dataset::dream_yeast();
        let mut b = prixfixe::bundle::Bundle::from_model(&model, config, &d, "t", "t", prixfixe::weights::Precision::F32, Default::default()).unwrap();
        b.set_combination(c).unwrap();
        let a = Assay::of(&b.manifest);
        assert!(!a.soft_bins && !a.is_yeast());
        assert_eq!(a.scheme, Scheme::Bhi);
        assert_eq!(a.labelled(0), "expression (standardised expression (z-score))");
        let help = a.predictions_help();
        assert!(help.contains("standardised") && !help.starts_with("Expected expression bin"), "{help}");
        assert!(help.contains("BHI DataProcessor") && help.contains("first 110 bp"), "{help}");
        assert!(a.default_region().contains("within the first 110 bp"));
        assert!(a.whole_choice().unwrap().contains("first 110 bp"));
        // Built here, not imported: the dataset's caveat; imported: none about training.
        assert!(card_caveat(&b.manifest).contains("trained on a small real sample"));
        b.manifest.provenance.source = "imported".into();
        b.manifest.provenance.train_data = None;
        assert!(card_caveat(&b.manifest).starts_with("These weights were imported"));
    }

    #[test]
    fn the_wording_follows_the_dataprocessor() {
        let y = Assay::default();
        assert_eq!((y.scheme, y.default_region()), (Scheme::Autosome, "the 80 bp random region"));
        assert!(y.whole_choice().is_some());
        let d = Assay::of(&manifest_of(&Dataset::deepstarr()));
        assert_eq!((d.default_region(), d.whole_choice()), ("the whole sequence", None));

        let c: prixfixe::combination::Combination = "2_2_2_2".parse().unwrap();
        let config = c.config().unwrap();
        let model = config.init::<prixfixe::CpuBackend>(&Default::default()).unwrap();
        let mut b = prixfixe::bundle::Bundle::from_model(&model, config, &Dataset::dream_yeast(), "t", "t", prixfixe::weights::Precision::F32, Default::default()).unwrap();
        b.set_combination(c).unwrap();
        let u = Assay::of(&b.manifest);
        assert_eq!(u.scheme, Scheme::UnlockDna);
        assert!(!u.is_yeast() && u.whole_choice().is_none());
        assert!(u.default_region().starts_with("positions 21 to length − 20"));
        assert!(u.predictions_help().contains("20 bp cut at each end"), "{}", u.predictions_help());

        // An autosome-DataProcessor combination with the BHI Final block: one value, the DREAM window.
        let c: prixfixe::combination::Combination = "0_1_0_1".parse().unwrap();
        let config = c.config().unwrap();
        let model = config.init::<prixfixe::CpuBackend>(&Default::default()).unwrap();
        let mut b = prixfixe::bundle::Bundle::from_model(&model, config, &Dataset::dream_yeast(), "t", "t", prixfixe::weights::Precision::F32, Default::default()).unwrap();
        b.set_combination(c).unwrap();
        let a = Assay::of(&b.manifest);
        assert_eq!((a.scheme, a.is_yeast(), a.default_region()), (Scheme::Autosome, false, "the 80 bp random region"));
    }
}
