/**
 * EV charging billing: Excel custom functions EVBILL.COST, EVBILL.TAX and EVBILL.LINES.
 *
 * Why this shape: prices are computed only by the connector's rating core, so every function sends the
 * cells to POST /v1/rate/sheet and shows what comes back (never a price computed here). A range is one
 * request, and calls made by many cells in the same recalculation are queued and sent as ONE request
 * (Microsoft's batching pattern). Same arguments and per-row results as the Google Sheets functions:
 * a bad row shows "#ERROR: field: reason", a blank row stays blank.
 *
 * Results are cached per row in memory for 10 minutes (like the Sheets functions' CacheService): editing
 * one row of a range re-rates only that row, and recalculating unchanged cells sends nothing. Errors are
 * never cached. The key includes the API address, the credential, the zone and the row.
 *
 * Auth: an API key saved in the task pane (OfficeRuntime.storage), or, when the pane chose Microsoft
 * sign-in, an Entra ID access token: through nested app authentication (MSAL.js
 * createNestablePublicClientApplication, the current Office path) when the host supports NestedAppAuth
 * 1.1 and a client id is saved, else through the legacy Office SSO (OfficeRuntime.auth.getAccessToken);
 * see docs/finance/excel.md for the app registration.
 */
/* global CustomFunctions, OfficeRuntime, Office, msal */
(function (root) {
  'use strict';

  var KEYS = {url: 'EVBILL_API_URL', key: 'EVBILL_API_KEY', tariff: 'EVBILL_TARIFF_ID', zone: 'EVBILL_TIME_ZONE',
    auth: 'EVBILL_AUTH', clientId: 'EVBILL_ENTRA_CLIENT_ID', scope: 'EVBILL_API_SCOPE'};
  var LINE_HEADER = ['row', 'category', 'description', 'quantity', 'unit', 'unit_price', 'net', 'tax', 'gross'];
  var NAMES = ['kwh', 'minutes', 'start', 'tariff_id', 'customer_class'];
  var LIMITS = {chunkRows: 10000, maxRows: 50000, cacheSeconds: 600, cacheEntries: 50000};
  var queue = [];
  var flushing = null;
  var cache = new Map();  // key -> {result, until}; in memory only (the key never reaches storage)
  var naa = {clientId: null, app: null};

  function isBlank(v) {
    return v === '' || v === null || v === undefined;
  }

  function fail(message, code) {
    var codes = CustomFunctions.ErrorCode;
    return new CustomFunctions.Error(code || codes.invalidValue, message);
  }

  /** Saved settings (task pane) from OfficeRuntime.storage. */
  function settings() {
    var names = [KEYS.url, KEYS.key, KEYS.tariff, KEYS.zone, KEYS.auth, KEYS.clientId, KEYS.scope];
    return OfficeRuntime.storage.getItems(names).then(function (v) {
      return {url: v[KEYS.url] || '', key: v[KEYS.key] || '', tariff: v[KEYS.tariff] || '',
        zone: v[KEYS.zone] || '', auth: v[KEYS.auth] || 'apikey', clientId: v[KEYS.clientId] || '',
        scope: v[KEYS.scope] || ''};
    });
  }

  /** Whether the host offers nested app authentication (Office.js requirement set NestedAppAuth 1.1). */
  function naaSupported() {
    try {
      return typeof Office !== 'undefined' && Boolean(Office.context && Office.context.requirements &&
        Office.context.requirements.isSetSupported('NestedAppAuth', '1.1'));
    } catch (e) {
      return false;
    }
  }

  /** An Entra ID access token through NAA: silent first, a popup only when MSAL says interaction is needed. */
  function naaToken(s) {
    var scopes = [s.scope || ('api://' + s.clientId + '/Billing.ReadWrite')];
    var app = naa.clientId === s.clientId && naa.app ? Promise.resolve(naa.app)
      : msal.createNestablePublicClientApplication({auth: {clientId: s.clientId, authority:
        'https://login.microsoftonline.com/organizations'}}).then(function (created) {
        naa.clientId = s.clientId;
        naa.app = created;
        return created;
      });
    return app.then(function (pca) {
      return pca.acquireTokenSilent({scopes: scopes}).catch(function (error) {
        if (!(error instanceof msal.InteractionRequiredAuthError)) throw error;
        return pca.acquireTokenPopup({scopes: scopes});
      });
    }).then(function (result) { return result.accessToken; });
  }

  /** The access token: NAA (MSAL.js) when the host and the saved client id allow it, else Office SSO. */
  function entraToken(s) {
    if (s.clientId && typeof msal !== 'undefined' && naaSupported()) return naaToken(s);
    return OfficeRuntime.auth.getAccessToken({allowSignInPrompt: true, allowConsentPrompt: true});
  }

  /** X-API-Key, or an Entra ID bearer token when the pane chose Microsoft sign-in. */
  function authHeaders(s) {
    if (s.auth === 'entra') {
      return entraToken(s).then(function (token) { return {Authorization: 'Bearer ' + token}; }, function (error) {
          throw fail('EVBILL: Microsoft sign-in failed (' + (error && (error.errorCode || error.code || error.message)) +
            '); sign in from the EV billing task pane', CustomFunctions.ErrorCode.notAvailable);
        });
    }
    if (!s.key) {
      return Promise.reject(fail('EVBILL: set the API URL and key first (Home > EV billing > Settings)',
        CustomFunctions.ErrorCode.notAvailable));
    }
    return Promise.resolve({'X-API-Key': s.key});
  }

  /** The rows of one call: every argument is a value or a 2-D range; single values repeat down ranges. */
  function rowsOf(args, s) {
    var shape = null;
    var columns = [];
    for (var a = 0; a < NAMES.length; a++) {
      var value = a < args.length ? args[a] : null;
      if (Array.isArray(value)) {
        var flat = [];
        value.forEach(function (row) { (Array.isArray(row) ? row : [row]).forEach(function (v) { flat.push(v); }); });
        var here = {rows: value.length, cols: Array.isArray(value[0]) ? value[0].length : 1, size: flat.length};
        if (flat.length === 1) { columns.push(flat[0]); continue; }  // a single cell is a value, not a range
        if (shape && shape.size !== here.size) {
          throw fail('EVBILL: ' + NAMES[a] + ': the range has ' + here.size + ' cells but an earlier range has ' +
            shape.size + '; give ranges of the same size');
        }
        shape = shape || here;
        columns.push(flat);
      } else {
        columns.push(value);
      }
    }
    var size = shape ? shape.size : 1;
    if (size > LIMITS.maxRows) throw fail('EVBILL: ' + size + ' rows in one formula; at most ' + LIMITS.maxRows);
    var rows = [];
    for (var i = 0; i < size; i++) {
      var row = columns.map(function (c) { return Array.isArray(c) ? c[i] : c; });
      if (isBlank(row[0]) && isBlank(row[1]) && isBlank(row[2])) { rows.push(null); continue; }
      var out = [isBlank(row[0]) ? null : row[0], isBlank(row[1]) ? null : row[1], isBlank(row[2]) ? null : row[2],
        isBlank(row[3]) ? s.tariff : String(row[3])];
      if (!isBlank(row[4])) out.push(String(row[4]));
      rows.push(out);
    }
    return {rows: rows, shape: shape};
  }

  function post(s, headers, rows) {
    var url = s.url.replace(/\/+$/, '') + '/v1/rate/sheet';
    var body = {rows: rows};
    if (s.zone) body.time_zone = s.zone;
    return fetch(url, {method: 'POST', headers: Object.assign({'Content-Type': 'application/json'}, headers),
      body: JSON.stringify(body)}).then(function (response) {
      return response.text().then(function (text) {
        var parsed = null;
        try { parsed = JSON.parse(text); } catch (e) { parsed = null; }
        if (response.status !== 200 || !parsed || !Array.isArray(parsed.results)) {
          var detail = parsed && (parsed.detail || parsed.title) ? (parsed.detail || parsed.title) : text.slice(0, 200);
          throw fail('EVBILL API ' + response.status + ': ' + detail, CustomFunctions.ErrorCode.notAvailable);
        }
        return parsed.results;
      });
    }, function (error) {
      throw fail('EVBILL: cannot reach ' + url + ' (' + (error && error.message) + ')',
        CustomFunctions.ErrorCode.notAvailable);
    });
  }

  /** The cache key of a row: the API, the credential (kept in memory only), the zone and the row. */
  function cacheKey(s, row) {
    var who = s.auth === 'entra' ? 'entra:' + s.clientId : 'key:' + s.key;
    return JSON.stringify([s.url, who, s.zone, row]);
  }

  function cached(key, now) {
    var hit = cache.get(key);
    if (!hit) return null;
    if (hit.until <= now) { cache.delete(key); return null; }
    return hit.result;
  }

  function remember(key, result, now) {
    if (!result || !result.ok || result.blank) return;  // errors (and "retry") are rated again next time
    if (cache.size >= LIMITS.cacheEntries) cache.delete(cache.keys().next().value);  // the oldest entry
    cache.set(key, {result: result, until: now + LIMITS.cacheSeconds * 1000});
  }

  /** Send every queued call's uncached rows in one request (chunks of 10,000); hand each call its results. */
  function flush() {
    var batch = queue;
    queue = [];
    flushing = null;
    var rows = [];
    batch.forEach(function (item) { item.rows.forEach(function (r) { if (r) rows.push(r); }); });
    if (rows.length === 0) {
      batch.forEach(function (item) { item.resolve(item.rows.map(function () { return {ok: true, blank: true}; })); });
      return Promise.resolve();
    }
    var now = Date.now();
    return settings().then(function (s) {
      if (!s.url) {
        throw fail('EVBILL: set the API URL and key first (Home > EV billing > Settings)',
          CustomFunctions.ErrorCode.notAvailable);
      }
      var keys = rows.map(function (r) { return cacheKey(s, r); });
      var results = keys.map(function (k) { return cached(k, now); });
      var missing = [];
      results.forEach(function (r, i) { if (r === null) missing.push(i); });
      if (missing.length === 0) return results;
      return authHeaders(s).then(function (headers) {
        var sends = [];
        for (var c = 0; c < missing.length; c += LIMITS.chunkRows) {
          sends.push(post(s, headers, missing.slice(c, c + LIMITS.chunkRows).map(function (i) { return rows[i]; })));
        }
        return Promise.all(sends);
      }).then(function (parts) {
        var fresh = [].concat.apply([], parts);
        missing.forEach(function (i, n) {
          results[i] = fresh[n];
          remember(keys[i], fresh[n], now);
        });
        return results;
      });
    }).then(function (results) {
      var next = 0;
      batch.forEach(function (item) {
        item.resolve(item.rows.map(function (r) { return r ? results[next++] : {ok: true, blank: true}; }));
      });
    }, function (error) {
      batch.forEach(function (item) { item.reject(error); });
    });
  }

  /** Queue rows; all calls made before the next macrotask share one request. */
  function rate(args) {
    return settings().then(function (s) {
      var call = rowsOf(args, s);
      return new Promise(function (resolve, reject) {
        queue.push({rows: call.rows, resolve: resolve, reject: reject});
        if (!flushing) flushing = setTimeout(flush, 0);
      }).then(function (results) { return {results: results, shape: call.shape}; });
    });
  }

  function shaped(call, mapper) {
    var values = call.results.map(mapper);
    if (!call.shape) return [[values[0]]];
    var out = [];
    for (var r = 0; r < call.shape.rows; r++) out.push(values.slice(r * call.shape.cols, (r + 1) * call.shape.cols));
    return out;
  }

  function number(field) {
    return function (result) {
      if (result.blank) return '';
      if (!result.ok) return result.error;
      return Number(result[field]);  // display only: the exact Decimal text is result[field]
    };
  }

  /**
   * Cost of charging sessions including tax, rated by the billing connector.
   * @customfunction COST
   * @helpurl https://addin.example.com/evbill/help.html#cost
   * @param {any[][]} kwh Energy delivered in kWh (a cell or a column).
   * @param {any[][]} minutes Session length in minutes.
   * @param {any[][]} start Session start (local date-time: a date cell or ISO text).
   * @param {any[][]} tariff_id Tariff id (empty: the tariff saved in the task pane).
   * @param {any[][]} [customer_class] Optional customer class, e.g. fleet.
   * @returns {Promise<any[][]>} Cost incl. tax per row, or #ERROR text per row.
   */
  function cost(kwh, minutes, start, tariffId, customerClass) {
    return rate([kwh, minutes, start, tariffId, customerClass]).then(function (c) { return shaped(c, number('cost_incl_tax')); });
  }

  /**
   * Tax on charging sessions, rated by the billing connector.
   * @customfunction TAX
   * @helpurl https://addin.example.com/evbill/help.html#tax
   * @param {any[][]} kwh Energy delivered in kWh (a cell or a column).
   * @param {any[][]} minutes Session length in minutes.
   * @param {any[][]} start Session start (local date-time: a date cell or ISO text).
   * @param {any[][]} tariff_id Tariff id (empty: the tariff saved in the task pane).
   * @param {any[][]} [customer_class] Optional customer class, e.g. fleet.
   * @returns {Promise<any[][]>} Total tax per row, or #ERROR text per row.
   */
  function tax(kwh, minutes, start, tariffId, customerClass) {
    return rate([kwh, minutes, start, tariffId, customerClass]).then(function (c) { return shaped(c, number('tax')); });
  }

  /**
   * Invoice lines of charging sessions as a table that spills.
   * @customfunction LINES
   * @helpurl https://addin.example.com/evbill/help.html#lines
   * @param {any[][]} kwh Energy delivered in kWh (a cell or a column).
   * @param {any[][]} minutes Session length in minutes.
   * @param {any[][]} start Session start (local date-time: a date cell or ISO text).
   * @param {any[][]} tariff_id Tariff id (empty: the tariff saved in the task pane).
   * @param {any[][]} [customer_class] Optional customer class, e.g. fleet.
   * @returns {Promise<any[][]>} A header row, then row, category, description, quantity, unit, unit_price, net, tax, gross.
   */
  function lines(kwh, minutes, start, tariffId, customerClass) {
    return rate([kwh, minutes, start, tariffId, customerClass]).then(function (c) {
      var table = [LINE_HEADER.slice()];
      c.results.forEach(function (r, i) {
        if (r.blank) return;
        if (!r.ok) {
          var row = [i + 1, r.error];
          while (row.length < LINE_HEADER.length) row.push('');
          table.push(row);
          return;
        }
        r.lines.forEach(function (l) {  // row = position in this formula's range (not in the shared request)
          table.push([i + 1, l[1], l[2], Number(l[3]), l[4], Number(l[5]), Number(l[6]), Number(l[7]), Number(l[8])]);
        });
      });
      return table;
    });
  }

  CustomFunctions.associate('COST', cost);
  CustomFunctions.associate('TAX', tax);
  CustomFunctions.associate('LINES', lines);
  root.EVBILL_LIMITS = LIMITS;  // the Node tests lower chunkRows to test chunking
  root.EVBILL_TOKEN = function () { return settings().then(entraToken); };  // the task pane's sign-in
  root.EVBILL_CACHE = {clear: function () { cache.clear(); naa.app = null; naa.clientId = null; },
    size: function () { return cache.size; }};  // the task pane's "Clear cached results"; tests
})(typeof globalThis !== 'undefined' ? globalThis : this);
