'use strict';
const hook = require('../lib/hook');
const { baseUrl } = require('../lib/http');

const sample = {
  id: 'evt_01HZXANOMALY',
  type: 'billing.anomaly',
  tenant_id: 't1',
  created_at: '2026-01-13T15:30:00Z',
  data: {
    anomaly: {
      id: 'an_1', rule: 'energy_spike', severity: 'warning', session_id: 'S-1001', station_id: 'DE*ABC*E1',
      message: 'Energy above the station maximum', details: {},
    },
  },
};

// Sample data: recent anomalies when the API lists them; otherwise the static sample (the API may not
// expose a list of anomalies).
const performList = async (z, bundle) => {
  const response = await z.request({
    url: `${baseUrl(bundle)}/v1/anomalies`, params: { limit: 3 }, skipThrowForStatus: true,
  });
  if (response.status !== 200) return [sample];
  const items = (response.data && (response.data.items || response.data.anomalies)) || [];
  return items.map((anomaly) => ({ id: `sample_${anomaly.id}`, type: 'billing.anomaly', data: { anomaly } }));
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
  },
};
