#!/usr/bin/env node
// Tokenises every `.ebm` file under `examples/`, `tests/` (so `tests/ebm/ok/`, `tests/ebm/err/`
// and the other fixtures), `benches/` and `docs/` of the repository (its root found from this
// script's location), and this folder's `fixtures/`, with the TextMate grammar
// `syntaxes/ebm.tmLanguage.json`, using `vscode-textmate` and `vscode-oniguruma`, the
// tokenizer and regex engine VS Code itself uses. It checks three things and exits 1 with a
// list of every failure:
//
// 1. Nothing is left untokenised. A `.ebm` file is a sequence of model blocks, and a model
//    block is a header and declarations, so "in declarations" is taken here as the whole file:
//    every non-whitespace character (comments included: they must get a comment scope) must
//    carry at least one scope besides the root `source.ebm`, and that scope must not be an
//    `invalid.illegal.*` one. The grammar ends with a catch-all rule that marks any character
//    no other rule takes as `invalid.illegal.character.ebm`, so that an editor shows it; the
//    test counts it as a failure, so a missing or broken rule (numbers, operators, …) shows up
//    as `invalid.illegal` text here. Error fixtures under `tests/ebm/err/` contain deliberately
//    invalid text; the few characters the grammar rightly marks invalid there are listed,
//    file by file, in ALLOWED_INVALID below, and any other invalid token is a failure.
//
// 2. The grammar is back in its initial state at the end of every file (no block comment,
//    bracket or declaration region left open): a rule that never ends would otherwise swallow
//    the rest of a file and still look "tokenised". The error fixtures of `tests/ebm/err/` may
//    leave a bracket open on purpose, so they are not held to this.
//
// 3. The scopes of every token equal the snapshot in `test/snapshots/<path>.snap`, where
//    `<path>` is the file's path from the repository root with `/` replaced by `__`. A snapshot
//    holds, for each source line, the line itself after `>`, then one line per token:
//    `text<TAB>scopes`, the scopes innermost last and without the root `source.ebm`;
//    whitespace-only tokens with no scope of their own are left out. A missing snapshot, or a
//    snapshot whose source file no longer exists, is a failure.
//    With UPDATE_SNAPSHOTS=1 the snapshots are rewritten (and stale ones deleted) instead of
//    compared; checks 1 and 2 still run.
//
// Run it with `test/run.sh` (installs the npm packages first) or `node test/tokenize.js`.

'use strict';

const fs = require('node:fs');
const path = require('node:path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const EXT_DIR = path.resolve(__dirname, '..');
const REPO_ROOT = path.resolve(EXT_DIR, '..', '..');
const GRAMMAR_PATH = path.join(EXT_DIR, 'syntaxes', 'ebm.tmLanguage.json');
const SNAPSHOT_DIR = path.join(__dirname, 'snapshots');
// Where `.ebm` files are looked for, from the repository root: the examples, every test
// fixture (tests/ebm/ok, tests/ebm/err, tests/plot, …), the benchmark models, the documentation's
// models, and this test's own fixtures (odd layouts the formatter would never write).
const SOURCE_DIRS = ['examples', 'tests', 'benches', 'docs', path.join('editors', 'vscode', 'test', 'fixtures')];
// Directories never searched: build output, installed packages, hidden ones (.git, .venv).
const SKIP_DIR = (name) => name.startsWith('.') || name === 'node_modules' || name.startsWith('target');
const ROOT_SCOPE = 'source.ebm';
const UPDATE = process.env.UPDATE_SNAPSHOTS === '1';

// Text the grammar is right to mark `invalid.illegal`, by file (path from the repository root,
// with `/`), each with why. Only these exact token texts are allowed, and only in these files.
const ALLOWED_INVALID = {
  // `input x : real[4];` — `;` is not a token of the language.
  'tests/ebm/err/e0001_stray_semicolon.ebm': [';'],
};

function listEbmFiles() {
  const out = [];
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true });
    } catch (e) {
      if (e.code === 'ENOENT') return;
      throw e;
    }
    for (const entry of entries) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIP_DIR(entry.name)) walk(rel);
      }
      else if (entry.isFile() && entry.name.endsWith('.ebm')) out.push(rel.split(path.sep).join('/'));
    }
  };
  SOURCE_DIRS.forEach(walk);
  return out.sort();
}

function snapshotName(rel) {
  return rel.replace(/\//g, '__') + '.snap';
}

async function loadGrammar() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== ROOT_SCOPE) return null;
      const text = fs.readFileSync(GRAMMAR_PATH, 'utf8');
      return vsctm.parseRawGrammar(text, GRAMMAR_PATH);
    },
  });
  const grammar = await registry.loadGrammar(ROOT_SCOPE);
  if (!grammar) throw new Error(`could not load ${GRAMMAR_PATH}`);
  return grammar;
}

// Show tabs and carriage returns in snapshot text so that a line holds one token.
function visible(s) {
  return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\r/g, '\\r');
}

