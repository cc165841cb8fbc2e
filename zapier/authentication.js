'use strict';
const { baseUrl } = require('./lib/http');

// API key auth: the key goes in X-API-Key (added by beforeRequest); the host is per connection so each
// environment (test, prod) can point at its own API.
module.exports = {
  type: 'custom',
  fields: [
    {
      key: 'host_url',
      label: 'Host URL',
      required: true,
      type: 'string',
      helpText: 'Base URL of your billing connector API, e.g. `https://billing.contoso.com`.',
    },
    {
      key: 'api_key',
      label: 'API Key',
      required: true,
      type: 'password',
      helpText: 'A tenant API key from your billing administrator; it is sent as the `X-API-Key` header.',
    },
  ],
  test: async (z, bundle) => {
    const response = await z.request({ url: `${baseUrl(bundle)}/v1/tariffs`, method: 'GET' });
    return response.data;
  },
  connectionLabel: (z, bundle) => baseUrl(bundle).replace(/^https?:\/\//, ''),
};
