// Typed usage of the public API, checked with `tsc --noEmit` (test/types.test.mjs).
// Lines marked @ts-expect-error must fail to type-check: the types reject misuse.
// No DOM or Node typings are loaded: the package's types must stand alone.
import {
  Gate,
  JitgateError,
  auditLine,
  init,
  initSync,
  version,
  wasmMemoryBytes,
  type Approval,
  type AuditRecord,
  type Decision,
  type FeedConfig,
  type FeedErrorCode,
  type FeedState,
  type TrustStatus,
  type GateConfig,
  type GateRequest,
  type JitgateErrorCode,
  type ReasonCode,
  type TokenErrorCode,
  type VerifyResult,
} from 'jitgate';

const config: GateConfig = {
  issuers: [
    {
      issuer: 'https://approvals.example.com',
      audience: 'db-gateway',
      jwks: { keys: [{ kty: 'OKP', crv: 'Ed25519', kid: 'k1', x: 'AAAA', alg: 'EdDSA', use: 'sig' }] },
      leeway_s: 30,
    },
    {
      issuer: 'https://other.example.com',
      audience: 'db-gateway',
      jwks: { keys: [{ kty: 'EC', crv: 'P-256', kid: 'e1', x: 'AAAA', y: 'BBBB' }] },
    },
  ],
  resource: 'test-database',
  token: { header: 'authorization', prefix: 'Bearer ' },
  identity: { header: 'x-authenticated-user' },
  policy: { modules: { 'jit.rego': 'package access.jit\nallow := true' }, entrypoint: 'data.access.jit.allow' },
  mode: 'dry_run',
};

// @ts-expect-error an EC key needs `y`
const badKey: GateConfig['issuers'][number]['jwks']['keys'][number] = { kty: 'EC', crv: 'P-256', kid: 'e', x: 'A' };
// @ts-expect-error mode is enforce or dry_run
const badMode: GateConfig = { ...config, mode: 'audit' };
void badKey;
void badMode;

await init();
initSync();
const gate = new Gate(config);
const fromText = new Gate(JSON.stringify(config));
const mode: 'enforce' | 'dry_run' = gate.mode;
const header: string = gate.tokenHeader;

// Node's IncomingMessage headers (a dictionary of string | string[] | undefined).
interface NodeLikeHeaders {
  [name: string]: string | string[] | undefined;
}
const nodeHeaders: NodeLikeHeaders = { host: 'db.internal', 'set-cookie': ['a=1', 'b=2'] };
const req: GateRequest = { method: 'GET', path: '/orders?id=7', headers: nodeHeaders, source: { address: '10.0.0.7:1' } };
const pairs: GateRequest = { method: 'GET', path: '/', headers: new Map([['x-jit-approval', 't']]) };
const bound: GateRequest = { method: 'GET', path: '/', source: { certificateSha256: 'abc' } };
// @ts-expect-error method is required
const noMethod: GateRequest = { path: '/' };
void noMethod;

const d: Decision = gate.decide(req, { now: new Date() });
gate.decide(pairs, { now: Date.now() });
gate.decide(bound);
// @ts-expect-error `now` is a Date or milliseconds, not a string
gate.decide(req, { now: '2026-11-26T10:00:00Z' });

const allow: boolean = d.allow;
const reason: ReasonCode = d.reason;
const policyReason: string | null = d.policyReason;
const id: string = d.decisionId;
const audit: AuditRecord = d.audit;
const evalNs: number | null = audit.evalNs;
const line: string = auditLine(d.audit);
// @ts-expect-error the audit record is camelCase
const snake = audit.decision_id;
const approval: Approval | null = d.approval;
const expiresMs: number | undefined = approval?.expires;
const role: string | undefined = approval?.role;
const tokenError: TokenErrorCode | null = d.token.error;
const counters: string[] = d.counters;

// The two outcomes narrow on `response`.
if (d.response) {
  const status: number = d.response.status;
  const headers: Record<string, string> = d.response.headers;
  const body: string = d.response.body;
  const denied: false = d.allow;
  void [status, headers, body, denied];
  // @ts-expect-error no forward on a local response
  d.forward.addHeaders;
} else {
  const remove: string[] = d.forward.removeHeaders;
  const add: Record<string, string> = d.forward.addHeaders;
  void [remove, add];
}

const v: VerifyResult = gate.verify('a.b.c', { now: 0, identity: 'alice', certificateSha256: 'x' });
if (v.valid) {
  const minutesLeft: number = (v.approval.expires - Date.now()) / 60_000;
  const claims: Record<string, unknown> = v.approval.claims;
  void [minutesLeft, claims];
} else {
  const code: TokenErrorCode = v.code;
  const detail: string = v.detail;
  void [code, detail];
  // @ts-expect-error no approval on an invalid result
  v.approval;
}

try {
  new Gate('{');
} catch (e) {
  if (e instanceof JitgateError) {
    const code: JitgateErrorCode = e.code;
    const field: string | null = e.field;
    const message: string = e.message;
    const asError: Error = e;
    void [code, field, message, asError];
  }
}

// Live trust: a feed on the issuer, documents installed, refusals thrown with a code.
const feed: FeedConfig = {
  cluster: 'approvals',
  status_lists: { 'https://approvals.example.com/v1/status-lists/0': '/v1/status-lists/0' },
  max_stale_s: 60,
  on_stale: 'deny',
};
const withFeed: GateConfig = {
  ...config,
  issuers: [{ issuer: 'https://approvals.example.com', audience: 'db-gateway', jwks: { keys: [] }, feed }],
};
// @ts-expect-error on_stale is deny or allow
const badFeed: FeedConfig = { cluster: 'c', on_stale: 'maybe' };
// @ts-expect-error cluster is required
const noCluster: FeedConfig = { refresh_s: 5 };
void [badFeed, noCluster];
const live = new Gate(withFeed);
const installed: FeedState = live.installRevocations('https://approvals.example.com', 'a.b.c', { now: Date.now() });
const seq: number | null = installed.seq;
const changed: boolean = installed.changed;
live.installStatusList('https://approvals.example.com', 'https://approvals.example.com/v1/status-lists/0', 'a.b.c');
live.installKeys('https://approvals.example.com', '{"keys": []}', { now: new Date() });
live.confirmCurrent('https://approvals.example.com');
live.confirmCurrent('https://approvals.example.com', 'https://approvals.example.com/v1/status-lists/0', { now: 0 });
// @ts-expect-error the document is text
live.installRevocations('https://approvals.example.com', new Uint8Array(1));
const trust: TrustStatus[] = live.trustStatus();
const stale: boolean | undefined = trust[0]?.stale;
const ageS: number | null | undefined = trust[0]?.revocationsAgeS;
const servedStale: boolean = d.trustStale;
const staleReason: ReasonCode = 'revocations_stale';
const unknownStatus: TokenErrorCode = 'token_status_unknown';
try {
  live.installRevocations('https://approvals.example.com', 'x');
} catch (e) {
  if (e instanceof JitgateError && e.kind !== undefined) {
    const code: JitgateErrorCode = e.code;
    const feedCode: FeedErrorCode = 'feed_rollback';
    const detail: string | undefined = e.detail;
    void [code, feedCode, detail];
  }
}
void [seq, changed, stale, ageS, servedStale, staleReason, unknownStatus];

{
  using scoped = new Gate(config);
  scoped.decide(req);
}
gate.free();
fromText[Symbol.dispose]();
const bytes: number = wasmMemoryBytes();
const ver: string = version();
void [mode, header, allow, reason, policyReason, id, evalNs, expiresMs, role, tokenError, counters, bytes, ver];
