//! Reading PyTorch `torch.save` state_dict files (`.pth` / `.pt`, e.g. the official Prix Fixe
//! `0_1_1_0/model_best.pth`) **without executing anything**, into the safetensors bytes the rest
//! of the code loads (`PrixFixeNet::from_torch_safetensors`, reference key names,
//! PRIXFIXE-MODULES.md).
//!
//! # Formats (PyTorch `torch/serialization.py`)
//! - **zip** (torch ≥ 1.6, the default): a zip archive with stored (uncompressed) entries
//!   `<name>/data.pkl` (the pickled state_dict), `<name>/data/<key>` (one raw storage per key),
//!   `<name>/version` and, since torch 2.1, `<name>/byteorder` (`little` / `big`). `<name>` is
//!   `archive` or the file's stem, depending on the torch version.
//! - **legacy** (torch < 1.6, or `_use_new_zipfile_serialization=False`): five pickles one after
//!   the other — the magic number `0x1950a86a20f9469cfc6c`, the protocol version 1001, the
//!   sys-info dict (`little_endian`, type sizes), the state_dict, the sorted list of storage keys —
//!   then, for each key of that list, the storage as an 8-byte little-endian element count
//!   followed by its raw elements.
//!
//! Storages are referenced from the pickle by persistent id:
//! `('storage', torch.FloatStorage, key, location, numel)` (zip) or
//! `('storage', torch.FloatStorage, key, location, numel, view_metadata)` (legacy), and tensors are
//! `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
//! backward_hooks[, metadata])`.
//!
//! # Why our own reader, not burn-store's
//! burn-store 0.21 (in Cargo.lock through burn) has a PyTorch reader for both formats, behind its
//! default `pytorch` feature (which also pulls `zip`, `tar` and burn-core's record serde). It was
//! not used because (1) it ignores the `stride` argument, so a non-contiguous view would be read
//! as if contiguous, silently wrong; (2) a storage that is missing or shorter than the tensor is
//! padded with zeros instead of refused; (3) it cannot be limited to a whitelist of globals: a
//! global it does not know is kept as an opaque value when it is not in a tensor position. Here a
//! small interpreter of the pickle subset that state_dicts use does the work, with the `zip`
//! crate (no compression codecs: torch stores entries uncompressed) for the archive.
//!
//! # What is read, what is refused
//! A pickle *global* is the only way a pickle can make Python run code; every `GLOBAL` /
//! `STACK_GLOBAL` / `INST` opcode is checked against a whitelist the moment it is read, before
//! anything that follows it in the file: `collections.OrderedDict`,
//! `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_tensor`,
//! `torch._utils._rebuild_parameter` (the only callables, and only called through this
//! interpreter's own handling of them) and the storage types `torch.{Float, Half, BFloat16,
//! Double, Long, Int, Short, Char, Byte, Bool}Storage`, `torch.UntypedStorage` /
//! `torch.storage.UntypedStorage` (only as names in persistent ids). Anything else (`os.system`,
//! `posix.system`, `builtins.eval`, `__main__.Model` of a pickled whole model, …) is refused with
//! [`PthError::Refused`], as are the extension-registry opcodes. Nothing is ever executed; the
//! reader only builds data.
//!
//! Tensors: f32, f16, bf16, f64 (the loader converts them to f32), int64
//! (`num_batches_tracked`, `final.bins`), int32/16/8, uint8, bool; any storage offset and any
//! strides (views are gathered into contiguous tensors). A tensor with more elements than its
//! storage (an expanded or self-overlapping view, never in a state_dict) is refused.
//!
//! Bad input gives an error, never a panic: every length is checked against the bytes left before
//! anything is allocated, every view against its storage, and values nested however deep are
//! freed without recursion.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::Path;
use std::rc::Rc;

use safetensors::Dtype;

/// Why a torch.save file was not read. `Display` starts with the file name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PthError {
    /// The pickle names a global outside the whitelist (`module.name`, e.g. `os.system`).
    #[error("{file}: refused: the pickle calls {global}; only tensors (torch state_dict) are read, nothing is executed")]
    Refused {
        /// The file as given.
        file: String,
        /// `module.name` of the refused global.
        global: String,
    },
    /// Not a readable torch.save state_dict: truncated, damaged, not a pickle, a storage missing
    /// or too short, a non-tensor value where a tensor should be, …
    #[error("{file}: {reason}")]
    Malformed {
        /// The file as given.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

/// The two torch.save layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TorchFormat {
    /// torch ≥ 1.6: zip archive with `data.pkl` and `data/<key>` storages.
    Zip,
    /// torch < 1.6: concatenated pickles followed by the raw storages.
    Legacy,
}

/// One tensor of a state_dict, contiguous (row-major), little-endian.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchTensor {
    /// Element type as safetensors names it (F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL).
    pub dtype: Dtype,
    /// Shape (PyTorch `size()`).
    pub shape: Vec<usize>,
    /// `shape.product() × element size` bytes, little-endian.
    pub data: Vec<u8>,
}

/// A state_dict read from a torch.save file: `(key, tensor)` in the file's order.
#[derive(Debug, Clone, PartialEq)]
pub struct StateDict {
    /// Which layout the file had.
    pub format: TorchFormat,
    /// The tensors, in the order of the pickled dict.
    pub tensors: Vec<(String, TorchTensor)>,
}

