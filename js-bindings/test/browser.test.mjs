// A real browser: headless Chromium (Debian's, never a downloaded one) loads
// examples/browser/index.html, which imports the `web` build, and decides a request
// with a token minted here. Saves a screenshot to target/jitgate-js-demo.png.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { claims, config, mint, newKey } from './support/tokens.mjs';
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

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: \`apt-get install -y chromium\` (npm test does this as root)`);
    const { chromium } = await import('playwright-core');
    site = await serveStatic(pkgDir, {
      '/examples/browser/demo.json': ['application/json', JSON.stringify({ config: config([key]), token })],
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
    page = await browser.newPage({ viewport: { width: 1120, height: 760 } });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
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
    assert.ok(d.audit.eval_ns > 0);
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
});
