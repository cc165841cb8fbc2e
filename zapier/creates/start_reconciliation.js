'use strict';
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
      { key: 'kind', label: 'Kind', required: false, choices: ['payments', 'cdrs'], default: 'payments',
        helpText: 'What is compared with the billed sessions.' },
      { key: 'period_start', label: 'Period Start', required: true, helpText: 'First day, YYYY-MM-DD.' },
      { key: 'period_end', label: 'Period End', required: true, helpText: 'Last day, YYYY-MM-DD.' },
    ],
    perform: async (z, bundle) => {
      const body = { period_start: bundle.inputData.period_start, period_end: bundle.inputData.period_end };
      if (bundle.inputData.kind) body.kind = bundle.inputData.kind;
      const response = await z.request({ url: `${baseUrl(bundle)}/v1/reconciliations`, method: 'POST', body });
      return response.data;
    },
    sample: { id: 'rec_1', kind: 'payments', status: 'completed', summary: { expected: '0', billed: '0' } },
  },
};
