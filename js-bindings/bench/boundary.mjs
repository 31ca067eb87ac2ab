// `npm run bench:boundary`: measures the two ways of crossing the wasm boundary for
// `decide` — JSON text (what the package ships) and serde-wasm-bindgen (JS values
// read and written field by field) — in one wasm build that has both
// (`--features boundary-bench`, built here into target/jitgate-js-boundary/).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { deepStrictEqual } from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { NOW_MS, claims, config, mint, newKey, request } from '../test/support/tokens.mjs';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const targetDir = join(repoRoot, 'target', 'jitgate-js-boundary');
const outDir = join(targetDir, 'pkg');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: repoRoot, stdio: 'inherit' });

run('cargo', [
  'build', '--release', '--target', 'wasm32-unknown-unknown', '-p', 'jitgate-js',
  '--features', 'boundary-bench', '--target-dir', targetDir,
  '--config', 'profile.release.opt-level=3', '--config', 'profile.release.strip=false',
]);
mkdirSync(outDir, { recursive: true });
run('wasm-bindgen', [
  '--target', 'nodejs', '--out-dir', outDir, '--out-name', 'jitgate_js',
  join(targetDir, 'wasm32-unknown-unknown', 'release', 'jitgate_js.wasm'),
]);
writeFileSync(join(outDir, 'package.json'), '{"type":"commonjs"}\n');
const raw = createRequire(import.meta.url)(join(outDir, 'jitgate_js.js'));

const key = newKey('ed25519');
const gate = new raw.RawGate(JSON.stringify(config([key])), new Uint8Array(16));
const req = request(mint(key, claims()));

const viaJson = () => JSON.parse(gate.decide(JSON.stringify(req), NOW_MS));
const viaValue = () => gate.decideValue(req, NOW_MS);

// Same answer both ways (apart from the decision id).
const a = viaJson();
const b = viaValue();
delete a.decisionId; delete b.decisionId; delete a.audit.decisionId; delete b.audit.decisionId;
deepStrictEqual({ ...b }, a, 'the two boundaries disagree');

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const rounds = { json: [], value: [] };
for (let round = 0; round < 21; round++) {
  for (const [name, fn] of [['json', viaJson], ['value', viaValue]]) {
    for (let i = 0; i < 200; i++) fn();
    const start = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) fn();
    rounds[name].push(Number(process.hrtime.bigint() - start) / 1000 / 1000);
  }
}
const json = median(rounds.json);
const value = median(rounds.value);
console.log('median µs per decide (cached token, whole call including conversions):');
console.log(`  JSON text          ${json.toFixed(1)}`);
console.log(`  serde-wasm-bindgen ${value.toFixed(1)}`);
console.log(`faster: ${json <= value ? 'JSON text' : 'serde-wasm-bindgen'} (${(Math.max(json, value) / Math.min(json, value)).toFixed(2)}×)`);
