//! Example inputs: real native yeast promoter fragments from the DREAM Challenge test set
//! (`data/dream/test_sequences.tsv`, subset `native`; tag = gene and fragment).

/// `(label, FASTA id, sequence)`.
pub const NATIVE_EXAMPLES: &[(&str, &str, &str)] = &[
    ("YDL047W", "YDL047W.5|test_pos=115", "TGCATTTTTTTCACATCAAAAAAAAAAAGAAAAAGAAAGAAAAAGGGGGAATAACACAGCCGCGGGTAACATGAAGCGGCGCGAGCGATACTTCCGTGGTTACGGCTGTT"),
    ("YOL006C", "YOL006C.2|test_pos=146", "TGCATTTTTTTCACATCAAAAAAAACCAGCCATGGAAAGCTCTTTATTTTTTTACTTTACGGCTTTTTTCCCTTTTCTTATATGATCGATGCACGTAGGTTACGGCTGTT"),
    ("YDR342C", "YDR342C.3|test_pos=642", "TGCATTTTTTTCACATCAAAAGTCGTCTTTCAAGGAAAAATCCCCACCATCTTTCGAGATCCCCTGTAACTTATTGGCAACTGAAAGAATGAAAAGGGGTTACGGCTGTT"),
    ("YDR479C", "YDR479C.8|test_pos=700", "TGCATTTTTTTCACATCAAAATAACATTAATAACCAAAATTTAAATGGCTGTATGTTTATTGTTTATTTGATCTGCACATTATGTAATTATTGATAAGGTTACGGCTGTT"),
];

/// Drosophila S2 enhancer candidates (249 bp) from the DeepSTARR test chromosome
/// (`data/drosophila/sample_test.tsv`, forward rows): `(label, id, sequence)`.
pub const DROSOPHILA_EXAMPLES: &[(&str, &str, &str)] = &[
    ("developmental (Dev 6.9)", "chrX_8470062_8470310_+_positive_peaks", "TCTGGGTATTCGTTGTTATTTGAATATAATTCGTATTTTGTATTTGGTACATTTTGCACTTGCTGCTTTGATAACATTATTTGCCCTCTTTGTTGTTTACACTGGTTTTATCTAAATCCATTTCCGCTTCGTTGTCGCAGTTTATTTGCCATTGCTTTGTTTCTAATTCATTCGTCTGACCTGCATTTACCCCCCTCTACGTTATCCGCACTTTATTTTTTTTTTTTGTGTATATTTCCGCTCTTCCAG"),
    ("housekeeping (Hk 7.1)", "chrX_5631928_5632176_+_peak_849bp_region", "GCGCTGCGCATTTTTGTTCCGTTAGTTGGTCTGTTCTCTGTGTTGATACTCGTAGCGCAGACTTCCGATAACATTGAGTGTATCGCAGTAACTGCCAGTCGATGTATCGCTGGCGTCCTATCGCACTGGCGGACCGATTACGACTGAGCCATCGGGAGAGCAGATCAGCTGGCCGTTAATCGATAGCTATCGGTGCTGTGCAACACTACTATCGTCGGCCGCGAGCGTGACGAACGCAAATATGAGCAG"),
    ("inactive (Dev 0.5)", "chrX_317267_317515_+_peak_849bp_region", "ATGCCACAGAGATATCTTTTAAAAATTATAAGACCCCATATGAGTATAGGCATTGGCCGCAGATAATCACACCCACATAAGGGATATCAGTTGCTTATATTCAAATTCACTTGAACAAGACAACATAGAGTGTTTGAGGTAGATTTGGTGCGACGTTTACGTTTTATGATTTCATTTTCGAATCAGTGGGGGTGGAGTACTTTTAATGGCGGTCCACTGATATCGCCGTGACCCGCGTGCCTCGGTTAG"),
];

