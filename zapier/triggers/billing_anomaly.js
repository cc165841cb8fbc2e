'use strict';
const hook = require('../lib/hook');

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

// Sample data while a user maps fields: the API has no list of anomalies (GET /v1/anomalies does not
// exist), so Zapier shows this documented sample until a real anomaly arrives.
const performList = async () => [sample];

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
