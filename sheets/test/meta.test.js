// Static checks that need no API: the clasp layout, the manifest, and the custom functions' JSDoc.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {loadCode, SRC} = require('./harness.js');

const ROOT = path.join(__dirname, '..');
const code = fs.readFileSync(path.join(SRC, 'Code.gs'), 'utf8');

test('clasp pushes src/ with the manifest, Code.gs and the sidebar', () => {
  const clasp = JSON.parse(fs.readFileSync(path.join(ROOT, '.clasp.json'), 'utf8'));
  assert.equal(clasp.rootDir, 'src');
  assert.deepEqual(fs.readdirSync(SRC).sort(), ['Code.gs', 'Sidebar.html', 'appsscript.json']);
  const manifest = JSON.parse(fs.readFileSync(path.join(SRC, 'appsscript.json'), 'utf8'));
  assert.equal(manifest.runtimeVersion, 'V8');
  assert.ok(manifest.oauthScopes.includes('https://www.googleapis.com/auth/script.external_request'));
  assert.ok(manifest.oauthScopes.every((s) => s.startsWith('https://www.googleapis.com/auth/')));
  assert.ok(manifest.urlFetchWhitelist.length > 0 && manifest.urlFetchWhitelist.every((u) => /^https:\/\/.+\/$/.test(u)));
});

test('every custom function has @customfunction JSDoc with one @param per argument', () => {
  const blocks = [...code.matchAll(/\/\*\*([\s\S]*?)\*\/\s*function (\w+)\(([^)]*)\)/g)];
  const custom = blocks.filter((b) => b[1].includes('@customfunction'));
  assert.deepEqual(custom.map((b) => b[2]), ['EVCHARGE_COST', 'EVCHARGE_TAX', 'EVCHARGE_LINES']);
  for (const [, doc, , params] of custom) {
    const names = params.split(',').map((p) => p.trim());
    const documented = [...doc.matchAll(/@param \{[^}]+\} \[?(\w+)\]?/g)].map((m) => m[1]);
    assert.deepEqual(documented, names);
    assert.match(doc, /@return /);
  }
});

test('the sidebar only calls server functions that exist', () => {
  const html = fs.readFileSync(path.join(SRC, 'Sidebar.html'), 'utf8');
  const called = new Set([...html.matchAll(/\.(\w+)\([^)]*\);?\s*$/gm)].map((m) => m[1])
    .filter((n) => ['listTariffs', 'saveSettings', 'getSettings'].includes(n) || /^[a-z]\w+$/.test(n)));
  const h = loadCode({});
  for (const name of ['listTariffs', 'saveSettings', 'getSettings']) {
    assert.ok(called.has(name), `${name} not called by the sidebar`);
    assert.equal(typeof h.gas[name], 'function');
  }
});
