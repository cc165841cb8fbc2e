'use strict';
const { baseUrl } = require('../lib/http');
const { sessionFields, sessionFromInput } = require('../lib/session');

module.exports = {
  key: 'ingest_session_event',
  noun: 'Session Event',
  display: {
    label: 'Ingest Session Event',
    description: 'Records a session start, update or end; an end bills the session and raises Session Billed.',
  },
  operation: {
    inputFields: [
      { key: 'event_type', label: 'Event Type', required: true, choices: ['start', 'update', 'end'], default: 'end' },
      ...sessionFields,
    ],
    perform: async (z, bundle) => {
      const response = await z.request({
        url: `${baseUrl(bundle)}/v1/sessions/events`,
        method: 'POST',
        body: { type: bundle.inputData.event_type, session: sessionFromInput(bundle.inputData) },
      });
      return response.data;
    },
    sample: { session_id: 'S-1001', status: 'billed' },
  },
};