impl StateDict {
    /// The same tensors as a safetensors file (dtypes kept), what
    /// `PrixFixeNet::from_torch_safetensors` and `Wiring::from_state_dict` read.
    ///
    /// # Errors
    /// Only if safetensors refuses the (already checked) shapes, which would be a bug.
    pub fn to_safetensors(&self) -> Result<Vec<u8>, String> {
        let views = self
            .tensors
            .iter()
            .map(|(k, t)| {
                safetensors::tensor::TensorView::new(t.dtype, t.shape.clone(), &t.data).map(|v| (k.clone(), v)).map_err(|e| format!("{k}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let format = match self.format {
            TorchFormat::Zip => "torch.save zip",
            TorchFormat::Legacy => "torch.save legacy",
        };
        let meta = HashMap::from([("format".to_string(), "pt".to_string()), ("converted_from".to_string(), format.to_string())]);
        safetensors::tensor::serialize(views, Some(meta)).map_err(|e| e.to_string())
    }
}

/// The first bytes of a legacy torch.save file: protocol-2 pickle of the magic number
/// `0x1950a86a20f9469cfc6c` (`PROTO 2`, `LONG1 10`, the number little-endian).
const LEGACY_MAGIC_PICKLE: [u8; 14] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const LEGACY_PROTOCOL_VERSION: i64 = 1001;

/// Whether `bytes` look like a torch.save file (a zip archive, or a legacy file's magic-number
/// pickle under any pickle protocol ≥ 2). A safetensors file does not.
pub fn is_torch_save(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") || is_legacy(bytes)
}

fn is_legacy(bytes: &[u8]) -> bool {
    bytes.len() >= LEGACY_MAGIC_PICKLE.len() && bytes[0] == 0x80 && bytes[2..LEGACY_MAGIC_PICKLE.len()] == LEGACY_MAGIC_PICKLE[2..]
}

/// Reads the weights file `path` as safetensors bytes: a torch.save file (by its content, or any
/// `.pth` / `.pt` / `.pkl` / `.bin` name) is converted with [`read_state_dict`]; anything else is
/// returned as it is (a safetensors state_dict, checked by its loader).
///
/// # Errors
/// The file cannot be read; [`PthError`] for a torch.save file that is refused or malformed.
pub fn read_weights(path: &Path) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let torch_name = path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "pth" | "pt" | "pkl" | "bin"));
    if !is_torch_save(&bytes) && !torch_name {
        return Ok(bytes);
    }
    let file = path.display().to_string();
    let sd = read_state_dict(&file, &bytes)?;
    sd.to_safetensors().map_err(|reason| anyhow::Error::new(PthError::Malformed { file, reason }))
}

/// Reads a torch.save state_dict (zip or legacy layout, see the module documentation) from
/// `bytes`; `file` names it in errors. Executes nothing.
///
/// A checkpoint dict whose `state_dict` / `model_state_dict` / `model` entry is the state_dict is
/// accepted too (that entry is read).
///
/// # Errors
/// [`PthError::Refused`] for any pickle global outside the whitelist; [`PthError::Malformed`] for
/// a truncated or damaged file, a pickle that is not a dict of tensors, a storage missing or
/// shorter than its tensors, a big-endian legacy file.
pub fn read_state_dict(file: &str, bytes: &[u8]) -> Result<StateDict, PthError> {
    let wrap = |f: Fail| match f {
        Fail::Refused(global) => PthError::Refused { file: file.to_string(), global },
        Fail::Bad(reason) => PthError::Malformed { file: file.to_string(), reason },
    };
    if bytes.starts_with(b"PK") {
        read_zip(bytes).map(|tensors| StateDict { format: TorchFormat::Zip, tensors }).map_err(wrap)
    } else if is_legacy(bytes) {
        read_legacy(bytes).map(|tensors| StateDict { format: TorchFormat::Legacy, tensors }).map_err(wrap)
    } else if bytes.first() == Some(&0x80) {
        Err(wrap(Fail::Bad(
            "a pickle, but not a torch.save file (no zip archive, no legacy magic number); save the weights with torch.save(model.state_dict(), path)"
                .into(),
        )))
    } else {
        Err(wrap(Fail::Bad("not a torch.save file (neither a zip archive nor a legacy torch pickle)".into())))
    }
}

/// Internal failure, before the file name is attached.
#[derive(Debug)]
enum Fail {
    Refused(String),
    Bad(String),
}

fn bad<T>(msg: impl Into<String>) -> Result<T, Fail> {
    Err(Fail::Bad(msg.into()))
}

// ---------------------------------------------------------------------------------------------
// Element types

