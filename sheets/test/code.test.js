// Code.gs under Node against the real API on 127.0.0.1 (started by tests/spreadsheets/sheets/test_sheets_node.py, which
// passes EVBILL_API_URL, EVBILL_API_KEY and EVBILL_EXPECTED: rows and the rating core's results for them).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const {loadCode, formatDate} = require('./harness.js');

const URL_ = process.env.EVBILL_API_URL;
const KEY = process.env.EVBILL_API_KEY;
const EXPECTED = process.env.EVBILL_EXPECTED ? JSON.parse(fs.readFileSync(process.env.EVBILL_EXPECTED, 'utf8')) : null;
const ZONE = EXPECTED ? EXPECTED.zone : 'Europe/Berlin';

function needApi() {
  assert.ok(URL_ && KEY && EXPECTED, 'run through pytest tests/spreadsheets/sheets/test_sheets_node.py (it starts the API)');
}

function harness(extra) {
  return loadCode(Object.assign({apiUrl: URL_, apiKey: KEY, spreadsheetTimeZone: ZONE}, extra || {}));
}

/** The instant a Sheets Date cell holds for a wall-clock text in the spreadsheet's zone. */
function zonedDate(text, zone) {
  const guess = new Date(text + 'Z');
  let date = guess;
  for (let i = 0; i < 2; i++) {
    const shown = new Date(formatDate(date, zone, "yyyy-MM-dd'T'HH:mm:ss") + 'Z');
    date = new Date(date.getTime() - (shown.getTime() - guess.getTime()));
  }
  return date;
}

function expectedValue(result, field) {
  if (result.blank) return '';
  return result.ok ? Number(result[field]) : result.error;
}

const column = (values) => values.map((v) => [v === null || v === undefined ? '' : v]);

function rangeArgs(rows, withDates) {
  const pick = (i) => rows.map((r) => r[i]);
  const starts = pick(2).map((s) => (withDates && typeof s === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(s)
    ? zonedDate(s.length === 16 ? s + ':00' : s, ZONE) : s));
  return [column(pick(0)), column(pick(1)), column(starts), column(pick(3)), column(rows.map((r) => r[4]))];
}

test('without settings a clear message, not a silent zero', () => {
  const h = loadCode({});
  assert.throws(() => h.call('EVCHARGE_COST', 10, 60, '2026-01-13T14:00', 'T-TOU'), /set the API URL and key first/);
  assert.equal(h.requests.length, 0);
});

test('one cell at a time equals the core (and EVCHARGE_TAX is served from the cache)', () => {
  needApi();
  const h = harness();
  assert.equal(h.call('EVCHARGE_COST', 10, 60, '2026-01-13T14:00', 'T-TOU'), 4.76);  // 10 kWh x 0.40 + 19 %
  assert.equal(h.call('EVCHARGE_TAX', 10, 60, '2026-01-13T14:00', 'T-TOU'), 0.76);
  assert.equal(h.requests.length, 1);
  EXPECTED.rows.forEach((row, i) => {
    const args = row.slice(0, 4).concat(row.length > 4 ? [row[4]] : []);
    assert.deepEqual(h.call('EVCHARGE_COST', ...args), expectedValue(EXPECTED.results[i], 'cost_incl_tax'), `row ${i}`);
    assert.deepEqual(h.call('EVCHARGE_TAX', ...args), expectedValue(EXPECTED.results[i], 'tax'), `row ${i}`);
  });
  const calls = EXPECTED.results.filter((r) => !r.blank).length + EXPECTED.results.filter((r) => !r.ok).length;
  assert.ok(h.requests.length <= 1 + calls, `${h.requests.length} requests`);
  const sent = JSON.parse(h.requests[0].payload);
  assert.deepEqual(sent, {rows: [[10, 60, '2026-01-13T14:00', 'T-TOU']], time_zone: ZONE});
  assert.equal(h.requests[0].headers['X-API-Key'], KEY);
});

