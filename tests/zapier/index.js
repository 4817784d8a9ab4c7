'use strict';

// A small Zapier integration for Switchboard, as an integrator would write
// it with Zapier's SDK (zapier-platform-core): a connection test against
// GET /zapier/v1/me and one REST-hook trigger per Switchboard event
// (docs/webhooks.md, "Zapier REST hooks"). Self-hosted, so the connection
// asks for the server's base URL beside the API key.

const fs = require('node:fs');
const path = require('node:path');

// The SDK's version (its package.json is not an export of the package).
const platformVersion = JSON.parse(
  fs.readFileSync(path.join(path.dirname(require.resolve('zapier-platform-core')), 'package.json')),
).version;

const EVENTS = require('./events');

const base = (bundle) => String(bundle.authData.base_url || '').replace(/\/+$/, '');

// Every request carries the key as a bearer token.
const addKey = (request, z, bundle) => {
  if (bundle.authData.api_key) {
    request.headers = request.headers || {};
    request.headers.Authorization = `Bearer ${bundle.authData.api_key}`;
  }
  return request;
};

// Switchboard's errors are {"error", "code"}: say them in Zapier's terms.
const explainErrors = (response, z) => {
  if (response.status >= 400) {
    let message = response.content;
    try {
      message = JSON.parse(response.content).error || message;
    } catch (e) {
      // not JSON: keep the text
    }
    if (response.status === 401) {
      throw new z.errors.RefreshAuthError(message);
    }
    throw new z.errors.Error(message, `http_${response.status}`, response.status);
  }
  return response;
};

const testAuth = async (z, bundle) => {
  const response = await z.request({ url: `${base(bundle)}/zapier/v1/me` });
  return response.data;
};

const trigger = (event) => ({
  key: event,
  noun: event.startsWith('customer') ? 'Customer' : 'Conversation',
  display: {
    label: `New ${event.replace(/_/g, ' ')} event`,
    description: `Triggers on Switchboard's \`${event}\` event.`,
  },
  operation: {
    type: 'hook',
    performSubscribe: async (z, bundle) => {
      const response = await z.request({
        url: `${base(bundle)}/zapier/v1/hooks`,
        method: 'POST',
        body: { target_url: bundle.targetUrl, event },
      });
      return response.data;
    },
    performUnsubscribe: async (z, bundle) => {
      const response = await z.request({
        url: `${base(bundle)}/zapier/v1/hooks/${bundle.subscribeData.id}`,
        method: 'DELETE',
      });
      return response.data;
    },
    // A delivery's body is the item: it carries the same `id` as the
    // performList samples, so Zapier deduplicates on it.
    perform: (z, bundle) => [bundle.cleanedRequest],
    performList: async (z, bundle) => {
      const response = await z.request({ url: `${base(bundle)}/zapier/v1/samples/${event}` });
      return response.data;
    },
    sample: { id: 1, event },
  },
});

module.exports = {
  version: require('./package.json').version,
  platformVersion,
  authentication: {
    type: 'custom',
    fields: [
      { key: 'base_url', label: 'Switchboard URL', required: true, type: 'string' },
      { key: 'api_key', label: 'API key', required: true, type: 'password' },
    ],
    test: testAuth,
    connectionLabel: '{{company_username}}',
  },
  beforeRequest: [addKey],
  afterResponse: [explainErrors],
  triggers: Object.fromEntries(EVENTS.map((e) => [e, trigger(e)])),
};