/// The storage types a state_dict's persistent ids may name: (module, name, element, full name).
const STORAGE_CLASSES: [(&str, &str, Elem, &str); 12] = [
    ("torch", "FloatStorage", Elem::F32, "torch.FloatStorage"),
    ("torch", "HalfStorage", Elem::F16, "torch.HalfStorage"),
    ("torch", "BFloat16Storage", Elem::Bf16, "torch.BFloat16Storage"),
    ("torch", "DoubleStorage", Elem::F64, "torch.DoubleStorage"),
    ("torch", "LongStorage", Elem::I64, "torch.LongStorage"),
    ("torch", "IntStorage", Elem::I32, "torch.IntStorage"),
    ("torch", "ShortStorage", Elem::I16, "torch.ShortStorage"),
    ("torch", "CharStorage", Elem::I8, "torch.CharStorage"),
    ("torch", "ByteStorage", Elem::U8, "torch.ByteStorage"),
    ("torch", "BoolStorage", Elem::Bool, "torch.BoolStorage"),
    ("torch", "UntypedStorage", Elem::U8, "torch.UntypedStorage"),
    ("torch.storage", "UntypedStorage", Elem::U8, "torch.storage.UntypedStorage"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    F32,
    F16,
    Bf16,
    F64,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl Elem {
    /// The storage class `module.name` (`torch.FloatStorage`, …; `UntypedStorage` is bytes):
    /// its element type and its full name.
    fn from_storage_class(module: &str, name: &str) -> Option<(Self, &'static str)> {
        STORAGE_CLASSES.iter().find(|(m, n, _, _)| *m == module && *n == name).map(|&(_, _, e, full)| (e, full))
    }

    fn size(self) -> usize {
        match self {
            Self::F64 | Self::I64 => 8,
            Self::F32 | Self::I32 => 4,
            Self::F16 | Self::Bf16 | Self::I16 => 2,
            Self::I8 | Self::U8 | Self::Bool => 1,
        }
    }

    fn dtype(self) -> Dtype {
        match self {
            Self::F32 => Dtype::F32,
            Self::F16 => Dtype::F16,
            Self::Bf16 => Dtype::BF16,
            Self::F64 => Dtype::F64,
            Self::I64 => Dtype::I64,
            Self::I32 => Dtype::I32,
            Self::I16 => Dtype::I16,
            Self::I8 => Dtype::I8,
            Self::U8 => Dtype::U8,
            Self::Bool => Dtype::BOOL,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pickle values

/// A whitelisted global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Global {
    OrderedDict,
    RebuildTensorV2,
    RebuildTensor,
    RebuildParameter,
    /// A storage type (element type, `module.name`): only a name inside persistent ids.
    Storage(Elem, &'static str),
}

impl Global {
    /// The whitelist: anything else is refused.
    fn resolve(module: &str, name: &str) -> Result<Self, Fail> {
        Ok(match (module, name) {
            ("collections", "OrderedDict") => Self::OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2") => Self::RebuildTensorV2,
            ("torch._utils", "_rebuild_tensor") => Self::RebuildTensor,
            ("torch._utils", "_rebuild_parameter") => Self::RebuildParameter,
            _ => match Elem::from_storage_class(module, name) {
                Some((e, full)) => Self::Storage(e, full),
                None => return Err(Fail::Refused(format!("{module}.{name}"))),
            },
        })
    }

    fn name(self) -> String {
        match self {
            Self::OrderedDict => "collections.OrderedDict".into(),
            Self::RebuildTensorV2 => "torch._utils._rebuild_tensor_v2".into(),
            Self::RebuildTensor => "torch._utils._rebuild_tensor".into(),
            Self::RebuildParameter => "torch._utils._rebuild_parameter".into(),
            Self::Storage(_, full) => full.into(),
        }
    }
}

/// A storage referenced by persistent id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StorageRef {
    key: String,
    elem: Elem,
    /// Elements the persistent id declares (legacy view: the view's size).
    numel: Option<u64>,
    /// Legacy view metadata: offset (elements) into the root storage `key`.
    view_offset: u64,
}

#[derive(Debug, Clone)]
struct TensorRef {
    storage: Rc<StorageRef>,
    offset: u64,
    size: Vec<u64>,
    stride: Vec<u64>,
}

#[derive(Default, Debug)]
struct Dict {
    items: Vec<(Value, Value)>,
    str_index: HashMap<String, usize>,
}

impl Dict {
    fn set(&mut self, k: Value, v: Value) {
        if let Value::Str(s) = &k {
            if let Some(&i) = self.str_index.get(&**s) {
                self.items[i].1 = v;
                return;
            }
            self.str_index.insert(s.to_string(), self.items.len());
        }
        self.items.push((k, v));
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.str_index.get(key).map(|&i| &self.items[i].1)
    }
}

#[derive(Debug, Clone)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer wider than 64 bits: its little-endian two's-complement bytes.
    BigInt(Rc<[u8]>),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Tuple(Rc<[Value]>),
    List(Rc<RefCell<Vec<Value>>>),
    Dict(Rc<RefCell<Dict>>),
    Global(Global),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
}

/// Dropping a value frees its children iteratively: a pickle nesting containers a million deep
/// (a few bytes per level) must not overflow the stack.
impl Drop for Value {
    fn drop(&mut self) {
        fn take_children(v: &mut Value, work: &mut Vec<Value>) {
            match v {
                Value::Tuple(t) => {
                    if let Some(items) = Rc::get_mut(t) {
                        work.extend(items.iter_mut().map(|x| std::mem::replace(x, Value::None)));
                    }
                }
                Value::List(l) => {
                    if Rc::strong_count(l) == 1 {
                        work.append(&mut l.borrow_mut());
                    }
                }
                Value::Dict(d) => {
                    if Rc::strong_count(d) == 1 {
                        let mut d = d.borrow_mut();
                        d.str_index.clear();
                        for (k, v) in d.items.drain(..) {
                            work.push(k);
                            work.push(v);
                        }
                    }
                }
                _ => {}
            }
        }
        let mut work = Vec::new();
        take_children(self, &mut work);
        while let Some(mut v) = work.pop() {
            take_children(&mut v, &mut work);
        }
    }
}

impl Value {
    fn kind(&self) -> String {
        match self {
            Self::None => "None".into(),
            Self::Bool(_) => "a bool".into(),
            Self::Int(_) | Self::BigInt(_) => "an int".into(),
            Self::Float(v) => format!("a float ({v})"),
            Self::Str(_) => "a str".into(),
            Self::Bytes(b) => format!("{} bytes", b.len()),
            Self::Tuple(_) => "a tuple".into(),
            Self::List(_) => "a list".into(),
            Self::Dict(_) => "a dict".into(),
            Self::Global(g) => format!("the global {}", g.name()),
            Self::Storage(_) => "a bare storage".into(),
            Self::Tensor(_) => "a tensor".into(),
        }
    }

    fn int(&self, what: &str) -> Result<u64, Fail> {
        match self {
            Self::Int(i) if *i >= 0 => Ok(*i as u64),
            Self::Bool(b) => Ok(u64::from(*b)),
            other => bad(format!("{what}: expected a non-negative int, found {}", other.kind())),
        }
    }

    fn ints(&self, what: &str) -> Result<Vec<u64>, Fail> {
        match self {
            Self::Tuple(t) => t.iter().map(|v| v.int(what)).collect(),
            Self::List(l) => l.borrow().iter().map(|v| v.int(what)).collect(),
            other => bad(format!("{what}: expected a tuple of ints, found {}", other.kind())),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The pickle interpreter (a data-only subset of Python's `pickle`, protocols 0–5)

/// Persistent-id resolution: the format's storage table.
trait Storages {
    fn persistent_load(&mut self, pid: &Value) -> Result<Value, Fail>;
}

/// Where a storage persistent id is parsed (shared by both layouts).
fn parse_storage_pid(pid: &Value, legacy: bool) -> Result<StorageRef, Fail> {
    let Value::Tuple(t) = pid else {
        return bad(format!("persistent id is {}, expected a ('storage', type, key, location, numel) tuple", pid.kind()));
    };
    match t.first() {
        Some(Value::Str(s)) if &**s == "storage" => {}
        _ => return bad("persistent id is not a ('storage', …) tuple"),
    }
    if t.len() < 5 {
        return bad(format!("storage persistent id has {} fields, expected 5 or 6", t.len()));
    }
    let elem = match &t[1] {
        Value::Global(Global::Storage(e, _)) => *e,
        other => return bad(format!("storage persistent id names {} as its type, expected a torch storage type", other.kind())),
    };
    let key = match &t[2] {
        Value::Str(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        other => return bad(format!("storage key is {}, expected a str", other.kind())),
    };
    let numel = t[4].int("storage size")?;
    let mut sref = StorageRef { key, elem, numel: Some(numel), view_offset: 0 };
    if legacy {
        if let Some(view) = t.get(5) {
            match view {
                Value::None => {}
                Value::Tuple(v) if v.len() == 3 => {
                    // (view_key, offset, view_size): a view of the root storage `key`.
                    sref.view_offset = v[1].int("legacy storage view offset")?;
                    sref.numel = Some(v[2].int("legacy storage view size")?);
                }
                other => return bad(format!("legacy storage view metadata is {}", other.kind())),
            }
        }
    }
    Ok(sref)
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
    what: &'a str,
}

impl<'a> Machine<'a> {
    fn truncated<T>(&self) -> Result<T, Fail> {
        bad(format!("{} is truncated (pickle ends at byte {} without STOP)", self.what, self.data.len()))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Fail> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.data.len() => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            _ => self.truncated(),
        }
    }

    fn u8(&mut self) -> Result<u8, Fail> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Fail> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, Fail> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, Fail> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn line(&mut self) -> Result<&'a str, Fail> {
        let rest = &self.data[self.pos.min(self.data.len())..];
        let Some(n) = rest.iter().position(|&b| b == b'\n') else { return self.truncated() };
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| Fail::Bad(format!("{}: a text argument is not UTF-8 at byte {}", self.what, self.pos)))?;
        self.pos += n + 1;
        Ok(s)
    }

    fn len_prefixed(&mut self, n: u64) -> Result<&'a [u8], Fail> {
        let n = usize::try_from(n).map_err(|_| Fail::Bad(format!("{}: length {n} at byte {}", self.what, self.pos)))?;
        self.take(n)
    }

    fn utf8(&self, b: &[u8]) -> Result<Value, Fail> {
        std::str::from_utf8(b).map(|s| Value::Str(s.into())).map_err(|_| Fail::Bad(format!("{}: a string is not UTF-8 at byte {}", self.what, self.pos)))
    }

    fn pop(&mut self) -> Result<Value, Fail> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return bad(format!("{}: pops past a MARK at byte {} (not a valid pickle)", self.what, self.pos));
        }
        self.stack.pop().ok_or_else(|| Fail::Bad(format!("{}: stack underflow at byte {} (not a valid pickle)", self.what, self.pos)))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, Fail> {
        let m = self.marks.pop().ok_or_else(|| Fail::Bad(format!("{}: no MARK at byte {} (not a valid pickle)", self.what, self.pos)))?;
        if m > self.stack.len() {
            return bad(format!("{}: damaged MARK at byte {}", self.what, self.pos));
        }
        Ok(self.stack.split_off(m))
    }

    fn top(&mut self) -> Result<&mut Value, Fail> {
        let pos = self.pos;
        let what = self.what;
        self.stack.last_mut().ok_or_else(|| Fail::Bad(format!("{what}: stack underflow at byte {pos} (not a valid pickle)")))
    }

    fn push_global(&mut self, module: &str, name: &str) -> Result<(), Fail> {
        let g = Global::resolve(module, name)?;
        self.stack.push(Value::Global(g));
        Ok(())
    }

    fn memo_get(&mut self, k: u64) -> Result<(), Fail> {
        let v = self.memo.get(&k).cloned().ok_or_else(|| Fail::Bad(format!("{}: memo entry {k} read before it was written", self.what)))?;
        self.stack.push(v);
        Ok(())
    }

    fn memo_put(&mut self, k: u64) -> Result<(), Fail> {
        let v = self.top()?.clone();
        self.memo.insert(k, v);
        Ok(())
    }

    fn setitems(&mut self, items: Vec<Value>) -> Result<(), Fail> {
        if items.len() % 2 != 0 {
            return bad(format!("{}: odd number of dict items at byte {}", self.what, self.pos));
        }
        let what = self.what;
        let Value::Dict(d) = self.top()? else {
            return bad(format!("{what}: SETITEM(S) on something that is not a dict"));
        };
        let d = d.clone();
        let mut d = d.borrow_mut();
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            d.set(k, v);
        }
        Ok(())
    }

    fn appends(&mut self, items: Vec<Value>) -> Result<(), Fail> {
        let what = self.what;
        match self.top()? {
            Value::List(l) => {
                l.borrow_mut().extend(items);
                Ok(())
            }
            _ => bad(format!("{what}: APPEND(S) on something that is not a list")),
        }
    }

    /// `REDUCE` / `NEWOBJ`: only the whitelisted callables, interpreted here.
    fn call(&mut self, callable: Value, args: Value) -> Result<Value, Fail> {
        let &Value::Global(g) = &callable else {
            return bad(format!("{}: calls {}, which is not callable here", self.what, callable.kind()));
        };
        let args: Vec<Value> = match &args {
            Value::Tuple(t) => t.to_vec(),
            other => return bad(format!("{}: {} called with {}, expected an argument tuple", self.what, g.name(), other.kind())),
        };
        match g {
            Global::OrderedDict => {
                let mut d = Dict::default();
                match args.as_slice() {
                    [] => {}
                    [Value::List(items)] => {
                        for pair in items.borrow().iter() {
                            match pair {
                                Value::Tuple(p) if p.len() == 2 => d.set(p[0].clone(), p[1].clone()),
                                other => return bad(format!("{}: OrderedDict item is {}", self.what, other.kind())),
                            }
                        }
                    }
                    _ => return bad(format!("{}: OrderedDict called with {} arguments", self.what, args.len())),
                }
                Ok(Value::Dict(Rc::new(RefCell::new(d))))
            }
            Global::RebuildTensorV2 | Global::RebuildTensor => {
                // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
                if args.len() < 4 {
                    return bad(format!("{}: {} called with {} arguments, expected at least 4", self.what, g.name(), args.len()));
                }
                let Value::Storage(storage) = &args[0] else {
                    return bad(format!("{}: {} called on {}, expected a storage", self.what, g.name(), args[0].kind()));
                };
                let offset = args[1].int("tensor storage_offset")?;
                let size = args[2].ints("tensor size")?;
                let stride = args[3].ints("tensor stride")?;
                if size.len() != stride.len() {
                    return bad(format!("{}: tensor with {} dimensions but {} strides", self.what, size.len(), stride.len()));
                }
                Ok(Value::Tensor(Rc::new(TensorRef { storage: storage.clone(), offset, size, stride })))
            }
            Global::RebuildParameter => match args.first() {
                Some(t @ Value::Tensor(_)) => Ok(t.clone()),
                Some(other) => bad(format!("{}: a Parameter wraps {}, expected a tensor", self.what, other.kind())),
                None => bad(format!("{}: _rebuild_parameter called without arguments", self.what)),
            },
            // A storage type is only a name in a persistent id; calling it would construct one.
            Global::Storage(_, full) => Err(Fail::Refused(format!("{full} (a storage constructor)"))),
        }
    }

    /// Runs one pickle from `self.pos` to its STOP; returns the result.
    fn run(&mut self, storages: &mut dyn Storages) -> Result<Value, Fail> {
        loop {
            let at = self.pos;
            let op = self.u8()?;
            match op {
                0x80 => {
                    let p = self.u8()?;
                    if p > 5 {
                        return bad(format!("{}: pickle protocol {p} (this reader knows 0–5)", self.what));
                    }
                }
                0x95 => {
                    self.u64()?; // FRAME: a length hint only
                }
                b'.' => {
                    let v = self.pop()?;
                    return Ok(v);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.stack.push(v);
                }
                // Constants and numbers
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'J' => {
                    let v = self.u32()? as i32;
                    self.stack.push(Value::Int(v.into()));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v.into()));
                }
                b'M' => {
                    let v = self.u16()?;
                    self.stack.push(Value::Int(v.into()));
                }
                b'I' | b'L' => {
                    let s = self.line()?.trim_end_matches('L');
                    let v = match s {
                        "00" => Value::Bool(false),
                        "01" => Value::Bool(true),
                        s => Value::Int(s.parse().map_err(|_| Fail::Bad(format!("{}: bad integer {s:?} at byte {at}", self.what)))?),
                    };
                    self.stack.push(v);
                }
                0x8a | 0x8b => {
                    let n = if op == 0x8a { u64::from(self.u8()?) } else { u64::from(self.u32()?) };
                    let b = self.len_prefixed(n)?;
                    let v = if b.is_empty() {
                        Value::Int(0)
                    } else if b.len() <= 8 {
                        let neg = b[b.len() - 1] & 0x80 != 0;
                        let mut w = [if neg { 0xff } else { 0 }; 8];
                        w[..b.len()].copy_from_slice(b);
                        Value::Int(i64::from_le_bytes(w))
                    } else {
                        Value::BigInt(b.into())
                    };
                    self.stack.push(v);
                }
                b'G' => {
                    let b = self.take(8)?;
                    self.stack.push(Value::Float(f64::from_be_bytes(b.try_into().expect("8 bytes"))));
                }
                b'F' => {
                    let s = self.line()?;
                    let v = s.trim().parse().map_err(|_| Fail::Bad(format!("{}: bad float {s:?} at byte {at}", self.what)))?;
                    self.stack.push(Value::Float(v));
                }
                // Strings and bytes
                b'X' | 0x8c | 0x8d => {
                    let n = match op {
                        b'X' => u64::from(self.u32()?),
                        0x8c => u64::from(self.u8()?),
                        _ => self.u64()?,
                    };
                    let b = self.len_prefixed(n)?;
                    let v = self.utf8(b)?;
                    self.stack.push(v);
                }
                b'V' => {
                    let s = self.line()?;
                    self.stack.push(Value::Str(s.into()));
                }
                b'T' | b'U' => {
                    // py2 str: latin-1 text
                    let n = if op == b'T' { u64::from(self.u32()?) } else { u64::from(self.u8()?) };
                    let b = self.len_prefixed(n)?;
                    self.stack.push(Value::Str(b.iter().map(|&c| c as char).collect::<String>().into()));
                }
                b'B' | b'C' | 0x8e => {
                    let n = match op {
                        b'B' => u64::from(self.u32()?),
                        b'C' => u64::from(self.u8()?),
                        _ => self.u64()?,
                    };
                    let b = self.len_prefixed(n)?;
                    self.stack.push(Value::Bytes(b.into()));
                }
                // Containers
                b')' => self.stack.push(Value::Tuple(Rc::from(Vec::new()))),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items.into()));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.stack.push(Value::Tuple(items.into()));
                }
                b']' => self.stack.push(Value::List(Rc::new(RefCell::new(Vec::new())))),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(Rc::new(RefCell::new(items))));
                }
                b'a' => {
                    let v = self.pop()?;
                    self.appends(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.appends(items)?;
                }
                b'}' => self.stack.push(Value::Dict(Rc::default())),
                b'd' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Dict(Rc::default()));
                    self.setitems(items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.setitems(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.setitems(items)?;
                }
                // Memo
                b'p' => {
                    let s = self.line()?;
                    let k = s.parse().map_err(|_| Fail::Bad(format!("{}: bad PUT index at byte {at}", self.what)))?;
                    self.memo_put(k)?;
                }
                b'q' => {
                    let k = self.u8()?;
                    self.memo_put(k.into())?;
                }
                b'r' => {
                    let k = self.u32()?;
                    self.memo_put(k.into())?;
                }
                0x94 => {
                    let k = self.memo.len() as u64;
                    self.memo_put(k)?;
                }
                b'g' => {
                    let s = self.line()?;
                    let k = s.parse().map_err(|_| Fail::Bad(format!("{}: bad GET index at byte {at}", self.what)))?;
                    self.memo_get(k)?;
                }
                b'h' => {
                    let k = self.u8()?;
                    self.memo_get(k.into())?;
                }
                b'j' => {
                    let k = self.u32()?;
                    self.memo_get(k.into())?;
                }
                // Globals: the whitelist, checked as soon as the name is read.
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.push_global(module, name)?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (&module, &name) {
                        (Value::Str(m), Value::Str(n)) => self.push_global(&m.clone(), &n.clone())?,
                        _ => return bad(format!("{}: STACK_GLOBAL on {} and {} at byte {at}", self.what, module.kind(), name.kind())),
                    }
                }
                b'i' => {
                    // INST module\nname\n: construct an instance of the class from the marked args.
                    let module = self.line()?;
                    let name = self.line()?;
                    let g = Global::resolve(module, name)?;
                    let args = self.pop_mark()?;
                    let v = self.call(Value::Global(g), Value::Tuple(args.into()))?;
                    self.stack.push(v);
                }
                b'o' => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return bad(format!("{}: OBJ without a class at byte {at}", self.what));
                    }
                    let cls = items.remove(0);
                    let v = self.call(cls, Value::Tuple(items.into()))?;
                    self.stack.push(v);
                }
                0x82..=0x84 => {
                    return Err(Fail::Refused("an object of the copyreg extension registry (EXT opcode)".into()));
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.call(callable, args)?;
                    self.stack.push(v);
                }
                0x92 => {
                    let kwargs = self.pop()?;
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    if !matches!(&kwargs, Value::Dict(d) if d.borrow().items.is_empty()) {
                        return bad(format!("{}: NEWOBJ_EX with keyword arguments at byte {at}", self.what));
                    }
                    let v = self.call(callable, args)?;
                    self.stack.push(v);
                }
                b'b' => {
                    // BUILD: sets an object's attributes. Only dicts get it in a state_dict
                    // (the OrderedDict's `_metadata`), which is not needed: ignored.
                    let _state = self.pop()?;
                    let what = self.what;
                    match self.top()? {
                        Value::Dict(_) => {}
                        other => return bad(format!("{what}: sets the state of {} (BUILD), not part of a state_dict", other.kind())),
                    }
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = storages.persistent_load(&pid)?;
                    self.stack.push(v);
                }
                b'P' => {
                    let s = self.line()?;
                    return bad(format!("{}: text persistent id {s:?} (not a torch storage reference)", self.what));
                }
                other => {
                    return bad(format!(
                        "{}: pickle opcode 0x{other:02x} at byte {at} is not one a state_dict uses (or this is not a pickle)",
                        self.what
                    ))
                }
            }
        }
    }
}

