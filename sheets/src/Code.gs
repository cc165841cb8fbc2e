/**
 * EV charging billing: Google Sheets custom functions and the settings sidebar.
 *
 * Why this shape: prices are computed only by the connector's rating core, so every function here
 * sends the cells to POST /v1/rate/sheet and shows what comes back (never a price computed in JS).
 * A range is rated with ONE request of up to 2,000 rows; a bigger range goes out as parallel requests in
 * ONE UrlFetchApp.fetchAll, so a multi-worker API answers in about the time of one part. Priced rows are
 * served from CacheService (errors are not cached), so editing one row re-rates only that row. Custom
 * functions must finish in 30 s: the API stops rating after its own budget (20 s) and marks the rest
 * "retry", which shows as #ERROR text until the next recalculation.
 */

/** Limits (the Node harness may lower chunkRows to test chunking). */
var EVBILL_LIMITS = {
  chunkRows: 2000,         // rows per request; bigger ranges go out as parallel requests in one fetchAll
  maxRows: 20000,          // 10 parallel parts at most: more would not finish in the 30 s limit
  cacheSeconds: 600,       // a published tariff version shows up within 10 minutes
  cacheBatch: 500,         // CacheService getAll/putAll in groups
  retryAfterMs: 1000,      // one retry on 429/502/503/504 when there is time left
  budgetMs: 25000          // stop retrying after this much of the 30 s budget
};

var EVBILL_PROPS = {url: 'EVBILL_API_URL', key: 'EVBILL_API_KEY', tariff: 'EVBILL_TARIFF_ID', zone: 'EVBILL_TIME_ZONE'};
var EVBILL_LINE_HEADER = ['row', 'category', 'description', 'quantity', 'unit', 'unit_price', 'net', 'tax', 'gross'];

// ---------------------------------------------------------------- custom functions

/**
 * Cost of a charging session including tax, rated by the billing connector.
 *
 * @param {number|number[][]} kwh Energy delivered in kWh (a cell or a column).
 * @param {number|number[][]} minutes Session length in minutes.
 * @param {Date|string|number[][]} start Session start (local date-time of the spreadsheet's time zone).
 * @param {string|string[][]} tariff_id Tariff id (empty: the tariff picked in the sidebar).
 * @param {string|string[][]} [customer_class] Optional customer class, e.g. fleet.
 * @return {number|number[][]} Cost incl. tax in the tariff's currency, or #ERROR text per row.
 * @customfunction
 */
function EVCHARGE_COST(kwh, minutes, start, tariff_id, customer_class) {
  return evbillShape_(arguments, function (r) { return evbillNumber_(r, 'cost_incl_tax'); });
}

/**
 * Tax on a charging session, rated by the billing connector.
 *
 * @param {number|number[][]} kwh Energy delivered in kWh (a cell or a column).
 * @param {number|number[][]} minutes Session length in minutes.
 * @param {Date|string|number[][]} start Session start (local date-time of the spreadsheet's time zone).
 * @param {string|string[][]} tariff_id Tariff id (empty: the tariff picked in the sidebar).
 * @param {string|string[][]} [customer_class] Optional customer class, e.g. fleet.
 * @return {number|number[][]} Total tax in the tariff's currency, or #ERROR text per row.
 * @customfunction
 */
function EVCHARGE_TAX(kwh, minutes, start, tariff_id, customer_class) {
  return evbillShape_(arguments, function (r) { return evbillNumber_(r, 'tax'); });
}

/**
 * Invoice lines of charging sessions as a table that spills: row, category, description, quantity,
 * unit, unit_price, net, tax, gross.
 *
 * @param {number|number[][]} kwh Energy delivered in kWh (a cell or a column).
 * @param {number|number[][]} minutes Session length in minutes.
 * @param {Date|string|number[][]} start Session start (local date-time of the spreadsheet's time zone).
 * @param {string|string[][]} tariff_id Tariff id (empty: the tariff picked in the sidebar).
 * @param {string|string[][]} [customer_class] Optional customer class, e.g. fleet.
 * @return {Array<Array<string|number>>} A header row, then one row per invoice line.
 * @customfunction
 */
