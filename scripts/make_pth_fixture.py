#!/usr/bin/env python3
"""Writes tests/fixtures/pth/stub_state_dict.pth: a tiny torch.save (zip layout) state_dict made
by Python's own `pickle`, without torch.

Why: `model_export::pth` reads torch.save files; its tests also write such files with a Rust
writer (model-export/tests/support/pth_writer.rs). A file pickled by CPython guards against that
writer and the reader agreeing on a mistake: the opcodes (memo, SETITEMS batches, TUPLE1-3, BUILD
of the OrderedDict's `_metadata`, ...) are the ones CPython's pickler emits for a real
state_dict. Stub modules `torch` and `torch._utils` are registered in sys.modules so the globals
are spelled exactly as torch spells them (`torch._utils._rebuild_tensor_v2`, `torch.FloatStorage`,
...); the persistent ids are torch's `('storage', <storage class>, key, location, numel)` and the
archive is laid out as torch.save (torch >= 1.6, `torch/serialization.py` `_save`) lays it out:
`archive/data.pkl`, `archive/byteorder`, `archive/data/<key>`, `archive/version`, stored entries.

Usage: python3 scripts/make_pth_fixture.py [--legacy OUT]   (--legacy: the torch < 1.6 layout,
for a manual check; not committed)

Content (checked by model-export/tests/pth.rs `cpython_pickled_state_dict_reads_as_written`):
  a.weight               f32 (2, 3)  [[0.5, -1, 2], [3.25, 4, -5.5]]   storage 0, offset 1
  a.weight_t             f32 (3, 2)  a.weight transposed: storage 0, offset 1, stride (1, 3)
  b.half                 f16 (3,)    [1, -2.5, 0.099975586] (0x2e66)
  b.bf16                 bf16 (2,)   [1, -2.5]
  b.double               f64 (2,)    [0.1, -0.2]
  bn.num_batches_tracked i64 ()      7
  final.bins             i64 (4,)    [0, 1, 2, 3]
"""
import collections
import io
import pickle
import struct
import sys
import types
import zipfile

torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")
torch._utils = torch_utils
sys.modules["torch"] = torch
sys.modules["torch._utils"] = torch_utils


def _rebuild_tensor_v2(*args):  # never called: only its name is pickled
    raise RuntimeError("stub")


_rebuild_tensor_v2.__module__ = "torch._utils"
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2


def storage_class(name):
    cls = type(name, (), {})
    cls.__module__ = "torch"
    cls.__qualname__ = name
    setattr(torch, name, cls)
    return cls


FloatStorage = storage_class("FloatStorage")
HalfStorage = storage_class("HalfStorage")
BFloat16Storage = storage_class("BFloat16Storage")
DoubleStorage = storage_class("DoubleStorage")
LongStorage = storage_class("LongStorage")


class Storage:
    def __init__(self, cls, fmt, values):
        self.cls, self.fmt, self.values = cls, fmt, values
        self.key = None

    def raw(self):
        if self.fmt == "bf16":  # top half of the f32 bits (these values are exact in bf16)
            return b"".join(struct.pack("<f", v)[2:] for v in self.values)
        return struct.pack("<%d%s" % (len(self.values), self.fmt), *self.values)


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def __reduce_ex__(self, protocol):
        return (_rebuild_tensor_v2, (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict()))


def state_dict():
    # storage 0: a junk element, then a.weight row-major
    s0 = Storage(FloatStorage, "f", [9.0, 0.5, -1.0, 2.0, 3.25, 4.0, -5.5])
    sd = collections.OrderedDict()
    sd["a.weight"] = Tensor(s0, 1, (2, 3), (3, 1))
    sd["a.weight_t"] = Tensor(s0, 1, (3, 2), (1, 3))
    sd["b.half"] = Tensor(Storage(HalfStorage, "e", [1.0, -2.5, 0.1]), 0, (3,), (1,))
    sd["b.bf16"] = Tensor(Storage(BFloat16Storage, "bf16", [1.0, -2.5]), 0, (2,), (1,))
    sd["b.double"] = Tensor(Storage(DoubleStorage, "d", [0.1, -0.2]), 0, (2,), (1,))
    sd["bn.num_batches_tracked"] = Tensor(Storage(LongStorage, "q", [7]), 0, (), ())
    sd["final.bins"] = Tensor(Storage(LongStorage, "q", [0, 1, 2, 3]), 0, (4,), (1,))
    # what nn.Module.state_dict() attaches
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("a", {"version": 1})])
    return sd


def dump(obj, legacy):
    storages = []

    class P(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, Storage):
                if o.key is None:
                    o.key = str(len(storages))
                    storages.append(o)
                pid = ("storage", o.cls, o.key, "cpu", len(o.values))
                return pid + (None,) if legacy else pid
            return None

    buf = io.BytesIO()
    P(buf, protocol=2).dump(obj)
    return buf.getvalue(), storages


def write_zip(path):
    data, storages = dump(state_dict(), legacy=False)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", data)
        z.writestr("archive/byteorder", "little")
        for s in storages:
            z.writestr("archive/data/" + s.key, s.raw())
        z.writestr("archive/version", "3\n")


def write_legacy(path):
    out = io.BytesIO()
    pickle.dump(0x1950A86A20F9469CFC6C, out, protocol=2)
    pickle.dump(1001, out, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}, out, protocol=2)
    data, storages = dump(state_dict(), legacy=True)
    out.write(data)
    keys = sorted(s.key for s in storages)
    pickle.dump(keys, out, protocol=2)
    by_key = {s.key: s for s in storages}
    for k in keys:
        s = by_key[k]
        out.write(struct.pack("<q", len(s.values)))
        out.write(s.raw())
    with open(path, "wb") as f:
        f.write(out.getvalue())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--legacy":
        write_legacy(sys.argv[2])
    else:
        import os

        os.makedirs("tests/fixtures/pth", exist_ok=True)
        write_zip("tests/fixtures/pth/stub_state_dict.pth")
