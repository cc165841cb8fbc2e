'use strict';
const fields = require('../lib/fields.json');
const { baseUrl } = require('../lib/http');
const { sessionFields, sessionFromInput } = require('../lib/session');

// The body of POST /v1/rate: the session plus the tariff (and customer) to price it with.
const rateBody = (input) => {
  const body = { session: sessionFromInput(input) };
  if (input.tariff_id) body.tariff_id = input.tariff_id;
  if (input.customer_id) body.customer_id = input.customer_id;
  return body;
};

module.exports = {
  key: 'rate_session',
  noun: 'Rating',
  display: {
    label: 'Rate Session',
    description: 'Prices a charging session with its tariff and returns the cost, taxes and invoice view.',
  },
  operation: {
    inputFields: sessionFields,
    perform: async (z, bundle) => {
      const response = await z.request({
        url: `${baseUrl(bundle)}/v1/rate`,
        method: 'POST',
        body: rateBody(bundle.inputData),
      });
      return response.data;
    },
    outputFields: fields.rate_session,
    sample: { session_id: 'S-1001', currency: 'EUR', total_cost: { excl_vat: '10.5000', incl_vat: '12.4950' } },
  },
};
