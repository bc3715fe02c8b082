#!/bin/sh
# Peers and ebmc on the same machine, one after the other: the peers' figures for M1, M2, M4
# and the digits MLP (models.py writes them to results.json), then `cargo bench --bench
# versus` (ebmc's figures for the same models, data sizes and settings, and the ratios).
# `setup.sh --torch` first to include PyTorch.
set -e
here=$(dirname "$0")
[ -x "$here/.venv/bin/python" ] || sh "$here/setup.sh"
"$here/.venv/bin/python" "$here/models.py" --out "$here/results.json"
cd "$here/../.." && cargo bench --bench versus
