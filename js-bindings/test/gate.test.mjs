// The public API in Node: decisions, every token error class, policy results, dry
// run, configuration and request errors, Headers input, time handling, verify,
// and the lifetime of a Gate. Tokens are signed here with node:crypto.
import assert from 'node:assert/strict';
import { describe, it, before, after } from 'node:test';

import { Gate, JitgateError, auditLine, init, version, wasmMemoryBytes } from 'jitgate';
import {
  AUDIENCE,
  ISSUER,
  NOW_MS,
  NOW_S,
  SEED_POLICY,
  claims,
  config,
  mint,
  newKey,
  request,
} from './support/tokens.mjs';

const ed = newKey('ed25519', 'ed1');
const ec = newKey('p256', 'ec1');
const stranger = newKey('ed25519', 'ed1'); // same kid, different key
const at = { now: NOW_MS };

/** Allows exactly when the token verified, so decisions show the token codes. */
const TOKEN_ONLY = 'package access.jit\nallow if input.token.valid\n';

function throwsJitgate(fn, code, field) {
  let caught;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught, 'expected a JitgateError, nothing was thrown');
  assert.ok(caught instanceof JitgateError, `not a JitgateError: ${caught}`);
  assert.ok(caught instanceof Error);
  assert.equal(caught.name, 'JitgateError');
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.field, field, caught.message);
  if (field) assert.ok(caught.message.includes(field), `message does not name \`${field}\`: ${caught.message}`);
  return caught;
}

describe('allow', () => {
  const gate = new Gate(config([ed, ec]));
  after(() => gate.free());

  it('allows a developer inside the window and says what to forward', async () => {
    await init(); // a no-op in Node, for code shared with browsers
    const token = mint(ed, claims());
    const d = gate.decide(request(token), at);
    assert.equal(d.allow, true);
    assert.equal(d.enforced, true);
    assert.equal(d.status, 200);
    assert.equal(d.reason, 'allowed');
    assert.equal(d.policyReason, null);
    assert.match(d.decisionId, /^[0-9a-f]{32}$/);
    assert.deepEqual(d.token, { present: true, valid: true, error: null });
    assert.equal(d.response, undefined);
    assert.deepEqual(d.forward, {
      removeHeaders: ['x-jit-approval', 'x-jit-approval-id', 'x-jit-subject', 'x-jit-expires'],
      addHeaders: {
        'x-jit-approval-id': 'appr-1',
        'x-jit-subject': 'alice@example.com',
        'x-jit-expires': '2026-11-26T11:00:00Z',
      },
      responseHeaders: {},
    });
    assert.deepEqual(d.counters, ['jitgate.allowed']);
  });

  it('reports the approval with times in epoch milliseconds', () => {
    const d = gate.decide(request(mint(ec, claims({ jti: 'appr-ec' }))), at);
    assert.equal(d.allow, true, d.audit.detail);
    const a = d.approval;
    assert.equal(a.id, 'appr-ec');
    assert.equal(a.subject, 'alice@example.com');
    assert.equal(a.issuer, ISSUER);
    assert.equal(a.kid, 'ec1');
    assert.equal(a.alg, 'ES256');
    assert.deepEqual(a.resources, ['test-database']);
    assert.equal(a.role, 'developer');
    assert.deepEqual(a.actions, ['read']);
    assert.equal(a.reason, 'incident 42');
    assert.deepEqual(a.approvers, ['bob@example.com']);
    assert.equal(a.risk, 'low');
    assert.equal('ticket' in a, false, 'an absent claim is absent, not null');
    assert.equal(a.issuedAt, NOW_MS - 120_000);
    assert.equal(a.notBefore, NOW_MS - 60_000);
    assert.equal(a.expires, NOW_MS + 3_600_000);
    assert.equal(a.claims.aud, AUDIENCE);
    assert.equal(a.claims.exp, NOW_S + 3600);
  });

  it('returns the audit record, timed by the host', () => {
    const d = gate.decide(request(mint(ed, claims())), at);
    const a = d.audit;
    assert.equal(a.decisionId, d.decisionId);
    assert.equal(a.ts, '2026-11-26T10:00:00Z');
    assert.equal(a.mode, 'enforce');
    assert.equal(a.subject, 'alice@example.com');
    assert.equal(a.approvalId, 'appr-1');
    assert.equal(a.kid, 'ed1');
    assert.equal(a.resource, 'test-database');
    assert.equal(a.method, 'GET');
    assert.equal(a.path, '/orders?id=7');
    assert.equal(a.source, '10.0.0.7:51234');
    assert.equal(a.requestId, 'rid-1');
    assert.equal(a.expires, '2026-11-26T11:00:00Z');
    assert.ok(Number.isInteger(a.evalNs) && a.evalNs > 0, `evalNs ${a.evalNs}`);
    assert.equal(a.policyReason, null);
    assert.equal(a.tokenPresent, true);
    // Every member is camelCase; the claims keep the names they were signed with.
    for (const name of Object.keys(a)) assert.doesNotMatch(name, /_/, name);
    const signed = gate.decide(request(mint(ed, claims({ change_ref: 'CHG-7' }))), at);
    assert.equal(signed.approval.claims.change_ref, 'CHG-7');
    assert.equal(signed.approval.claims.jit.resource, 'test-database');
  });

  it('auditLine writes the record as the filter logs it', () => {
    const d = gate.decide(request(mint(ed, claims())), at);
    const line = JSON.parse(auditLine(d.audit));
    assert.deepEqual(Object.keys(line).slice(0, 3), ['ts', 'decision_id', 'mode']);
    assert.equal(line.decision_id, d.decisionId);
    assert.equal(line.approval_id, 'appr-1');
    assert.equal(line.eval_ns, d.audit.evalNs);
    assert.equal(line.token_present, true);
    assert.equal(Object.keys(line).length, Object.keys(d.audit).length);
  });

  it('gives every decision its own id', () => {
    const ids = new Set();
    for (let i = 0; i < 200; i++) ids.add(gate.decide({ method: 'GET', path: '/healthz' }, at).decisionId);
    assert.equal(ids.size, 200);
    const other = new Gate(config([ed]));
    try {
      assert.ok(!ids.has(other.decide({ method: 'GET', path: '/healthz' }, at).decisionId), 'ids differ across gates');
    } finally {
      other.free();
    }
  });

  it('exposes the mode, token header, version and wasm memory', () => {
    assert.equal(gate.mode, 'enforce');
    assert.equal(gate.tokenHeader, 'x-jit-approval');
    assert.match(version(), /^\d+\.\d+\.\d+/);
    assert.ok(wasmMemoryBytes() >= 65536 && wasmMemoryBytes() % 65536 === 0);
  });
});

