// 100,000 decisions must not grow memory: not the wasm linear memory (which never
// shrinks, so any leak in Rust shows), not the JS heap, not the process.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';

import { Gate, wasmMemoryBytes } from 'jitgate';
import { NOW_MS, claims, config, mint, newKey, request } from './support/tokens.mjs';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const CALLS = 100_000;
const MiB = 1 << 20;
const mib = (n) => `${(n / MiB).toFixed(1)} MiB`;

function snapshot() {
  gc();
  gc();
  const m = process.memoryUsage();
  return { wasm: wasmMemoryBytes(), rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

it(`memory does not grow over ${CALLS.toLocaleString('en')} decide calls`, () => {
  const key = newKey('ed25519');
  const gate = new Gate(config([key]));
  const cached = request(mint(key, claims()));
  // Fresh tokens too (every 10th call), so the verified-token cache fills and evicts;
  // and denials (every 7th call: no token), which build local responses.
  const fresh = Array.from({ length: 2000 }, (_, i) => request(mint(key, claims({ jti: `appr-${i}` }))));
  const denied = request();
  const call = (i) => {
    const r = i % 10 === 0 ? fresh[(i / 10) % fresh.length] : i % 7 === 0 ? denied : cached;
    const d = gate.decide(r, { now: NOW_MS });
    if (d.allow !== (r !== denied)) throw new Error(`unexpected decision at call ${i}: ${d.reason}`);
  };

  // Warm up: fill the token cache (1024 entries) and let the allocator settle.
  for (let i = 0; i < 25_000; i++) call(i);
  const before = snapshot();
  for (let i = 0; i < CALLS; i++) call(i);
  const after = snapshot();
  gate.free();

  const growth = Object.fromEntries(Object.keys(before).map((k) => [k, after[k] - before[k]]));
  console.log(
    `memory over ${CALLS} decide calls: ` +
      Object.keys(before).map((k) => `${k} ${mib(before[k])} → ${mib(after[k])} (${growth[k] >= 0 ? '+' : ''}${mib(growth[k])})`).join(', '),
  );
  // A leak of 64 bytes per call would be 6.1 MiB; the bounds sit well under that
  // for wasm and the JS heap. RSS also moves with V8's own housekeeping.
  assert.ok(growth.wasm <= 1 * MiB, `wasm memory grew ${mib(growth.wasm)}`);
  assert.ok(growth.heapUsed <= 4 * MiB, `JS heap grew ${mib(growth.heapUsed)}`);
  assert.ok(growth.rss <= 32 * MiB, `RSS grew ${mib(growth.rss)}`);
});
