#!/bin/sh
# Installs the peers into benches/peers/.venv: JAX, scikit-learn (for iris_proba.py), and
# with --torch PyTorch and TorchEBM.
# PyTorch comes from its CPU-only index when that is reachable, else from PyPI (the same
# code with CUDA libraries beside it, unused here: about 3 GB more to download).
# Never needed by `cargo test`.
set -e
here=$(dirname "$0")
python3 -m venv "$here/.venv"
"$here/.venv/bin/pip" install -q --upgrade pip
"$here/.venv/bin/pip" install -q "jax[cpu]" scipy scikit-learn
if [ "$1" = "--torch" ]; then
    "$here/.venv/bin/pip" install -q torch --index-url https://download.pytorch.org/whl/cpu \
        || "$here/.venv/bin/pip" install -q torch
    "$here/.venv/bin/pip" install -q torchebm
fi
