/**
 * Node harness for excel_addin/src/functions.js: runs the file in a vm context with small stand-ins for
 * CustomFunctions (associate, Error, ErrorCode) and OfficeRuntime (storage, auth.getAccessToken), and
 * Node's REAL fetch restricted to 127.0.0.1 (no live network in tests).
 *
 *   const {loadFunctions} = require('./harness.js');
 *   const x = loadFunctions({storage: {EVBILL_API_URL: url, EVBILL_API_KEY: key}});
 *   await x.call('COST', [[10]], [[60]], [['2026-01-13T14:00']], [['T-TOU']]);  // -> [[4.76]] (plain JSON)
 *   x.requests  // every request sent: {url, method, headers, body}
 * Options: storage (initial OfficeRuntime.storage items), token (what getAccessToken resolves to; an Error
 * instance rejects), limits (override EVBILL_LIMITS), file (another functions.js to load),
 * naa (the host supports the NestedAppAuth 1.1 requirement set), msal (a stand-in of MSAL.js's global:
 * the NAA bridge exists only inside an Office host, so its token calls are scripted; see naaStandIn).
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const SRC = path.join(__dirname, '..', 'src');

class CustomFunctionError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

const ErrorCode = {invalidValue: '#VALUE!', notAvailable: '#N/A', divisionByZero: '#DIV/0!',
  invalidNumber: '#NUM!', nullReference: '#NULL!', invalidName: '#NAME?', invalidReference: '#REF!'};

function makeStorage(initial) {
  const map = new Map(Object.entries(initial || {}));
  const later = (v) => new Promise((resolve) => setImmediate(() => resolve(v)));  // async like Office's
  return {
    map,
    getItem: (k) => later(map.has(k) ? map.get(k) : null),
    getItems: (keys) => later(Object.fromEntries(keys.map((k) => [k, map.has(k) ? map.get(k) : null]))),
    setItem: (k, v) => { map.set(k, String(v)); return later(undefined); },
    setItems: (values) => { Object.entries(values).forEach(([k, v]) => map.set(k, String(v))); return later(undefined); },
    removeItem: (k) => { map.delete(k); return later(undefined); },
    removeItems: (keys) => { keys.forEach((k) => map.delete(k)); return later(undefined); },
    getKeys: () => later(Array.from(map.keys())),
  };
}

function loopbackFetch(log) {
  return async (url, init = {}) => {
    const host = new URL(url).hostname;
    if (host !== '127.0.0.1' && host !== 'localhost') throw new TypeError(`test stand-in: refusing non-loopback URL ${url}`);
    log.push({url, method: init.method || 'GET', headers: Object.assign({}, init.headers || {}), body: init.body});
    return fetch(url, init);
  };
}

/** Load functions.js (and optionally taskpane.js) into a fresh vm context. */
function loadFunctions(options = {}) {
  const requests = [];
  const associated = {};
  const tokenCalls = [];
  const storage = makeStorage(options.storage);
  const sandbox = {
    console, setTimeout, clearTimeout, setImmediate, URL,
    fetch: loopbackFetch(requests),
    CustomFunctions: {
      associate(id, fn) { associated[id] = fn; },
      Error: CustomFunctionError,
      ErrorCode,
    },
    OfficeRuntime: {
      storage,
      auth: {
        getAccessToken(opts) {
          tokenCalls.push(opts);
          if (options.token instanceof Error) return Promise.reject(options.token);
          if (!options.token) return Promise.reject(Object.assign(new Error('no SSO'), {code: 13003}));
          return Promise.resolve(options.token);
        },
      },
    },
  };
  sandbox.Office = {context: {requirements: {isSetSupported: (name, version) =>
    Boolean(options.naa) && name === 'NestedAppAuth' && version === '1.1'}}};
  if (options.msal) sandbox.msal = options.msal;
  sandbox.globalThis = sandbox;
  const context = vm.createContext(sandbox);
  for (const file of options.files || ['functions.js']) {
    vm.runInContext(fs.readFileSync(path.join(SRC, file), 'utf8'), context, {filename: file});
  }
  if (options.limits) Object.assign(context.EVBILL_LIMITS, options.limits);
  const call = async (id, ...args) => JSON.parse(JSON.stringify(await associated[id](...args)));
  return {context, associated, call, requests, storage, tokenCalls, CustomFunctionError};
}

/**
 * MSAL.js's NAA surface as functions.js uses it (createNestablePublicClientApplication, acquireTokenSilent,
 * acquireTokenPopup, InteractionRequiredAuthError). ``silent``: a token, or 'interaction' to make the
 * silent call fail as MSAL does when consent or sign-in is needed; ``popup``: the token the popup gives.
 */
function naaStandIn({silent, popup}) {
  class InteractionRequiredAuthError extends Error {
    constructor(errorCode) { super(errorCode); this.errorCode = errorCode; }
  }
  const calls = [];
  return {
    calls,
    InteractionRequiredAuthError,
    createNestablePublicClientApplication(config) {
      calls.push(['create', config]);
      return Promise.resolve({
        acquireTokenSilent(request) {
          calls.push(['silent', request]);
          if (silent === 'interaction') return Promise.reject(new InteractionRequiredAuthError('consent_required'));
          return Promise.resolve({accessToken: silent});
        },
        acquireTokenPopup(request) {
          calls.push(['popup', request]);
          return popup ? Promise.resolve({accessToken: popup}) : Promise.reject(new Error('user_cancelled'));
        },
      });
    },
  };
}

module.exports = {loadFunctions, naaStandIn, ErrorCode, SRC};
