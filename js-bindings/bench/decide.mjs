// `npm run bench`: median microseconds per `decide` in Node, next to the native core
// (same configuration, same requests, same run) and to @cedar-policy/cedar-wasm
// deciding an equivalent policy. A benchmark, not a test: it prints figures and the
// targets, and fails only when a decision is not the expected one.
//
//   node bench/decide.mjs [--iterations N] [--fresh N]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

import { Gate, version } from '../lib/node.mjs';
import { NOW_MS, NOW_S, claims, config, mint, newKey, request } from '../test/support/tokens.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ITERATIONS = arg('--iterations', 20000);
const FRESH = arg('--fresh', 3000);
const BATCH = 10; // calls timed together, so the clock's own cost stays out
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** µs per call of `fn(i)` for each batch of BATCH calls, over `count` calls. */
function batches(count, fn) {
  const samples = [];
  for (let i = 0; i + BATCH <= count; i += BATCH) {
    const start = process.hrtime.bigint();
    for (let j = i; j < i + BATCH; j++) fn(j);
    samples.push(Number(process.hrtime.bigint() - start) / 1000 / BATCH);
  }
  return samples;
}

// The workload: the shipped seed policy, one Ed25519 key, a typical request.
const key = newKey('ed25519');
const cfg = config([key]);
const cachedToken = mint(key, claims());
const cached = request(cachedToken, {
  headers: {
    host: 'db.internal',
    'x-request-id': 'rid-1',
    'user-agent': 'bench/1.0',
    accept: 'application/json',
    'x-jit-approval': cachedToken,
  },
});
const fresh = Array.from({ length: FRESH }, (_, i) =>
  request(mint(key, claims({ jti: `appr-fresh-${i}` }))),
);

