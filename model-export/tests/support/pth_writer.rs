//! Test-only writer of `torch.save` files, both layouts, as PyTorch's `torch/serialization.py`
//! lays them out: the zip archive (`<prefix>/data.pkl`, `<prefix>/data/<key>`,
//! `<prefix>/version`, `<prefix>/byteorder`; stored entries) and the legacy stream (magic-number,
//! protocol-version and sys-info pickles, the state_dict pickle, the storage-key list pickle, then
//! each storage as an 8-byte element count + raw elements). The state_dict pickle is protocol 2:
//! `collections.OrderedDict` + `torch._utils._rebuild_tensor_v2` + `BINPERSID` storage ids, with
//! the memo (`BINPUT`/`BINGET`) and the `_metadata` BUILD a real state_dict has.
//!
//! Shared by `model-export/tests/pth.rs` and `trainer/tests/pth.rs` (`#[path]`).
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Cursor, Write};

/// A storage: torch class name (`FloatStorage`, …), element size, raw little-endian bytes.
#[derive(Clone, Debug)]
pub struct Storage {
    pub key: String,
    pub class: &'static str,
    pub elem_size: usize,
    pub bytes: Vec<u8>,
}

/// A tensor: a view (offset, size, stride in elements) of `storages[storage]`.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub name: String,
    pub storage: usize,
    pub offset: u64,
    pub size: Vec<u64>,
    pub stride: Vec<u64>,
}

#[derive(Clone, Debug, Default)]
pub struct Checkpoint {
    pub storages: Vec<Storage>,
    pub tensors: Vec<Tensor>,
}

/// A protocol-2 pickler for the handful of things a state_dict holds.
#[derive(Default)]
pub struct Pickler {
    pub out: Vec<u8>,
    memo: HashMap<String, u32>,
}

impl Pickler {
    pub fn new() -> Self {
        let mut p = Self::default();
        p.out.extend_from_slice(&[0x80, 0x02]);
        p
    }
    fn put(&mut self, id: String) {
        let n = self.memo.len() as u32;
        self.memo.insert(id, n);
        if n < 256 {
            self.out.extend_from_slice(&[b'q', n as u8]);
        } else {
            self.out.push(b'r');
            self.out.extend_from_slice(&n.to_le_bytes());
        }
    }
    fn get(&mut self, id: &str) -> bool {
        match self.memo.get(id) {
            Some(&n) if n < 256 => self.out.extend_from_slice(&[b'h', n as u8]),
            Some(&n) => {
                self.out.push(b'j');
                self.out.extend_from_slice(&n.to_le_bytes());
            }
            None => return false,
        }
        true
    }
    pub fn global(&mut self, module: &str, name: &str) {
        let id = format!("global {module}.{name}");
        if !self.get(&id) {
            self.out.push(b'c');
            self.out.extend_from_slice(format!("{module}\n{name}\n").as_bytes());
            self.put(id);
        }
    }
    pub fn str(&mut self, s: &str) {
        self.out.push(b'X');
        self.out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
    }
    pub fn int(&mut self, v: u64) {
        if v < 256 {
            self.out.extend_from_slice(&[b'K', v as u8]);
        } else if v < 65536 {
            self.out.push(b'M');
            self.out.extend_from_slice(&(v as u16).to_le_bytes());
        } else if v < (1 << 31) {
            self.out.push(b'J');
            self.out.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            self.out.extend_from_slice(&[0x8a, 8]);
            self.out.extend_from_slice(&v.to_le_bytes());
        }
    }
    pub fn op(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }
    pub fn int_tuple(&mut self, v: &[u64]) {
        match v.len() {
            0 => self.op(b")"),
            1..=3 => {
                for &x in v {
                    self.int(x);
                }
                self.op(&[0x84 + v.len() as u8]);
            }
            _ => {
                self.op(b"(");
                for &x in v {
                    self.int(x);
                }
                self.op(b"t");
            }
        }
    }
    /// `OrderedDict()` (memoized class, new instance).
    pub fn empty_ordered_dict(&mut self) {
        self.global("collections", "OrderedDict");
        self.op(b")R");
        let id = format!("obj {}", self.out.len());
        self.put(id);
    }
    pub fn stop(mut self) -> Vec<u8> {
        self.out.push(b'.');
        self.out
    }
}

