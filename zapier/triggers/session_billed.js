'use strict';
const hook = require('../lib/hook');
const { baseUrl } = require('../lib/http');
const fields = require('../lib/fields.json');

const sample = {
  id: 'evt_01HZXSAMPLE',
  type: 'session.billed',
  tenant_id: 't1',
  created_at: '2026-01-13T15:30:00Z',
  data: {
    session: { id: 'S-1001', station_id: 'DE*ABC*E1', customer_id: 'C-42' },
    rating: { currency: 'EUR', total_cost: { excl_vat: '10.5000', incl_vat: '12.4950' } },
    // money is a decimal string with the currency's digits, as the API sends it (never cents)
    invoice: { id: 'inv_1', number: null, status: 'draft', currency: 'EUR', net_total: '10.50', tax_total: '2.00',
      gross_total: '12.50', amount_due: '12.50', customer: { id: 'C-42', email: 'fleet@contoso.example' } },
  },
};

// Sample data while a user maps fields: the latest invoices, shaped as session.billed events.
const performList = async (z, bundle) => {
  const response = await z.request({ url: `${baseUrl(bundle)}/v1/invoices` });
  const items = ((response.data && response.data.items) || []).slice(0, 3);
  return items.map((invoice) => ({
    id: `sample_${invoice.id}`, type: 'session.billed', tenant_id: invoice.tenant_id,
    created_at: invoice.issued_at || sample.created_at, data: { session: {}, rating: {}, invoice },
  }));
};

module.exports = {
  key: 'session_billed',
  noun: 'Session',
  display: {
    label: 'Session Billed',
    description: 'Triggers when a charging session has been rated and its invoice line created.',
  },
  operation: {
    type: 'hook',
    performSubscribe: hook.subscribe('session.billed'),
    performUnsubscribe: hook.unsubscribe,
    perform: hook.perform('session.billed'),
    performList,
    sample,
    outputFields: fields.session_billed,
  },
};
