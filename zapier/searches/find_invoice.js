'use strict';
const { baseUrl } = require('../lib/http');

module.exports = {
  key: 'find_invoice',
  noun: 'Invoice',
  display: {
    label: 'Find Invoice',
    description: 'Finds an invoice by its ID, or the latest invoices of a customer (optionally by status).',
  },
  operation: {
    inputFields: [
      { key: 'invoice_id', label: 'Invoice ID', required: false },
      { key: 'customer_id', label: 'Customer', dynamic: 'customer_list.id.name', required: false },
      { key: 'status', label: 'Status', required: false, choices: ['draft', 'open', 'paid', 'void'] },
    ],
    perform: async (z, bundle) => {
      const { invoice_id: invoiceId, customer_id: customerId, status } = bundle.inputData;
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
      if (status) params.status = status;
      const response = await z.request({ url: `${baseUrl(bundle)}/v1/invoices`, params });
      return (response.data && (response.data.items || response.data.invoices)) || [];
    },
    sample: { id: 'inv_1', number: 'INV-2026-0001', status: 'open', currency: 'EUR', gross_total: '1250' },
  },
};
