/**
 * EV billing task pane: save the API URL, the key or Microsoft sign-in, a default tariff and time zone.
 *
 * Why OfficeRuntime.storage: the custom functions (functions.js) read the same store, in the shared
 * runtime and in the JS-only runtime alike. The key never appears in a cell or in the workbook file.
 */
/* global Office, OfficeRuntime, document */
(function (root) {
  'use strict';

  var KEYS = {url: 'EVBILL_API_URL', key: 'EVBILL_API_KEY', tariff: 'EVBILL_TARIFF_ID', zone: 'EVBILL_TIME_ZONE',
    auth: 'EVBILL_AUTH', clientId: 'EVBILL_ENTRA_CLIENT_ID', scope: 'EVBILL_API_SCOPE'};

  /** https:// for a deployed API; http only for a local API on this machine. */
  function checkUrl(raw) {
    var url = String(raw || '').trim().replace(/\/+$/, '');
    if (!/^https:\/\/[^\s/]+/.test(url) && !/^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(url)) {
      throw new Error('url: use the https:// address of the billing API');
    }
    return url;
  }

  /** Save the form; an empty key field keeps the saved key. Returns what load() returns. */
  function save(form) {
    var auth = form.auth === 'entra' ? 'entra' : 'apikey';
    var values = {};
    values[KEYS.url] = checkUrl(form.url);
    values[KEYS.tariff] = String(form.tariff || '').trim();
    values[KEYS.zone] = String(form.zone || '').trim();
    values[KEYS.auth] = auth;
    values[KEYS.clientId] = String(form.clientId || '').trim();  // Entra app (client) id: enables NAA sign-in
    values[KEYS.scope] = String(form.scope || '').trim();  // e.g. api://<host>/<client id>/Billing.ReadWrite
    if (form.key) values[KEYS.key] = String(form.key).trim();
    return OfficeRuntime.storage.setItems(values).then(load);
  }

  /** The saved settings without the key itself. */
  function load() {
    var names = [KEYS.url, KEYS.key, KEYS.tariff, KEYS.zone, KEYS.auth, KEYS.clientId, KEYS.scope];
    return OfficeRuntime.storage.getItems(names).then(function (v) {
      return {url: v[KEYS.url] || '', tariff: v[KEYS.tariff] || '', zone: v[KEYS.zone] || '',
        auth: v[KEYS.auth] || 'apikey', clientId: v[KEYS.clientId] || '', scope: v[KEYS.scope] || '',
        hasKey: Boolean(v[KEYS.key])};
    });
  }

  /** Remove the key; cached results computed with it go too. */
  function forget() {
    if (root.EVBILL_CACHE) root.EVBILL_CACHE.clear();
    return OfficeRuntime.storage.removeItem(KEYS.key).then(load);
  }

  /** Tariffs of the key's (or the signed-in user's) tenant for the picker: GET /v1/tariffs. */
  function listTariffs() {
    return OfficeRuntime.storage.getItems([KEYS.url, KEYS.key, KEYS.auth]).then(function (v) {
      var token = root.EVBILL_TOKEN ? root.EVBILL_TOKEN()  // NAA when available, else Office SSO
        : OfficeRuntime.auth.getAccessToken({allowSignInPrompt: true});
      var headers = v[KEYS.auth] === 'entra'
        ? token.then(function (t) { return {Authorization: 'Bearer ' + t}; })
        : Promise.resolve({'X-API-Key': v[KEYS.key] || ''});
      return headers.then(function (h) {
        return fetch(checkUrl(v[KEYS.url]) + '/v1/tariffs', {headers: h});
      });
    }).then(function (response) {
      return response.json().then(function (body) {
        if (response.status !== 200) throw new Error('EVBILL API ' + response.status + ': ' + (body.detail || body.title));
        return body.items.map(function (t) { return {id: t.id, currency: t.currency, version: t.current_version}; });
      });
    });
  }

  root.EVBILL_PANE = {save: save, load: load, forget: forget, listTariffs: listTariffs, checkUrl: checkUrl};

  // --- wiring to taskpane.html (only in Excel: Node tests have no document)
  if (typeof Office === 'undefined' || typeof document === 'undefined') return;
  Office.onReady(function () {
    var $ = function (id) { return document.getElementById(id); };
    var show = function (text) { $('status').textContent = text; };
    var fill = function (s) {
      $('url').value = s.url; $('tariff').value = s.tariff; $('zone').value = s.zone;
      $('client-id').value = s.clientId; $('scope').value = s.scope;
      $('auth-' + s.auth).checked = true;
      $('key').placeholder = s.hasKey ? 'saved (leave empty to keep)' : 'API key';
    };
    load().then(fill);
    $('save').onclick = function () {
      save({url: $('url').value, key: $('key').value, tariff: $('tariff').value, zone: $('zone').value,
        auth: $('auth-entra').checked ? 'entra' : 'apikey', clientId: $('client-id').value, scope: $('scope').value})
        .then(function (s) { $('key').value = ''; fill(s); show('Saved.'); }, function (e) { show(e.message); });
    };
    $('forget').onclick = function () { forget().then(fill).then(function () { show('Key removed.'); }); };
    $('clear-cache').onclick = function () {
      root.EVBILL_CACHE.clear();
      show('Cached results cleared: the next recalculation rates every row again.');
    };
    $('test').onclick = function () {
      listTariffs().then(function (items) {
        show(items.length + ' tariffs: ' + items.map(function (t) { return t.id + ' (' + t.currency + ')'; }).join(', '));
      }, function (e) { show(e.message); });
    };
  });
})(typeof globalThis !== 'undefined' ? globalThis : this);