function EVCHARGE_LINES(kwh, minutes, start, tariff_id, customer_class) {
  var call = evbillRows_(arguments);
  var results = evbillRate_(call.rows);
  var table = [EVBILL_LINE_HEADER.slice()];
  results.forEach(function (r, i) {
    if (r.blank) return;
    if (!r.ok) {
      table.push(evbillPad_([i + 1, r.error]));
      return;
    }
    r.lines.forEach(function (line) {
      table.push([i + 1, line[1], line[2], Number(line[3]), line[4], Number(line[5]), Number(line[6]),
        Number(line[7]), Number(line[8])]);
    });
  });
  return table;
}

// ---------------------------------------------------------------- argument handling

/** The rows of one call: every argument is a value or a 2-D range; values are repeated down ranges. */
function evbillRows_(args) {
  var names = ['kwh', 'minutes', 'start', 'tariff_id', 'customer_class'];
  var shape = null;
  var columns = [];
  for (var a = 0; a < names.length; a++) {
    var value = a < args.length ? args[a] : '';
    if (Array.isArray(value)) {
      var flat = [];
      value.forEach(function (row) { (Array.isArray(row) ? row : [row]).forEach(function (v) { flat.push(v); }); });
      var here = {rows: value.length, cols: Array.isArray(value[0]) ? value[0].length : 1, size: flat.length};
      if (shape && shape.size !== here.size) {
        throw new Error('EVBILL: ' + names[a] + ': the range has ' + here.size + ' cells but an earlier range has ' +
          shape.size + '; give ranges of the same size');
      }
      shape = shape || here;
      columns.push(flat);
    } else {
      columns.push(value);
    }
  }
  var size = shape ? shape.size : 1;
  if (size > EVBILL_LIMITS.maxRows) {
    throw new Error('EVBILL: ' + size + ' rows in one formula; at most ' + EVBILL_LIMITS.maxRows +
      ' fit in the 30 s limit of a custom function; split the range');
  }
  var settings = evbillSettings_();
  var zone = evbillSheetZone_();
  var rows = [];
  for (var i = 0; i < size; i++) {
    var row = columns.map(function (c) { return Array.isArray(c) ? c[i] : c; });
    var blank = row.every(function (v) { return v === '' || v === null || v === undefined; }) ||
      [row[0], row[1], row[2]].every(function (v) { return v === '' || v === null || v === undefined; });
    rows.push(blank ? [null, null, null, null] : evbillRow_(row, settings, zone));
  }
  return {rows: rows, shape: shape};
}

/** One row as the API takes it: Date cells become the wall-clock text the cell shows. */
function evbillRow_(row, settings, zone) {
  var out = [evbillCell_(row[0]), evbillCell_(row[1]), evbillStart_(row[2], zone),
    row[3] === '' || row[3] === null || row[3] === undefined ? (settings.tariff || '') : String(row[3])];
  if (row[4] !== '' && row[4] !== null && row[4] !== undefined) out.push(String(row[4]));
  return out;
}

function evbillIsDate_(v) {
  return Object.prototype.toString.call(v) === '[object Date]';  // instanceof fails across realms
}

function evbillCell_(v) {
  if (evbillIsDate_(v)) return v.toISOString();
  return v === undefined ? null : v;
}

function evbillStart_(v, zone) {
  if (evbillIsDate_(v)) return Utilities.formatDate(v, zone, "yyyy-MM-dd'T'HH:mm:ss");
  return v === undefined ? null : v;
}

function evbillPad_(row) {
  while (row.length < EVBILL_LINE_HEADER.length) row.push('');
  return row;
}

/** Run a per-row mapper and give the result the shape of the input range (or a single value). */
function evbillShape_(args, mapper) {
  var call = evbillRows_(args);
  var values = evbillRate_(call.rows).map(mapper);
  if (!call.shape) return values[0];
  var out = [];
  for (var r = 0; r < call.shape.rows; r++) out.push(values.slice(r * call.shape.cols, (r + 1) * call.shape.cols));
  return out;
}

function evbillNumber_(result, field) {
  if (result.blank) return '';
  if (!result.ok) return result.error;
  return Number(result[field]);  // display only: the exact Decimal text is result[field]
}

// ---------------------------------------------------------------- the API call, cached per row