describe('denials by token error class (never thrown)', () => {
  let gate;
  before(() => {
    gate = new Gate(config([ed, ec], TOKEN_ONLY, { revoked: ['appr-revoked'], identity: undefined }));
  });
  after(() => gate.free());

  const later = (s) => ({ now: NOW_MS + s * 1000 });
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const cases = [
    ['token_missing', () => request()],
    ['token_malformed', () => request('not.a-token')],
    ['token_malformed', () => request(mint(ed, claims({ exp: NOW_S + 0.5 })))],
    ['token_malformed', () => request(mint(ed, claims(), { crit: ['exp'] }))],
    ['token_type', () => request(mint(ed, claims(), { typ: 'JWT' }))],
    ['token_algorithm', () => request(`${b64({ alg: 'none', typ: 'jit-approval+jwt', kid: 'ed1' })}.${b64(claims())}.`)],
    ['token_algorithm', () => request(mint(ed, claims(), { alg: 'ES256' }))],
    ['token_key_unknown', () => request(mint(ed, claims(), { kid: 'nope' }))],
    ['token_signature', () => request(mint(stranger, claims()))],
    ['token_issuer', () => request(mint(ed, claims({ iss: 'https://evil.example.com' })))],
    ['token_audience', () => request(mint(ed, claims({ aud: ['other'] })))],
    ['token_not_yet_valid', () => request(mint(ed, claims({ nbf: NOW_S + 600, iat: NOW_S })))],
    ['token_expired', () => request(mint(ed, claims())), later(3600 + 30)],
    ['token_window_too_long', () => request(mint(ed, claims({ exp: NOW_S - 60 + 43_201 })))],
    ['token_revoked', () => request(mint(ed, claims({ jti: 'appr-revoked' })))],
    ['token_resource_mismatch', () => request(mint(ec, claims({ jit: { resource: 'prod-database' } })))],
    [
      'token_binding_mismatch',
      () => request(mint(ed, claims({ cnf: { 'x5t#S256': Buffer.alloc(32, 7).toString('base64url') } }))),
    ],
  ];
  for (const [code, makeRequest, when = at] of cases) {
    it(`${code}: 401 with www-authenticate and a JSON body`, () => {
      const d = gate.decide(makeRequest(), when);
      assert.equal(d.allow, false);
      assert.equal(d.status, 401);
      assert.equal(d.reason, code, d.audit.detail);
      assert.equal(d.token.error, code);
      assert.equal(d.approval, null);
      assert.equal(d.forward, undefined);
      assert.equal(d.response.status, 401);
      assert.equal(d.response.headers['www-authenticate'], `JIT-Approval error="${code}"`);
      assert.equal(d.response.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(d.response.body), {
        error: 'access_denied',
        reason: code,
        decision_id: d.decisionId,
      });
      assert.deepEqual(d.counters, ['jitgate.denied', `jitgate.denied.${code}`]);
      if (code !== 'token_missing') assert.ok(d.audit.detail.startsWith(`${code}: `), d.audit.detail);
    });
  }

  it('token_subject_mismatch: the configured identity must be the subject', () => {
    const g = new Gate(config([ed], TOKEN_ONLY, { identity: { header: 'x-user' } }));
    try {
      const token = mint(ed, claims());
      const base = request(token);
      const as = (user) => ({ ...base, headers: { ...base.headers, 'x-user': user } });
      assert.equal(g.decide(as('mallory@example.com'), at).reason, 'token_subject_mismatch');
      assert.equal(g.decide(base, at).reason, 'token_subject_mismatch');
      assert.equal(g.decide(as('alice@example.com'), at).reason, 'allowed');
      // More than one identity value is never an identity, whichever comes first.
      assert.equal(g.decide(as(['alice@example.com', 'mallory@example.com']), at).reason, 'token_subject_mismatch');
      assert.equal(g.decide(as(['mallory@example.com', 'alice@example.com']), at).reason, 'token_subject_mismatch');
      // node:http joins repeated headers: the joined value is not the subject either.
      assert.equal(g.decide(as('alice@example.com, mallory@example.com'), at).reason, 'token_subject_mismatch');
    } finally {
      g.free();
    }
  });

  it('a token bound to the presented certificate works (JS and file spellings)', () => {
    const digest = Buffer.alloc(32, 7).toString('base64url');
    const token = mint(ed, claims({ cnf: { 'x5t#S256': digest } }));
    for (const source of [{ certificateSha256: digest }, { certificate_sha256: digest }]) {
      assert.equal(gate.decide({ ...request(token), source }, at).reason, 'allowed');
    }
    throwsJitgate(
      () => gate.decide({ ...request(token), source: { certificateSha256: digest, certificate_sha256: 'x' } }, at),
      'request_invalid',
      'source.certificateSha256',
    );
  });
});

