#!/usr/bin/env python3
"""Copies the tensors of a safetensors file whose names start with one of PREFIX... into OUT.

Used to keep the Drosophila DREAM-RNN fixture light: its Final Layers Block
(tests/fixtures/dros_dream_rnn_final.safetensors, 0.7 MB) instead of the 17 MB state_dict;
the DREAM-RNN core is covered by the yeast fixture. Standard library only.

usage: subset-safetensors.py IN OUT PREFIX...
"""
import json
import struct
import sys


def main(src, dst, prefixes):
    with open(src, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", None)
    keep = {k: v for k, v in header.items() if k.startswith(tuple(prefixes))}
    out_header, chunks, offset = {}, [], 0
    for k in sorted(keep):
        v = keep[k]
        a, b = v["data_offsets"]
        chunks.append(data[a:b])
        out_header[k] = {"dtype": v["dtype"], "shape": v["shape"], "data_offsets": [offset, offset + b - a]}
        offset += b - a
    if meta:
        out_header["__metadata__"] = meta
    blob = json.dumps(out_header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for c in chunks:
            f.write(c)
    print(f"{dst}: {len(keep)} of {len(header)} tensors")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