// Tokenises one file; returns its snapshot text and its failures (checks 1 and 2).
function tokenizeFile(grammar, rel) {
  const failures = [];
  // Files are read as UTF-8 as the compiler reads them; a byte that is not UTF-8 (the E0003
  // fixture) becomes U+FFFD, which the grammar sees like any other character.
  const text = fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  const allowed = ALLOWED_INVALID[rel] || [];
  const usedAllowed = new Set();
  const snap = [];
  let stack = vsctm.INITIAL;
  lines.forEach((rawLine, i) => {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    const result = grammar.tokenizeLine(line, stack);
    if (result.stoppedEarly) failures.push(`${rel}:${i + 1}: tokenisation stopped early (time limit)`);
    snap.push('>' + (line === '' ? '' : ' ' + visible(line)));
    for (const token of result.tokens) {
      const tokText = line.slice(token.startIndex, Math.min(token.endIndex, line.length));
      if (tokText === '') continue;
      const scopes = token.scopes.filter((s) => s !== ROOT_SCOPE);
      const blank = /^\s*$/.test(tokText);
      if (!blank) {
        const col = token.startIndex + tokText.search(/\S/) + 1;
        if (scopes.length === 0) {
          failures.push(`${rel}:${i + 1}:${col}: untokenised ${JSON.stringify(tokText.trim())} (only ${ROOT_SCOPE})`);
        } else if (scopes.some((s) => s.startsWith('invalid.illegal'))) {
          if (allowed.includes(tokText)) usedAllowed.add(tokText);
          else failures.push(`${rel}:${i + 1}:${col}: ${JSON.stringify(tokText)} is ${scopes.join(' ')}`);
        }
      }
      if (blank && scopes.length === 0) continue;
      snap.push(visible(tokText) + '\t' + scopes.join(' '));
    }
    stack = result.ruleStack;
  });
  const mustClose = !rel.startsWith('tests/ebm/err/');
  for (const text of allowed) {
    if (!usedAllowed.has(text)) {
      failures.push(`${rel}: ALLOWED_INVALID lists ${JSON.stringify(text)} but no such invalid token is left: remove it from test/tokenize.js`);
    }
  }
  const rootDepth = grammar.tokenizeLine('', vsctm.INITIAL).ruleStack.depth;
  if (mustClose && stack.depth !== rootDepth) {
    failures.push(`${rel}: the grammar is not back in its initial state at the end of the file (${stack.depth - rootDepth} region(s) left open)`);
  }
  return { snapshot: snap.join('\n') + '\n', failures };
}

// The first differing line of two snapshots, for the failure message.
function firstDifference(expected, actual) {
  const a = expected.split('\n');
  const b = actual.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      return `snapshot line ${i + 1}:\n      expected: ${JSON.stringify(a[i])}\n      actual:   ${JSON.stringify(b[i])}`;
    }
  }
  return '';
}

async function main() {
  const grammar = await loadGrammar();
  const files = listEbmFiles();
  const failures = [];
  if (files.length === 0) failures.push(`no .ebm files found under ${SOURCE_DIRS.join(', ')} of ${REPO_ROOT}`);
  fs.mkdirSync(SNAPSHOT_DIR, { recursive: true });
  const expectedSnaps = new Set();
  let written = 0;
  for (const rel of Object.keys(ALLOWED_INVALID)) {
    if (!files.includes(rel)) failures.push(`ALLOWED_INVALID in test/tokenize.js names ${rel}, which does not exist`);
  }
  for (const rel of files) {
    const { snapshot, failures: fileFailures } = tokenizeFile(grammar, rel);
    failures.push(...fileFailures);
    const name = snapshotName(rel);
    expectedSnaps.add(name);
    const snapPath = path.join(SNAPSHOT_DIR, name);
    const old = fs.existsSync(snapPath) ? fs.readFileSync(snapPath, 'utf8') : null;
    if (UPDATE) {
      if (old !== snapshot) {
        fs.writeFileSync(snapPath, snapshot);
        written++;
      }
    } else if (old === null) {
      failures.push(`${rel}: no snapshot test/snapshots/${name} (run with UPDATE_SNAPSHOTS=1 to write it)`);
    } else if (old !== snapshot) {
      failures.push(`${rel}: scopes differ from test/snapshots/${name}; ${firstDifference(old, snapshot)}`);
    }
  }
  for (const name of fs.readdirSync(SNAPSHOT_DIR)) {
    if (!name.endsWith('.snap') || expectedSnaps.has(name)) continue;
    if (UPDATE) {
      fs.unlinkSync(path.join(SNAPSHOT_DIR, name));
      written++;
    } else {
      failures.push(`test/snapshots/${name}: no such .ebm file any more (run with UPDATE_SNAPSHOTS=1 to delete it)`);
    }
  }
  if (UPDATE) console.log(`${written} snapshot file(s) written or deleted`);
  if (failures.length > 0) {
    console.error(`FAIL: ${failures.length} failure(s) in ${files.length} .ebm files:`);
    for (const f of failures) console.error('  ' + f);
    if (!UPDATE && failures.some((f) => f.includes('snapshot'))) {
      console.error('If the .ebm files or the grammar changed on purpose, rewrite the snapshots and review their diff:');
      console.error('  UPDATE_SNAPSHOTS=1 editors/vscode/test/run.sh && git diff editors/vscode/test/snapshots');
    }
    process.exit(1);
  }
  console.log(`ok: ${files.length} .ebm files tokenised, no untokenised or invalid text, snapshots ${UPDATE ? 'updated' : 'match'}`);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