// --- the native core, same workload (first, so it does not share the CPU with V8) --
const dir = mkdtempSync(join(tmpdir(), 'jitgate-bench-'));
let native = null;
let nativeNote = '';
try {
  const workload = join(dir, 'workload.json');
  writeFileSync(workload, JSON.stringify({ config: cfg, now_ms: NOW_MS, iterations: ITERATIONS, cached, fresh }));
  const run = spawnSync(
    'cargo',
    ['run', '--quiet', '--locked', '--profile', 'bench', '--example', 'native_bench', '-p', 'jitgate-js', '--', workload],
    { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (run.status === 0) native = JSON.parse(run.stdout.trim().split('\n').pop());
  else nativeNote = `native bench failed (exit ${run.status}): ${run.stderr.trim().split('\n').slice(-3).join(' / ')}`;
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// --- jitgate in Node (wasm) ---------------------------------------------------------
const gate = new Gate(cfg);
const expectAllow = (d) => {
  if (!d.allow) throw new Error(`bench request denied: ${d.reason} ${d.audit.detail ?? ''}`);
};
expectAllow(gate.decide(cached, { now: NOW_MS }));
const decideCached = () => gate.decide(cached, { now: NOW_MS });

// --- @cedar-policy/cedar-wasm, equivalent policy --------------------------------------
// Role membership (principal in Role::"developer"), the resource, and the approval
// window as a context condition; the health-check rule of the seed policy too.
let cedar = null;
let cedarNote = '';
try {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('@cedar-policy/cedar-wasm/nodejs');
  const cedarPkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8'));
  const c = await import('@cedar-policy/cedar-wasm/nodejs');
  const policies = {
    staticPolicies: `
      permit (principal in Role::"developer", action, resource == Resource::"test-database")
      when { context.now_s >= context.granted_at && context.now_s < context.expires_at };
      permit (principal, action in [Action::"GET", Action::"HEAD"], resource == Path::"/healthz");
    `,
  };
  const entities = [
    { uid: { type: 'User', id: 'alice@example.com' }, attrs: {}, parents: [{ type: 'Role', id: 'developer' }] },
    { uid: { type: 'Role', id: 'developer' }, attrs: {}, parents: [] },
  ];
  const call = {
    principal: { type: 'User', id: 'alice@example.com' },
    action: { type: 'Action', id: 'GET' },
    resource: { type: 'Resource', id: 'test-database' },
    context: { now_s: NOW_S, granted_at: NOW_S - 60, expires_at: NOW_S + 3600 },
    entities,
  };
  let api;
  let decideCedar;
  if (typeof c.statefulIsAuthorized === 'function' && typeof c.preparsePolicySet === 'function') {
    const parsed = c.preparsePolicySet('jit', policies);
    if (parsed.type !== 'success') throw new Error(JSON.stringify(parsed.errors));
    api = 'statefulIsAuthorized, policy set preparsed once';
    const statefulCall = { ...call, preparsedPolicySetId: 'jit' };
    decideCedar = () => c.statefulIsAuthorized(statefulCall);
  } else {
    api = 'isAuthorized, policies parsed per call';
    const fullCall = { ...call, policies };
    decideCedar = () => c.isAuthorized(fullCall);
  }
  const answer = decideCedar();
  if (answer.type !== 'success' || answer.response.decision !== 'allow') {
    throw new Error(`cedar did not allow: ${JSON.stringify(answer)}`);
  }
  cedar = { fn: decideCedar, api, version: cedarPkg.version, samples: [] };
} catch (e) {
  cedarNote = `cedar-wasm not measured: ${e.message}`;
}

// Cached token: jitgate and cedar in alternating blocks, so both see the same load.
const jsSamples = [];
for (let i = 0; i < ITERATIONS / 10; i++) decideCached();
for (let i = 0; i < ITERATIONS / 10; i++) cedar?.fn();
const BLOCK = 1000;
for (let done = 0; done < ITERATIONS; done += BLOCK) {
  jsSamples.push(...batches(BLOCK, decideCached));
  if (cedar) cedar.samples.push(...batches(BLOCK, cedar.fn));
}
const jsCached = median(jsSamples);
if (cedar) cedar.us = median(cedar.samples);

// Fresh tokens: every call verifies a signature it has not seen.
let freshAllowed = 0;
const jsFresh = median(
  batches(FRESH, (i) => {
    freshAllowed += gate.decide(fresh[i], { now: NOW_MS }).allow ? 1 : 0;
  }),
);
if (freshAllowed !== Math.floor(FRESH / BATCH) * BATCH) throw new Error('a fresh-token request was denied');
gate.free();

// --- report ---------------------------------------------------------------------------
const f = (x) => (x === null || x === undefined ? '   n/a' : x.toFixed(1).padStart(6));
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : 'n/a');
console.log(`jitgate ${version()} — median µs per decision (${ITERATIONS} cached-token calls, ${FRESH} fresh tokens; median over batches of ${BATCH})`);
console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
console.log('');
console.log('                               cached token   fresh token');
console.log(`jitgate (Node, wasm)             ${f(jsCached)}        ${f(jsFresh)}`);
console.log(`jitgate-core (native, same run)  ${f(native?.cached_us)}        ${f(native?.fresh_us)}`);
console.log(`ratio wasm / native              ${ratio(jsCached, native?.cached_us).padStart(6)}        ${ratio(jsFresh, native?.fresh_us).padStart(6)}`);
if (cedar) {
  console.log(`cedar-wasm ${cedar.version} (same run)     ${f(cedar.us)}        (authorization only, no token; ${cedar.api})`);
}
if (nativeNote) console.log(nativeNote);
if (cedarNote) console.log(cedarNote);
console.log(
  '@open-policy-agent/opa-wasm: not measured — it runs an OPA-compiled policy.wasm, and no `opa` binary is available here to compile one.',
);
console.log('');
const target1 = native ? jsCached <= 3 * native.cached_us : null;
const target2 = cedar ? jsCached < cedar.us : null;
const mark = (ok) => (ok === null ? 'not measured' : ok ? 'met' : 'MISSED');
console.log(`target: cached-token decide ≤ 3× native core ... ${mark(target1)}`);
console.log(`target: faster than cedar-wasm ............... ${mark(target2)}`);
