// A real browser: headless Chromium (Debian's, never a downloaded one) loads
// examples/browser/index.html, which imports the `web` build, and decides a request
// with a token minted here. Saves a screenshot to target/jitgate-js-demo.png. Then
// live trust in the page: examples/feed-poller.mjs fetches a feed served here (ETags,
// 304s), installs it into a Gate, and the page's decisions follow a revocation.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  ISSUER,
  LIST_URI,
  claims,
  config,
  feedConfig,
  keySet,
  mint,
  newKey,
  revocationList,
  statusList,
} from './support/tokens.mjs';
import { serveStatic } from './support/static-server.mjs';

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';
const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const screenshot = join(pkgDir, '..', 'target', 'jitgate-js-demo.png');

describe('browser (headless Chromium, web build)', () => {
  let browser;
  let site;
  let page;
  const problems = [];
  const key = newKey('ed25519');
  const nowS = Math.floor(Date.now() / 1000);
  const token = mint(key, claims({ iat: nowS - 60, nbf: nowS - 60, exp: nowS + 600, jti: 'appr-browser' }));
  // The live-trust feed, served at /feed/…: keys (bringing `next`), revocations, list 0.
  const next = newKey('ed25519', 'ed2');
  const routes = {
    '/examples/browser/demo.json': ['application/json', JSON.stringify({ config: config([key]), token })],
    '/feed/v1/jwks': ['application/jwk-set+jwt', keySet(key, [key, next], nowS)],
    '/feed/v1/revocations': ['application/jit-revocations+jwt', revocationList(key, 1, [], nowS)],
    '/feed/v1/status-lists/0': ['application/statuslist+jwt', statusList(key, [0, 0, 0, 0], { atS: nowS })],
  };

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: \`apt-get install -y chromium\` (npm test does this as root)`);
    const { chromium } = await import('playwright-core');
    site = await serveStatic(pkgDir, routes);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
    page = await browser.newPage({ viewport: { width: 1120, height: 760 } });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (site ? site.server.close(resolve) : resolve()));
  });

  it('loads the page and allows the request with the minted token', async () => {
    await page.goto(`${site.url}/examples/browser/index.html`);
    await page.waitForSelector('#result[data-state="done"]', { timeout: 30_000 });
    const result = await page.$eval('#result', (el) => ({ ...el.dataset }));
    assert.deepEqual(result, { state: 'done', allow: 'true', status: '200', reason: 'allowed' }, problems.join('\n'));
    assert.equal(await page.textContent('#badge'), 'ALLOW');
    assert.equal(await page.textContent('#subject'), 'alice@example.com');
    assert.equal(await page.textContent('#role'), 'developer');
    assert.match(await page.textContent('#remaining'), /^in (9|10) minutes$/);
    const d = await page.evaluate(() => window.jitgateDemoResult);
    assert.equal(d.approval.id, 'appr-browser');
    assert.deepEqual(d.forward.addHeaders['x-jit-approval-id'], 'appr-browser');
    assert.ok(d.audit.evalNs > 0);
    mkdirSync(join(pkgDir, '..', 'target'), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    assert.ok(existsSync(screenshot));
    assert.deepEqual(problems, []);
  });

  it('denies without a token (401 token_missing)', async () => {
    await page.fill('#token', '');
    await page.click('#decide');
    await page.waitForSelector('#result[data-reason="token_missing"]', { timeout: 10_000 });
    assert.equal(await page.$eval('#result', (el) => el.dataset.status), '401');
    assert.equal(await page.textContent('#badge'), 'DENY');
  });

  it('denies a forged token (401 token_signature) and reports a bad configuration', async () => {
    await page.fill('#token', mint(newKey('ed25519'), claims({ iat: nowS, nbf: nowS, exp: nowS + 60 })));
    await page.click('#decide');
    await page.waitForSelector('#result[data-reason="token_signature"]', { timeout: 10_000 });
    await page.fill('#config', '{"issuers": []');
    await page.click('#decide');
    await page.waitForSelector('#result[data-state="error"]', { timeout: 10_000 });
    assert.equal(await page.$eval('#result', (el) => el.dataset.error), 'config_syntax');
  });

  it('the evaluation budget holds in the page: a 9-million-iteration policy stops at max_eval_ms', async () => {
    const slow = [
      'package access.jit',
      'default allow := false',
      'allow if count([1 | some i in numbers.range(1, 3000); some j in numbers.range(1, 3000)]) > 0',
    ].join('\n');
    const cfg = { ...config([key], slow), policy: { modules: { 'slow.rego': slow }, max_eval_ms: 50 } };
    const got = await page.evaluate(async ({ cfg, token }) => {
      const { init, Gate } = await import('/lib/web.mjs');
      await init();
      const gate = new Gate(cfg);
      try {
        const started = performance.now();
        const d = gate.decide({ method: 'GET', path: '/orders', headers: { 'x-jit-approval': token } });
        return { reason: d.reason, status: d.status, detail: d.audit.detail, ms: performance.now() - started };
      } finally {
        gate.free();
      }
    }, { cfg, token });
    assert.deepEqual([got.status, got.reason], [403, 'policy_error'], JSON.stringify(got));
    assert.match(got.detail, /over its budget of 50 ms/);
    assert.ok(got.ms < 1000, `the slow decision took ${got.ms.toFixed(0)} ms in Chromium with a 50 ms budget`);
  });

  it('live trust in the page: the feed poller installs, 304s confirm, a revocation lands', async () => {
    const listed = mint(
      next,
      claims({ iat: nowS - 60, nbf: nowS - 60, exp: nowS + 600, jti: 'appr-live', status: { status_list: { idx: 2, uri: LIST_URI } } }),
    );
    const setup = { config: feedConfig([key]), token: listed };
    // One page-side step: poll the feed once (all documents), then decide `token`.
    const step = (arg) =>
      page.evaluate(async ({ config, token, fresh }) => {
        const { init, Gate, JitgateError } = await import('/lib/web.mjs');
        const { FeedPoller } = await import('/examples/feed-poller.mjs');
        await init();
        if (fresh || !window.liveGate) {
          window.liveGate?.free();
          window.liveGate = new Gate(config);
          window.livePoller = new FeedPoller(window.liveGate, {
            issuer: config.issuers[0],
            baseUrl: new URL('/feed/', location.href).href,
          });
        }
        const before = window.liveGate.decide({ method: 'GET', path: '/orders', headers: { 'x-jit-approval': token } });
        const events = await window.livePoller.pollOnce({ all: true });
        const d = window.liveGate.decide({ method: 'GET', path: '/orders', headers: { 'x-jit-approval': token } });
        let refused = null;
        try {
          window.liveGate.installRevocations(config.issuers[0].issuer, 'x');
        } catch (e) {
          refused = e instanceof JitgateError ? { code: e.code, kind: e.kind } : String(e);
        }
        return {
          before: before.reason,
          events: events.map((e) => ({ kind: e.kind, status: e.status, changed: e.state?.changed ?? null, error: e.error ?? null })),
          reason: d.reason,
          trust: window.liveGate.trustStatus(),
          refused,
        };
      }, arg);

    const first = await step({ ...setup, fresh: true });
    assert.equal(first.before, 'token_key_unknown', 'signed by the key the feed\'s key set brings');
    assert.deepEqual(first.events, [
      { kind: 'keys', status: 200, changed: true, error: null },
      { kind: 'revocations', status: 200, changed: true, error: null },
      { kind: 'status_list', status: 200, changed: true, error: null },
    ]);
    assert.equal(first.reason, 'allowed', JSON.stringify(first));
    assert.equal(first.trust[0].issuer, ISSUER);
    assert.equal(first.trust[0].keys, 2);
    assert.deepEqual(first.refused, { code: 'feed_malformed', kind: 'revocations' });

    // Unchanged: the browser sends If-None-Match, the feed answers 304.
    site.hits.length = 0;
    const second = await step({ ...setup, fresh: false });
    assert.deepEqual(second.events.map((e) => e.status), [304, 304, 304]);
    assert.deepEqual(site.hits.map((h) => h.status), [304, 304, 304]);
    assert.equal(second.reason, 'allowed');

    // Revoked at the feed (its status-list entry): the next poll revokes it in the page.
    routes['/feed/v1/status-lists/0'] = ['application/statuslist+jwt', statusList(key, [0, 0, 1, 0], { atS: nowS + 1 })];
    routes['/feed/v1/revocations'] = ['application/jit-revocations+jwt', revocationList(key, 2, ['appr-live'], nowS + 1)];
    const third = await step({ ...setup, fresh: false });
    assert.equal(third.before, 'allowed');
    assert.deepEqual(third.events.map((e) => [e.status, e.changed]), [[304, null], [200, true], [200, true]]);
    assert.equal(third.reason, 'token_revoked');
    assert.equal(third.trust[0].revocationsSeq, 2);
    assert.deepEqual(problems, []);
  });
});