/// Runs the pickle that starts at `start`; returns its value and where it ended.
fn unpickle(data: &[u8], start: usize, what: &str, storages: &mut dyn Storages) -> Result<(Value, usize), Fail> {
    let mut m = Machine { data, pos: start, stack: Vec::new(), marks: Vec::new(), memo: HashMap::new(), what };
    let v = m.run(storages)?;
    Ok((v, m.pos))
}

/// No persistent ids expected (the legacy header pickles).
struct NoStorages;

impl Storages for NoStorages {
    fn persistent_load(&mut self, _pid: &Value) -> Result<Value, Fail> {
        bad("a storage reference where none belongs")
    }
}

/// Records every storage the state_dict pickle references (key → element type, declared size).
#[derive(Default)]
struct StorageTable {
    legacy: bool,
    seen: HashMap<String, (Elem, Option<u64>)>,
}

impl Storages for StorageTable {
    fn persistent_load(&mut self, pid: &Value) -> Result<Value, Fail> {
        let s = parse_storage_pid(pid, self.legacy)?;
        match self.seen.get(&s.key) {
            Some((e, _)) if *e != s.elem => {
                return bad(format!("storage {} is referenced as both {:?} and {:?}", s.key, e, s.elem));
            }
            Some(_) => {}
            None => {
                // For a legacy view the root's size is not in the id; the data section states it.
                let view = self.legacy && matches!(pid, Value::Tuple(t) if matches!(t.get(5), Some(Value::Tuple(_))));
                self.seen.insert(s.key.clone(), (s.elem, if view { None } else { s.numel }));
            }
        }
        Ok(Value::Storage(Rc::new(s)))
    }
}

