'use strict';
const fields = require('../lib/fields.json');
const { baseUrl } = require('../lib/http');

module.exports = {
  key: 'find_invoice',
  noun: 'Invoice',
  display: {
    label: 'Find Invoice',
    description: 'Finds an invoice by its ID, or the invoices of a customer or a session (optionally by status).',
  },
  operation: {
    inputFields: [
      { key: 'invoice_id', label: 'Invoice ID', required: false },
      { key: 'customer_id', label: 'Customer', dynamic: 'customer_list.id.name', required: false },
      { key: 'session_id', label: 'Session ID', required: false, helpText: 'The invoice that bills this session.' },
      { key: 'status', label: 'Status', required: false, helpText: 'For example draft, open, paid or void.' },
    ],
    perform: async (z, bundle) => {
      const { invoice_id: invoiceId, customer_id: customerId, session_id: sessionId, status } = bundle.inputData;
      if (invoiceId) {
        const response = await z.request({
          url: `${baseUrl(bundle)}/v1/invoices/${encodeURIComponent(invoiceId)}`, skipThrowForStatus: true,
        });
        if (response.status === 404) return [];
        if (response.status >= 400) throw new z.errors.Error(`API error ${response.status}`, 'ApiError', response.status);
        return [response.data];
      }
      const params = {};
      if (customerId) params.customer_id = customerId;
      if (sessionId) params.session_id = sessionId;
      if (status) params.status = status;
      const response = await z.request({ url: `${baseUrl(bundle)}/v1/invoices`, params });
      return (response.data && (response.data.items || response.data.invoices)) || [];
    },
    outputFields: fields.find_invoice,
    sample: { id: 'inv_1', number: 'INV-2026-0001', status: 'finalized', currency: 'EUR', gross_total: '12.50',
      amount_due: '12.50', customer: { id: 'C-42', email: 'fleet@contoso.example' } },
  },
};
