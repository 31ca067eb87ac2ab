// `npm pack` produces a working package: the tarball holds the wasm, the JS and the
// types, and installed into an empty project it decides with `import` and `require`.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { claims, config, mint, newKey, NOW_MS, request } from './support/tokens.mjs';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('npm pack', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jitgate-pack-'));
  let packed;
  before(() => {
    const out = execFileSync(npm, ['pack', '--json', '--pack-destination', dir], { cwd: pkgDir, encoding: 'utf8' });
    [packed] = JSON.parse(out);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('contains the wasm, the JS glue and wrapper, and index.d.ts — and no tests or sources', () => {
    const files = packed.files.map((f) => f.path).sort();
    for (const needed of [
      'package.json',
      'README.md',
      'CHANGELOG.md',
      'index.d.ts',
      'lib/api.mjs',
      'lib/node.mjs',
      'lib/web.mjs',
      'pkg/node/jitgate_js.js',
      'pkg/node/package.json',
      'pkg/web/jitgate_js.js',
      'pkg/web/jitgate_js_bg.wasm',
      'pkg/web/package.json',
    ]) {
      assert.ok(files.includes(needed), `tarball lacks ${needed}: ${files.join(', ')}`);
    }
    for (const f of files) {
      assert.ok(!/^(test|src|bench|scripts|examples)\//.test(f) && !f.endsWith('.rs'), `tarball carries ${f}`);
    }
    const wasm = packed.files.find((f) => f.path === 'pkg/web/jitgate_js_bg.wasm');
    assert.ok(wasm.size > 1_000_000, `wasm is only ${wasm.size} bytes`);
  });

  describe('installed into an empty project', () => {
    const project = join(dir, 'app');
    const script = (load) => `
      ${load}
      const c = JSON.parse(require('node:fs').readFileSync('case.json', 'utf8'));
      const gate = new Gate(c.config);
      const d = gate.decide(c.request, { now: c.now });
      gate.free();
      console.log(JSON.stringify([d.allow, d.reason, typeof JitgateError]));`;
    before(() => {
      mkdirSync(project, { recursive: true });
      writeFileSync(join(project, 'package.json'), '{"name": "app", "private": true}\n');
      execFileSync(npm, ['install', '--no-audit', '--no-fund', '--offline', join(dir, packed.filename)], {
        cwd: project,
        stdio: 'pipe',
      });
      const key = newKey('ed25519');
      writeFileSync(
        join(project, 'case.json'),
        JSON.stringify({ config: config([key]), request: request(mint(key, claims())), now: NOW_MS }),
      );
    });

    it('decides through import', () => {
      const load =
        "import { Gate, JitgateError } from 'jitgate'; import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(load)], { cwd: project, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), [true, 'allowed', 'function']);
    });

    // require() of an ES module works without a flag from Node 20.19 and 22.12.
    const [major, minor] = process.versions.node.split('.').map(Number);
    const requireEsm = major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19);
    it('decides through require', { skip: !requireEsm && `Node ${process.versions.node} has no require(esm)` }, () => {
      const r = spawnSync(process.execPath, ['-e', script("const { Gate, JitgateError } = require('jitgate');")], {
        cwd: project,
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), [true, 'allowed', 'function']);
    });
  });
});