// ---------------------------------------------------------------------------------------------
// From the unpickled object to tensors

/// The dict of tensors: the top-level dict, or its `state_dict` / `model_state_dict` / `model`
/// entry when that is a dict of tensors.
fn tensor_dict(root: &Value) -> Result<Vec<(String, Rc<TensorRef>)>, Fail> {
    let Value::Dict(d) = root else {
        return bad(format!(
            "the pickle holds {}, not a state_dict (a dict of tensors); save model.state_dict(), not the model",
            root.kind()
        ));
    };
    let d = d.borrow();
    let all_tensors = |d: &Dict| d.items.iter().all(|(_, v)| matches!(v, Value::Tensor(_)));
    if !all_tensors(&d) {
        for key in ["state_dict", "model_state_dict", "model"] {
            if let Some(Value::Dict(inner)) = d.get(key) {
                if all_tensors(&inner.borrow()) && !inner.borrow().items.is_empty() {
                    return tensor_dict(&Value::Dict(inner.clone()));
                }
            }
        }
    }
    let mut out = Vec::with_capacity(d.items.len());
    for (k, v) in &d.items {
        let Value::Str(key) = k else {
            return bad(format!("the state_dict has a key that is {}, not a str", k.kind()));
        };
        match v {
            Value::Tensor(t) => out.push((key.to_string(), t.clone())),
            other => return bad(format!("the state_dict's key {key:?} holds {}, not a tensor", other.kind())),
        }
    }
    if out.is_empty() {
        return bad("the state_dict holds no tensors");
    }
    Ok(out)
}

