'use strict';
const fields = require('../lib/fields.json');
const { baseUrl } = require('../lib/http');

module.exports = {
  key: 'start_reconciliation',
  noun: 'Reconciliation',
  display: {
    label: 'Start Reconciliation',
    description: 'Starts a reconciliation run over a period and returns the run with its summary.',
  },
  operation: {
    inputFields: [
      { key: 'kind', label: 'Kind', required: true, choices: ['daily', 'monthly'], default: 'daily',
        helpText: 'A day or a month of sessions, compared with payments and CDRs.' },
      { key: 'period', label: 'Period', required: true, helpText: 'YYYY-MM-DD for daily, YYYY-MM for monthly.' },
      { key: 'stations', label: 'Stations', required: false, list: true, helpText: 'Only these station IDs.' },
    ],
    perform: async (z, bundle) => {
      const body = { kind: bundle.inputData.kind || 'daily', period: bundle.inputData.period };
      if (bundle.inputData.stations && bundle.inputData.stations.length) body.stations = bundle.inputData.stations;
      const response = await z.request({ url: `${baseUrl(bundle)}/v1/reconciliations`, method: 'POST', body });
      return response.data;
    },
    outputFields: fields.start_reconciliation,
    sample: { id: 'rec_1', kind: 'daily', period_start: '2026-01-13', period_end: '2026-01-13',
      summary: { expected: '3.57', billed: '3.57', paid: '0.00', difference: '0.00' } },
  },
};
