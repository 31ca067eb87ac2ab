// index.d.ts: type-checks a typed usage file (which also proves misuse is
// rejected), and declares every runtime export of both entry points.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

it('tsc --noEmit accepts test/types/usage.ts against index.d.ts', () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', 'test/types/tsconfig.json'], {
    cwd: pkgDir,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});

it('index.d.ts declares every runtime export, and nothing that is not one', async () => {
  const dts = readFileSync(new URL('../index.d.ts', import.meta.url), 'utf8');
  const declared = new Set([...dts.matchAll(/^export (?:declare )?(?:class|function|const) (\w+)/gm)].map((m) => m[1]));
  const node = Object.keys(await import('../lib/node.mjs')).sort();
  const web = Object.keys(await import('../lib/web.mjs')).sort();
  assert.deepEqual(web, node, 'the Node and web entries export the same names');
  assert.deepEqual([...declared].sort(), node);
});
