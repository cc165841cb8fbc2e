'use strict';
const { baseUrl } = require('../lib/http');

// Hidden trigger that feeds the Customer dropdown of the actions.
module.exports = {
  key: 'customer_list',
  noun: 'Customer',
  display: { label: 'List Customers', description: 'Lists customers for dropdowns.', hidden: true },
  operation: {
    perform: async (z, bundle) => {
      const response = await z.request({ url: `${baseUrl(bundle)}/v1/customers` });
      const items = (response.data && (response.data.items || response.data.customers)) || [];
      return items.map((c) => ({ ...c, id: c.id, name: c.name || c.id }));
    },
    sample: { id: 'C-42', name: 'Contoso Fleet', email: 'fleet@contoso.example' },
  },
};