/// Human lentiMPRA elements (230 bp) from `data/human/sample_test.tsv` (forward rows):
/// `(label, id, sequence)`.
pub const HUMAN_EXAMPLES: &[(&str, &str, &str)] = &[
    ("active (3.1)", "seq80631_F", "AGGACCGGATCAACTTAAGCCTCCAACCAACTGAATGGACCTCCCTTTCGGCCAAGGGAATTCCAAAGTAAACCTGAAAAACTAGTTCAGGCCATGATGGGAAGTGGGAGGGTCAGATGGGCCTCATGATACCCTCCTCCCTTTGGAGTTCAGGCACAACTGACCAGCATTAACATTAAAATGGAGCTCTTAAGACTGACAAAGCAGACTCTTTGCATTGCGTGAACCGA"),
    ("median (-0.8)", "seq4354_F", "AGGACCGGATCAACTAGCGTTTAGTGACAGCTTACCCTCTTTTAGAACGAAATCAGGAGCTCAGCCATGTCTCTGTGGCGCAATCGGCTAGCGCGTTTGGCTGTTAACTAAAAGGTTGGCGGTTCGAACCCACCCAGAGGCGTCGCTGATATTTTATAACTCCCACGGTGGTCTGCTCCCTTGAAGACTACATGCCTCACTTCCCCTCCTGTCAACATTGCGTGAACCGA"),
    ("inactive (-4.8)", "seq32833_F", "AGGACCGGATCAACTAATTTAAAAAAAGAAAAGAAAAGAAAAACCGTGTGTTCACCATAACCATGAAGATGCTCTGGAGGTCCGACACTGACACCTACTGGTGTGGGATTGAGAGGACAGGCACTGACCTTGGGGTCCAAGTTGAAGTGACCATTTACCCAGGTCGGAGCAGCTCCCTCCTGTACCAAACTCTGGTGCTGACCCGAGAGGATTCACATTGCGTGAACCGA"),
];

/// The example sequences for a bundle's dataset (`Dataset::name`): the yeast promoters for
/// `dream-yeast`, Drosophila enhancers for `deepstarr`, human elements for `lentimpra`, none for
/// a user's own dataset.
pub fn examples_for(dataset: &str) -> &'static [(&'static str, &'static str, &'static str)] {
    match dataset {
        "dream-yeast" => NATIVE_EXAMPLES,
        "deepstarr" => DROSOPHILA_EXAMPLES,
        "lentimpra" => HUMAN_EXAMPLES,
        _ => &[],
    }
}

/// The transition of a base (A↔G, C↔T): the example variants' alternative allele.
fn transition(b: u8) -> char {
    match b {
        b'A' => 'G',
        b'G' => 'A',
        b'C' => 'T',
        _ => 'C',
    }
}

/// A small variant table (`id sequence position ref alt`, tab-separated, the layout `dream
/// variants` reads) built from [`NATIVE_EXAMPLES`]: SNVs in the random region of the first three
/// promoters, a 2 bp deletion and a 3 bp insertion.
pub fn example_variant_table() -> String {
    let mut out = String::from("id\tsequence\tposition\tref\talt\n");
    let snv = |k: usize, pos: usize| {
        let (gene, _, seq) = NATIVE_EXAMPLES[k];
        let r = seq.as_bytes()[pos - 1];
        let a = transition(r);
        format!("{gene}:{pos}{}>{a}\t{seq}\t{pos}\t{}\t{a}\n", r as char, r as char)
    };
    out += &snv(0, 40);
    out += &snv(0, 60);
    out += &snv(1, 50);
    out += &snv(2, 75);
    let (gene, _, seq) = NATIVE_EXAMPLES[2];
    out += &format!("{gene}:30_31del\t{seq}\t30\t{}\t-\n", &seq[29..31]);
    let (gene, _, seq) = NATIVE_EXAMPLES[3];
    let r = &seq[44..45];
    out += &format!("{gene}:45insTTT\t{seq}\t45\t{r}\t{r}TTT\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_variant_table_is_read_by_dream_variants_code() {
        let t = example_variant_table();
        let v = prixfixe::variants::read_variant_table("example", t.as_bytes()).unwrap();
        assert_eq!(v.len(), 6);
        assert_eq!(v[0].reference, NATIVE_EXAMPLES[0].2);
        assert_eq!(crate::input::differences(&v[0].reference, &v[0].alternative).len(), 1);
        assert_eq!(v[4].alternative.len(), 108, "2 bp deletion");
        assert_eq!(v[5].alternative.len(), 113, "3 bp insertion");
        assert!(prixfixe::variants::unchanged(&v).is_empty());
    }
}
