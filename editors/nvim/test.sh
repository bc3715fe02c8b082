#!/usr/bin/env bash
# Runs editors/nvim/test.lua in a headless Neovim (0.7 or later) against the built ebmc.
# Usage: editors/nvim/test.sh [path/to/ebmc]   (default: target/release/ebmc, else target/debug/ebmc)
# Exit code: 0 when every check passes, non-zero otherwise.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
ebmc="${1:-}"
if [[ -z "$ebmc" ]]; then
  for candidate in "$root/target/release/ebmc" "$root/target/debug/ebmc"; do
    if [[ -x "$candidate" ]]; then ebmc="$candidate"; break; fi
  done
fi
if [[ -z "$ebmc" || ! -x "$ebmc" ]]; then
  echo "editors/nvim/test.sh: no ebmc binary; run 'cargo build --release' first" >&2
  exit 2
fi
command -v nvim >/dev/null || { echo "editors/nvim/test.sh: nvim not found" >&2; exit 2; }
# No user config, no plugins, no shada; a timeout so that a hung server fails the test.
EBMC="$(cd "$(dirname "$ebmc")" && pwd)/$(basename "$ebmc")" \
  timeout 120 nvim --headless --clean -u NONE -i NONE -c "luafile $here/test.lua"
