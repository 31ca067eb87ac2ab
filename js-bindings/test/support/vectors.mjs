// Runs a decision-vector corpus (the format of policy-core/tests/vectors/README.md)
// through the JS package: every runner mints its tokens itself, here with
// node:crypto, so the corpus also cross-checks the Rust verifier against an
// independent signer.
import assert from 'node:assert/strict';
import { describe, it, after } from 'node:test';

import { Gate } from 'jitgate';
import { keyFromJwk, mint } from './tokens.mjs';

/** RFC 3339 or integer seconds (number or digit string) → epoch milliseconds. */
export function timeMs(value, what) {
  if (typeof value === 'number' && Number.isInteger(value)) return value * 1000;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value) * 1000;
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  assert.ok(Number.isFinite(ms), `${what}: \`${value}\` is not RFC 3339 or integer seconds`);
  return ms;
}

/** The token a case describes: null, `{raw}`, or `{key, header?, claims}`. */
export function caseToken(spec, keys) {
  if (spec === null) return null;
  if (typeof spec.raw === 'string') return spec.raw;
  const key = keys.get(spec.key);
  assert.ok(key, `no key \`${spec.key}\` in the corpus keys`);
  const claims = { ...spec.claims };
  for (const name of ['iat', 'nbf', 'exp']) {
    // Test files may write claim times as RFC 3339; tokens carry integer seconds.
    if (typeof claims[name] === 'string') claims[name] = Math.floor(timeMs(claims[name], name) / 1000);
  }
  return mint(key, claims, spec.header ?? {});
}

/** The case's request with the token in the configured header (replacing one). */
export function caseRequest(request, token, config) {
  const header = (config.token?.header ?? 'x-jit-approval').toLowerCase();
  const prefix = config.token?.prefix ?? '';
  const headers = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    if (token === null || name.toLowerCase() !== header) headers[name] = value;
  }
  if (token !== null) headers[header] = prefix + token;
  return { ...request, headers };
}

/** Registers one test per case of `corpus` under `title`. */
export function describeCorpus(title, corpus) {
  describe(title, () => {
    assert.ok(Array.isArray(corpus.cases) && corpus.cases.length > 0, 'the corpus has no cases');
    const keys = new Map(corpus.keys.map(({ kid, jwk }) => [kid, keyFromJwk(jwk, kid)]));
    const gate = new Gate(corpus.config);
    after(() => gate.free());
    for (const c of corpus.cases) {
      it(c.name, () => {
        const token = caseToken(c.token, keys);
        const d = gate.decide(caseRequest(c.request, token, corpus.config), { now: timeMs(c.now, 'now') });
        const got = { allow: d.allow, status: d.status, reason: d.reason };
        const want = { allow: c.expect.allow, status: c.expect.status, reason: c.expect.reason };
        assert.deepEqual(got, want, `detail: ${d.audit.detail}`);
        if ('policy_reason' in c.expect) assert.equal(d.policyReason, c.expect.policy_reason);
        // The JS-only parts agree with the decision.
        assert.equal(Boolean(d.response), d.enforced && !d.allow);
        assert.equal(d.audit.reason, d.reason);
      });
    }
  });
}
