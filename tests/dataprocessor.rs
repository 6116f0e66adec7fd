//! Every case of the reference DataProcessor (tests/fixtures/dataprocessor_cases.json) reproduced
//! exactly: padded string, encoding, reverse complement; soft target to 1e-6.

use dream_tests::load_json;
use prixfixe::data::{codes_to_string, is_singleton, reverse_complement, soft_target, DataProcessor, PackedSequences};
use prixfixe::SequenceError;

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

#[test]
fn reference_cases_reproduced_exactly() {
    let doc = load_json("dataprocessor_cases.json");
    let dp = DataProcessor::dream();
    assert_eq!(doc["plasmid_upstream_150"].as_str().unwrap(), prixfixe::data::PLASMID_UPSTREAM_150);
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 11);
    for c in cases {
        let why = c["why"].as_str().unwrap();
        let raw = c["raw"].as_str().unwrap();
        let expr = c["expression"].as_f64().unwrap();
        assert_eq!(is_singleton(expr), c["is_singleton"].as_bool().unwrap(), "{why}: singleton");
        assert_eq!(dp.pad_str(raw).unwrap(), c["padded150"].as_str().unwrap(), "{why}: padded");
        assert_eq!(dp.n_flank_bases(raw.len()), c["n_plasmid_bases_prepended"].as_u64().unwrap() as usize, "{why}");
        let padded = dp.pad(raw).unwrap();
        assert_eq!(codes_to_string(&reverse_complement(&padded)), c["rc_padded150"].as_str().unwrap(), "{why}: RC");

        let enc = dp.encode(&padded, false, is_singleton(expr));
        let expected: Vec<f32> = c["encoding_full_6x150"].as_array().unwrap().iter().flat_map(floats).collect();
        assert_eq!(enc, expected, "{why}: encoding");
        let rc = dp.encode(&padded, true, false);
        assert!(rc[4 * 150..5 * 150].iter().all(|&v| v == 1.0), "{why}: is_reverse channel");
        let rc_letters: String = (0..150)
            .map(|p| (0..4).find(|&ch| rc[ch * 150 + p] == 1.0).map_or('N', |ch| ['A', 'G', 'C', 'T'][ch]))
            .collect();
        assert_eq!(rc_letters, c["rc_encoding_argmax"].as_str().unwrap(), "{why}: RC encoding");

        let target = soft_target(expr);
        let golden = floats(&c["soft_target_18_float32"]);
        let err = target.iter().zip(&golden).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err <= 1e-6, "{why}: soft target error {err}");

        // Compact storage round-trips the padded window.
        let mut store = PackedSequences::new(150);
        store.push(&padded);
        assert_eq!(store.get(0), padded, "{why}: packed");
    }
}

#[test]
fn other_characters_are_refused_with_position() {
    let dp = DataProcessor::dream();
    let seq = "TGCATTTTTTTCACATCACGTRACGT";
    assert_eq!(
        dp.pad(seq),
        Err(SequenceError::InvalidBase { character: 'R', position: 22, column: 22 })
    );
    // Whitespace is ignored but counted in the column.
    assert_eq!(
        dp.pad("TGCATTTTTT TCACATC\nACGTY"),
        Err(SequenceError::InvalidBase { character: 'Y', position: 22, column: 24 })
    );
}

#[test]
fn plasmid_file_gives_the_upstream_flank() {
    let plasmid = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/dream/plasmid.txt")).unwrap();
    assert_eq!(DataProcessor::upstream_from_plasmid(&plasmid, 150).unwrap(), prixfixe::data::PLASMID_UPSTREAM_150);
}
