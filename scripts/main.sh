#!/usr/bin/env bash
# The project's main job, at this stage of the roadmap: the core library end to end on real data —
# load a DREAM-CNN state_dict (PyTorch reference key names; here the reference CPU-baseline model),
# predict the labelled DREAM test sequences (fwd/RC average) and score them per subset.
# (Training, export and the web app arrive with the trainer / model-export / web issues.)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked -p prixfixe --example score_test_set -- "$@"
