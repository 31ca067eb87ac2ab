// `npm test`: everything the JS package promises, in Node and in a real browser.
//
//   1. dev dependencies (npm ci) when missing — playwright-core never downloads a
//      browser here (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1);
//   2. Debian's Chromium (`apt-get install -y chromium`) when /usr/bin/chromium is
//      missing and we may install it; otherwise the browser test fails and says why;
//   3. `node --test` over test/*.test.mjs (the build ran before, in `pretest`).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const env = { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' };
const log = (msg) => console.error(`[jitgate test] ${msg}`);
const run = (cmd, args) => spawnSync(cmd, args, { cwd: pkgDir, env, stdio: 'inherit' }).status;

const needed = ['playwright-core', 'typescript', '@cedar-policy/cedar-wasm'];
if (!needed.every((p) => existsSync(join(pkgDir, 'node_modules', p, 'package.json')))) {
  log('installing dev dependencies (npm ci)');
  if (run('npm', ['ci', '--no-audit', '--no-fund']) !== 0) process.exit(1);
}

if (!existsSync('/usr/bin/chromium')) {
  if (process.getuid?.() === 0 && run('sh', ['-c', 'command -v apt-get >/dev/null']) === 0) {
    log('installing Debian chromium for the browser test');
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', 'chromium']);
  } else {
    log('/usr/bin/chromium is missing and cannot be installed here: the browser test will fail');
  }
}

const files = readdirSync(join(pkgDir, 'test'))
  .filter((f) => f.endsWith('.test.mjs'))
  .sort()
  .map((f) => join('test', f));
process.exit(run(process.execPath, ['--test', ...files]));
