'use strict';

// Runs the integration in index.js with Zapier's own SDK
// (zapier-platform-core's createAppTester, its output checks, and its
// app validation with zapier-platform-schema) against a real Switchboard:
//
//   SWITCHBOARD_URL=http://127.0.0.1:8080 SWITCHBOARD_KEY=sbk_... node driver.js
//
// The key needs webhooks.CREATE, webhooks.DELETE and conversations.CREATE
// and .UPDATE, and the server must be allowed to deliver to loopback (this
// script receives the delivery itself). tests/tests/e2e/zapier_sdk.rs runs
// it against the server on port 0.

// Zapier's checks throw (rather than log) when testing.
process.env.NODE_ENV = 'test';

const assert = require('node:assert/strict');
const http = require('node:http');
const zapier = require('zapier-platform-core');
const checks = require('zapier-platform-core/src/checks/index');
const { prepareApp, validateApp } = require('zapier-platform-core/src/tools/schema');

const App = require('./index');
const EVENTS = require('./events');

const baseUrl = process.env.SWITCHBOARD_URL;
const apiKey = process.env.SWITCHBOARD_KEY;
if (!baseUrl || !apiKey) {
  console.error('set SWITCHBOARD_URL and SWITCHBOARD_KEY');
  process.exit(2);
}
const authData = { base_url: baseUrl, api_key: apiKey };
const appTester = zapier.createAppTester(App);

const step = (what) => console.log(`zapier: ${what}`);

// The checks Zapier runs on a trigger's items (triggerIsArray,
// triggerIsObject, triggerHasUniquePrimary, triggerHasId), run on `items`
// as the output of the trigger's perform without a hook request: what
// Zapier does with the items of a polling call or a sample.
const zapierChecks = (event, items) => {
  const method = `triggers.${event}.operation.perform`;
  const bundle = {};
  return Object.values(checks)
    .filter((c) => c.name.startsWith('trigger') && c.shouldRun(method, bundle, App))
    .flatMap((c) => c.run(method, items, App, bundle).map((e) => `${c.name}: ${e}`));
};

// A receiver on loopback for the hook's deliveries.
const receiver = () =>
  new Promise((resolve) => {
    const received = [];
    const waiters = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push({ headers: req.headers, body: JSON.parse(body) });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        waiters.splice(0).forEach((w) => w());
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}/hooks/standard/1/zap/`;
      const next = (ms) =>
        new Promise((ok, fail) => {
          if (received.length > 0) return ok(received.shift());
          const timer = setTimeout(() => fail(new Error(`no delivery within ${ms} ms`)), ms);
          waiters.push(() => {
            clearTimeout(timer);
            ok(received.shift());
          });
        });
      resolve({ url, next, close: () => server.close() });
    });
  });

// A plain call to the server (what the chatbot back end does).
const call = async (method, path, body) => {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
};

const main = async () => {
  const started = Date.now();

  step('the app definition passes zapier-platform-schema (as `zapier validate` runs it)');
  assert.deepEqual(validateApp(prepareApp(App)), []);

  step('authentication test: GET /zapier/v1/me');
  const me = await appTester(App.authentication.test, { authData });
  assert.equal(typeof me.company_username, 'string');
  assert.ok(me.company_username.length > 0);
  await assert.rejects(
    appTester(App.authentication.test, { authData: { ...authData, api_key: 'sbk_wrong' } }),
    (e) => e.name === 'RefreshAuthError',
    'a wrong key fails the connection test',
  );

  step('performList of every event passes Zapier\'s trigger checks (triggerHasId, ...)');
  for (const event of EVENTS) {
    const items = await appTester(App.triggers[event].operation.performList, { authData });
    assert.ok(Array.isArray(items) && items.length > 0, `${event}: ${JSON.stringify(items)}`);
    assert.deepEqual(zapierChecks(event, items), [], event);
  }

  const hooks = await receiver();
  try {
    step('performSubscribe: POST /zapier/v1/hooks');
    const subscribeData = await appTester(App.triggers.email_updated.operation.performSubscribe, {
      authData,
      targetUrl: hooks.url,
    });
    assert.ok(subscribeData.id !== undefined && subscribeData.id !== null, JSON.stringify(subscribeData));
    assert.equal(subscribeData.event, 'email_updated');
    assert.equal(subscribeData.target_url, hooks.url);

    step('a real delivery: the chatbot sets an email');
    const session = `zapier-${Date.now()}`;
    await call('POST', '/chatbot/v1/chatlog', { sessionid: session, name: 'Zed', country: 'NO' });
    await call('PUT', '/chatbot/v1/chatlog/email', { sessionid: session, email: 'zed@example.com' });
    const delivery = await hooks.next(20000);
    assert.ok(delivery.headers['webhook-signature'], 'the delivery is signed');

    step('perform on the delivery');
    const items = await appTester(App.triggers.email_updated.operation.perform, {
      authData,
      subscribeData,
      cleanedRequest: delivery.body,
    });
    assert.equal(items.length, 1);
    assert.equal(items[0].receiver_email, 'zed@example.com');
    assert.equal(items[0].user_session_id, session);
    assert.deepEqual(zapierChecks('email_updated', items), []);

    step('performList shows the same item, with the same id');
    const listed = await appTester(App.triggers.email_updated.operation.performList, { authData });
    assert.deepEqual(listed[0], items[0]);

    step('performUnsubscribe: DELETE /zapier/v1/hooks/{id}, twice (Zapier retries it)');
    const first = await appTester(App.triggers.email_updated.operation.performUnsubscribe, {
      authData,
      subscribeData,
    });
    assert.equal(first.deleted, true);
    const again = await appTester(App.triggers.email_updated.operation.performUnsubscribe, {
      authData,
      subscribeData,
    });
    assert.equal(again.deleted, true);
    const left = await call('GET', '/zapier/v1/hooks');
    assert.ok(!left.some((h) => h.id === subscribeData.id), JSON.stringify(left));
  } finally {
    hooks.close();
  }
  console.log(`zapier: OK in ${Date.now() - started} ms`);
};

main().catch((e) => {
  console.error('zapier: FAILED');
  console.error(e);
  process.exit(1);
});