describe('policy results', () => {
  const policy = `package access.jit
result := {"allow": false, "reason": "change freeze until Monday", "status": 423, "headers": {"retry-after": "3600"}} if input.request.method == "DELETE"
result := {"allow": true, "reason": "read ok", "headers": {"x-scope": "read"}, "response_headers": {"x-served-by": "jitgate"}} if input.request.method == "GET"
`;
  const gate = new Gate({ ...config([ed], policy), policy: { modules: { 'p.rego': policy }, entrypoint: 'data.access.jit.result' } });
  after(() => gate.free());
  const token = mint(ed, claims());

  it('object deny: the policy status, reason and headers', () => {
    const d = gate.decide({ ...request(token), method: 'DELETE' }, at);
    assert.deepEqual([d.allow, d.status, d.reason, d.policyReason], [false, 423, 'policy_denied', 'change freeze until Monday']);
    assert.equal(d.response.status, 423);
    assert.equal(d.response.headers['retry-after'], '3600');
    assert.equal(d.response.headers['www-authenticate'], undefined, 'only token denials ask for a token');
    assert.deepEqual(JSON.parse(d.response.body), {
      error: 'access_denied',
      reason: 'policy_denied',
      message: 'change freeze until Monday',
      decision_id: d.decisionId,
    });
  });

  it('object allow: its reason, request headers and response headers', () => {
    const d = gate.decide(request(token), at);
    assert.deepEqual([d.allow, d.status, d.reason, d.policyReason], [true, 200, 'allowed', 'read ok']);
    assert.equal(d.forward.addHeaders['x-scope'], 'read');
    assert.deepEqual(d.forward.responseHeaders, { 'x-served-by': 'jitgate' });
  });

  it('undefined result: 403 policy_undefined', () => {
    const d = gate.decide({ ...request(token), method: 'PUT' }, at);
    assert.deepEqual([d.allow, d.status, d.reason], [false, 403, 'policy_undefined']);
  });

  it('boolean false from the seed policy: 403 policy_denied', () => {
    const g = new Gate(config([ed]));
    try {
      const d = g.decide(request(mint(ed, claims({ jit: { resource: 'test-database', role: 'analyst' } }))), at);
      assert.deepEqual([d.allow, d.status, d.reason, d.policyReason], [false, 403, 'policy_denied', null]);
    } finally {
      g.free();
    }
  });
});

