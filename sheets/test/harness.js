/**
 * Node harness for sheets/src/Code.gs: runs the Apps Script file in a vm context with small stand-ins for
 * UrlFetchApp (REAL synchronous HTTP to a loopback API, via a child process), CacheService,
 * PropertiesService, Utilities, SpreadsheetApp, HtmlService and Session.
 *
 * Usage (our tests and the cross-face test):
 *   const {loadCode} = require('<repo>/sheets/test/harness.js');
 *   const h = loadCode({apiUrl: 'http://127.0.0.1:PORT', apiKey: 'KEY', spreadsheetTimeZone: 'Europe/Berlin'});
 *   h.call('EVCHARGE_COST', 10, 60, '2026-01-13T14:00', 'T-TOU');   // -> 4.76 (plain JSON, outside the vm realm)
 *   h.call('EVCHARGE_COST', [[10], [12]], [[60], [45]], [['2026-01-13T14:00'], [46035.5]], 'T-TOU'); // one request
 *   h.requests      // every request sent: {url, method, headers, payload}
 *   h.cache         // CacheService stand-in (h.cache.store: Map key -> {value, expires})
 *   h.userProps / h.docProps / h.ui / h.sheet / h.sleeps
 * Options: apiUrl, apiKey, tariffId, timeZone (user override), spreadsheetTimeZone (default Etc/UTC),
 * shared (settings in document properties instead of user properties), limits (override EVBILL_LIMITS).
 * Only 127.0.0.1/localhost URLs are fetched: no live network in tests.
 */
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const {execFileSync} = require('node:child_process');

const SRC = path.join(__dirname, '..', 'src');
const FETCH_CHILD = path.join(__dirname, 'fetch_child.js');

function httpRequests(requests) {
  for (const r of requests) {
    const host = new URL(r.url).hostname;
    if (host !== '127.0.0.1' && host !== 'localhost') throw new Error(`test stand-in: refusing non-loopback URL ${r.url}`);
  }
  const out = execFileSync(process.execPath, [FETCH_CHILD], {input: JSON.stringify(requests), maxBuffer: 512 * 1024 * 1024,
    timeout: 120000});
  const parsed = JSON.parse(out.toString('utf8'));
  if (!Array.isArray(parsed)) throw new Error(`Exception: Address unavailable: ${parsed.error}`);
  return parsed.map((res) => ({
    getResponseCode: () => res.code,
    getContentText: () => res.body,
    getHeaders: () => res.headers,
  }));
}

function makeUrlFetch(log) {
  const toRequest = (url, params) => ({url, method: (params && params.method) || 'get',
    headers: Object.assign({}, (params && params.headers) || {},
      params && params.contentType ? {'Content-Type': params.contentType} : {}),
    payload: params && params.payload});
  const check = (res, params) => {
    if (!(params && params.muteHttpExceptions) && res.getResponseCode() >= 400) {
      throw new Error(`Request failed for ${res.getResponseCode()}: ${res.getContentText()}`);
    }
    return res;
  };
  return {
    fetch(url, params) {
      const req = toRequest(url, params);
      log.push(req);
      return check(httpRequests([req])[0], params);
    },
    fetchAll(list) {
      const reqs = list.map((p) => toRequest(p.url, p));
      reqs.forEach((r) => log.push(r));
      return httpRequests(reqs).map((res, i) => check(res, list[i]));
    },
  };
}

function makeCache(now) {
  const store = new Map();
  const limits = (key, value, ttl) => {
    if (String(key).length > 250) throw new Error('Argument too large: key');
    if (value !== undefined && Buffer.byteLength(String(value)) > 100 * 1024) throw new Error('Argument too large: value');
    if (ttl !== undefined && (ttl < 1 || ttl > 21600)) throw new Error('Invalid expiration');
  };
  const live = (key) => {
    const hit = store.get(key);
    if (!hit) return null;
    if (hit.expires <= now()) { store.delete(key); return null; }
    return hit.value;
  };
  const cache = {
    store,
    get(key) { limits(key); return live(key); },
    getAll(keys) {
      if (keys.length > 1000) throw new Error('getAll: at most 1000 keys');
      const out = {};
      keys.forEach((k) => { limits(k); const v = live(k); if (v !== null) out[k] = v; });
      return out;
    },
    put(key, value, ttl = 600) { limits(key, value, ttl); store.set(key, {value: String(value), expires: now() + ttl * 1000}); },
    putAll(values, ttl = 600) {
      if (Object.keys(values).length > 1000) throw new Error('putAll: at most 1000 keys');
      Object.entries(values).forEach(([k, v]) => cache.put(k, v, ttl));
    },
    remove(key) { store.delete(key); },
  };
  return cache;
}

