#!/usr/bin/env python3
"""Copies the golden parity fixtures the tests need from ../shared/reference into tests/fixtures/.

The reference io files hold every intermediate (16 MB for DREAM-CNN); the tests check the block
outputs, logits, probabilities and predictions, so only those tensors are kept. Weights are copied
unchanged (parity needs the exact float32 values). Needs: numpy, safetensors.
Run from the repository root: python scripts/make_fixtures.py [path/to/shared/reference]
"""
import json, shutil, sys
from pathlib import Path

from safetensors.numpy import load_file, save_file

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference")
DST = Path("tests/fixtures")
KEEP = ["input", "input_pred_fwd", "input_pred_rc", "target_probs", "first_out", "core_out",
        "final_logits", "final_probs", "prediction", "pred_fwd", "pred_rc", "pred_avg"]
EXTRA = {  # small intermediates that localise a parity failure
    "cnn": ["core.seqextractor.inv_res_blc0.6.fc(gate)", "core.seqextractor.resize_blc0"],
    "rnn": [],
    "attn": ["core.blocks.0"],
}

DST.mkdir(parents=True, exist_ok=True)
for m, io, w, js in [(m, f"{m}_io", f"{m}_weights", f"{m}_io.json") for m in ("cnn", "rnn", "attn")] + [
        ("cnn", "baseline/cnn_trained_io", "baseline/cnn_trained_weights", "baseline/cnn_trained_io.json")]:
    name = Path(io).name
    t = load_file(SRC / f"{io}.safetensors")
    keep = {k: t[k] for k in KEEP + EXTRA[m] if k in t}
    save_file(keep, DST / f"{name}.safetensors")
    shutil.copy(SRC / f"{w}.safetensors", DST / f"{Path(w).name}.safetensors")
    meta = json.load(open(SRC / js))
    slim = {k: meta[k] for k in ("model", "sequences", "pred_avg", "predictor_N_and_lowercase_check") if k in meta}
    json.dump(slim, open(DST / f"{name}.json", "w"), indent=1)
    print(name, sorted(keep))
shutil.copy(SRC / "dataprocessor_cases.json", DST / "dataprocessor_cases.json")
for m in ("cnn", "rnn", "attn"):
    shutil.copy(SRC / f"{m}_names.json", DST / f"{m}_names.json")
