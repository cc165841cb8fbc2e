// functions.js under Node against the real API on 127.0.0.1 (started by tests/spreadsheets/excel/test_addin_node.py, which
// passes EVBILL_API_URL, EVBILL_API_KEY, EVBILL_TOKEN (an Entra ID-style JWT the API accepts) and
// EVBILL_EXPECTED: rows and the rating core's results for them).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {loadFunctions} = require('./harness.js');

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
  assert.equal(x.requests.length, 2);
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
    hasKey: true});
  assert.equal(x.storage.map.get('EVBILL_API_KEY'), 'k1');
  await pane.save({url: 'https://billing.example.com', key: '', auth: 'entra'});
  assert.equal(x.storage.map.get('EVBILL_API_KEY'), 'k1', 'an empty key field keeps the saved key');
  assert.equal(x.storage.map.get('EVBILL_AUTH'), 'entra');
  assert.equal((await pane.forget()).hasKey, false);
});