function makeProps(initial) {
  const map = new Map(Object.entries(initial || {}));
  return {
    map,
    getProperty: (k) => (map.has(k) ? map.get(k) : null),
    setProperty(k, v) { map.set(k, String(v)); return this; },
    setProperties(values) { Object.entries(values).forEach(([k, v]) => map.set(k, String(v))); return this; },
    getProperties: () => Object.fromEntries(map),
  };
}

function formatDate(date, zone, pattern) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', {timeZone: zone, hourCycle: 'h23', year: 'numeric',
    month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit'})
    .formatToParts(date).map((p) => [p.type, p.value]));
  const tokens = {yyyy: parts.year, MM: parts.month, dd: parts.day, HH: parts.hour, mm: parts.minute, ss: parts.second};
  return pattern.replace(/'([^']*)'|yyyy|MM|dd|HH|mm|ss/g, (m, quoted) => (quoted !== undefined ? quoted : tokens[m]));
}

function makeUtilities(sleeps) {
  return {
    DigestAlgorithm: {SHA_256: 'sha256', MD5: 'md5'},
    Charset: {UTF_8: 'utf8'},
    computeDigest(algorithm, text) {
      return Array.from(crypto.createHash(algorithm).update(String(text), 'utf8').digest()).map((b) => (b > 127 ? b - 256 : b));
    },
    base64Encode: (bytes) => Buffer.from(bytes.map((b) => b & 255)).toString('base64'),
    formatDate,
    sleep: (ms) => { sleeps.push(ms); },
  };
}

function makeSheet() {
  const cells = {};
  const range = (a1) => ({
    setValues(values) { cells[a1] = {values}; return this; },
    setFormula(formula) { cells[a1] = {formula}; return this; },
  });
  return {cells, getRange: range};
}

/** Load Code.gs into a fresh vm context; see the usage at the top of this file. */
function loadCode(options = {}) {
  const o = Object.assign({spreadsheetTimeZone: 'Etc/UTC'}, options);
  const requests = [];
  const sleeps = [];
  const clock = {offsetMs: 0};
  const cache = makeCache(() => Date.now() + clock.offsetMs);
  const settings = {};
  if (o.apiUrl !== undefined) settings.EVBILL_API_URL = o.apiUrl;
  if (o.apiKey !== undefined) settings.EVBILL_API_KEY = o.apiKey;
  if (o.tariffId !== undefined) settings.EVBILL_TARIFF_ID = o.tariffId;
  if (o.timeZone !== undefined) settings.EVBILL_TIME_ZONE = o.timeZone;
  const userProps = makeProps(o.shared ? {} : settings);
  const docProps = makeProps(o.shared ? settings : {});
  const ui = {menus: [], sidebars: []};
  const sheet = makeSheet();
  const sandbox = {
    console,
    UrlFetchApp: makeUrlFetch(requests),
    CacheService: {getDocumentCache: () => cache, getScriptCache: () => cache, getUserCache: () => cache},
    PropertiesService: {getUserProperties: () => userProps, getDocumentProperties: () => docProps,
      getScriptProperties: () => makeProps({})},
    Utilities: makeUtilities(sleeps),
    Session: {getScriptTimeZone: () => 'Etc/UTC'},
    SpreadsheetApp: {
      getActiveSpreadsheet: () => ({getSpreadsheetTimeZone: () => o.spreadsheetTimeZone}),
      getActiveSheet: () => sheet,
      getUi: () => ({
        createAddonMenu() {
          const menu = {items: []};
          const builder = {
            addItem(label, fn) { menu.items.push([label, fn]); return builder; },
            addToUi() { ui.menus.push(menu); },
          };
          return builder;
        },
        showSidebar(html) { ui.sidebars.push(html); },
      }),
    },
    HtmlService: {
      createHtmlOutputFromFile(name) {
        const content = fs.readFileSync(path.join(SRC, `${name}.html`), 'utf8');
        const out = {content, title: null, setTitle(t) { out.title = t; return out; }};
        return out;
      },
    },
  };
  const gas = vm.createContext(sandbox);
  vm.runInContext(fs.readFileSync(path.join(SRC, 'Code.gs'), 'utf8'), gas, {filename: 'Code.gs'});
  if (o.limits) Object.assign(gas.EVBILL_LIMITS, o.limits);
  const call = (name, ...args) => {
    const value = gas[name](...args);
    return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  };
  return {gas, call, requests, sleeps, cache, clock, userProps, docProps, ui, sheet};
}

module.exports = {loadCode, formatDate, SRC};
