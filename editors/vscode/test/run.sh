#!/bin/sh
# The one command CI runs for the VS Code extension: install the locked npm packages, tokenise
# every .ebm file of the repository and compare with test/snapshots/, then smoke-test
# extension.js against a stand-in server. Exits non-zero if either test fails.
# UPDATE_SNAPSHOTS=1 editors/vscode/test/run.sh rewrites the snapshots instead of comparing.
set -eu
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --loglevel=error
status=0
node test/tokenize.js || status=1
node test/extension.js || status=1
exit "$status"
