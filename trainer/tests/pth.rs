//! `dream predict --model W.pth`: bare torch.save state_dicts (zip and legacy layouts) of any
//! compatible combination — from `--arch`, `--combo` or the path (`…/1_1_0_1/model_best.pth`) —
//! run with that combination's own DataProcessor and Predictor and reproduce the reference; a
//! refused file writes nothing.

#[path = "../../model-export/tests/support/pth_writer.rs"]
mod pth_writer;

use std::path::{Path, PathBuf};
use std::process::Command;

use pth_writer::{checkpoint_of, write_legacy, write_zip, Layout, Pickler};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dream(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dream")).args(args).output().expect("run dream");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into())
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn predict_reads_pth_state_dicts_of_any_combination() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fx = root().join("tests/fixtures");
    // (what, weights, layout, zip?, file under d, --model (relative to d), extra args, io, field, reference)
    let cases: [(&str, &str, Layout, bool, &str, &str, &[&str], &str, &str, &str); 4] = [
        ("#32 1_1_0_1 zip views, combination from the path", "modules/bfirst_acore_bfinal_weights.safetensors", Layout::Views, true,
         "1_1_0_1/model_best.pth", "1_1_0_1/model_best.pth", &[], "modules/bfirst_acore_bfinal_io.json", "padded110", "pred_avg"),
        ("#81 2_2_2_2 legacy, --combo", "modules/ufirst_ucore_ufinal_weights.safetensors", Layout::Plain, false,
         "W81.pt", "W81.pt", &["--combo", "2_2_2_2"], "modules/ufirst_ucore_ufinal_io.json", "raw", "expression"),
        ("DREAM-RNN legacy f64, --arch", "rnn_weights.safetensors", Layout::F64, false,
         "rnn.pth", "rnn.pth", &["--arch", "dream-rnn"], "rnn_io.json", "raw", "pred_avg"),
        ("DREAM-CNN zip views, a 0_1_0_0 directory", "cnn_weights.safetensors", Layout::Views, true,
         "0_1_0_0/model_best.pth", "0_1_0_0", &[], "cnn_io.json", "raw", "pred_avg"),
    ];
    for (i, (what, weights, layout, zip, file, model, args, io, field, want)) in cases.into_iter().enumerate() {
        let ck = checkpoint_of(&std::fs::read(fx.join(weights)).unwrap(), layout);
        let bytes = if zip { write_zip(&ck, "archive") } else { write_legacy(&ck) };
        let pth = d.join(file);
        std::fs::create_dir_all(pth.parent().unwrap()).unwrap();
        std::fs::write(&pth, bytes).unwrap();
        let io = json(&fx.join(io));
        let lines: String = io["sequences"].as_array().unwrap().iter().map(|s| format!("{}\n", s[field].as_str().unwrap())).collect();
        let input = d.join(format!("in{i}.txt"));
        std::fs::write(&input, lines).unwrap();
        let output = d.join(format!("out{i}.tsv"));
        let model = d.join(model);
        let mut a = vec!["predict", "--model", model.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()];
        a.extend_from_slice(args);
        let (code, err) = dream(&a);
        assert_eq!(code, Some(0), "{what}: {err}");
        let text = std::fs::read_to_string(&output).unwrap();
        let got: Vec<f64> = text.lines().skip(1).map(|l| l.rsplit('\t').next().unwrap().parse().unwrap()).collect();
        let want: Vec<f64> = io[want].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(got.len(), want.len(), "{what}");
        let diff = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0, f64::max);
        eprintln!("{what}: max |Δ| = {diff:.2e}");
        assert!(diff <= 1e-4, "{what}: max |Δ| {diff}");
    }

    // A bare .pth with no combination anywhere: the error says how to give one.
    let plain = d.join("W.pth");
    std::fs::copy(d.join("rnn.pth"), &plain).unwrap();
    let input = d.join("in2.txt");
    let output = d.join("none.tsv");
    let (code, err) = dream(&["predict", "--model", plain.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(code != Some(0) && err.contains(".pth") && err.contains("--combo") && !output.exists(), "{err}");
    // --arch and --combo together are refused by the parser.
    let (code, err) = dream(&["predict", "--model", plain.to_str().unwrap(), "--arch", "dream-rnn", "--combo", "0_1_1_0", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(code != Some(0) && err.contains("cannot be used with"), "{err}");
    // Weights of one combination under another's code: the loader names the mismatch.
    let (code, err) = dream(&["predict", "--model", plain.to_str().unwrap(), "--combo", "0_1_0_0", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(code != Some(0) && err.contains("as combination 0_1_0_0") && !output.exists(), "{err}");

    // A malicious .pth: refused before anything runs, no prediction written.
    let pwned = d.join("PWNED");
    let mut p = Pickler::new();
    p.op(b"cposix\nsystem\n");
    p.str(&format!("touch {}", pwned.display()));
    p.op(b"\x85R");
    let bad = d.join("0_1_1_0").join("model_best.pth");
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    std::fs::write(&bad, p.stop()).unwrap();
    let (code, err) = dream(&["predict", "--model", bad.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(code != Some(0) && !output.exists() && !pwned.exists(), "{err}");
    assert!(err.contains(&format!("{}: ", bad.display())), "{err}");
    // a bare pickle (no zip, no legacy magic) is not a torch.save file
    assert!(err.contains("not a torch.save file"), "{err}");
    let legacy_bad = {
        let mut v = write_legacy(&pth_writer::Checkpoint::default());
        let sd = pth_writer::state_dict_pickle(&pth_writer::Checkpoint::default(), true);
        let at = v.windows(sd.len()).position(|w| w == sd.as_slice()).unwrap();
        v.truncate(at);
        v.extend(std::fs::read(&bad).unwrap());
        v.extend_from_slice(b"\x80\x02].");
        v
    };
    std::fs::write(&bad, legacy_bad).unwrap();
    let (code, err) = dream(&["predict", "--model", bad.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(code != Some(0) && !output.exists() && !pwned.exists(), "{err}");
    assert!(err.contains("refused: the pickle calls posix.system; only tensors (torch state_dict) are read, nothing is executed"), "{err}");
}
