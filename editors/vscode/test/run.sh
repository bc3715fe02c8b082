#!/bin/sh
# The one command CI runs for the VS Code extension: install the locked npm packages, then
# tokenise every .ebm file of the repository and compare with test/snapshots/.
# UPDATE_SNAPSHOTS=1 editors/vscode/test/run.sh rewrites the snapshots instead.
set -eu
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --loglevel=error
node test/tokenize.js
