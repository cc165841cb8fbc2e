'use strict';
// Zapier Platform CLI app for the EV charging billing connector API (see docs/lowcode/zapier.md).
const { version } = require('./package.json');
const { version: platformVersion } = require('zapier-platform-core');

const authentication = require('./authentication');
const { addApiKey, explainProblems } = require('./lib/http');
const sessionBilled = require('./triggers/session_billed');
const billingAnomaly = require('./triggers/billing_anomaly');
const tariffList = require('./triggers/tariff_list');
const customerList = require('./triggers/customer_list');
const rateSession = require('./creates/rate_session');
const ingestSessionEvent = require('./creates/ingest_session_event');
const startReconciliation = require('./creates/start_reconciliation');
const findInvoice = require('./searches/find_invoice');

module.exports = {
  version,
  platformVersion,
  authentication,
  beforeRequest: [addApiKey],
  afterResponse: [explainProblems],
  triggers: {
    [sessionBilled.key]: sessionBilled,
    [billingAnomaly.key]: billingAnomaly,
    [tariffList.key]: tariffList,
    [customerList.key]: customerList,
  },
  creates: {
    [rateSession.key]: rateSession,
    [ingestSessionEvent.key]: ingestSessionEvent,
    [startReconciliation.key]: startReconciliation,
  },
  searches: {
    [findInvoice.key]: findInvoice,
  },
};
