'use strict';
// `npm test`: the app as Zapier loads it. Validated with zapier-platform-schema (as `zapier validate`),
// output fields generated from the OpenAPI spec (lib/fields.json), samples in the API's decimal money,
// the webhook signature check, and the anomaly trigger's sample list from GET /v1/anomalies.
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const zapierSchema = require('zapier-platform-schema');
const schemaTools = require('zapier-platform-core/src/tools/schema');
const cleaner = require('zapier-platform-core/src/tools/cleaner');

const app = require('../index');
const fields = require('../lib/fields.json');
const hook = require('../lib/hook');

const items = () => ['triggers', 'creates', 'searches'].flatMap((kind) => Object.values(app[kind]));
const MONEY = /(^|__)(net_total|tax_total|gross_total|amount_due|excl_vat|incl_vat|expected|billed|paid|difference)$/;

const flatten = (value, prefix = '') => Object.entries(value || {}).flatMap(([key, inner]) => {
  const full = prefix ? `${prefix}__${key}` : key;
  return inner && typeof inner === 'object' && !Array.isArray(inner) ? flatten(inner, full) : [[full, inner]];
});

test('the app definition validates against the Zapier schema', () => {
  const compiled = schemaTools.compileApp(app);
  const cleaned = JSON.parse(JSON.stringify(cleaner.recurseCleanFuncs(compiled)));
  const results = zapierSchema.validateAppDefinition(cleaned);
  assert.deepStrictEqual((results.errors || []).map((e) => `${e.property}: ${e.message}`), []);
});

test('event triggers, creates and searches show labelled output fields generated from the spec', () => {
  for (const item of items()) {
    if (item.operation.type !== 'hook' && !fields[item.key]) continue; // dropdown lists
    assert.strictEqual(item.operation.outputFields, fields[item.key], item.key);
    assert.ok(item.operation.outputFields.length > 3, item.key);
    for (const field of item.operation.outputFields) {
      assert.ok(field.key && field.label && !/\b(Id|Vat)\b/.test(field.label), `${item.key}: ${field.label}`);
    }
    const known = new Set(item.operation.outputFields.map((f) => f.key));
    for (const [key] of flatten(item.operation.sample)) {
      assert.ok(known.has(key), `${item.key}: sample field ${key} is not an output field of the spec`);
    }
  }
});

test('samples carry money as decimal strings, as the API answers (never cents)', () => {
  let checked = 0;
  for (const item of items()) {
    for (const [key, value] of flatten(item.operation.sample)) {
      if (MONEY.test(key)) {
        assert.match(String(value), /^-?\d+\.\d+$/, `${item.key}.${key} = ${value}`);
        checked += 1;
      }
    }
  }
  assert.ok(checked >= 8, `only ${checked} amounts in the samples`);
});

test('the signature check accepts the API key secret and refuses a forged body or an old timestamp', () => {
  const now = 1767225600;
  const content = '{"type":"session.billed"}';
  const sign = (body, ts) => `v1=${crypto.createHmac('sha256', 'whsec_1').update(`${ts}.${body}`).digest('hex')}`;
  const raw = (body, ts, sig) => ({ content: body, headers: { 'X-Evbill-Timestamp': String(ts), 'X-Evbill-Signature': sig } });
  assert.strictEqual(hook.verifySignature(raw(content, now, sign(content, now)), 'whsec_1', now), true);
  assert.throws(() => hook.verifySignature(raw(`${content} `, now, sign(content, now)), 'whsec_1', now), /does not match/);
  assert.throws(() => hook.verifySignature(raw(content, now - 301, sign(content, now - 301)), 'whsec_1', now), /300 s/);
});

test('the anomaly trigger samples the latest anomalies of GET /v1/anomalies', async () => {
  const anomaly = { id: 'an_9', rule: 'long_session', severity: 'medium', session_id: 'S-9', message: 'over 24 h' };
  const urls = [];
  const z = { request: async ({ url }) => { urls.push(url); return { data: { items: [anomaly] } }; } };
  const events = await app.triggers.billing_anomaly.operation.performList(z, { authData: { host_url: 'https://h.test/' } });
  assert.deepStrictEqual(urls, ['https://h.test/v1/anomalies']);
  assert.deepStrictEqual(events.map((e) => [e.type, e.data.anomaly]), [['billing.anomaly', anomaly]]);
});
