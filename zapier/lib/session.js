'use strict';
// The session fields a Zap maps (shared by Rate Session and Ingest Session Event).

const sessionFields = [
  { key: 'session_id', label: 'Session ID', required: true, helpText: 'Your unique id of the charging session.' },
  { key: 'start', label: 'Start', type: 'datetime', required: true, helpText: 'When charging started (ISO 8601).' },
  { key: 'end', label: 'End', type: 'datetime', required: false, helpText: 'When the session ended; empty while ongoing.' },
  { key: 'energy_kwh', label: 'Energy (kWh)', type: 'string', required: false,
    helpText: 'Total energy delivered, as a decimal string, e.g. `22.5`.' },
  { key: 'station_id', label: 'Station ID', required: false, helpText: 'The charging station (EVSE) id.' },
  { key: 'tariff_id', label: 'Tariff', dynamic: 'tariff_list.id.name', required: false,
    helpText: 'The tariff to price with; empty uses the station/customer default.' },
  { key: 'customer_id', label: 'Customer', dynamic: 'customer_list.id.name', required: false },
  { key: 'time_zone', label: 'Time Zone', required: false, default: 'UTC', helpText: 'IANA time zone of the station.' },
];

const sessionFromInput = (input) => {
  const session = { id: input.session_id, start: input.start };
  for (const key of ['end', 'energy_kwh', 'station_id', 'tariff_id', 'customer_id', 'time_zone']) {
    if (input[key] !== undefined && input[key] !== null && input[key] !== '') session[key] = input[key];
  }
  if (session.energy_kwh !== undefined) session.energy_kwh = String(session.energy_kwh);
  return session;
};

module.exports = { sessionFields, sessionFromInput };
