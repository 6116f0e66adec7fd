//! `dream tile` and `dream variants` on real data: the tiling reproduces the DREAM test set's
//! motif tiling subset, and every number equals `dream predict` / `dream ism` of the same
//! sequences with the shipped DREAM-CNN bundle.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dream(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dream")).args(args).output().expect("run dream");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into())
}

/// The DREAM test sequences by tag.
fn test_set() -> HashMap<String, String> {
    let text = std::fs::read_to_string(root().join("data/dream/test_sequences.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[2].to_string(), f[3].to_string())
        })
        .collect()
}

/// Rows of a TSV written by `dream` (header skipped), split on tabs.
fn rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().skip(1).map(|l| l.split('\t').map(String::from).collect()).collect()
}

/// `dream predict` of `seqs` with the shipped DREAM-CNN: one prediction each.
fn predict(dir: &Path, seqs: &[String]) -> Vec<f64> {
    let input = dir.join("predict-in.txt");
    std::fs::write(&input, seqs.join("\n")).unwrap();
    let output = dir.join("predict-out.tsv");
    let model = root().join("public/models/dream-cnn");
    let (ok, err) = dream(&["predict", "--model", model.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(ok, "{err}");
    rows(&output).iter().map(|r| r.last().unwrap().parse().unwrap()).collect()
}

#[test]
fn tiling_reproduces_the_dream_motif_tiling_subset() {
    use prixfixe::tiling::{parse_motif, plan_tiling, Orientation, KNOWN_MOTIFS};
    let tests = test_set();
    let mut compared = 0;
    for background in ["rand151", "rand311", "rand705"] {
        let bg = &tests[background];
        for m in KNOWN_MOTIFS.iter().filter(|m| m.name != "Hsf1") {
            let plan = plan_tiling(bg, &parse_motif(m.name).unwrap(), (18, 97)).unwrap();
            let mut max_offset = 0;
            for (i, p) in plan.placements.iter().enumerate() {
                let rc = if p.orientation == Orientation::Reverse { ".RC" } else { "" };
                max_offset = max_offset.max(p.offset);
                if let Some(want) = tests.get(&format!("{background}_{}{rc}_{}", m.name, p.offset)) {
                    assert_eq!(&plan.sequence(i + 1), want, "{background} {} {rc} offset {}", m.name, p.offset);
                    compared += 1;
                }
            }
            // The motif lies wholly inside the 80 bp region, as in the test set.
            assert_eq!(max_offset, 80 - m.consensus.len(), "{}", m.name);
        }
    }
    // Every motif-tiling sequence of the three backgrounds (2,623 in the public test set).
    let in_subset = tests.keys().filter(|t| t.split('_').count() == 3 && t.starts_with("rand") && !t.contains("Reb1")).count();
    assert_eq!(compared, in_subset);
    assert_eq!(compared, 2623);
}

#[test]
fn tile_cli_equals_predict_on_the_same_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let tests = test_set();
    let bg = tests["rand311"].clone();
    let out = dir.path().join("tile.tsv");
    let model = root().join("public/models/dream-cnn");
    let (ok, err) = dream(&["tile", "--model", model.to_str().unwrap(), "--sequence", &bg, "--motif", "mga1", "--output", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    let table = rows(&out);
    assert_eq!(table.len(), 2 * 77);
    assert_eq!(table[0][..2], ["18".to_string(), "+".into()]);
    assert_eq!(table[77][..2], ["18".to_string(), "-".into()]);
    // Rows checked against `dream predict` of the test set's own sequences (same tags).
    let picks = [(0usize, "rand311_Mga1_0"), (40, "rand311_Mga1_40"), (77 + 1, "rand311_Mga1.RC_1"), (153, "rand311_Mga1.RC_76")];
    let mut seqs = vec![bg.clone()];
    seqs.extend(picks.iter().map(|(_, tag)| tests[*tag].clone()));
    let preds = predict(dir.path(), &seqs);
    for (k, (row, tag)) in picks.iter().enumerate() {
        let expression: f64 = table[*row][2].parse().unwrap();
        let delta: f64 = table[*row][3].parse().unwrap();
        assert!((expression - preds[k + 1]).abs() <= 1e-4, "{tag}: tile {expression} vs predict {}", preds[k + 1]);
        assert!((delta - (preds[k + 1] - preds[0])).abs() <= 2e-4, "{tag}: delta {delta}");
    }

    // Bad input: a clear error, exit status 2, nothing written.
    let bad = dir.path().join("bad.tsv");
    for (motif, region, want) in [
        ("ACGU", None, "character 'U' at position 4 is not A, C, G or T"),
        ("ACG", None, "motifs of 4 to 30 bp"),
        ("Reb1", None, "polyA, Skn7, Mga1"),
        ("ACGT", Some("90-120"), "not within the background"),
    ] {
        let mut args = vec!["tile", "--model", model.to_str().unwrap(), "--sequence", &bg, "--motif", motif, "--output", bad.to_str().unwrap()];
        if let Some(r) = region {
            args.extend(["--region", r]);
        }
        let (ok, err) = dream(&args);
        assert!(!ok && err.contains(want), "{motif}: {err}");
        assert!(!bad.exists());
    }
}

#[test]
fn variants_cli_equals_ism_and_predict() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("public/models/dream-cnn");
    let seq = test_set()["YDL047W.5"].clone();
    // Three SNVs, a 2 bp deletion and a sequence pair; position 18 is the first base of the
    // 80 bp random region.
    let base = |p: usize| &seq[p - 1..p];
    let alt = |p: usize| if base(p) == "A" { "C" } else { "A" };
    let mut pair_alt = seq.clone();
    pair_alt.replace_range(30..31, if &seq[30..31] == "G" { "T" } else { "G" });
    let table = format!(
        "id\tsequence\tposition\tref\talt\n\
         snv18\t{seq}\t18\t{}\t{}\n\
         snv50\t{seq}\t50\t{}\t{}\n\
         snv97\t{seq}\t97\t{}\t{}\n\
         del40\t{seq}\t40\t{}\t-\n",
        base(18), alt(18), base(50), alt(50), base(97), alt(97), &seq[39..41]
    );
    let input = dir.path().join("v.tsv");
    std::fs::write(&input, &table).unwrap();
    let out = dir.path().join("o.tsv");
    let (ok, err) = dream(&["variants", "--model", model.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(std::fs::read_to_string(&out).unwrap().starts_with("id\treference\talternative\tdelta\nsnv18\t"));
    let got = rows(&out);
    assert_eq!(got.len(), 4);

    // Same numbers from `dream ism` over the region …
    let ism = dir.path().join("ism.tsv");
    let (ok, err) = dream(&["ism", "--model", model.to_str().unwrap(), "--sequence", &seq, "--region", "18-97", "--output", ism.to_str().unwrap()]);
    assert!(ok, "{err}");
    let ism_rows = rows(&ism);
    for (row, p) in got.iter().zip([18usize, 50, 97]) {
        let hit = ism_rows.iter().find(|r| r[0] == p.to_string() && r[2] == alt(p)).unwrap();
        let (a, b): (f64, f64) = (row[2].parse().unwrap(), hit[3].parse().unwrap());
        assert!((a - b).abs() <= 1e-4, "position {p}: variants {a} vs ism {b}");
        let (d, e): (f64, f64) = (row[3].parse().unwrap(), hit[4].parse().unwrap());
        assert!((d - e).abs() <= 2e-4, "position {p}: delta {d} vs ism {e}");
    }
    // `--method taylor`: the same variants and reference, approximate effects that follow the
    // exact ones (Pearson r ≥ 0.5; 0.92 measured for this promoter).
    let taylor = dir.path().join("taylor.tsv");
    let (ok, terr) = dream(&["ism", "--model", model.to_str().unwrap(), "--sequence", &seq, "--region", "18-97", "--method", "taylor", "--output", taylor.to_str().unwrap()]);
    assert!(ok, "{terr}");
    assert!(terr.contains("first-order approximation"), "{terr}");
    let reference = |e: &str| e.lines().find(|l| l.starts_with("reference prediction")).unwrap().split(';').next().unwrap().to_string();
    let (ok, eerr) = dream(&["ism", "--model", model.to_str().unwrap(), "--sequence", &seq, "--region", "18-97", "--method", "exact", "--output", ism.to_str().unwrap()]);
    assert!(ok, "{eerr}");
    assert_eq!(reference(&terr), reference(&eerr));
    let taylor_rows = rows(&taylor);
    assert_eq!(taylor_rows.len(), 240);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (t, e) in taylor_rows.iter().zip(&ism_rows) {
        assert_eq!(t[..3], e[..3], "variant");
        a.push(t[4].parse::<f64>().unwrap());
        b.push(e[4].parse::<f64>().unwrap());
    }
    let r = prixfixe::metrics::pearson(&a, &b).unwrap();
    assert!(r >= 0.5, "Taylor vs exact r = {r}");
    let (ok, err) = dream(&["ism", "--model", model.to_str().unwrap(), "--sequence", &seq, "--method", "gradient", "--output", taylor.to_str().unwrap()]);
    assert!(!ok && err.contains("possible values: exact, taylor"), "{err}");
    // … and from `dream predict` of the deleted sequence, and in the pair layout.
    let mut deleted = seq.clone();
    deleted.replace_range(39..41, "");
    let preds = predict(dir.path(), &[seq.clone(), deleted, pair_alt.clone()]);
    let del: f64 = got[3][2].parse().unwrap();
    assert!((del - preds[1]).abs() <= 1e-4, "deletion: {del} vs {}", preds[1]);
    let pairs = dir.path().join("pairs.csv");
    std::fs::write(&pairs, format!("id,ref_sequence,alt_sequence\np1,{seq},{pair_alt}\n")).unwrap();
    let (ok, err) = dream(&["variants", "--model", model.to_str().unwrap(), "--input", pairs.to_str().unwrap(), "--output", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    let p = &rows(&out)[0];
    let (r, a): (f64, f64) = (p[1].parse().unwrap(), p[2].parse().unwrap());
    assert!((r - preds[0]).abs() <= 1e-4 && (a - preds[2]).abs() <= 1e-4, "pair: {p:?} vs {preds:?}");

    // A ref that does not match: file, line and column named; nothing written.
    let bad = dir.path().join("bad.tsv");
    let wrong = if base(50) == "A" { "C" } else { "A" };
    std::fs::write(&input, format!("id\tsequence\tposition\tref\talt\nx\t{seq}\t50\t{wrong}\tT\n")).unwrap();
    let (ok, err) = dream(&["variants", "--model", model.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", bad.to_str().unwrap()]);
    let col = 3 + seq.len() + 1 + 3;
    assert!(!ok && err.contains(&format!("v.tsv:2:{col}: ref {wrong} does not match the sequence, which has {} at position 50", base(50))), "{err}");
    assert!(!bad.exists());
    // A deletion that leaves too little for the model: named by line and id.
    std::fs::write(&input, format!("id\tsequence\tposition\tref\talt\nshort\t{}\t1\t{}\t-\n", &seq[..20], &seq[..4])).unwrap();
    let (ok, err) = dream(&["variants", "--model", model.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("v.tsv:2: variant \"short\": the alternative sequence: "), "{err}");
}

/// Every step of a greedy `dream design` is the best SNV of a `dream ism` scan of the step
/// before (restricted to positions not yet edited), and its expression equals `dream predict`.
#[test]
fn design_cli_follows_ism_and_predict() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("public/models/dream-cnn");
    let model = model.to_str().unwrap();
    let seq = test_set()["YDL047W.5"].clone();
    let out = dir.path().join("design.tsv");
    let (ok, err) = dream(&["design", "--model", model, "--sequence", &seq, "--goal", "max", "--max-edits", "2", "--seed", "1", "--protect", "18-19", "--output", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(std::fs::read_to_string(&out).unwrap().starts_with("step\tsequence\texpression\tchanges\n0\t"));
    let steps = rows(&out);
    assert_eq!(steps.len(), 3, "two substitutions raise the prediction of this promoter");
    assert_eq!(steps[0][1], seq.to_uppercase());
    let preds = predict(dir.path(), &steps.iter().map(|r| r[1].clone()).collect::<Vec<_>>());
    let mut edited: Vec<usize> = Vec::new();
    for (i, (row, p)) in steps.iter().zip(&preds).enumerate() {
        let e: f64 = row[2].parse().unwrap();
        assert!((e - p).abs() <= 1e-4, "step {i}: design {e} vs predict {p}");
        assert_eq!(row[3].split(';').filter(|c| !c.is_empty()).count(), i);
        if i == 0 {
            continue;
        }
        assert!(e > steps[i - 1][2].parse::<f64>().unwrap(), "step {i} raises the prediction");
        // The best substitution of an ISM scan of the previous step, among positions allowed.
        let ism = dir.path().join("ism.tsv");
        let (ok, err) = dream(&["ism", "--model", model, "--sequence", &steps[i - 1][1], "--region", "18-97", "--output", ism.to_str().unwrap()]);
        assert!(ok, "{err}");
        let best = rows(&ism)
            .into_iter()
            .filter(|r| {
                let p: usize = r[0].parse().unwrap();
                p >= 20 && !edited.contains(&p)
            })
            .max_by(|a, b| a[4].parse::<f64>().unwrap().total_cmp(&b[4].parse::<f64>().unwrap()))
            .unwrap();
        let change = row[3].split(';').find(|c| !steps[i - 1][3].split(';').any(|o| o == *c)).unwrap();
        assert_eq!(change, format!("{}{}>{}", best[0], best[1], best[2]), "step {i}");
        edited.push(best[0].parse().unwrap());
        let ism_pred: f64 = best[3].parse().unwrap();
        assert!((ism_pred - e).abs() <= 1e-4, "step {i}: ism {ism_pred} vs design {e}");
    }

    // Evolve: the same seed gives the same file; at most k changes; the goal improves.
    let run = |seed: &str, path: &Path| {
        let (ok, err) = dream(&["design", "--model", model, "--sequence", &seq, "--goal", "min", "--max-edits", "3", "--seed", seed, "--method", "evolve", "--population", "4", "--children", "2", "--generations", "3", "--output", path.to_str().unwrap()]);
        assert!(ok, "{err}");
        std::fs::read_to_string(path).unwrap()
    };
    let (a, b) = (run("5", &dir.path().join("e1.tsv")), run("5", &dir.path().join("e2.tsv")));
    assert_eq!(a, b);
    let evolved = rows(&dir.path().join("e1.tsv"));
    let last = evolved.last().unwrap();
    assert!(last[3].split(';').filter(|c| !c.is_empty()).count() <= 3);
    assert!(evolved.len() >= 2 && last[2].parse::<f64>().unwrap() < evolved[0][2].parse::<f64>().unwrap());

    // Bad settings: a clear message, nothing written.
    let bad = dir.path().join("bad.tsv");
    for (args, want) in [
        (vec!["--goal", "max", "--max-edits", "81"], "81 edits asked, but the editable region 18-97 has only 80 editable position(s)"),
        (vec!["--goal", "high", "--max-edits", "1"], "--goal: goal \"high\": give max, min or a target expression"),
        (vec!["--goal", "max", "--max-edits", "1", "--protect", "200"], "--protect: protected positions: \"200\" reaches past the sequence (1-110 bp)"),
        (vec!["--goal", "max", "--max-edits", "1", "--protect", "1-18446744073709551615"], "reaches past the sequence (1-110 bp)"),
        (vec!["--goal", "max", "--max-edits", "1", "--region", "90-120"], "editable region 90-120 is not within the sequence (1-110 bp)"),
    ] {
        let mut all = vec!["design", "--model", model, "--sequence", &seq, "--output", bad.to_str().unwrap()];
        all.extend(args);
        let (ok, err) = dream(&all);
        assert!(!ok && err.contains(want), "{want}: {err}");
        assert!(!bad.exists());
    }
}

/// `dream ism --attribution --logo`: the attribution is minus the mean delta of each position's
/// three substitutions in the scan itself; the logo draws one letter per position.
#[test]
fn ism_attribution_is_minus_the_mean_snv_effect() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("public/models/dream-cnn");
    let seq = test_set()["YDL047W.5"].clone();
    let (ism, att, logo) = (dir.path().join("ism.tsv"), dir.path().join("att.tsv"), dir.path().join("logo.svg"));
    let (ok, err) = dream(&[
        "ism", "--model", model.to_str().unwrap(), "--sequence", &seq, "--region", "18-97", "--output", ism.to_str().unwrap(),
        "--attribution", att.to_str().unwrap(), "--logo", logo.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let scan = rows(&ism);
    let track = rows(&att);
    assert_eq!(track.len(), 80);
    for row in &track {
        let deltas: Vec<f64> = scan.iter().filter(|r| r[0] == row[0]).map(|r| r[4].parse().unwrap()).collect();
        assert_eq!(deltas.len(), 3);
        let want = -deltas.iter().sum::<f64>() / 3.0;
        let got: f64 = row[2].parse().unwrap();
        assert!((got - want).abs() <= 2e-6, "position {}: {got} vs {want}", row[0]);
        let p: usize = row[0].parse().unwrap();
        assert_eq!(row[1], seq[p - 1..p].to_uppercase());
    }
    let svg = std::fs::read_to_string(&logo).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("positions 18-97"));
    // Every position with a non-zero attribution has its letter (six decimals may round a tiny one to 0).
    let letters = svg.matches("<title>position ").count();
    let nonzero = track.iter().filter(|r| r[2].parse::<f64>().unwrap() != 0.0).count();
    assert!(letters >= nonzero && letters <= 80, "{letters} letters, {nonzero} non-zero attributions");
}
