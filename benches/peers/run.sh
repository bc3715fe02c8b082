#!/bin/sh
# Peers and ebmc on the same machine, one after the other: the peers' M2 figures, then
# `cargo bench --bench train` (ebmc's figures for the same model, data sizes and settings).
set -e
here=$(dirname "$0")
[ -x "$here/.venv/bin/python" ] || sh "$here/setup.sh"
"$here/.venv/bin/python" "$here/m2.py"
cd "$here/../.." && cargo bench --bench train