/** Rate rows: cached rows from CacheService, the rest in ONE request (parts in one fetchAll if > chunkRows). */
function evbillRate_(rows) {
  var started = Date.now();
  var settings = evbillSettings_();
  if (!settings.url || !settings.key) {
    throw new Error('EVBILL: set the API URL and key first (Extensions > EV charging billing > Settings)');
  }
  var zone = settings.zone || evbillSheetZone_();
  var cache = evbillCache_();
  var keys = rows.map(function (row) { return evbillKey_(settings, zone, row); });
  var results = new Array(rows.length);
  var cached = {};
  for (var c = 0; c < keys.length; c += EVBILL_LIMITS.cacheBatch) {
    var part = cache.getAll(keys.slice(c, c + EVBILL_LIMITS.cacheBatch));
    Object.keys(part).forEach(function (k) { cached[k] = part[k]; });
  }
  var missing = [];
  rows.forEach(function (row, i) {
    if (row[0] === null && row[1] === null && row[2] === null) results[i] = {ok: true, blank: true};
    else if (cached[keys[i]] !== undefined && cached[keys[i]] !== null) results[i] = JSON.parse(cached[keys[i]]);
    else missing.push(i);
  });
  if (missing.length === 0) return results;
  var chunks = [];
  for (var m = 0; m < missing.length; m += EVBILL_LIMITS.chunkRows) chunks.push(missing.slice(m, m + EVBILL_LIMITS.chunkRows));
  var requests = chunks.map(function (chunk) {
    return {
      url: settings.url.replace(/\/+$/, '') + '/v1/rate/sheet',
      method: 'post',
      contentType: 'application/json',
      headers: {'X-API-Key': settings.key},
      payload: JSON.stringify({rows: chunk.map(function (i) { return rows[i]; }), time_zone: zone}),
      muteHttpExceptions: true
    };
  });
  var responses = evbillFetch_(requests, started);
  var fresh = {};
  responses.forEach(function (response, n) {
    var body = evbillBody_(response);
    chunks[n].forEach(function (rowIndex, j) {
      results[rowIndex] = body.results[j];
      if (body.results[j].ok && !body.results[j].blank) fresh[keys[rowIndex]] = JSON.stringify(body.results[j]);
    });
  });
  var freshKeys = Object.keys(fresh);
  for (var p = 0; p < freshKeys.length; p += EVBILL_LIMITS.cacheBatch) {
    var group = {};
    freshKeys.slice(p, p + EVBILL_LIMITS.cacheBatch).forEach(function (k) { group[k] = fresh[k]; });
    cache.putAll(group, EVBILL_LIMITS.cacheSeconds);
  }
  return results;
}

/** One fetch (or one fetchAll for several chunks); a single retry on 429/5xx while time is left. */
function evbillFetch_(requests, started) {
  var responses = requests.length === 1 ? [UrlFetchApp.fetch(requests[0].url, requests[0])] : UrlFetchApp.fetchAll(requests);
  var retry = [];
  responses.forEach(function (r, i) { if ([429, 502, 503, 504].indexOf(r.getResponseCode()) >= 0) retry.push(i); });
  if (retry.length && Date.now() - started + EVBILL_LIMITS.retryAfterMs < EVBILL_LIMITS.budgetMs) {
    Utilities.sleep(EVBILL_LIMITS.retryAfterMs);
    retry.forEach(function (i) { responses[i] = UrlFetchApp.fetch(requests[i].url, requests[i]); });
  }
  return responses;
}

function evbillBody_(response) {
  var code = response.getResponseCode();
  var text = response.getContentText();
  var body = null;
  try { body = JSON.parse(text); } catch (e) { body = null; }
  if (code !== 200 || !body || !Array.isArray(body.results)) {
    var detail = body && (body.detail || body.title) ? (body.detail || body.title) : String(text).slice(0, 200);
    throw new Error('EVBILL API ' + code + ': ' + detail);
  }
  return body;
}

/** Cache key: the API URL, a hash of the key (tenant), the zone and the row. Under 250 characters. */
function evbillKey_(settings, zone, row) {
  var text = JSON.stringify([settings.url, settings.key, zone, row]);
  var digest = Utilities.computeDigest(Utilities.DigestAlgorithm.SHA_256, text, Utilities.Charset.UTF_8);
  return 'evb1:' + Utilities.base64Encode(digest);
}

function evbillCache_() {
  return CacheService.getDocumentCache() || CacheService.getScriptCache();
}

function evbillSheetZone_() {
  var book = SpreadsheetApp.getActiveSpreadsheet();
  return (book && book.getSpreadsheetTimeZone()) || Session.getScriptTimeZone() || 'Etc/UTC';
}