describe('evaluation budget (policy.max_eval_ms)', () => {
  // 9 million iterations: seconds without a budget.
  const slow = `package access.jit
default allow := false
allow if input.approval.role == "developer"
allow if {
  input.request.headers["x-slow"]
  count([1 | some i in numbers.range(1, 3000); some j in numbers.range(1, 3000)]) > 0
}
`;
  const gate = new Gate({ ...config([ed], slow), policy: { modules: { 'slow.rego': slow }, max_eval_ms: 50 } });
  after(() => gate.free());
  const token = mint(ed, claims({ jit: { resource: 'test-database', role: 'analyst' } }));

  it('a policy over its budget is stopped: 403 policy_error, the elapsed time in the audit detail', () => {
    const started = performance.now();
    const d = gate.decide({ ...request(token), headers: { ...request(token).headers, 'x-slow': '1' } }, at);
    const ms = performance.now() - started;
    assert.deepEqual([d.allow, d.status, d.reason], [false, 403, 'policy_error']);
    assert.match(d.audit.detail, /over its budget of 50 ms/);
    assert.ok(ms < 1000, `the slow decision took ${ms.toFixed(0)} ms with a 50 ms budget`);
  });

  it('the same gate decides the next request normally', () => {
    const d = gate.decide(request(mint(ed, claims())), at);
    assert.deepEqual([d.allow, d.reason], [true, 'allowed']);
  });
});

describe('dry run', () => {
  it('reports the real decision but forwards everything', () => {
    const gate = new Gate(config([ed], SEED_POLICY, { mode: 'dry_run' }));
    try {
      assert.equal(gate.mode, 'dry_run');
      const d = gate.decide(request(), at);
      assert.deepEqual([d.allow, d.enforced, d.status, d.reason], [false, false, 401, 'token_missing']);
      assert.equal(d.response, undefined);
      assert.ok(d.forward, 'dry run forwards the request');
      assert.deepEqual(d.counters, ['jitgate.denied', 'jitgate.denied.token_missing', 'jitgate.dry_run.would_deny']);
      assert.equal(d.audit.mode, 'dry_run');
      assert.equal(d.audit.enforced, false);
      const ok = gate.decide(request(mint(ed, claims())), at);
      assert.deepEqual([ok.allow, ok.enforced, ok.status], [true, false, 200]);
    } finally {
      gate.free();
    }
  });
});

