'use strict';
const hook = require('../lib/hook');
const { baseUrl } = require('../lib/http');
const fields = require('../lib/fields.json');

const sample = {
  id: 'evt_01HZXANOMALY',
  type: 'billing.anomaly',
  tenant_id: 't1',
  created_at: '2026-01-13T15:30:00Z',
  data: {
    anomaly: {
      id: 'an_1', rule: 'implausible_energy', severity: 'high', session_id: 'S-1001', station_id: 'DE*ABC*E1',
      message: 'Energy above the station maximum', details: {},
    },
  },
};

// Sample data while a user maps fields: the latest anomalies from GET /v1/anomalies, shaped as the
// billing.anomaly events the hook receives (the documented sample while there are none yet).
const performList = async (z, bundle) => {
  const response = await z.request({ url: `${baseUrl(bundle)}/v1/anomalies` });
  const items = ((response.data && response.data.items) || []).slice(0, 3);
  return items.map((anomaly) => ({
    id: `sample_${anomaly.id}`, type: 'billing.anomaly', tenant_id: sample.tenant_id,
    created_at: anomaly.created_at || sample.created_at, data: { anomaly },
  }));
};

module.exports = {
  key: 'billing_anomaly',
  noun: 'Anomaly',
  display: {
    label: 'Billing Anomaly Detected',
    description: 'Triggers when a billing rule flags a suspicious session, for example an energy spike.',
  },
  operation: {
    type: 'hook',
    performSubscribe: hook.subscribe('billing.anomaly'),
    performUnsubscribe: hook.unsubscribe,
    perform: hook.perform('billing.anomaly'),
    performList,
    sample,
    outputFields: fields.billing_anomaly,
  },
};