/// Gathers the tensor's elements from its storage bytes (`storage`: the root storage, whole).
fn gather(key: &str, t: &TensorRef, storage: &[u8], big_endian: bool) -> Result<TorchTensor, Fail> {
    let elem = t.storage.elem;
    let es = elem.size();
    let root_numel = (storage.len() / es) as u64;
    // The storage as the persistent id sees it: [view_offset, view_offset + numel) of the root.
    let start = t.storage.view_offset;
    let numel = t.storage.numel.unwrap_or(root_numel.saturating_sub(start));
    if start.checked_add(numel).is_none_or(|end| end > root_numel) {
        return bad(format!(
            "tensor {key:?}: storage {} holds {root_numel} elements, the file declares {} from element {start}: the storage is too short (truncated file?)",
            t.storage.key,
            numel
        ));
    }
    let shape: Vec<usize> = t.size.iter().map(|&s| usize::try_from(s).unwrap_or(usize::MAX)).collect();
    let count = t.size.iter().try_fold(1u64, |a, &s| a.checked_mul(s));
    let Some(count) = count else {
        return bad(format!("tensor {key:?}: size {:?} overflows", t.size));
    };
    if count == 0 {
        return Ok(TorchTensor { dtype: elem.dtype(), shape, data: Vec::new() });
    }
    // Last element the view touches.
    let mut last = t.offset;
    for (&s, &st) in t.size.iter().zip(&t.stride) {
        last = (s - 1).checked_mul(st).and_then(|x| last.checked_add(x)).unwrap_or(u64::MAX);
    }
    if last >= numel {
        return bad(format!(
            "tensor {key:?} (size {:?}, stride {:?}, offset {}) reaches element {last} of storage {}, which holds {numel}: the storage is too short",
            t.size, t.stride, t.offset, t.storage.key
        ));
    }
    if count > numel {
        return bad(format!(
            "tensor {key:?} has {count} elements but its storage {} only {numel}: expanded or overlapping views are not read",
            t.storage.key
        ));
    }
    let base = (start * es as u64) as usize;
    let storage = &storage[base..base + numel as usize * es];
    let n = count as usize;
    let mut data = Vec::with_capacity(n * es);
    // Row-major contiguous strides: one copy.
    let mut contiguous = true;
    let mut expect = 1u64;
    for (&s, &st) in t.size.iter().zip(&t.stride).rev() {
        if s != 1 && st != expect {
            contiguous = false;
        }
        expect = expect.saturating_mul(s);
    }
    if contiguous {
        let o = t.offset as usize * es;
        data.extend_from_slice(&storage[o..o + n * es]);
    } else {
        let dims = t.size.len();
        let mut idx = vec![0u64; dims];
        for _ in 0..n {
            let e = t.offset + idx.iter().zip(&t.stride).map(|(i, s)| i * s).sum::<u64>();
            let o = e as usize * es;
            data.extend_from_slice(&storage[o..o + es]);
            for d in (0..dims).rev() {
                idx[d] += 1;
                if idx[d] < t.size[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
    }
    if big_endian && es > 1 {
        data.chunks_exact_mut(es).for_each(<[u8]>::reverse);
    }
    Ok(TorchTensor { dtype: elem.dtype(), shape, data })
}

// ---------------------------------------------------------------------------------------------
// The zip layout

/// One archive entry, `None` when absent.
fn read_entry(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str, limit: usize) -> Result<Option<Vec<u8>>, Fail> {
    let mut f = match zip.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return bad(format!("{name}: {e}")),
    };
    let mut buf = Vec::with_capacity(usize::try_from(f.size()).unwrap_or(usize::MAX).min(limit));
    f.read_to_end(&mut buf).map_err(|e| Fail::Bad(format!("{name}: damaged archive entry: {e}")))?;
    Ok(Some(buf))
}

fn read_zip(bytes: &[u8]) -> Result<Vec<(String, TorchTensor)>, Fail> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| Fail::Bad(format!("truncated or damaged zip archive: {e}")))?;
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    let pkl: Vec<&String> = names.iter().filter(|n| (*n == "data.pkl" || n.ends_with("/data.pkl")) && n.matches('/').count() <= 1).collect();
    let prefix = match pkl.as_slice() {
        [one] => one.strip_suffix("data.pkl").unwrap_or_default().to_string(),
        [] => return bad("a zip archive without data.pkl: not a torch.save file"),
        _ => return bad("a zip archive with several data.pkl: not a torch.save file"),
    };
    let big_endian = match read_entry(&mut zip, &format!("{prefix}byteorder"), bytes.len())? {
        None => false,
        Some(b) => match std::str::from_utf8(&b).map(str::trim) {
            Ok("little") => false,
            Ok("big") => true,
            _ => return bad(format!("{prefix}byteorder: {:?} is neither little nor big", String::from_utf8_lossy(&b))),
        },
    };
    let pickle = read_entry(&mut zip, &format!("{prefix}data.pkl"), bytes.len())?.unwrap_or_default();
    let mut table = StorageTable { legacy: false, ..Default::default() };
    let what = format!("{prefix}data.pkl");
    let (root, end) = unpickle(&pickle, 0, &what, &mut table)?;
    if end != pickle.len() {
        return bad(format!("{what}: {} bytes after the pickle's STOP", pickle.len() - end));
    }
    let tensors = tensor_dict(&root)?;
    let mut cache: HashMap<String, Vec<u8>> = HashMap::new();
    let mut out = Vec::with_capacity(tensors.len());
    for (key, t) in tensors {
        if !cache.contains_key(&t.storage.key) {
            let name = format!("{prefix}data/{}", t.storage.key);
            let data = read_entry(&mut zip, &name, bytes.len())?.ok_or_else(|| Fail::Bad(format!("tensor {key:?}: its storage {name} is missing from the archive")))?;
            cache.insert(t.storage.key.clone(), data);
        }
        out.push((key.clone(), gather(&key, &t, &cache[&t.storage.key], big_endian)?));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The legacy layout

fn read_legacy(bytes: &[u8]) -> Result<Vec<(String, TorchTensor)>, Fail> {
    let (magic, p) = unpickle(bytes, 0, "the magic-number pickle", &mut NoStorages)?;
    match &magic {
        Value::BigInt(b) if **b == LEGACY_MAGIC_PICKLE[4..] => {}
        _ => return bad("not a legacy torch.save file (wrong magic number)"),
    }
    let (version, p) = unpickle(bytes, p, "the protocol-version pickle", &mut NoStorages)?;
    match &version {
        Value::Int(LEGACY_PROTOCOL_VERSION) => {}
        &Value::Int(v) => return bad(format!("legacy torch.save protocol version {v}, expected {LEGACY_PROTOCOL_VERSION}")),
        other => return bad(format!("the legacy protocol version is {}", other.kind())),
    }
    let (sys_info, p) = unpickle(bytes, p, "the sys-info pickle", &mut NoStorages)?;
    if let Value::Dict(d) = &sys_info {
        if let Some(Value::Bool(false)) = d.borrow().get("little_endian") {
            return bad("a big-endian legacy torch.save file (re-save it on a little-endian machine or with torch ≥ 1.6)");
        }
    } else {
        return bad(format!("the legacy sys-info pickle holds {}, expected a dict", sys_info.kind()));
    }
    let mut table = StorageTable { legacy: true, ..Default::default() };
    let (root, p) = unpickle(bytes, p, "the state_dict pickle", &mut table)?;
    let tensors = tensor_dict(&root)?;
    let (keys, mut p) = unpickle(bytes, p, "the storage-key list pickle", &mut NoStorages)?;
    let Value::List(keys) = &keys else {
        return bad(format!("the legacy storage-key list is {}", keys.kind()));
    };
    // The raw storages, in the list's order: u64 element count, then the elements.
    let mut spans: HashMap<String, &[u8]> = HashMap::new();
    for k in keys.borrow().iter() {
        let key = match k {
            Value::Str(s) => s.to_string(),
            Value::Int(i) => i.to_string(),
            other => return bad(format!("the legacy storage-key list holds {}", other.kind())),
        };
        let Some(&(elem, declared)) = table.seen.get(&key) else {
            return bad(format!("the legacy storage-key list names storage {key}, which no tensor uses"));
        };
        let Some(head) = bytes.get(p..p + 8) else {
            return bad(format!("storage {key} is missing: the file ends at byte {} (truncated)", bytes.len()));
        };
        let count = u64::from_le_bytes(head.try_into().expect("8 bytes"));
        p += 8;
        if let Some(d) = declared {
            if d != count {
                return bad(format!("storage {key}: the data section holds {count} elements, the pickle declares {d}"));
            }
        }
        let len = count.checked_mul(elem.size() as u64).and_then(|l| usize::try_from(l).ok());
        let Some(span) = len.and_then(|l| bytes.get(p..p.checked_add(l)?)) else {
            return bad(format!(
                "storage {key}: {count} elements of {} bytes announced, the file ends at byte {} (truncated)",
                elem.size(),
                bytes.len()
            ));
        };
        p += span.len();
        spans.insert(key, span);
    }
    if p != bytes.len() {
        return bad(format!("{} bytes after the last storage", bytes.len() - p));
    }
    tensors
        .into_iter()
        .map(|(key, t)| {
            let span = spans
                .get(&t.storage.key)
                .ok_or_else(|| Fail::Bad(format!("tensor {key:?}: its storage {} is not in the file's data section", t.storage.key)))?;
            Ok((key.clone(), gather(&key, &t, span, false)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &[u8]) -> Result<Value, Fail> {
        unpickle(p, 0, "test", &mut NoStorages).map(|(v, _)| v)
    }

    #[test]
    fn globals_outside_the_whitelist_are_refused_when_read() {
        let p = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsR.";
        assert!(matches!(run(p), Err(Fail::Refused(g)) if g == "os.system"));
        // protocol 4: STACK_GLOBAL
        let p = b"\x80\x04\x8c\x05posix\x8c\x06system\x93.";
        assert!(matches!(run(p), Err(Fail::Refused(g)) if g == "posix.system"));
        // a whitelisted storage type is not a callable
        let p = b"\x80\x02ctorch\nFloatStorage\n)R.";
        assert!(matches!(run(p), Err(Fail::Refused(_))));
    }

    #[test]
    fn ints_strings_and_containers() {
        let p = b"\x80\x02(K\x01J\xff\xff\xff\xff\x8a\x02\x00\x80X\x01\x00\x00\x00a]q\x00h\x00t.";
        let v = run(p).ok().unwrap();
        let Value::Tuple(t) = &v else { panic!() };
        assert!(matches!(t[0], Value::Int(1)));
        assert!(matches!(t[1], Value::Int(-1)));
        assert!(matches!(t[2], Value::Int(-32768)));
        assert!(matches!(&t[3], Value::Str(s) if &**s == "a"));
        assert!(matches!((&t[4], &t[5]), (Value::List(a), Value::List(b)) if Rc::ptr_eq(a, b)));
        assert!(matches!(run(b"\x80\x02K"), Err(Fail::Bad(m)) if m.contains("truncated")));
        assert!(matches!(run(b"0"), Err(Fail::Bad(m)) if m.contains("underflow")));
    }

    /// A million nested tuples and lists (a few bytes a level) neither overflow the stack on
    /// the way in nor on the way out (iterative drop), here on a test thread's small stack.
    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        // (…((None,),)…) and [[…[None]…]] (a list level: PUT 0, POP, [], GET 0, APPEND)
        let mut p = b"\x80\x02N".to_vec();
        for _ in 0..500_000 {
            p.extend_from_slice(b"\x85q\x000]h\x00a");
        }
        p.push(b'.');
        assert!(matches!(run(&p), Ok(Value::List(_))));
    }
}
