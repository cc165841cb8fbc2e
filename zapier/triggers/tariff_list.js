'use strict';
const { baseUrl } = require('../lib/http');

// Hidden trigger that feeds the Tariff dropdown of the actions.
module.exports = {
  key: 'tariff_list',
  noun: 'Tariff',
  display: { label: 'List Tariffs', description: 'Lists tariffs for dropdowns.', hidden: true },
  operation: {
    perform: async (z, bundle) => {
      const response = await z.request({ url: `${baseUrl(bundle)}/v1/tariffs` });
      const items = (response.data && (response.data.items || response.data.tariffs)) || [];
      return items.map((t) => ({ ...t, id: t.id, name: t.name || t.id }));
    },
    sample: { id: 'TARIFF-1', name: 'Standard AC', currency: 'EUR' },
  },
};
