//! Example inputs: real native yeast promoter fragments from the DREAM Challenge test set
//! (`data/dream/test_sequences.tsv`, subset `native`; tag = gene and fragment).

/// `(label, FASTA id, sequence)`.
pub const NATIVE_EXAMPLES: &[(&str, &str, &str)] = &[
    ("YDL047W", "YDL047W.5|test_pos=115", "TGCATTTTTTTCACATCAAAAAAAAAAAGAAAAAGAAAGAAAAAGGGGGAATAACACAGCCGCGGGTAACATGAAGCGGCGCGAGCGATACTTCCGTGGTTACGGCTGTT"),
    ("YOL006C", "YOL006C.2|test_pos=146", "TGCATTTTTTTCACATCAAAAAAAACCAGCCATGGAAAGCTCTTTATTTTTTTACTTTACGGCTTTTTTCCCTTTTCTTATATGATCGATGCACGTAGGTTACGGCTGTT"),
    ("YDR342C", "YDR342C.3|test_pos=642", "TGCATTTTTTTCACATCAAAAGTCGTCTTTCAAGGAAAAATCCCCACCATCTTTCGAGATCCCCTGTAACTTATTGGCAACTGAAAGAATGAAAAGGGGTTACGGCTGTT"),
    ("YDR479C", "YDR479C.8|test_pos=700", "TGCATTTTTTTCACATCAAAATAACATTAATAACCAAAATTTAAATGGCTGTATGTTTATTGTTTATTTGATCTGCACATTATGTAATTATTGATAAGGTTACGGCTGTT"),
];

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
