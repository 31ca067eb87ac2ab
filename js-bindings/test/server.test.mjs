// The node:http example, driven with real HTTP requests on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { createServer } from '../examples/express-middleware.mjs';
import { claims, config, mint, newKey } from './support/tokens.mjs';

describe('examples/express-middleware.mjs', () => {
  const key = newKey('ed25519');
  const audit = [];
  let server;
  let base;
  // Tokens valid now: the example decides at the real clock.
  const nowS = Math.floor(Date.now() / 1000);
  const live = (extra = {}) => claims({ iat: nowS - 60, nbf: nowS - 60, exp: nowS + 600, ...extra });

  before(async () => {
    server = createServer(config([key]), { audit: (r) => audit.push(r) });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  it('allowed: the upstream handler runs, with jitgate headers and without the token', async () => {
    const res = await fetch(`${base}/orders?id=7`, {
      headers: { 'x-jit-approval': mint(key, live()), 'x-jit-subject': 'forged@example.com' },
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual(body, {
      ok: true,
      path: '/orders?id=7',
      subject: 'alice@example.com',
      approval: 'appr-1',
      expires: new Date((nowS + 600) * 1000).toISOString().replace('.000Z', 'Z'),
      tokenForwarded: false,
    });
    const record = audit.at(-1);
    assert.equal(record.allow, true);
    assert.equal(record.path, '/orders?id=7');
    assert.match(record.source, /^127\.0\.0\.1:\d+$/);
  });

  it('no token: 401 with a JSON body, the upstream never runs', async () => {
    const res = await fetch(`${base}/orders`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'JIT-Approval error="token_missing"');
    assert.equal(res.headers.get('content-type'), 'application/json');
    const body = await res.json();
    assert.equal(body.error, 'access_denied');
    assert.equal(body.reason, 'token_missing');
    assert.equal(body.decision_id, audit.at(-1).decisionId);
    assert.equal(body.ok, undefined);
  });

  it('a forged token: 401 token_signature', async () => {
    const res = await fetch(`${base}/orders`, { headers: { 'x-jit-approval': mint(newKey('ed25519'), live()) } });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).reason, 'token_signature');
  });

  it('the wrong role: 403 policy_denied', async () => {
    const token = mint(key, live({ jit: { resource: 'test-database', role: 'analyst' } }));
    const res = await fetch(`${base}/orders`, { headers: { 'x-jit-approval': token } });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('www-authenticate'), null);
    assert.deepEqual(Object.keys(await res.json()).sort(), ['decision_id', 'error', 'reason']);
  });

  it('an absolute-form request line is a 400 denial, and the server keeps serving', async () => {
    const { connect } = await import('node:net');
    const { port } = server.address();
    const raw = await new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end(`GET http://127.0.0.1:${port}/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      });
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk) => (data += chunk));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
      socket.setTimeout(5000, () => reject(new Error('no answer in 5 s')));
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.match(raw, /"reason":"request_invalid"/);
    assert.equal(audit.at(-1).reason, 'request_invalid');
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
  });

  it('the health check needs no token', async () => {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).subject, null);
  });
});
