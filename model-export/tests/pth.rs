//! `torch.save` files (`.pth`/`.pt`) read without executing anything: the golden weights written
//! as zip and legacy torch.save files (plain, f64, f16, shared-storage views at non-zero offsets
//! with column-major strides) import with `model-export import-torch` and reproduce the reference
//! predictions; malicious and broken files are refused with the file and the reason, exit code 2,
//! nothing written.

#[path = "support/pth_writer.rs"]
mod pth_writer;

use std::path::{Path, PathBuf};
use std::process::Command;

use model_export::pth::{read_state_dict, PthError, TorchFormat};
use prixfixe::bundle::Bundle;
use prixfixe::CpuBackend;
use pth_writer::{checkpoint_of, write_legacy, write_zip, Checkpoint, Layout, Pickler, Storage, Tensor};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// (exit code, stdout + stderr)
fn export(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_model-export")).args(args).output().expect("run model-export");
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn to_half(v: f32) -> u16 {
    half::f16::from_f32(v).to_bits()
}

/// Imports `pth` with `args` into `out`, predicts the fixture's sequences (`field`) with the
/// bundle's own DataProcessor / Predictor; max |Δ| against `want`.
fn import_and_compare(args: &[&str], pth: &Path, out: &Path, io: &serde_json::Value, field: &str, want: &str) -> f64 {
    let mut a = vec!["import-torch", "--weights", pth.to_str().unwrap(), "--out", out.to_str().unwrap()];
    a.extend_from_slice(args);
    let (code, log) = export(&a);
    assert_eq!(code, Some(0), "{log}");
    let seqs: Vec<String> = io["sequences"].as_array().unwrap().iter().map(|s| s[field].as_str().unwrap().to_string()).collect();
    let bundle = Bundle::read(out).unwrap();
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(card.contains("Imported from a PyTorch state_dict") && card.contains(pth.file_name().unwrap().to_str().unwrap()), "{card}");
    let p = bundle.predictor::<CpuBackend>(&Default::default()).unwrap();
    let got: Vec<f64> = p.predict(&seqs).unwrap().iter().map(|x| f64::from(x.expression)).collect();
    let want: Vec<f64> = io[want].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(got.len(), want.len());
    got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0, f64::max)
}

#[test]
fn pth_zip_and_legacy_import_reproduces_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let fx = root().join("tests/fixtures");
    // (what, fixture weights, layout, zip?, path inside dir, extra args, io, sequence field, reference, tolerance)
    let cases: [(&str, PathBuf, Layout, bool, &str, &[&str], PathBuf, &str, &str, f64); 5] = [
        ("#32 1_1_0_1 zip, shared-storage views", fx.join("modules/bfirst_acore_bfinal_weights.safetensors"), Layout::Views, true,
         "1_1_0_1/model_best.pth", &[], fx.join("modules/bfirst_acore_bfinal_io.json"), "padded110", "pred_avg", 1e-4),
        ("#81 2_2_2_2 legacy, plain", fx.join("modules/ufirst_ucore_ufinal_weights.safetensors"), Layout::Plain, false,
         "W81.pt", &["--combo", "2_2_2_2"], fx.join("modules/ufirst_ucore_ufinal_io.json"), "raw", "expression", 1e-4),
        ("DREAM-RNN legacy, f64", fx.join("rnn_weights.safetensors"), Layout::F64, false,
         "rnn.pth", &["--arch", "dream-rnn"], fx.join("rnn_io.json"), "raw", "pred_avg", 1e-4),
        ("DREAM-Attn legacy, views", fx.join("attn_weights.safetensors"), Layout::Views, false,
         "0_0_2_0/model_best.pth", &[], fx.join("attn_io.json"), "raw", "pred_avg", 1e-4),
        // f16 weights: the f16 rounding moves predictions by ~1e-3 at most (as f16 bundles do)
        ("DREAM-CNN zip, f16", fx.join("cnn_weights.safetensors"), Layout::F16(to_half), true,
         "cnn-half.pth", &["--arch", "dream-cnn"], fx.join("cnn_io.json"), "raw", "pred_avg", 2e-3),
    ];
    for (i, (what, weights, layout, zip, rel, args, io, field, want, tol)) in cases.into_iter().enumerate() {
        let ck = checkpoint_of(&std::fs::read(&weights).unwrap(), layout);
        let bytes = if zip { write_zip(&ck, "model_best") } else { write_legacy(&ck) };
        let pth = dir.path().join(rel);
        std::fs::create_dir_all(pth.parent().unwrap()).unwrap();
        std::fs::write(&pth, &bytes).unwrap();
        let diff = import_and_compare(args, &pth, &dir.path().join(format!("bundle{i}")), &json(&io), field, want);
        eprintln!("{what}: {} bytes, max |Δ {want}| = {diff:.2e}", bytes.len());
        assert!(diff <= tol, "{what}: max |Δ| {diff} > {tol}");
    }
}

