'use strict';
const fields = require('../lib/fields.json');
const { baseUrl } = require('../lib/http');
const { sessionFields, sessionFromInput } = require('../lib/session');

// The body of POST /v1/sessions/events (connector.models.session_event.SessionEvent).
const eventBody = (input) => {
  const { id, ...session } = sessionFromInput(input);
  return {
    event_id: input.event_id || `${id}:${input.event_type}`,
    type: input.event_type,
    session_id: id,
    timestamp: input.timestamp || session.end || session.start,
    source: 'zapier',
    session,
  };
};

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
      { key: 'event_id', label: 'Event ID', required: false,
        helpText: 'Idempotency key; defaults to `<session id>:<event type>` so a replayed Zap is not billed twice.' },
      { key: 'timestamp', label: 'Event Time', type: 'datetime', required: false,
        helpText: 'When it happened; defaults to the session end (or start).' },
      ...sessionFields,
    ],
    perform: async (z, bundle) => {
      const response = await z.request({
        url: `${baseUrl(bundle)}/v1/sessions/events`,
        method: 'POST',
        body: eventBody(bundle.inputData),
      });
      return response.data;
    },
    outputFields: fields.ingest_session_event,
    sample: { status: 'accepted', event_id: 'S-1001:end', session_id: 'S-1001' },
  },
};