describe('configuration warnings', () => {
  it('warns when the published demo key is trusted, naming the key', async () => {
    const { readFileSync } = await import('node:fs');
    const demo = JSON.parse(readFileSync(new URL('../../policies/config.example.json', import.meta.url), 'utf8'));
    const g = new Gate(demo);
    try {
      assert.equal(g.warnings.length, 1);
      assert.match(g.warnings[0], /issuers\[0\]\.jwks\.keys\[0\]/);
      assert.match(g.warnings[0], /demo key/);
    } finally {
      g.free();
    }
    const quiet = new Gate(config([ed], TOKEN_ONLY));
    try {
      assert.deepEqual(quiet.warnings, []);
    } finally {
      quiet.free();
    }
  });
});

describe('configuration errors', () => {
  const good = config([ed]);
  const cases = [
    ['JSON syntax', '{"issuers": [', 'config_syntax', null],
    ['not an object', 42, 'config_invalid', null],
    ['an array', [good], 'config_invalid', null],
    ['leeway over 300 s', { ...good, issuers: [{ ...good.issuers[0], leeway_s: 301 }] }, 'config_invalid', 'issuers[0].leeway_s'],
    ['unknown field', { ...good, modee: 'enforce' }, 'config_invalid', 'modee'],
    ['missing policy', { issuers: good.issuers }, 'config_invalid', 'policy'],
    ['bad mode', { ...good, mode: 'audit' }, 'config_invalid', 'mode'],
    [
      'bad key',
      { ...good, issuers: [{ ...good.issuers[0], jwks: { keys: [{ ...ed.publicJwk, x: 'AAAA' }] } }] },
      'config_invalid',
      'issuers[0].jwks.keys[0].x',
    ],
    [
      'private key material',
      { ...good, issuers: [{ ...good.issuers[0], jwks: { keys: [{ ...ed.publicJwk, d: 'AAAA' }] } }] },
      'config_invalid',
      'issuers[0].jwks.keys[0].d',
    ],
    ['Rego that does not compile', { ...good, policy: { modules: { 'jit.rego': 'package access.jit\nallow if {' } } }, 'config_invalid', 'policy.modules.jit.rego'],
    ['missing entrypoint rule', { ...good, policy: { ...good.policy, entrypoint: 'data.access.jit.nope' } }, 'config_invalid', 'policy.entrypoint'],
  ];
  for (const [name, cfg, code, field] of cases) {
    it(`${name}: ${code}${field ? ` naming \`${field}\`` : ''}`, () => {
      throwsJitgate(() => new Gate(cfg), code, field);
    });
  }

  it('accepts the configuration as JSON text too', () => {
    const g = new Gate(JSON.stringify(good));
    try {
      assert.equal(g.decide({ method: 'GET', path: '/healthz' }, at).allow, true);
    } finally {
      g.free();
    }
  });
});

describe('requests', () => {
  const gate = new Gate(config([ed]));
  after(() => gate.free());
  const token = mint(ed, claims());

  it('takes a fetch Headers, a Map and repeated values', () => {
    const h = new Headers({ host: 'db.internal', 'X-JIT-Approval': token });
    assert.equal(gate.decide({ method: 'GET', path: '/orders', headers: h }, at).reason, 'allowed');
    const m = new Map([['x-jit-approval', token]]);
    assert.equal(gate.decide({ method: 'GET', path: '/orders', headers: m }, at).reason, 'allowed');
    // Two token headers are ambiguous: malformed, whatever the form.
    const two = new Headers();
    two.append('x-jit-approval', token);
    two.append('x-jit-approval', token);
    assert.equal(gate.decide({ method: 'GET', path: '/orders', headers: two }, at).reason, 'token_malformed');
    const arr = { method: 'GET', path: '/orders', headers: { 'x-jit-approval': [token, token] } };
    assert.equal(gate.decide(arr, at).reason, 'token_malformed');
  });

  it('reads repeated headers and set-cookie from Headers into the policy input', () => {
    const policy = `package access.jit
allow if {
  input.request.headers["x-multi"] == "a, b"
  input.request.headers["set-cookie"] == "c=1,d=2"
  input.request.headers.host == "db.internal"
}`;
    const g = new Gate(config([ed], policy));
    try {
      const h = new Headers([['host', 'db.internal'], ['x-multi', 'a'], ['x-multi', 'b'], ['set-cookie', 'c=1'], ['set-cookie', 'd=2']]);
      const d = g.decide({ method: 'GET', path: '/', headers: h }, at);
      assert.equal(d.allow, true, d.reason);
    } finally {
      g.free();
    }
  });

  it('a request value a client can send is a 400 request_invalid denial, never thrown', () => {
    for (const req of [
      { method: 'GET', path: 'http://host/healthz' }, // absolute form, as node:http gives it
      { method: 'GET', path: 'orders' },
      { method: 'GET', path: '' },
      { method: '', path: '/' },
      { method: 'GET', path: '/', headers: { 'bad name': 'v' } },
    ]) {
      const d = gate.decide(req, at);
      assert.equal(d.allow, false, JSON.stringify(req));
      assert.equal(d.status, 400);
      assert.equal(d.reason, 'request_invalid');
      assert.equal(d.response.status, 400);
      const body = JSON.parse(d.response.body);
      assert.equal(body.reason, 'request_invalid');
      assert.equal(body.decision_id, d.decisionId);
      assert.equal(d.audit.reason, 'request_invalid');
      assert.ok(d.audit.detail.length > 0);
    }
  });

  it('names the bad request field', () => {
    throwsJitgate(() => gate.decide({ path: '/' }, at), 'request_invalid', 'method');
    throwsJitgate(() => gate.decide({ method: 'GET' }, at), 'request_invalid', 'path');
    throwsJitgate(() => gate.decide({ method: 'GET', path: '/', headers: { a: 1 } }, at), 'request_invalid', 'headers.a');
    throwsJitgate(() => gate.decide({ method: 'GET', path: '/', source: { adress: 'x' } }, at), 'request_invalid', 'source.adress');
    throwsJitgate(() => gate.decide({ method: 'GET', path: '/', extra: 1 }, at), 'request_invalid', 'extra');
    throwsJitgate(() => gate.decide({ method: 'GET', path: '/', headers: 'x' }, at), 'request_invalid', 'headers');
    throwsJitgate(() => gate.decide(null, at), 'request_invalid', null);
    throwsJitgate(() => gate.decide('GET /', at), 'request_invalid', null);
    throwsJitgate(() => gate.decide({ method: 'GET', path: '/', id: 1n }, at), 'request_invalid', null);
  });
});

describe('time', () => {
  const policy = `package access.jit
result := {"allow": time.now_ns() == input.now_ns, "reason": sprintf("%d|%v", [time.now_ns(), time.date(time.now_ns())])}
`;
  const gate = new Gate({ ...config([ed]), policy: { modules: { 'p.rego': policy }, entrypoint: 'data.access.jit.result' } });
  after(() => gate.free());
  const seen = (now) => {
    const d = gate.decide({ method: 'GET', path: '/' }, { now });
    assert.equal(d.allow, true, 'time.now_ns() differs from input.now_ns');
    return d.policyReason.split('|');
  };

  it('time.now_ns() in the policy is exactly the `now` passed, in ns', () => {
    for (const ms of [NOW_MS, NOW_MS + 1, 1_700_000_000_123, 0, 8_999_999_999_999]) {
      assert.equal(seen(ms)[0], (BigInt(ms) * 1_000_000n).toString(), `now ${ms}`);
    }
    assert.equal(seen(new Date(NOW_MS + 999))[0], `${NOW_S}999000000`);
    // A fractional millisecond (performance.timeOrigin + performance.now()) keeps its ns.
    assert.equal(seen(NOW_MS + 0.25)[0], `${NOW_S}000250000`);
    // Other time builtins agree with it.
    assert.deepEqual(JSON.parse(seen(NOW_MS)[1]), [2026, 11, 26]);
  });

  it('defaults to Date.now()', () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const [ns] = seen(undefined);
    const after_ = BigInt(Date.now()) * 1_000_000n;
    assert.ok(BigInt(ns) >= before && BigInt(ns) <= after_, `${ns} not in [${before}, ${after_}]`);
    const d = gate.decide({ method: 'GET', path: '/' });
    assert.equal(d.allow, true);
  });

  it('rejects times it cannot use, naming `now`', () => {
    throwsJitgate(() => gate.decide({ method: 'GET', path: '/' }, { now: new Date('nope') }), 'argument_invalid', 'now');
    throwsJitgate(() => gate.decide({ method: 'GET', path: '/' }, { now: NaN }), 'argument_invalid', 'now');
    throwsJitgate(() => gate.decide({ method: 'GET', path: '/' }, { now: 1e16 }), 'argument_invalid', 'now');
    throwsJitgate(() => gate.decide({ method: 'GET', path: '/' }, { now: '2026-11-26' }), 'argument_invalid', 'now');
    throwsJitgate(() => gate.decide({ method: 'GET', path: '/' }, { now: 1n }), 'argument_invalid', 'now');
    throwsJitgate(() => gate.decide({ method: 'GET', path: '/' }, NOW_MS), 'argument_invalid', 'options');
  });
});

describe('verify', () => {
  const gate = new Gate(config([ed, ec]));
  after(() => gate.free());

  it('returns the approval without running the policy', () => {
    // The seed policy would deny this role; verify does not ask it.
    const token = mint(ec, claims({ jit: { resource: 'test-database', role: 'analyst' } }));
    const v = gate.verify(token, at);
    assert.equal(v.valid, true);
    assert.equal(v.approval.subject, 'alice@example.com');
    assert.equal(v.approval.role, 'analyst');
    assert.equal(v.approval.expires - NOW_MS, 60 * 60 * 1000, 'access ends in 60 minutes');
  });

  it('returns the code and detail of a token that grants nothing', () => {
    const token = mint(ed, claims());
    const v = gate.verify(token, { now: new Date(NOW_MS + 4000 * 1000) });
    assert.deepEqual(Object.keys(v).sort(), ['code', 'detail', 'valid']);
    assert.equal(v.valid, false);
    assert.equal(v.code, 'token_expired');
    assert.match(v.detail, /exp/);
    assert.equal(gate.verify('x.y.z', at).code, 'token_malformed');
    assert.equal(gate.verify('', at).code, 'token_malformed');
    assert.equal(gate.verify(mint(stranger, claims()), at).code, 'token_signature');
  });

  it('checks identity and certificate when given', () => {
    const token = mint(ed, claims());
    assert.equal(gate.verify(token, { ...at, identity: 'alice@example.com' }).valid, true);
    assert.equal(gate.verify(token, { ...at, identity: 'bob@example.com' }).code, 'token_subject_mismatch');
    const digest = Buffer.alloc(32, 9).toString('base64url');
    const bound = mint(ed, claims({ cnf: { 'x5t#S256': digest } }));
    assert.equal(gate.verify(bound, at).code, 'token_binding_mismatch');
    assert.equal(gate.verify(bound, { ...at, certificateSha256: digest }).valid, true);
  });

  it('rejects a non-string token', () => {
    throwsJitgate(() => gate.verify(42, at), 'argument_invalid', 'token');
    throwsJitgate(() => gate.verify('a.b.c', { ...at, identity: 7 }), 'argument_invalid', 'identity');
  });
});

describe('lifetime', () => {
  it('free() releases the gate; using it afterwards throws gate_freed', () => {
    const gate = new Gate(config([ed]));
    gate.free();
    gate.free(); // idempotent
    throwsJitgate(() => gate.decide(request(), at), 'gate_freed', null);
    throwsJitgate(() => gate.verify('a.b.c', at), 'gate_freed', null);
  });

  it('Symbol.dispose frees it too', () => {
    const gate = new Gate(config([ed]));
    assert.equal(typeof Symbol.dispose, 'symbol');
    gate[Symbol.dispose]();
    throwsJitgate(() => gate.decide(request(), at), 'gate_freed', null);
  });

  it('building and freeing gates does not grow wasm memory', () => {
    const cfg = config([ed]);
    for (let i = 0; i < 20; i++) new Gate(cfg).free();
    const before = wasmMemoryBytes();
    for (let i = 0; i < 200; i++) new Gate(cfg).free();
    assert.ok(wasmMemoryBytes() - before <= 1 << 20, `grew ${wasmMemoryBytes() - before} bytes over 200 gates`);
  });
});
