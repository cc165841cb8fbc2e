'use strict';
// `npm test`, against the real API: tests/lowcode/test_zapier.py starts the billing API on 127.0.0.1 and runs
// `npm test` with EVBILL_API_URL and EVBILL_API_KEY; each step goes through zapier-platform-core's appTester
// as the Zap editor runs it. Without those variables these tests are skipped (and say so).
const test = require('node:test');
const assert = require('node:assert');
const zapier = require('zapier-platform-core');

const app = require('../index');

const appTester = zapier.createAppTester(app);
const BASE = process.env.EVBILL_API_URL;
const KEY = process.env.EVBILL_API_KEY;
const skip = BASE && KEY ? false : 'set EVBILL_API_URL and EVBILL_API_KEY to run against an API';
const authData = { host_url: BASE, api_key: KEY };
const bundle = (extra = {}) => ({ authData, ...extra });

const TARIFF = { id: 'T-ZAP', country_code: 'DE', party_id: 'EVB', currency: 'EUR', last_updated: '2026-01-01T00:00:00Z',
  elements: [{ price_components: [{ type: 'ENERGY', price: '0.30', vat: '19', step_size: 1 }] }] };
const CUSTOMER = { id: 'C-ZAP', name: 'Zap Fleet', email: 'zap@contoso.example', tax_region: 'DE', invoice_per_session: true };

const flatten = (value, prefix = '') => Object.entries(value || {}).flatMap(([key, inner]) => {
  const full = prefix ? `${prefix}__${key}` : key;
  return inner && typeof inner === 'object' && !Array.isArray(inner) ? flatten(inner, full) : [[full, inner]];
});

