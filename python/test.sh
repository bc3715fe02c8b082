#!/usr/bin/env bash
# The Python package's tests, as CI runs them: a virtual environment in python/.venv (made
# when missing) with maturin, numpy, pytest, scikit-learn and pandas (for the
# estimator checks on data frames); the package built in release
# mode and installed into it (`pip install ./python`, as the README says); the `ebmc` binary
# the tests compare with built first; then pytest.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
# One target directory for the library, the binary and the extension: the library is
# compiled once.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"

(cd "$repo" && cargo build --release --bin ebmc)

venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "maturin>=1.9,<2" numpy pytest scikit-learn pandas
# Built where the tests run, with the target directory above (pip would build in a fresh
# directory of its own, recompiling the library); `pip install ./python` is the same build.
(cd "$here" && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --release --quiet)
EBMC_BIN="$CARGO_TARGET_DIR/release/ebmc" "$venv/bin/python" -m pytest -q "$here/tests" "$@"
