#!/usr/bin/env node
// A smoke test of extension.js without VS Code: it is loaded with a stand-in `vscode` module (a
// proxy on which every name exists and every call succeeds, except the few answers given
// below), activated with `ebmc.path` set to test/smoke/fake-ebmc, and deactivated. fake-ebmc is
// a minimal LSP server that logs its arguments and the methods it receives. The test checks
// that the server was started with exactly the arguments `lsp` (no `--stdio`, which
// vscode-languageclient adds when a transport is named), that the LSP handshake and shutdown
// went over its stdio, and that a missing executable gives an error message naming `ebmc.path`.
// It exits 1 with the list of failures.

'use strict';

const Module = require('node:module');
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');

const EXTENSION = path.resolve(__dirname, '..', 'extension.js');
const FAKE_EBMC = path.join(__dirname, 'smoke', 'fake-ebmc');

let ebmcPath = FAKE_EBMC;
const errorMessages = [];

// Everything of `vscode` that the extension and vscode-languageclient touch, as a proxy.
function stub(name) {
  return new Proxy(function () {}, {
    get(target, prop) {
      if (prop === 'then') return undefined; // not a promise
      if (prop === Symbol.iterator) return function* () {};
      if (prop === Symbol.toPrimitive) return () => name;
      if (prop === 'prototype') return target.prototype;
      if (prop === 'version') return '1.90.0'; // checked by vscode-languageclient
      return stub(`${name}.${String(prop)}`);
    },
    apply(_target, _this, args) {
      if (name === 'vscode.workspace.getConfiguration') {
        return { get: (key, dflt) => (key === 'path' ? ebmcPath : dflt) };
      }
      if (name.endsWith('.showErrorMessage')) {
        errorMessages.push(String(args[0]));
        return Promise.resolve(undefined);
      }
      return stub(`${name}()`);
    },
    construct() {
      return stub(`new ${name}`);
    },
  });
}

const load = Module._load;
Module._load = function (request, ...rest) {
  return request === 'vscode' ? stub('vscode') : load.call(this, request, ...rest);
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(extension, logFile) {
  fs.writeFileSync(logFile, '');
  process.env.FAKE_EBMC_LOG = logFile;
  await extension.activate({ subscriptions: [] });
  await sleep(300);
  await extension.deactivate();
  await sleep(300);
  return fs.readFileSync(logFile, 'utf8').trim().split('\n').filter(Boolean);
}

async function main() {
  const failures = [];
  const extension = require(EXTENSION);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ebm-extension-test-'));
  try {
    const log = await run(extension, path.join(tmp, 'log'));
    const expected = ['argv ["lsp"]', 'initialize', 'initialized', 'shutdown', 'exit'];
    if (JSON.stringify(log) !== JSON.stringify(expected)) {
      failures.push(`the server saw ${JSON.stringify(log)}, expected ${JSON.stringify(expected)}`);
    }
    if (errorMessages.length > 0) failures.push(`error messages with a working server: ${JSON.stringify(errorMessages)}`);

    errorMessages.length = 0;
    ebmcPath = path.join(tmp, 'no-such-ebmc');
    await run(extension, path.join(tmp, 'log2'));
    if (!errorMessages.some((m) => m.includes('ebmc.path') && m.includes(`${ebmcPath} lsp`))) {
      failures.push(`no error message naming ebmc.path for a missing executable; got ${JSON.stringify(errorMessages)}`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (failures.length > 0) {
    console.error('FAIL: extension.js:');
    for (const f of failures) console.error('  ' + f);
    process.exit(1);
  }
  console.log('ok: extension.js starts `ebmc lsp` over stdio, stops it, and reports a missing ebmc');
  process.exit(0);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