test('a range is ONE request; shape, blanks and #ERROR rows kept; Date cells sent as wall-clock text', () => {
  needApi();
  const h = harness();
  const args = rangeArgs(EXPECTED.rows, true);
  const cost = h.call('EVCHARGE_COST', ...args);
  assert.equal(h.requests.length, 1);
  assert.deepEqual(cost, EXPECTED.results.map((r) => [expectedValue(r, 'cost_incl_tax')]));
  const sent = JSON.parse(h.requests[0].payload).rows;
  assert.equal(sent.length, EXPECTED.results.filter((r) => !r.blank).length);
  assert.equal(sent[0][2], '2026-01-13T14:00:00');  // the Date cell, as the cell shows it in the sheet's zone
  assert.deepEqual(h.call('EVCHARGE_TAX', ...args), EXPECTED.results.map((r) => [expectedValue(r, 'tax')]));
  assert.equal(h.requests.length, 2, 'tax of the priced rows comes from CacheService');
  const errorRows = EXPECTED.results.filter((r) => !r.ok).length;
  assert.ok(errorRows > 0);
  assert.equal(JSON.parse(h.requests[1].payload).rows.length, errorRows, 'only #ERROR rows are asked again');
  args[0][0] = [20];  // edit one row: only that row (and the #ERROR rows) are rated again
  const again = h.call('EVCHARGE_COST', ...args);
  assert.equal(h.requests.length, 3);
  assert.equal(JSON.parse(h.requests[2].payload).rows.length, 1 + errorRows);
  assert.equal(again[0][0], 9.52);  // 20 kWh x 0.40 = 8.00 + 1.52 VAT
});

test('EVCHARGE_LINES spills a header and the core invoice lines', () => {
  needApi();
  const h = harness();
  const table = h.call('EVCHARGE_LINES', ...rangeArgs(EXPECTED.rows, false));
  const want = [['row', 'category', 'description', 'quantity', 'unit', 'unit_price', 'net', 'tax', 'gross']];
  EXPECTED.results.forEach((r, i) => {
    if (r.blank) return;
    if (!r.ok) { want.push([i + 1, r.error, '', '', '', '', '', '', '']); return; }
    r.lines.forEach((l) => want.push([Number(l[0]), l[1], l[2], Number(l[3]), l[4], Number(l[5]), Number(l[6]),
      Number(l[7]), Number(l[8])]));
  });
  assert.deepEqual(table, want);
  assert.ok(table.every((row) => row.length === 9), 'a spilled array must be rectangular');
  assert.deepEqual(table[1], [1, 'energy', 'Energy @ 0.40 EUR/kWh', 10, 'kWh', 0.4, 4, 0.76, 4.76]);
});

test('over the per-request row limit: chunks go out in one fetchAll', () => {
  needApi();
  const h = harness({limits: {chunkRows: 2}});
  const cost = h.call('EVCHARGE_COST', ...rangeArgs(EXPECTED.rows, false));
  assert.deepEqual(cost, EXPECTED.results.map((r) => [expectedValue(r, 'cost_incl_tax')]));
  const nonBlank = EXPECTED.results.filter((r) => !r.blank).length;
  assert.equal(h.requests.length, Math.ceil(nonBlank / 2));
  const big = loadCode({apiUrl: URL_, apiKey: KEY, limits: {maxRows: 3}});
  assert.throws(() => big.call('EVCHARGE_COST', [[1], [2], [3], [4]], 60, '2026-01-13T14:00', 'T-TOU'), /split the range/);
  assert.equal(big.requests.length, 0);
});

test('ranges of different sizes are refused with the argument named', () => {
  const h = harness();
  assert.throws(() => h.call('EVCHARGE_COST', [[1], [2]], [[60]], '2026-01-13T14:00', 'T-TOU'), /minutes: the range has 1 cells/);
});

test('a wrong key is the API\'s 401 in the cell, not a number', () => {
  needApi();
  const h = harness({apiKey: 'wrong-key'});
  assert.throws(() => h.call('EVCHARGE_COST', 10, 60, '2026-01-13T14:00', 'T-TOU'), /EVBILL API 401/);
});