/// Every tensor read back from both layouts equals the fixture bit for bit (views gathered from
/// their offsets and strides, 0-dim int64 buffers included), and the safetensors made of it is
/// what the existing loader reads.
#[test]
fn pth_reader_returns_the_exact_tensors_of_both_layouts() {
    let bytes = std::fs::read(root().join("tests/fixtures/cnn_weights.safetensors")).unwrap();
    let want = pth_writer::read_safetensors(&bytes);
    for layout in [Layout::Plain, Layout::Views] {
        let ck = checkpoint_of(&bytes, layout);
        for (format, file) in [(TorchFormat::Zip, write_zip(&ck, "archive")), (TorchFormat::Legacy, write_legacy(&ck))] {
            let sd = read_state_dict("cnn.pth", &file).unwrap();
            assert_eq!(sd.format, format);
            assert_eq!(sd.tensors.len(), want.len());
            let st = sd.to_safetensors().unwrap();
            let got = pth_writer::read_safetensors(&st);
            for (g, w) in got.iter().zip(&want) {
                assert_eq!((&g.name, &g.dtype, &g.shape), (&w.name, &w.dtype, &w.shape), "{layout:?} {format:?}");
                assert!(g.bytes == w.bytes, "{layout:?} {format:?}: {} differs", g.name);
            }
            assert!(want.iter().any(|w| w.shape.is_empty() && w.dtype == "I64"), "the fixture has 0-dim num_batches_tracked");
        }
    }
    // f16, bf16 and a transposed 2×3 view at offset 1, by hand.
    let f16: Vec<u8> = [1.0f32, -2.5, 0.1].iter().flat_map(|v| to_half(*v).to_le_bytes()).collect();
    let bf16: Vec<u8> = [1.0f32, -2.5].iter().flat_map(|v| half::bf16::from_f32(*v).to_bits().to_le_bytes()).collect();
    // storage [x, a, d, b, e, c, f]: the view (offset 1, size (2,3), stride (1,2)) is [[a,b,c],[d,e,f]]
    let m: Vec<u8> = [9.0f32, 1., 4., 2., 5., 3., 6.].iter().flat_map(|v| v.to_le_bytes()).collect();
    let ck = Checkpoint {
        storages: vec![
            Storage { key: "h".into(), class: "HalfStorage", elem_size: 2, bytes: f16.clone() },
            Storage { key: "b".into(), class: "BFloat16Storage", elem_size: 2, bytes: bf16.clone() },
            Storage { key: "m".into(), class: "FloatStorage", elem_size: 4, bytes: m },
        ],
        tensors: vec![
            Tensor { name: "h".into(), storage: 0, offset: 0, size: vec![3], stride: vec![1] },
            Tensor { name: "b".into(), storage: 1, offset: 0, size: vec![2], stride: vec![1] },
            Tensor { name: "m".into(), storage: 2, offset: 1, size: vec![2, 3], stride: vec![1, 2] },
            Tensor { name: "m_row1".into(), storage: 2, offset: 2, size: vec![3], stride: vec![2] },
        ],
    };
    for file in [write_zip(&ck, "archive"), write_legacy(&ck)] {
        let sd = read_state_dict("small.pth", &file).unwrap();
        let t: std::collections::HashMap<_, _> = sd.tensors.into_iter().collect();
        assert_eq!((t["h"].dtype, &t["h"].data), (safetensors::Dtype::F16, &f16));
        assert_eq!((t["b"].dtype, &t["b"].data), (safetensors::Dtype::BF16, &bf16));
        let vals = |d: &[u8]| d.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect::<Vec<_>>();
        assert_eq!(t["m"].shape, vec![2, 3]);
        assert_eq!(vals(&t["m"].data), vec![1., 2., 3., 4., 5., 6.]);
        assert_eq!(vals(&t["m_row1"].data), vec![4., 5., 6.]);
    }
}

