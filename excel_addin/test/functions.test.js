// functions.js under Node against the real API on 127.0.0.1 (started by tests/spreadsheets/excel/test_addin_node.py, which
// passes EVBILL_API_URL, EVBILL_API_KEY, EVBILL_TOKEN (an Entra ID-style JWT the API accepts) and
// EVBILL_EXPECTED: rows and the rating core's results for them).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {loadFunctions, naaStandIn} = require('./harness.js');

const URL_ = process.env.EVBILL_API_URL;
const KEY = process.env.EVBILL_API_KEY;
const TOKEN = process.env.EVBILL_TOKEN;
const EXPECTED = process.env.EVBILL_EXPECTED ? JSON.parse(fs.readFileSync(process.env.EVBILL_EXPECTED, 'utf8')) : null;

function needApi() {
  assert.ok(URL_ && KEY && TOKEN && EXPECTED, 'run through pytest tests/spreadsheets/excel/test_addin_node.py (it starts the API)');
}

function addin(extra) {
  const storage = Object.assign({EVBILL_API_URL: URL_, EVBILL_API_KEY: KEY, EVBILL_TIME_ZONE: EXPECTED.zone},
    (extra && extra.storage) || {});
  return loadFunctions(Object.assign({}, extra || {}, {storage}));
}

const col = (values) => values.map((v) => [v === null || v === undefined ? '' : v]);
const pick = (i) => EXPECTED.rows.map((r) => r[i]);
const rangeArgs = () => [col(pick(0)), col(pick(1)), col(pick(2)), col(pick(3)), col(pick(4))];

function cell(result, field) {
  if (result.blank) return '';
  return result.ok ? Number(result[field]) : result.error;
}

test('functions.json ids are exactly the associated ids', () => {
  const meta = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'src', 'functions.json'), 'utf8'));
  const x = loadFunctions({});
  assert.deepEqual(meta.functions.map((f) => f.id).sort(), Object.keys(x.associated).sort());
  assert.deepEqual(meta.functions.map((f) => f.parameters.map((p) => p.name)),
    [0, 1, 2].map(() => ['kwh', 'minutes', 'start', 'tariff_id', 'customer_class']));
});

test('without settings: a #N/A error naming what to do, and no request', async () => {
  const x = loadFunctions({});
  await assert.rejects(x.associated.COST([[10]], [[60]], [['2026-01-13T14:00']], [['TOU-EUR']]),
    (e) => e.code === '#N/A' && /set the API URL and key first/.test(e.message));
  assert.equal(x.requests.length, 0);
});

test('one cell: exact amounts from the core (7.20 incl. 1.15 VAT)', async () => {
  needApi();
  const x = addin();
  assert.deepEqual(await x.call('COST', [[10]], [[60]], [['2026-01-13T14:00']], [['TOU-EUR']]), [[7.2]]);
  assert.deepEqual(await x.call('TAX', [[10]], [[60]], [['2026-01-13T14:00']], [['TOU-EUR']]), [[1.15]]);
  assert.equal(x.requests.length, 1, 'TAX of the same row reads the cached result');
  assert.equal(x.requests[0].headers['X-API-Key'], KEY);
  assert.equal(x.requests[0].url, URL_ + '/v1/rate/sheet');
  assert.deepEqual(JSON.parse(x.requests[0].body), {rows: [[10, 60, '2026-01-13T14:00', 'TOU-EUR']], time_zone: EXPECTED.zone});
});