test('cached rows expire after EVBILL_LIMITS.cacheSeconds', () => {
  needApi();
  const h = harness();
  h.call('EVCHARGE_COST', 10, 60, '2026-01-13T14:00', 'T-TOU');
  h.call('EVCHARGE_COST', 10, 60, '2026-01-13T14:00', 'T-TOU');
  assert.equal(h.requests.length, 1);
  h.clock.offsetMs = 601 * 1000;
  assert.equal(h.call('EVCHARGE_COST', 10, 60, '2026-01-13T14:00', 'T-TOU'), 4.76);
  assert.equal(h.requests.length, 2);
});

test('sidebar: save settings, list tariffs of the key\'s tenant, default tariff, key never shown', () => {
  needApi();
  const h = loadCode({spreadsheetTimeZone: ZONE});
  assert.throws(() => h.gas.saveSettings({url: 'http://billing.example.com', key: KEY}), /url: use the https/);
  const saved = h.call('saveSettings', {url: URL_ + '/', key: KEY, zone: '', tariff: 'T-TOU'});
  assert.deepEqual(saved, {url: URL_, tariff: 'T-TOU', zone: '', hasKey: true, sheetZone: ZONE});
  assert.equal(h.userProps.getProperty('EVBILL_API_KEY'), KEY);
  assert.deepEqual(h.call('listTariffs'), [{id: 'T-TOU', currency: 'EUR', version: 1}]);
  assert.equal(h.call('EVCHARGE_COST', 10, 60, '2026-01-13T14:00', ''), 4.76, 'blank tariff_id: the picked tariff');
  h.gas.onOpen();
  h.gas.showSidebar();
  assert.deepEqual(h.ui.menus[0].items.map((i) => i[1]), ['showSidebar', 'insertExample']);
  assert.match(h.ui.sidebars[0].content, /google\.script\.run/);
  const shared = loadCode({apiUrl: URL_, apiKey: KEY, shared: true, spreadsheetTimeZone: ZONE});
  assert.equal(shared.call('EVCHARGE_COST', 10, 60, '2026-01-13T14:00', 'T-TOU'), 4.76, 'settings shared by the sheet');
  shared.userProps.setProperties({EVBILL_API_URL: URL_, EVBILL_API_KEY: 'the-owners-stale-key'});
  assert.equal(shared.call('EVCHARGE_COST', 11, 60, '2026-01-13T14:00', 'T-TOU'), 5.24, 'shared settings win');
  assert.equal(shared.requests[1].headers['X-API-Key'], KEY);
  h.gas.insertExample();
  assert.match(h.sheet.cells.G2.formula, /^=EVCHARGE_COST\(A2:A100/);
});

test('the time zone set in the sidebar decides how start times are read', () => {
  needApi();
  const berlin = harness();
  const utc = harness({timeZone: 'UTC'});
  // 18:30 Z is 19:30 in Berlin (half the session after the 20:00 peak end) but 18:30 in UTC (all peak)
  assert.equal(berlin.call('EVCHARGE_COST', 10, 60, '2026-01-13T18:30:00Z', 'T-TOU'), 3.57);
  assert.equal(utc.call('EVCHARGE_COST', 10, 60, '2026-01-13T18:30:00Z', 'T-TOU'), 4.76);
});

test('a 503 is retried once after a second, then the cell has its price', () => {
  needApi();
  assert.ok(process.env.EVBILL_FLAKY_URL, 'EVBILL_FLAKY_URL: the API behind a proxy that fails once');
  const h = harness({apiUrl: process.env.EVBILL_FLAKY_URL});
  assert.equal(h.call('EVCHARGE_COST', 10, 60, '2026-01-13T14:00', 'T-TOU'), 4.76);
  assert.equal(h.requests.length, 2);
  assert.deepEqual(h.sleeps, [1000]);
});