/// The state_dict pickle; `legacy`: 6-field persistent ids (view metadata None).
pub fn state_dict_pickle(ck: &Checkpoint, legacy: bool) -> Vec<u8> {
    let mut p = Pickler::new();
    p.empty_ordered_dict();
    p.op(b"(");
    for t in &ck.tensors {
        let s = &ck.storages[t.storage];
        p.str(&t.name);
        p.global("torch._utils", "_rebuild_tensor_v2");
        p.op(b"(");
        let sid = format!("storage {}", s.key);
        if !p.get(&sid) {
            p.op(b"(");
            p.str("storage");
            p.global("torch", s.class);
            p.str(&s.key);
            p.str("cpu");
            p.int((s.bytes.len() / s.elem_size) as u64);
            if legacy {
                p.op(b"N");
            }
            p.op(b"t");
            p.op(b"Q");
            p.put(sid);
        }
        p.int(t.offset);
        p.int_tuple(&t.size);
        p.int_tuple(&t.stride);
        p.op(&[0x89]); // requires_grad False
        p.empty_ordered_dict(); // backward_hooks
        p.op(b"tR");
    }
    p.op(b"u");
    // state_dict._metadata, as torch's OrderedDict carries it: BUILD {'_metadata': OrderedDict({'': {'version': 1}})}
    p.op(b"}");
    p.str("_metadata");
    p.empty_ordered_dict();
    p.str("");
    p.op(b"}");
    p.str("version");
    p.int(1);
    p.op(b"ss");
    p.op(b"sb");
    p.stop()
}

/// The zip layout under `prefix` (`archive` for torch ≥ 2, the file stem before).
pub fn write_zip(ck: &Checkpoint, prefix: &str) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut entry = |name: String, data: &[u8]| {
        z.start_file(name, opts).unwrap();
        z.write_all(data).unwrap();
    };
    entry(format!("{prefix}/data.pkl"), &state_dict_pickle(ck, false));
    entry(format!("{prefix}/byteorder"), b"little");
    for s in &ck.storages {
        entry(format!("{prefix}/data/{}", s.key), &s.bytes);
    }
    entry(format!("{prefix}/version"), b"3\n");
    z.finish().unwrap().into_inner()
}

/// The legacy layout.
pub fn write_legacy(ck: &Checkpoint) -> Vec<u8> {
    let mut out = Vec::new();
    // magic number 0x1950a86a20f9469cfc6c as LONG1
    out.extend_from_slice(&[0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, b'.']);
    let mut p = Pickler::new();
    p.int(1001);
    out.extend(p.stop());
    let mut p = Pickler::new();
    p.op(b"}(");
    p.str("protocol_version");
    p.int(1001);
    p.str("little_endian");
    p.op(&[0x88]);
    p.str("type_sizes");
    p.op(b"}(");
    for (k, v) in [("short", 2), ("int", 4), ("long", 4)] {
        p.str(k);
        p.int(v);
    }
    p.op(b"uu");
    out.extend(p.stop());
    out.extend(state_dict_pickle(ck, true));
    let mut keys: Vec<&Storage> = ck.storages.iter().collect();
    keys.sort_by(|a, b| a.key.cmp(&b.key));
    let mut p = Pickler::new();
    p.op(b"](");
    for s in &keys {
        p.str(&s.key);
    }
    p.op(b"e");
    out.extend(p.stop());
    for s in keys {
        out.extend_from_slice(&((s.bytes.len() / s.elem_size) as u64).to_le_bytes());
        out.extend_from_slice(&s.bytes);
    }
    out
}

/// A tensor of a safetensors file: name, dtype, shape, bytes.
pub struct StTensor {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<u64>,
    pub bytes: Vec<u8>,
}