/**
 * Settings: the ones shared with this spreadsheet's editors (document properties) win, else user properties.
 * Why this order: inside a custom function Google returns the spreadsheet OWNER's user properties
 * (custom-function guide, "Properties"), so an editor's own saved settings are invisible to formulas;
 * explicitly shared settings are the predictable choice for everyone.
 */
function evbillSettings_() {
  var user = PropertiesService.getUserProperties();
  var doc = PropertiesService.getDocumentProperties();
  var read = function (name) { return (doc && doc.getProperty(name)) || (user && user.getProperty(name)) || ''; };
  return {url: read(EVBILL_PROPS.url), key: read(EVBILL_PROPS.key), tariff: read(EVBILL_PROPS.tariff),
    zone: read(EVBILL_PROPS.zone)};
}

// ---------------------------------------------------------------- menu and sidebar

function onOpen(e) {
  SpreadsheetApp.getUi().createAddonMenu()
    .addItem('Settings and tariff', 'showSidebar')
    .addItem('Insert example formulas', 'insertExample')
    .addToUi();
}

function onInstall(e) {
  onOpen(e);
}

function showSidebar() {
  var html = HtmlService.createHtmlOutputFromFile('Sidebar').setTitle('EV charging billing');
  SpreadsheetApp.getUi().showSidebar(html);
}

/** For the sidebar: the settings without the key itself. */
function getSettings() {
  var s = evbillSettings_();
  return {url: s.url, tariff: s.tariff, zone: s.zone, hasKey: Boolean(s.key), sheetZone: evbillSheetZone_()};
}

/** Save the sidebar form: URL and key in the user's properties (or the spreadsheet's when shared). */
function saveSettings(form) {
  var url = String(form.url || '').trim().replace(/\/+$/, '');
  if (!/^https:\/\/[^\s/]+/.test(url) && !/^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(url)) {
    throw new Error('url: use the https:// address of the billing API (it must be in urlFetchWhitelist)');
  }
  var zone = String(form.zone || '').trim();
  var store = form.shared ? PropertiesService.getDocumentProperties() : PropertiesService.getUserProperties();
  var values = {};
  values[EVBILL_PROPS.url] = url;
  values[EVBILL_PROPS.tariff] = String(form.tariff || '').trim();
  values[EVBILL_PROPS.zone] = zone;
  if (form.key) values[EVBILL_PROPS.key] = String(form.key).trim();
  store.setProperties(values);
  return getSettings();
}

/** Tariffs of the key's tenant, for the sidebar's picker (GET /v1/tariffs). */
function listTariffs() {
  var s = evbillSettings_();
  if (!s.url || !s.key) throw new Error('EVBILL: save the API URL and key first');
  var response = UrlFetchApp.fetch(s.url + '/v1/tariffs', {method: 'get', headers: {'X-API-Key': s.key},
    muteHttpExceptions: true});
  var text = response.getContentText();
  if (response.getResponseCode() !== 200) {
    var body = {};
    try { body = JSON.parse(text); } catch (e) { body = {}; }
    throw new Error('EVBILL API ' + response.getResponseCode() + ': ' + (body.detail || body.title || text));
  }
  return JSON.parse(text).items.map(function (t) {
    return {id: t.id, currency: t.currency, version: t.current_version};
  });
}

/** Put a worked example on the active sheet: inputs in A-E, formulas in G-H and a lines table in J. */
function insertExample() {
  var sheet = SpreadsheetApp.getActiveSheet();
  var tariff = evbillSettings_().tariff;
  sheet.getRange('A1:E1').setValues([['kWh', 'minutes', 'start', 'tariff_id', 'customer_class']]);
  sheet.getRange('A2:D2').setValues([[10, 60, '2026-01-13 14:00', tariff]]);
  sheet.getRange('G1:H1').setValues([['cost incl. tax', 'tax']]);
  sheet.getRange('G2').setFormula('=EVCHARGE_COST(A2:A100, B2:B100, C2:C100, D2:D100, E2:E100)');
  sheet.getRange('H2').setFormula('=EVCHARGE_TAX(A2:A100, B2:B100, C2:C100, D2:D100, E2:E100)');
  sheet.getRange('J1').setFormula('=EVCHARGE_LINES(A2:A100, B2:B100, C2:C100, D2:D100, E2:E100)');
}
