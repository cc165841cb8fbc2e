'use strict';
// Turns the descriptions that scripts/gen_connectors.py writes from the OpenAPI spec (triggers/, creates/,
// searches/) into Zapier operations. The descriptions say *what* to call and show; this file says *how*, once,
// so a new action is a line in zapier/overlay.yaml rather than another hand-written module.
const hook = require('./hook');
const { baseUrl } = require('./http');

const empty = (value) => value === undefined || value === null || value === '' ||
  (Array.isArray(value) && value.length === 0);

// `/v1/invoices/{invoice_id}` with the values of `params`, each path segment URL-encoded.
const url = (bundle, path, params = {}) => baseUrl(bundle) + path.replace(/\{(\w+)\}/g, (_, name) => {
  if (empty(params[name])) throw new Error(`${name} is required`);
  return encodeURIComponent(params[name]);
});

const setPath = (target, dotted, value) => {
  const parts = dotted.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    node[part] = node[part] && typeof node[part] === 'object' ? node[part] : {};
    node = node[part];
  }
  node[parts[parts.length - 1]] = value;
};

// The input values a request is built from: the user's, else the field's default, else (template / fallback)
// one made of other inputs, e.g. an idempotency key `<session id>:<event type>`.
const resolveInputs = (inputs, inputData) => {
  const values = {};
  for (const input of inputs) {
    const given = inputData[input.key];
    values[input.key] = empty(given) ? input.default : given;
  }
  for (const input of inputs) {
    if (!empty(values[input.key])) continue;
    if (input.fallback) values[input.key] = input.fallback.map((key) => values[key]).find((v) => !empty(v));
    if (empty(values[input.key]) && input.template) {
      const names = [...input.template.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
      if (names.every((name) => !empty(values[name]))) {
        values[input.key] = input.template.replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
      }
    }
  }
  return values;
};

// The JSON body: each non-empty input at its place (`to`), strings where the spec wants strings (a decimal
// mapped from a number field is sent as "22.5", never as a float).
const buildBody = (inputs, constants, inputData) => {
  const values = resolveInputs(inputs, inputData || {});
  const body = JSON.parse(JSON.stringify(constants || {}));
  for (const input of inputs) {
    let value = values[input.key];
    if (empty(value)) continue;
    if (input.string && typeof value === 'number') value = String(value);
    setPath(body, input.to, value);
  }
  return body;
};

// The generated description each operation was built from (for tests), kept out of the app definition.
const descriptions = new WeakMap();
const described = (d, item) => {
  descriptions.set(item, d);
  return item;
};
const descriptionOf = (item) => descriptions.get(item);

// `list.as` when the list answers the events themselves (scripts/gen_connectors.py WHOLE_EVENT).
const WHOLE_EVENT = '$event';

const itemsOf = (data, collection) => (collection ? (data && data[collection]) : data) || [];

const hookTrigger = (d) => described(d, {
  key: d.key,
  noun: d.noun,
  display: d.display,
  operation: {
    type: 'hook',
    performSubscribe: hook.subscribe(d.event, d.subscribe.path),
    performUnsubscribe: hook.unsubscribe(d.unsubscribe.path),
    perform: hook.perform(d.event),
    // While a user maps fields: the newest items of the list operation, shaped as the events the hook gets;
    // with `as: '$event'` the items are stored events already (GET /v1/events), passed on as they are.
    performList: async (z, bundle) => {
      const response = await z.request({ url: url(bundle, d.list.path), params: d.list.params || {} });
      const listed = itemsOf(response.data, d.list.collection).slice(0, 3);
      if (d.list.as === WHOLE_EVENT) return listed;
      return listed.map((item) => ({
        id: `sample_${item.id}`,
        type: d.event,
        tenant_id: item.tenant_id || d.sample.tenant_id,
        created_at: item.created_at || item.issued_at || d.sample.created_at,
        data: { [d.list.as]: item },
      }));
    },
    sample: d.sample,
    outputFields: d.outputFields,
  },
});

const dropdown = (d) => described(d, {
  key: d.key,
  noun: d.noun,
  display: d.display,
  operation: {
    perform: async (z, bundle) => {
      const response = await z.request({ url: url(bundle, d.list.path) });
      return itemsOf(response.data, d.list.collection).map((item) => ({
        ...item, id: item[d.valuePath], name: item[d.titlePath] || item[d.valuePath],
      }));
    },
    sample: d.sample,
  },
});

const create = (d) => described(d, {
  key: d.key,
  noun: d.noun,
  display: d.display,
  operation: {
    inputFields: d.inputFields,
    perform: async (z, bundle) => {
      const response = await z.request({
        url: url(bundle, d.request.path, bundle.inputData),
        method: d.request.method,
        body: buildBody(d.inputs, d.constants, bundle.inputData),
      });
      return response.data;
    },
    sample: d.sample,
    outputFields: d.outputFields,
  },
});

const search = (d) => described(d, {
  key: d.key,
  noun: d.noun,
  display: d.display,
  operation: {
    inputFields: d.inputFields,
    perform: async (z, bundle) => {
      const input = bundle.inputData || {};
      if (!empty(input[d.get.param])) {
        const response = await z.request({ url: url(bundle, d.get.path, input), skipThrowForStatus: true });
        if (response.status === 404) return [];
        if (response.status >= 400) {
          throw new z.errors.Error(`API error ${response.status}: ${response.content}`, 'ApiError', response.status);
        }
        return [response.data];
      }
      const params = {};
      for (const name of d.list.params) if (!empty(input[name])) params[name] = input[name];
      const response = await z.request({ url: url(bundle, d.list.path), params });
      return itemsOf(response.data, d.list.collection);
    },
    sample: d.sample,
    outputFields: d.outputFields,
  },
});

module.exports = { hookTrigger, dropdown, create, search, buildBody, resolveInputs, descriptionOf };