/// Reads a safetensors file (header parsed by hand), in file order.
pub fn read_safetensors(bytes: &[u8]) -> Vec<StTensor> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let mut out: Vec<StTensor> = header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(k, v)| {
            let o = v["data_offsets"].as_array().unwrap();
            let (a, b) = (o[0].as_u64().unwrap() as usize, o[1].as_u64().unwrap() as usize);
            StTensor {
                name: k.clone(),
                dtype: v["dtype"].as_str().unwrap().to_string(),
                shape: v["shape"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect(),
                bytes: data[a..b].to_vec(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// How the fixture's tensors are laid out in the checkpoint.
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    /// One storage per tensor, same dtype, contiguous (what `torch.save(model.state_dict())` writes).
    Plain,
    /// Float tensors as `DoubleStorage` (exact), otherwise like Plain.
    F64,
    /// Float tensors as `HalfStorage` (`to_half` converts f32 bits to f16 bits).
    F16(fn(f32) -> u16),
    /// All float tensors in one shared `FloatStorage`, each at a non-zero offset after a gap of
    /// junk elements, stored column-major (strides reversed) so every ≥2-D tensor is a
    /// non-contiguous view; int64 tensors share one `LongStorage` likewise.
    Views,
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

/// A checkpoint of the safetensors `bytes` (F32 and I64 tensors) in `layout`.
pub fn checkpoint_of(bytes: &[u8], layout: Layout) -> Checkpoint {
    let mut ck = Checkpoint::default();
    let tensors = read_safetensors(bytes);
    let views = matches!(layout, Layout::Views);
    if views {
        ck.storages.push(Storage { key: "0".into(), class: "FloatStorage", elem_size: 4, bytes: Vec::new() });
        ck.storages.push(Storage { key: "1".into(), class: "LongStorage", elem_size: 8, bytes: Vec::new() });
    }
    for (i, t) in tensors.iter().enumerate() {
        let float = t.dtype == "F32";
        assert!(float || t.dtype == "I64", "{}: {}", t.name, t.dtype);
        let es = if float { 4 } else { 8 };
        let contiguous_stride = |shape: &[u64]| {
            let mut st = vec![1u64; shape.len()];
            for d in (0..shape.len().saturating_sub(1)).rev() {
                st[d] = st[d + 1] * shape[d + 1];
            }
            st
        };
        match layout {
            Layout::Views => {
                let s = &mut ck.storages[usize::from(!float)];
                // a gap of 3 junk elements before every tensor
                s.bytes.extend(std::iter::repeat_n(0xA5u8, 3 * es));
                let offset = (s.bytes.len() / es) as u64;
                let n = t.shape.iter().product::<u64>() as usize;
                // column-major: stride_0 = 1, stride_d = stride_{d-1} * size_{d-1}
                let mut stride = vec![1u64; t.shape.len()];
                for d in 1..t.shape.len() {
                    stride[d] = stride[d - 1] * t.shape[d - 1];
                }
                let mut placed = vec![0u8; n * es];
                let row = contiguous_stride(&t.shape);
                for e in 0..n as u64 {
                    // row-major index e → multi-index → column-major position
                    let mut rest = e;
                    let mut pos = 0u64;
                    for d in 0..t.shape.len() {
                        let i = rest / row[d];
                        rest %= row[d];
                        pos += i * stride[d];
                    }
                    let (src, dst) = (e as usize * es, pos as usize * es);
                    placed[dst..dst + es].copy_from_slice(&t.bytes[src..src + es]);
                }
                s.bytes.extend(placed);
                ck.tensors.push(Tensor { name: t.name.clone(), storage: usize::from(!float), offset, size: t.shape.clone(), stride });
            }
            _ => {
                let (class, elem_size, data) = match (layout, float) {
                    (Layout::F64, true) => ("DoubleStorage", 8, f32s(&t.bytes).iter().flat_map(|v| f64::from(*v).to_le_bytes()).collect()),
                    (Layout::F16(to_half), true) => ("HalfStorage", 2, f32s(&t.bytes).iter().flat_map(|v| to_half(*v).to_le_bytes()).collect()),
                    (_, true) => ("FloatStorage", 4, t.bytes.clone()),
                    (_, false) => ("LongStorage", 8, t.bytes.clone()),
                };
                ck.storages.push(Storage { key: i.to_string(), class, elem_size, bytes: data });
                ck.tensors.push(Tensor {
                    name: t.name.clone(),
                    storage: ck.storages.len() - 1,
                    offset: 0,
                    size: t.shape.clone(),
                    stride: contiguous_stride(&t.shape),
                });
            }
        }
    }
    if views {
        // a trailing gap, so the last view does not end the storage either
        for s in ck.storages.iter_mut() {
            s.bytes.extend(std::iter::repeat_n(0x5Au8, 2 * s.elem_size));
        }
        // torch only writes storages that a tensor uses
        if !ck.tensors.iter().any(|t| t.storage == 1) {
            ck.storages.pop();
        }
    }
    ck
}
