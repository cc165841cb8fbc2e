'use strict';
// REST-hook plumbing shared by the event triggers: subscribe with the Zap's target URL, unsubscribe via the
// Location the API returned, and verify each delivery's HMAC-SHA256 signature over `timestamp.body`.
const crypto = require('crypto');
const { baseUrl } = require('./http');

const subscribe = (eventType, path = '/v1/subscriptions') => async (z, bundle) => {
  const response = await z.request({
    url: `${baseUrl(bundle)}${path}`,
    method: 'POST',
    body: { callback_url: bundle.targetUrl, event_types: [eventType] },
  });
  const data = response.data || {};
  const location = response.getHeader ? response.getHeader('location') : response.headers.get('location');
  return { ...data, location: new URL(location || `/v1/subscriptions/${data.id}`, `${baseUrl(bundle)}/`).href };
};

// `path` (e.g. /v1/subscriptions/{subscription_id}) is only used when the subscription has no Location.
const unsubscribe = (path = '/v1/subscriptions/{id}') => async (z, bundle) => {
  const sub = bundle.subscribeData || {};
  const url = sub.location || `${baseUrl(bundle)}${path.replace(/\{\w+\}/, encodeURIComponent(sub.id))}`;
  const response = await z.request({ url, method: 'DELETE', skipThrowForStatus: true });
  if (response.status >= 400 && response.status !== 404) {
    throw new z.errors.Error(`Could not unsubscribe (${response.status})`, 'ApiError', response.status);
  }
  return {};
};

const header = (headers, name) => {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers || {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
};

const TOLERANCE_SECONDS = 300;

// Returns true when the delivery carries a valid signature for `secret`, false when there is no secret to
// check with; throws when the signature is missing, wrong or too old (replay). Same scheme as
// connector/security/hmac_sign.py: X-Evbill-Timestamp + X-Evbill-Signature: v1=<hex>[,v1=<hex>...].
const verifySignature = (rawRequest, secret, now = Date.now() / 1000) => {
  if (!rawRequest || !secret) return false;
  const headers = typeof rawRequest.headers === 'string' ? JSON.parse(rawRequest.headers) : rawRequest.headers;
  const timestamp = header(headers, 'X-Evbill-Timestamp');
  const signature = header(headers, 'X-Evbill-Signature');
  if (!timestamp || !signature) {
    throw new Error('Webhook is not signed: the event was not sent by the billing API');
  }
  if (!/^\d+$/.test(String(timestamp).trim()) || Math.abs(now - Number(timestamp)) > TOLERANCE_SECONDS) {
    throw new Error('Webhook timestamp is outside the 300 s window (replayed or delayed event)');
  }
  const expected = crypto.createHmac('sha256', secret).update(`${String(timestamp).trim()}.${rawRequest.content}`)
    .digest('hex');
  const given = String(signature).split(',').map((part) => part.trim().replace(/^v1=/, ''));
  const matches = given.some((value) => value.length === expected.length &&
    crypto.timingSafeEqual(Buffer.from(value), Buffer.from(expected)));
  if (!matches) {
    throw new Error('Webhook signature does not match: the event was not sent by the billing API');
  }
  return true;
};

const perform = (eventType) => (z, bundle) => {
  const event = bundle.cleanedRequest || {};
  if (event.type && event.type !== eventType) return [];
  verifySignature(bundle.rawRequest, (bundle.subscribeData || {}).secret);
  return [event];
};

module.exports = { subscribe, unsubscribe, perform, verifySignature, header };
