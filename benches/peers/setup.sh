#!/bin/sh
# Installs the peers (JAX, and PyTorch CPU when asked with --torch) into benches/peers/.venv.
# Never needed by `cargo test`.
set -e
here=$(dirname "$0")
python3 -m venv "$here/.venv"
"$here/.venv/bin/pip" install -q --upgrade pip
"$here/.venv/bin/pip" install -q "jax[cpu]"
if [ "$1" = "--torch" ]; then
    "$here/.venv/bin/pip" install -q torch --index-url https://download.pytorch.org/whl/cpu
fi
