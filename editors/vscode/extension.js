// The VS Code side of the ebmc language server: starts `<ebmc.path> lsp`, which speaks the
// Language Server Protocol over its standard input and output, for every `.ebm` file.
// Highlighting does not need it: that is the TextMate grammar in syntaxes/.

'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

/** @type {LanguageClient | undefined} */
let client;

function serverCommand() {
  const configured = vscode.workspace.getConfiguration('ebmc').get('path', 'ebmc');
  const command = (configured || 'ebmc').trim();
  // `~/bin/ebmc` is what users write in settings; spawn does not expand it.
  if (command === '~' || command.startsWith('~/')) {
    return require('node:os').homedir() + command.slice(1);
  }
  return command;
}

async function start() {
  const command = serverCommand();
  // No `transport` field: vscode-languageclient then talks over the child's stdio without
  // adding a `--stdio` argument, which `ebmc lsp` does not take.
  const serverOptions = { command, args: ['lsp'] };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'ebm' },
      { scheme: 'untitled', language: 'ebm' },
    ],
  };
  try {
    client = new LanguageClient('ebmc', 'ebmc', serverOptions, clientOptions);
    await client.start();
  } catch (err) {
    const message = err && err.message ? err.message : String(err);
    vscode.window.showErrorMessage(
      `Could not start the ebmc language server (\`${command} lsp\`): ${message}. ` +
        'Set "ebmc.path" to the ebmc executable.',
    );
  }
}

async function stop() {
  if (!client) return;
  const old = client;
  client = undefined;
  try {
    await old.stop();
  } catch (_) {
    // A server that never started cannot be stopped; nothing is left to clean up.
  }
}

async function restart() {
  await stop();
  await start();
}

/** @param {vscode.ExtensionContext} context */
async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('ebmc.restartServer', restart),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('ebmc.path')) restart();
    }),
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