// ---------------------------------------------------------------------------------------------
// Refusals

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in entries {
        z.start_file(*name, opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// The legacy layout around an arbitrary state_dict pickle (no storages).
fn legacy_of(state_pickle: &[u8]) -> Vec<u8> {
    let ck = Checkpoint::default();
    let good = write_legacy(&ck);
    // header pickles: magic (15 bytes), version, sys-info: cut where the (empty) state_dict pickle begins
    let sd = pth_writer::state_dict_pickle(&ck, true);
    let head = good.windows(sd.len()).position(|w| w == sd.as_slice()).unwrap();
    let mut out = good[..head].to_vec();
    out.extend_from_slice(state_pickle);
    out.extend_from_slice(b"\x80\x02].");
    out
}

/// A pickle `OrderedDict({key: <value written by f>})`.
fn dict_with(key: &str, f: impl FnOnce(&mut Pickler)) -> Vec<u8> {
    let mut p = Pickler::new();
    p.empty_ordered_dict();
    p.str(key);
    f(&mut p);
    p.op(b"s");
    p.stop()
}

#[test]
fn malicious_and_broken_pth_files_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pwned = d.join("PWNED");
    let cmd = format!("touch {}", pwned.display());
    let good = write_zip(&checkpoint_of(&std::fs::read(root().join("tests/fixtures/modules/bfirst_acore_bfinal_weights.safetensors")).unwrap(), Layout::Plain), "archive");

    // os.system("touch PWNED") via GLOBAL + REDUCE, as the zip's data.pkl
    let mut p = Pickler::new();
    p.op(b"cos\nsystem\n");
    p.str(&cmd);
    p.op(b"\x85R");
    let os_system = zip_of(&[("archive/data.pkl", &p.stop()), ("archive/version", b"3\n")]);
    // builtins.eval in a legacy file's state_dict pickle
    let mut p = Pickler::new();
    p.op(b"cbuiltins\neval\n");
    p.str(&format!("__import__('os').system('{cmd}')"));
    p.op(b"\x85R");
    let eval = legacy_of(&p.stop());
    // posix.system through protocol 4's STACK_GLOBAL, inside the dict
    let stack_global = {
        let mut p = Pickler::default();
        p.op(b"\x80\x04}\x8c\x0cfirst.weight\x8c\x05posix\x8c\x06system\x93");
        p.str(&cmd);
        p.op(b"\x85Rs");
        zip_of(&[("archive/data.pkl", &p.stop())])
    };
    // a function global where a tensor belongs
    let fn_value = zip_of(&[("archive/data.pkl", &dict_with("first.weight", |p| p.global("builtins", "print")))]);
    // a whitelisted global, uncalled, where a tensor belongs
    let rebuild_value = legacy_of(&dict_with("first.weight", |p| p.global("torch._utils", "_rebuild_tensor_v2")));
    // a whole pickled model (torch.save(model)): its class is refused
    let whole_model = zip_of(&[("archive/data.pkl", b"\x80\x02c__main__\nNet\nq\x00)\x81q\x01.")]);
    // a float where a tensor belongs
    let float_value = zip_of(&[("archive/data.pkl", &dict_with("first.weight", |p| p.op(b"G?\xf8\x00\x00\x00\x00\x00\x00")))]);
    // damaged files
    let truncated_zip = good[..good.len() / 2].to_vec();
    let legacy_good = write_legacy(&checkpoint_of(&std::fs::read(root().join("tests/fixtures/modules/bfirst_acore_bfinal_weights.safetensors")).unwrap(), Layout::Plain));
    let truncated_legacy = legacy_good[..legacy_good.len() - 1000].to_vec();
    let small = Checkpoint {
        storages: vec![Storage { key: "0".into(), class: "FloatStorage", elem_size: 4, bytes: vec![0; 16] }],
        tensors: vec![Tensor { name: "first.weight".into(), storage: 0, offset: 0, size: vec![2, 2], stride: vec![2, 1] }],
    };
    let pkl = pth_writer::state_dict_pickle(&small, false);
    let missing_storage = zip_of(&[("archive/data.pkl", &pkl)]);
    let short_storage = zip_of(&[("archive/data.pkl", &pkl), ("archive/data/0", &[0u8; 12])]);
    let mut too_far = small.clone();
    too_far.tensors[0].offset = 1;
    let view_past_end = write_legacy(&too_far);
    let not_a_pickle = b"first.weight\t1.0\t2.0\n".to_vec();

    let cases: [(&str, Vec<u8>, &str); 13] = [
        ("os_system.pth", os_system, "refused: the pickle calls os.system; only tensors (torch state_dict) are read, nothing is executed"),
        ("eval.pth", eval, "refused: the pickle calls builtins.eval; only tensors"),
        ("stack_global.pt", stack_global, "refused: the pickle calls posix.system"),
        ("fn_value.pth", fn_value, "refused: the pickle calls builtins.print"),
        ("rebuild_value.pth", rebuild_value, "the state_dict's key \"first.weight\" holds the global torch._utils._rebuild_tensor_v2, not a tensor"),
        ("whole_model.pth", whole_model, "refused: the pickle calls __main__.Net"),
        ("float_value.pth", float_value, "the state_dict's key \"first.weight\" holds a float (1.5), not a tensor"),
        ("truncated_zip.pth", truncated_zip, "truncated or damaged zip archive"),
        ("truncated_legacy.pth", truncated_legacy, "(truncated)"),
        ("missing_storage.pth", missing_storage, "its storage archive/data/0 is missing from the archive"),
        ("short_storage.pth", short_storage, "the storage is too short"),
        ("view_past_end.pth", view_past_end, "reaches element 4 of storage 0, which holds 4: the storage is too short"),
        ("not_a_pickle.pth", not_a_pickle, "not a torch.save file"),
    ];
    for (name, bytes, want) in cases {
        let pth = d.join(name);
        std::fs::write(&pth, &bytes).unwrap();
        // the library's error names the file and the global / reason
        let e = read_state_dict(&pth.display().to_string(), &bytes).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with(&format!("{}: ", pth.display())) && msg.contains(want), "{name}: {msg}");
        if want.starts_with("refused") {
            assert!(matches!(e, PthError::Refused { .. }), "{name}: {e:?}");
        }
        // the CLI: exit code 2, the same message, no output directory
        let out = d.join(format!("out-{name}"));
        let (code, log) = export(&["import-torch", "--combo", "1_1_0_1", "--weights", pth.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{name}: {log}");
        assert!(log.contains(&msg), "{name}: {log}");
        assert!(!out.exists(), "{name}: wrote {}", out.display());
        eprintln!("{name}: {msg}");
    }
    assert!(!pwned.exists(), "a payload ran");
}

/// A state_dict pickled by CPython itself (scripts/make_pth_fixture.py: stub `torch` modules, so
/// the globals and persistent ids are spelled as torch spells them; zip layout as torch.save
/// writes it) reads back exactly: shared storage at offset 1, a transposed view, f16, bf16, f64,
/// a 0-dim int64. `PTH_EXTRA_FIXTURE=FILE` checks another file of the same content too (e.g. the
/// script's `--legacy` output).
#[test]
fn cpython_pickled_state_dict_reads_as_written() {
    let mut files = vec![root().join("tests/fixtures/pth/stub_state_dict.pth")];
    files.extend(std::env::var_os("PTH_EXTRA_FIXTURE").map(PathBuf::from));
    for path in files {
        let sd = read_state_dict(&path.display().to_string(), &std::fs::read(&path).unwrap()).unwrap();
        eprintln!("{}: {:?}, {} tensors", path.display(), sd.format, sd.tensors.len());
        let names: Vec<&str> = sd.tensors.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["a.weight", "a.weight_t", "b.half", "b.bf16", "b.double", "bn.num_batches_tracked", "final.bins"]);
        let t: std::collections::HashMap<_, _> = sd.tensors.into_iter().collect();
        let f32s = |d: &[u8]| d.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect::<Vec<_>>();
        let i64s = |d: &[u8]| d.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect::<Vec<_>>();
        use safetensors::Dtype;
        assert_eq!((t["a.weight"].dtype, &t["a.weight"].shape), (Dtype::F32, &vec![2, 3]));
        assert_eq!(f32s(&t["a.weight"].data), [0.5, -1.0, 2.0, 3.25, 4.0, -5.5]);
        assert_eq!(t["a.weight_t"].shape, vec![3, 2]);
        assert_eq!(f32s(&t["a.weight_t"].data), [0.5, 3.25, -1.0, 4.0, 2.0, -5.5]);
        assert_eq!(t["b.half"].dtype, Dtype::F16);
        let halves: Vec<u16> = t["b.half"].data.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        assert_eq!(halves, [0x3c00, 0xc100, 0x2e66]);
        assert_eq!(t["b.bf16"].dtype, Dtype::BF16);
        let bf: Vec<f32> = t["b.bf16"].data.chunks_exact(2).map(|c| half::bf16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32()).collect();
        assert_eq!(bf, [1.0, -2.5]);
        assert_eq!(t["b.double"].dtype, Dtype::F64);
        let dd: Vec<f64> = t["b.double"].data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(dd, [0.1, -0.2]);
        assert_eq!((t["bn.num_batches_tracked"].dtype, t["bn.num_batches_tracked"].shape.len()), (Dtype::I64, 0));
        assert_eq!(i64s(&t["bn.num_batches_tracked"].data), [7]);
        assert_eq!(i64s(&t["final.bins"].data), [0, 1, 2, 3]);
    }
}