const post = async (path, body) => {
  const response = await fetch(`${BASE}${path}`, {
    method: 'POST', headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.ok([200, 201, 202].includes(response.status), `${path}: ${response.status} ${await response.text()}`);
};

// 10 kWh at 0.30 EUR/kWh + 19 % VAT: 3.00 net, 3.57 gross.
const session = (id, start = '2026-01-13T14:00:00Z', end = '2026-01-13T15:00:00Z') => ({
  session_id: id, start, end, energy_kwh: '10', tariff_id: TARIFF.id, customer_id: CUSTOMER.id,
  station_id: 'DE*EVB*E1', time_zone: 'Europe/Berlin' });

test('a Zap against the API', { skip }, async (t) => {
  await post('/v1/tariffs', TARIFF);
  await post('/v1/customers', CUSTOMER);

  await t.test('the connection test lists the tariffs; a wrong key asks to reconnect', async () => {
    await appTester(app.authentication.test, bundle());
    await assert.rejects(appTester(app.authentication.test, { authData: { ...authData, api_key: 'wrong' } }),
      /refused the credentials \(401\)/);
  });

  await t.test('the dropdowns list tariffs and customers', async () => {
    const tariffs = await appTester(app.triggers.tariff_list.operation.perform, bundle());
    const customers = await appTester(app.triggers.customer_list.operation.perform, bundle());
    assert.ok(tariffs.some((item) => item.id === TARIFF.id && item.name === TARIFF.id));
    assert.ok(customers.some((item) => item.id === CUSTOMER.id && item.name === 'Zap Fleet'));
  });

  await t.test('Rate Session prices without billing, money as decimal strings', async () => {
    const rated = await appTester(app.creates.rate_session.operation.perform, bundle({ inputData: session('S-ZT-R') }));
    assert.deepStrictEqual(rated.total_cost, { excl_vat: '3.0000', incl_vat: '3.5700' });
  });

  await t.test('Ingest Session Event bills the session; Find Invoice finds it by session and by ID', async () => {
    const done = await appTester(app.creates.ingest_session_event.operation.perform,
      bundle({ inputData: { event_type: 'end', ...session('S-ZT-1') } }));
    assert.deepStrictEqual([done.status, done.event_id], ['accepted', 'S-ZT-1:end']);
    const again = await appTester(app.creates.ingest_session_event.operation.perform,
      bundle({ inputData: { event_type: 'end', ...session('S-ZT-1') } }));
    assert.strictEqual(again.status, 'duplicate'); // a replayed Zap does not bill twice
    const [invoice] = await appTester(app.searches.find_invoice.operation.perform,
      bundle({ inputData: { session_id: 'S-ZT-1' } }));
    assert.deepStrictEqual([invoice.gross_total, invoice.amount_due, invoice.currency], ['3.57', '3.57', 'EUR']);
    const byId = await appTester(app.searches.find_invoice.operation.perform,
      bundle({ inputData: { invoice_id: invoice.id } }));
    assert.strictEqual(byId[0].id, invoice.id);
    assert.deepStrictEqual(await appTester(app.searches.find_invoice.operation.perform,
      bundle({ inputData: { invoice_id: 'no-such-invoice' } })), []);
    const events = await appTester(app.triggers.session_billed.operation.performList, bundle());
    assert.ok(events.some((e) => e.type === 'session.billed' && e.data.invoice.gross_total === '3.57'));
    // finalizing it: the Invoice Finalized trigger samples finalized invoices only
    await post(`/v1/invoices/${encodeURIComponent(invoice.id)}/finalize`, {});
    const finalized = await appTester(app.triggers.invoice_finalized.operation.performList, bundle());
    assert.deepStrictEqual(finalized.map((e) => [e.type, e.data.invoice.id, e.data.invoice.status]),
      [['invoice.finalized', invoice.id, 'finalized']]);
    assert.deepStrictEqual(await appTester(app.triggers.invoice_voided.operation.performList, bundle()), []);
  });

  await t.test('a credit note against a finalized invoice is what Credit Note Issued samples', async () => {
    await appTester(app.creates.ingest_session_event.operation.perform,
      bundle({ inputData: { event_type: 'end', ...session('S-ZT-CN') } }));
    const [invoice] = await appTester(app.searches.find_invoice.operation.perform,
      bundle({ inputData: { session_id: 'S-ZT-CN' } }));
    await post(`/v1/invoices/${encodeURIComponent(invoice.id)}/finalize`, {});
    assert.deepStrictEqual(await appTester(app.triggers.credit_note_issued.operation.performList, bundle()), []);
    await post(`/v1/invoices/${encodeURIComponent(invoice.id)}/credit-notes`, { amount: '1.19', reason: 'idle fee' });
    const credits = await appTester(app.triggers.credit_note_issued.operation.performList, bundle());
    assert.deepStrictEqual(credits.map((e) => {
      const n = e.data.invoice;
      return [e.type, n.kind, n.credit_note_of, n.status, n.gross_total, n.net_total, n.tax_total, n.currency];
    }), [['credit_note.issued', 'credit_note', invoice.id, 'finalized', '1.19', '1.00', '0.19', 'EUR']]);
    assert.match(credits[0].data.invoice.number, /^CN-/);
    // the invoice samples stay invoices: the credit note is not an Invoice Finalized sample
    const finalized = await appTester(app.triggers.invoice_finalized.operation.performList, bundle());
    assert.ok(finalized.every((e) => e.data.invoice.kind === 'invoice'), JSON.stringify(finalized));
  });

  await t.test('the anomaly trigger samples what GET /v1/anomalies lists', async () => {
    // a 30-hour session: billed, and flagged as longer than the threshold
    await appTester(app.creates.ingest_session_event.operation.perform, bundle({ inputData: {
      event_type: 'end', ...session('S-ZT-LONG', '2026-01-13T08:00:00Z', '2026-01-14T14:00:00Z') } }));
    const events = await appTester(app.triggers.billing_anomaly.operation.performList, bundle());
    const found = events.find((e) => e.data.anomaly.session_id === 'S-ZT-LONG');
    assert.ok(found, JSON.stringify(events));
    assert.strictEqual(found.type, 'billing.anomaly');
    assert.strictEqual(found.data.anomaly.rule, 'long_session');
  });

  await t.test('Start Reconciliation answers the run with decimal totals', async () => {
    const run = await appTester(app.creates.start_reconciliation.operation.perform,
      bundle({ inputData: { period: '2026-01-13' } }));
    assert.strictEqual(run.kind, 'daily');
    assert.match(String(run.summary.billed), /^\d+\.\d{2}$/);
    const events = await appTester(app.triggers.reconciliation_completed.operation.performList, bundle());
    assert.deepStrictEqual(events.map((e) => [e.type, e.data.reconciliation.id]), [['reconciliation.completed', run.id]]);
  });

  await t.test('Interim Cost Computed and Session Re-rated sample the stored events, as the hook sends them', async () => {
    // a session still charging: 5 kWh by 14:30, so its running cost is 1.50 net, 1.79 gross
    await post('/v1/sessions/events', { event_id: 'S-ZT-I:start', type: 'start', session_id: 'S-ZT-I',
      timestamp: '2026-01-13T14:00:00Z', session: { start: '2026-01-13T14:00:00Z',
        tariff_id: TARIFF.id, customer_id: CUSTOMER.id, station_id: 'DE*EVB*E1', time_zone: 'Europe/Berlin' } });
    await post('/v1/sessions/events', { event_id: 'S-ZT-I:update', type: 'update', session_id: 'S-ZT-I',
      timestamp: '2026-01-13T14:30:00Z', meter_samples: [['2026-01-13T14:30:00Z', '5']] });
    await post('/v1/billing/interim', { as_of: '2026-01-13T14:30:00Z', force: true });
    const interim = await appTester(app.triggers.session_interim.operation.performList, bundle());
    assert.deepStrictEqual(interim.map((e) => [e.type, e.data.session.id, e.data.as_of, e.data.rating.final,
      e.data.rating.total_cost, e.data.rating.invoice.amount_due]),
    [['session.interim', 'S-ZT-I', '2026-01-13T14:30:00+00:00', false, { excl_vat: '1.5000', incl_vat: '1.7850' },
      '1.79']]);
    // the energy price goes from 0.30 to 0.50 from January 1st; a billed session corrected: 3.57 -> 5.95 gross
    await appTester(app.creates.ingest_session_event.operation.perform,
      bundle({ inputData: { event_type: 'end', ...session('S-ZT-RR') } }));
    await post(`/v1/tariffs/${TARIFF.id}/versions`, { effective_at: '2026-01-01T00:00:00Z', policy: 'price_lock_at_start',
      tariff: { ...TARIFF, elements: [{ price_components: [{ type: 'ENERGY', price: '0.50', vat: '19', step_size: 1 }] }] } });
    await post('/v1/billing/corrections', { session_ids: ['S-ZT-RR'], reason: 'energy price was wrong' });
    const rerated = await appTester(app.triggers.session_rerated.operation.performList, bundle());
    assert.deepStrictEqual(rerated.map((e) => [e.type, e.data.session.id, e.data.policy, e.data.before.invoice.amount_due,
      e.data.after.invoice.amount_due, e.data.difference]),
    [['session.rerated', 'S-ZT-RR', 'correction', '3.57', '5.95', { net: '2.00', gross: '2.38' }],
      // newest first: the new version re-rated the session still charging too (5 kWh at 0.50: 2.50 net, 2.98 gross)
      ['session.rerated', 'S-ZT-I', 'price_lock_at_start', '1.79', '2.98', { net: '1.00', gross: '1.19' }]]);
    // each item is the stored event itself (its real id), with every field the trigger's sample shows
    for (const [key, events] of [['session_interim', interim], ['session_rerated', rerated]]) {
      assert.match(events[0].id, /^evt_[0-9a-f]{32}$/);
      assert.deepStrictEqual(Object.keys(events[0]).sort(), ['created_at', 'data', 'id', 'tenant_id', 'type']);
      const have = new Set(flatten(events[0]).map(([k]) => k));
      const shown = flatten(app.triggers[key].operation.sample).map(([k]) => k);
      assert.deepStrictEqual(shown.filter((k) => !have.has(k)), [], key);
    }
  });

  await t.test('turning the Zap on subscribes to session.billed; off unsubscribes', async () => {
    const sub = await appTester(app.triggers.session_billed.operation.performSubscribe,
      bundle({ targetUrl: `${BASE}/zapier-hook` }));
    assert.deepStrictEqual(sub.event_types, ['session.billed']);
    assert.ok(sub.secret && sub.location.startsWith(`${BASE}/v1/subscriptions/`));
    await appTester(app.triggers.session_billed.operation.performUnsubscribe, bundle({ subscribeData: sub }));
    const listed = await (await fetch(`${BASE}/v1/subscriptions`, { headers: { 'X-API-Key': KEY } })).json();
    assert.ok(!(listed.items || listed).some((s) => s.id === sub.id));
  });
});