test('a range is ONE request; every row equals the core, blanks stay blank, bad rows say why', async () => {
  needApi();
  const x = addin();
  const cost = await x.call('COST', ...rangeArgs());
  assert.equal(x.requests.length, 1);
  assert.deepEqual(cost, EXPECTED.results.map((r) => [cell(r, 'cost_incl_tax')]));
  const tax = await x.call('TAX', ...rangeArgs());
  assert.deepEqual(tax, EXPECTED.results.map((r) => [cell(r, 'tax')]));
  assert.ok(cost.some((r) => r[0] === ''), 'test data has a blank row');
  assert.ok(cost.some((r) => /^#ERROR: kwh: /.test(r[0])), 'test data has a bad row');
  const sent = JSON.parse(x.requests[0].body).rows;
  assert.equal(sent.length, EXPECTED.rows.length - 1, 'the blank row is not sent');
});

test('cells recalculated together share one request (batching across formulas)', async () => {
  needApi();
  const x = addin();
  const rows = EXPECTED.rows.filter((r, i) => EXPECTED.results[i].ok && !EXPECTED.results[i].blank);
  const values = await Promise.all(rows.map((r) => x.call('COST', [[r[0]]], [[r[1]]], [[r[2]]], [[r[3]]], [[r[4] || '']])));
  assert.equal(x.requests.length, 1);
  const want = EXPECTED.results.filter((r) => r.ok && !r.blank).map((r) => [[Number(r.cost_incl_tax)]]);
  assert.deepEqual(values, want);
});

test('EVBILL.LINES spills a header and the core invoice lines, errors in place', async () => {
  needApi();
  const x = addin();
  const table = await x.call('LINES', ...rangeArgs());
  const want = [['row', 'category', 'description', 'quantity', 'unit', 'unit_price', 'net', 'tax', 'gross']];
  EXPECTED.results.forEach((r, i) => {
    if (r.blank) return;
    if (!r.ok) { want.push([i + 1, r.error, '', '', '', '', '', '', '']); return; }
    r.lines.forEach((l) => want.push([i + 1, l[1], l[2], Number(l[3]), l[4], Number(l[5]), Number(l[6]), Number(l[7]), Number(l[8])]));
  });
  assert.deepEqual(table, want);
  assert.ok(table.length > EXPECTED.rows.length, 'several lines per session');
});

test('more rows than a chunk: several requests, results in order', async () => {
  needApi();
  const x = addin({limits: {chunkRows: 2}});
  const cost = await x.call('COST', ...rangeArgs());
  assert.equal(x.requests.length, Math.ceil((EXPECTED.rows.length - 1) / 2));
  assert.deepEqual(cost, EXPECTED.results.map((r) => [cell(r, 'cost_incl_tax')]));
});

test('tariff_id left empty uses the default tariff saved in the task pane', async () => {
  needApi();
  const x = addin({storage: {EVBILL_TARIFF_ID: 'TOU-EUR'}});
  assert.deepEqual(await x.call('COST', [[10]], [[60]], [['2026-01-13T14:00']], [['']]), [[7.2]]);
});

test('Microsoft sign-in: the Entra ID token from Office SSO is sent as a bearer token', async () => {
  needApi();
  const x = addin({storage: {EVBILL_AUTH: 'entra', EVBILL_API_KEY: ''}, token: TOKEN});
  assert.deepEqual(await x.call('COST', [[10]], [[60]], [['2026-01-13T14:00']], [['TOU-EUR']]), [[7.2]]);
  assert.equal(x.requests[0].headers.Authorization, 'Bearer ' + TOKEN);
  assert.equal(x.requests[0].headers['X-API-Key'], undefined);
  assert.equal(x.tokenCalls[0].allowSignInPrompt, true);
  const bad = addin({storage: {EVBILL_AUTH: 'entra'}, token: Object.assign(new Error('consent missing'), {code: 13001})});
  await assert.rejects(bad.associated.COST([[10]], [[60]], [['2026-01-13T14:00']], [['TOU-EUR']]),
    (e) => e.code === '#N/A' && /Microsoft sign-in failed \(13001\)/.test(e.message));
  assert.equal(bad.requests.length, 0);
});

test('a wrong key is a #N/A error with the API problem detail', async () => {
  needApi();
  const x = addin({storage: {EVBILL_API_KEY: 'wrong'}});
  await assert.rejects(x.associated.COST([[10]], [[60]], [['2026-01-13T14:00']], [['TOU-EUR']]),
    (e) => e.code === '#N/A' && /^EVBILL API 401: /.test(e.message));
});

test('ranges of different sizes are refused before any request', async () => {
  const x = loadFunctions({storage: {EVBILL_API_URL: 'http://127.0.0.1:9', EVBILL_API_KEY: 'k'}});
  await assert.rejects(x.associated.COST([[1], [2]], [[60], [60], [60]], [['2026-01-13T14:00']], [['T']]),
    (e) => e.code === '#VALUE!' && /minutes: the range has 3 cells but an earlier range has 2/.test(e.message));
  assert.equal(x.requests.length, 0);
});

test('task pane: saves settings in OfficeRuntime.storage, refuses a plain-http remote URL', async () => {
  const x = loadFunctions({files: ['functions.js', 'taskpane.js']});
  const pane = x.context.EVBILL_PANE;
  assert.throws(() => pane.checkUrl('http://billing.example.com'), /url: use the https:\/\//);
  const saved = JSON.parse(JSON.stringify(await pane.save({url: 'https://billing.example.com/', key: ' k1 ',
    tariff: 'TOU-EUR', zone: 'Europe/Berlin', auth: 'apikey'})));
  assert.deepEqual(saved, {url: 'https://billing.example.com', tariff: 'TOU-EUR', zone: 'Europe/Berlin', auth: 'apikey',
    clientId: '', scope: '', hasKey: true});
  assert.equal(x.storage.map.get('EVBILL_API_KEY'), 'k1');
  await pane.save({url: 'https://billing.example.com', key: '', auth: 'entra'});
  assert.equal(x.storage.map.get('EVBILL_API_KEY'), 'k1', 'an empty key field keeps the saved key');
  assert.equal(x.storage.map.get('EVBILL_AUTH'), 'entra');
  assert.equal((await pane.forget()).hasKey, false);
});

test('results are cached per row: unchanged cells send nothing, an edited row alone is sent, errors are not kept', async () => {
  needApi();
  const x = addin();
  const first = await x.call('COST', ...rangeArgs());
  assert.equal(x.requests.length, 1);
  assert.deepEqual(await x.call('COST', ...rangeArgs()), first);
  const bad = EXPECTED.results.filter((r) => !r.ok && !r.blank).length;
  assert.ok(bad > 0, 'test data has bad rows');
  assert.equal(x.requests.length, 2, 'the second recalculation asks again only for the rows that failed');
  assert.equal(JSON.parse(x.requests[1].body).rows.length, bad);
  const edited = rangeArgs();
  edited[0][0] = [11];  // the first row's kWh changes
  const again = await x.call('COST', ...edited);
  assert.deepEqual(JSON.parse(x.requests[2].body).rows.map((r) => r[0]).filter((v) => v === 11), [11]);
  assert.equal(JSON.parse(x.requests[2].body).rows.length, bad + 1);
  assert.deepEqual(again.slice(1), first.slice(1));
  assert.deepEqual(await x.call('TAX', ...rangeArgs()), EXPECTED.results.map((r) => [cell(r, 'tax')]));
  assert.equal(x.requests.length, 4, 'TAX reads the cached results of COST (same rows)');
  const other = addin({storage: {EVBILL_API_KEY: 'another-tenant-key'}});
  await assert.rejects(other.associated.COST([[10]], [[60]], [['2026-01-13T14:00']], [['TOU-EUR']]),
    (e) => /^EVBILL API 401: /.test(e.message));  // another credential never reads this cache
  x.context.EVBILL_CACHE.clear();
  await x.call('COST', ...rangeArgs());
  assert.equal(JSON.parse(x.requests[4].body).rows.length, EXPECTED.rows.length - 1);
});

test('Microsoft sign-in through nested app authentication (MSAL.js) when the host supports it', async () => {
  needApi();
  const entra = {EVBILL_AUTH: 'entra', EVBILL_API_KEY: '', EVBILL_ENTRA_CLIENT_ID: 'c0ffee00-0000-4000-8000-000000000001',
    EVBILL_API_SCOPE: 'api://addin.example.com/c0ffee00-0000-4000-8000-000000000001/Billing.ReadWrite'};
  const silent = naaStandIn({silent: TOKEN});
  const x = addin({storage: entra, naa: true, msal: silent});
  assert.deepEqual(await x.call('COST', [[10]], [[60]], [['2026-01-13T14:00']], [['TOU-EUR']]), [[7.2]]);
  assert.equal(x.requests[0].headers.Authorization, 'Bearer ' + TOKEN);
  assert.equal(x.tokenCalls.length, 0, 'no legacy Office SSO call');
  assert.deepEqual(silent.calls.map((c) => c[0]), ['create', 'silent']);
  assert.equal(silent.calls[0][1].auth.clientId, entra.EVBILL_ENTRA_CLIENT_ID);
  assert.deepEqual(JSON.parse(JSON.stringify(silent.calls[1][1].scopes)), [entra.EVBILL_API_SCOPE]);
  // consent needed: MSAL's popup (inside Office) gives the token
  const popup = naaStandIn({silent: 'interaction', popup: TOKEN});
  const y = addin({storage: entra, naa: true, msal: popup});
  assert.deepEqual(await y.call('TAX', [[10]], [[60]], [['2026-01-13T14:00']], [['TOU-EUR']]), [[1.15]]);
  assert.deepEqual(popup.calls.map((c) => c[0]), ['create', 'silent', 'popup']);
  // a host without NestedAppAuth 1.1 (or no client id saved): the legacy Office SSO path
  const legacy = naaStandIn({silent: 'never-used'});
  const z = addin({storage: entra, naa: false, msal: legacy, token: TOKEN});
  assert.deepEqual(await z.call('COST', [[10]], [[60]], [['2026-01-13T14:00']], [['TOU-EUR']]), [[7.2]]);
  assert.equal(legacy.calls.length, 0);
  assert.equal(z.tokenCalls.length, 1);
  // a cancelled popup is a #N/A naming the failure, no request
  const cancelled = addin({storage: entra, naa: true, msal: naaStandIn({silent: 'interaction'})});
  await assert.rejects(cancelled.associated.COST([[10]], [[60]], [['2026-01-13T14:00']], [['TOU-EUR']]),
    (e) => e.code === '#N/A' && /Microsoft sign-in failed \(user_cancelled\)/.test(e.message));
  assert.equal(cancelled.requests.length, 0);
});

test('every function has a help link, and the help page has its section', () => {
  const src = path.join(__dirname, '..', 'src');
  const meta = JSON.parse(fs.readFileSync(path.join(src, 'functions.json'), 'utf8'));
  const help = fs.readFileSync(path.join(src, 'help.html'), 'utf8');
  const code = fs.readFileSync(path.join(src, 'functions.js'), 'utf8');
  const manifest = fs.readFileSync(path.join(__dirname, '..', 'manifest.xml'), 'utf8');
  const host = /<SourceLocation DefaultValue="(https:\/\/[^"]+\/)taskpane\.html"/.exec(manifest)[1];
  for (const f of meta.functions) {
    assert.equal(f.helpUrl, host + 'help.html#' + f.id.toLowerCase(), f.id);
    assert.ok(help.includes('id="' + f.id.toLowerCase() + '"'), f.id + ' has a section in help.html');
    assert.ok(code.includes('@customfunction ' + f.id + '\n   * @helpurl ' + f.helpUrl), f.id + ' JSDoc @helpurl');
  }
});
