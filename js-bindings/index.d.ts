// Type definitions for jitgate (hand-written; checked by `tsc --noEmit` on
// test/types/usage.ts in `npm test`).
//
// Times in this API are epoch milliseconds (numbers), like `Date.now()`. The
// configuration object keeps the snake_case field names of the jitgate
// configuration (DESIGN §6), so the same JSON configures the Envoy filter, the CLI
// and this package. Every object this package returns is camelCase, the audit
// record included (`auditLine` writes it with the log line's names).
//
// Needs TypeScript 5.2 or later (`Symbol.dispose`); no DOM or Node typings.

/// <reference lib="esnext.disposable" />

// ---------------------------------------------------------------------------
// Configuration (DESIGN §6)
// ---------------------------------------------------------------------------

/** Members every public JWK may carry besides its key material. */
interface JwkCommon {
  /** Key id; tokens name it in their `kid` header. */
  kid: string;
  /** Only `sig` keys verify tokens. */
  use?: 'sig';
  /** When present, must contain `verify`. */
  key_ops?: string[];
  x5c?: string[];
  x5t?: string;
  'x5t#S256'?: string;
  x5u?: string;
}

/** An Ed25519 public key (`EdDSA`). */
export interface Ed25519Jwk extends JwkCommon {
  kty: 'OKP';
  crv: 'Ed25519';
  /** The public key, base64url (32 bytes). */
  x: string;
  alg?: 'EdDSA';
}

/** A P-256 public key (`ES256`). */
export interface P256Jwk extends JwkCommon {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  alg?: 'ES256';
}

/** A verification key. The key, not the token, fixes the algorithm. */
export type Jwk = Ed25519Jwk | P256Jwk;

/** One trusted approval service. */
export interface IssuerConfig {
  /** Exact `iss` of its tokens. */
  issuer: string;
  /** The audience its tokens must name in `aud`. */
  audience: string;
  /** Its public keys. */
  jwks: { keys: Jwk[] };
  /** Longest access window `exp - nbf`, seconds. Default 43200 (12 h). */
  max_ttl_s?: number;
  /** Clock-skew leeway, seconds. Default 30, at most 300. */
  leeway_s?: number;
  /**
   * Its live-trust feed (docs/live-trust.md): with it, approvals of this issuer need a
   * revocation list installed (`Gate.installRevocations`) and not older than
   * `max_stale_s`. In JS the host fetches (see `examples/feed-poller.mjs`); the
   * Envoy-only fetching fields are accepted and ignored.
   */
  feed?: FeedConfig;
}

/** An issuer's live-trust feed (`issuers[].feed`). */
export interface FeedConfig {
  /** The Envoy cluster the feed is fetched from (required; not used in JS). */
  cluster: string;
  /** `:authority` of the filter's feed requests. Default: the cluster name. */
  authority?: string;
  /** Path of the signed revocation list. Default `/v1/revocations`. */
  revocations_path?: string;
  /** Status-list URI (as tokens name it in `status.status_list.uri`) → its path on the feed. */
  status_lists?: Record<string, string>;
  /** Path of the key set; without it the keys stay those of `jwks`. */
  jwks_path?: string;
  /** Accept a plain JWKS (unsigned) as the key set. Default false. */
  unsigned_jwks?: boolean;
  /** Seconds between revocation-list and status-list fetches (1–3600). Default 5. */
  refresh_s?: number;
  /** Seconds between key-set fetches (1–86400). Default 300. */
  jwks_refresh_s?: number;
  /** Shortest time between key-set fetches caused by an unknown `kid`, seconds. Default 30. */
  unknown_kid_refetch_s?: number;
  /** One fetch's time limit, milliseconds (1–60000). Default 2000. */
  timeout_ms?: number;
  /** Revocation knowledge not confirmed for longer than this is stale, seconds (`refresh_s`–604800). Default 60. */
  max_stale_s?: number;
  /** Stale knowledge: `deny` the issuer's approvals (`revocations_stale`, the default) or `allow` them (counted). */
  on_stale?: 'deny' | 'allow';
}

/** The Rego policy. */
export interface PolicyConfig {
  /** Module name → Rego source (Rego v1 unless `rego_v0`). */
  modules: Record<string, string>;
  /** The `data` document. Default `{}`. */
  data?: Record<string, unknown>;
  /** The rule decided per request. Default `data.access.jit.allow`. */
  entrypoint?: string;
  /** Accept Rego v0 syntax. Default false. */
  rego_v0?: boolean;
}

/** The jitgate configuration: the same object for the Envoy filter, the CLI and `Gate`. */
export interface GateConfig {
  /** Trusted approval services (at least one). */
  issuers: IssuerConfig[];
  /** The resource this gate guards; approvals must name it. Default: any. */
  resource?: string;
  /** Where the token travels. Default header `x-jit-approval`, no prefix, not forwarded. */
  token?: { header?: string; prefix?: string; forward?: boolean };
  /** Where the caller's authenticated identity comes from (compared with `sub`). */
  identity?: { header: string } | { source: 'peer_principal' };
  /** The policy. */
  policy: PolicyConfig;
  /** Revoked approval ids (`jti`). */
  revoked?: string[];
  /** `dry_run` decides and reports but lets every request through. Default `enforce`. */
  mode?: 'enforce' | 'dry_run';
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/** A header value: one string, or the values of a repeated header. */
export type HeaderValue = string | readonly string[];

/** Anything iterable as `[name, value]` pairs: a fetch `Headers`, a `Map`, an array. */
export type HeaderPairs = Iterable<readonly [string, string]>;

/** The connection the request came over. Each field is optional. */
export interface RequestSource {
  /** Peer address, `ip:port`. */
  address?: string;
  /** The mTLS peer's URI SAN (such as a SPIFFE id). */
  principal?: string;
  /** Base64url SHA-256 of the peer certificate (for tokens bound with `cnf`). */
  certificateSha256?: string;
  /** The same as `certificateSha256`, as request files (DESIGN §8) spell it. */
  certificate_sha256?: string;
}

/** One HTTP request, as the gate sees it. */
export interface GateRequest {
  /** `GET`, `POST`, … */
  method: string;
  /** Path with query string, as sent (`/orders?id=7`). */
  path: string;
  /** Request headers; names are compared case-insensitively. */
  headers?: Record<string, HeaderValue | undefined> | HeaderPairs;
  /** The connection. */
  source?: RequestSource;
  /** `:authority`; default: the `host` header. */
  host?: string;
  /** `http` or `https`. */
  scheme?: string;
  /** `HTTP/1.1`, `HTTP/2`, … */
  protocol?: string;
  /** Request id; default: the `x-request-id` header. */
  id?: string;
}

/** When to decide: a `Date` or epoch milliseconds. Default: now (`Date.now()`). */
export interface DecideOptions {
  now?: Date | number;
}

/** Options of `Gate.verify`. */
export interface VerifyOptions extends DecideOptions {
  /** The caller's identity; when given it must equal the token's `sub`. */
  identity?: string;
  /** Base64url SHA-256 of the client certificate, for tokens bound with `cnf`. */
  certificateSha256?: string;
}

// ---------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------

/** Why a token grants nothing (DESIGN §3). */
export type TokenErrorCode =
  | 'token_missing'
  | 'token_malformed'
  | 'token_type'
  | 'token_algorithm'
  | 'token_key_unknown'
  | 'token_signature'
  | 'token_issuer'
  | 'token_audience'
  | 'token_not_yet_valid'
  | 'token_expired'
  | 'token_window_too_long'
  | 'token_revoked'
  | 'token_resource_mismatch'
  | 'token_subject_mismatch'
  | 'token_binding_mismatch'
  /** The token names a status list the gate cannot know (not in its issuer's `feed.status_lists`), or an entry outside it. */
  | 'token_status_unknown'
  /** The issuer's revocation knowledge is older than `feed.max_stale_s`, or has not arrived (and `on_stale` is `deny`). */
  | 'revocations_stale';

/** The stable reason code of a decision (DESIGN §5). */
export type ReasonCode =
  | 'allowed'
  | 'policy_denied'
  | 'policy_undefined'
  | 'policy_error'
  /** A value a client sent that the gate cannot read (absolute-form path, bad header name): 400. */
  | 'request_invalid'
  /** The host failed (500). */
  | 'internal_error'
  | TokenErrorCode;

/** A verified approval. Optional members are absent when the token lacks them. */
export interface Approval {
  /** `jti`. */
  id: string;
  /** `sub`: the requester. */
  subject: string;
  /** `iss`. */
  issuer: string;
  /** The key that verified it. */
  kid: string;
  alg: 'EdDSA' | 'ES256';
  /** `jit.resource`, always as a list. */
  resources: string[];
  role?: string;
  actions?: string[];
  reason?: string;
  ticket?: string;
  approvers?: string[];
  risk?: string;
  /** `iat`, epoch milliseconds. */
  issuedAt: number;
  /** `nbf`: start of the access window, epoch milliseconds. */
  notBefore: number;
  /** `exp`: end of the access window, epoch milliseconds. */
  expires: number;
  /** The whole verified payload, as signed (times in seconds). */
  claims: Record<string, unknown>;
}

/**
 * The audit record (DESIGN §7), its members camelCased like the rest of this API.
 * `auditLine(record)` writes it as the filter's log line (snake_case names).
 */
export interface AuditRecord {
  /** Decision time, RFC 3339 UTC. */
  ts: string;
  decisionId: string;
  mode: 'enforce' | 'dry_run';
  allow: boolean;
  enforced: boolean;
  status: number;
  reason: ReasonCode;
  policyReason: string | null;
  subject: string | null;
  approvalId: string | null;
  issuer: string | null;
  kid: string | null;
  resource: string | null;
  method: string;
  path: string;
  source: string | null;
  identity: string | null;
  /** End of the approval window, RFC 3339 UTC. */
  expires: string | null;
  /** Time spent deciding, measured around the wasm call, nanoseconds. */
  evalNs: number | null;
  requestId: string | null;
  traceId: string | null;
  tokenPresent: boolean;
  /** Internal detail of a token failure or policy error; never for the client. */
  detail: string | null;
}

/**
 * The audit record as the one JSON line the Envoy filter logs after its prefix:
 * the same members in the same order with the log's snake_case names
 * (`decision_id`, `eval_ns`, …), so one log pipeline reads every host.
 */
export function auditLine(audit: AuditRecord): string;

/** The response to send instead of forwarding (an enforced denial). */
export interface LocalResponse {
  /** 401, 403 or the policy's status. */
  status: number;
  /** Lower-case names: `content-type`, `www-authenticate` (401), policy headers. */
  headers: Record<string, string>;
  /** JSON `{"error":"access_denied","reason","message"?,"decision_id"}`. */
  body: string;
}

/** Changes to make to the request sent upstream, and to its response. */
export interface Forward {
  /** Request headers to remove (lower case), before adding. */
  removeHeaders: string[];
  /** Request headers to set (`x-jit-approval-id`, `x-jit-subject`, `x-jit-expires`, policy headers). */
  addHeaders: Record<string, string>;
  /** Headers to add to the upstream response. */
  responseHeaders: Record<string, string>;
}

/** What the token check found. */
export interface TokenCheck {
  present: boolean;
  valid: boolean;
  error: TokenErrorCode | null;
  /** Why it failed (internal detail, like `audit.detail`). */
  detail?: string;
}

interface DecisionBase {
  /** The real decision (also in dry run). */
  allow: boolean;
  /** `false` in dry run: the request goes through whatever `allow` says. */
  enforced: boolean;
  /** 200 when allowed, else 401, 403 or the policy's status. */
  status: number;
  reason: ReasonCode;
  /** The policy's own `reason`, if it gave one. */
  policyReason: string | null;
  decisionId: string;
  token: TokenCheck;
  /** The verified approval, when the token verified. */
  approval: Approval | null;
  /** Counter names this decision increments (`jitgate.allowed`, `jitgate.denied.<reason>`, …). */
  counters: string[];
  /** The approval passed although its issuer's revocation knowledge is stale (`feed.on_stale: allow`; counted in `jitgate.feed.served_stale`). */
  trustStale: boolean;
  audit: AuditRecord;
}

/** The request goes upstream with these changes (allowed, or dry run). */
export interface ForwardDecision extends DecisionBase {
  forward: Forward;
  response?: undefined;
}

/** The request is answered locally (an enforced denial). */
export interface RespondDecision extends DecisionBase {
  allow: false;
  enforced: true;
  response: LocalResponse;
  forward?: undefined;
}

/** The outcome of `Gate.decide`: check `response` (answer locally) or `forward`. */
export type Decision = ForwardDecision | RespondDecision;

/** The outcome of `Gate.verify`. */
export type VerifyResult =
  | { valid: true; approval: Approval }
  | { valid: false; code: TokenErrorCode; detail: string };

// ---------------------------------------------------------------------------
// Live trust (docs/live-trust.md)
// ---------------------------------------------------------------------------

/** The kinds of feed document. */
export type FeedDocumentKind = 'revocations' | 'status_list' | 'keys';

/** Why the gate refused a feed document (`JitgateError.code` is `feed_<code>`). */
export type FeedErrorCode =
  /** The issuer is not configured, has no `feed`, or the status list is not in its `feed.status_lists`. */
  | 'feed_not_configured'
  /** Over 8 MiB, or a status list inflating past 4 MiB. */
  | 'feed_too_large'
  | 'feed_malformed'
  /** `typ` missing or not the document's. */
  | 'feed_type'
  | 'feed_algorithm'
  /** Signed by a key the gate does not trust now. */
  | 'feed_key_unknown'
  | 'feed_signature'
  /** `iss` is not the issuer it was installed for. */
  | 'feed_issuer'
  /** A status list whose `sub` is not the URI it was installed as. */
  | 'feed_subject'
  | 'feed_not_yet_valid'
  | 'feed_expired'
  /** Older than the installed one (lower `seq`, or older `iat`). */
  | 'feed_rollback'
  /** A plain JWKS where `feed.unsigned_jwks` is not true. */
  | 'feed_unsigned'
  /** `confirmCurrent` with nothing installed to confirm. */
  | 'feed_not_installed';

/** What an install or confirmation left in place. Times in epoch milliseconds. */
export interface FeedState {
  kind: FeedDocumentKind;
  issuer: string;
  /** The revocation list's `seq` (null for the other kinds). */
  seq: number | null;
  /** The document's `iat` (null for a plain JWKS). */
  issuedAt: number | null;
  /** The document's `exp` (null for a plain JWKS). */
  expires: number | null;
  /** Revoked ids, status-list entries, or keys. */
  entries: number;
  /** Whether what the gate decides with changed (a new `seq`, other ids, other keys). */
  changed: boolean;
}

/** One issuer's live-trust state (`Gate.trustStatus`), for gauges. */
export interface TrustStatus {
  issuer: string;
  /** `seq` of the installed revocation list. */
  revocationsSeq: number | null;
  /** Seconds since the revocation list was last installed or confirmed. */
  revocationsAgeS: number | null;
  /** Ids in the installed revocation list. */
  revoked: number;
  /** Status lists held. */
  statusLists: number;
  /** Keys trusted now. */
  keys: number;
  /** Whether approvals of this issuer are decided with stale knowledge now (an issuer with a feed and no list is stale). */
  stale: boolean;
}

// ---------------------------------------------------------------------------
// API
// ---------------------------------------------------------------------------

/** Stable codes of `JitgateError`. */
export type JitgateErrorCode =
  | 'config_syntax'
  | 'config_invalid'
  | 'request_invalid'
  | 'argument_invalid'
  | 'gate_freed'
  | 'not_initialized'
  | 'internal'
  | FeedErrorCode;

/** Thrown for a bad configuration, request, argument or feed document (never for a bad token). */
export class JitgateError extends Error {
  readonly name: 'JitgateError';
  readonly code: JitgateErrorCode;
  /** The field at fault (`issuers[0].leeway_s`, `method`, `now`), when one is. */
  readonly field: string | null;
  /** For a refused feed document (`feed_*`): its kind. */
  readonly kind?: FeedDocumentKind;
  /** For a refused feed document (`feed_*`): what exactly (also in `message`). */
  readonly detail?: string;
}

/**
 * A compiled configuration that decides requests. Holds wasm memory: call
 * `free()` when done, or declare it with `using`.
 */
export class Gate {
  /**
   * Parses, validates and compiles the configuration.
   * @throws {JitgateError} `config_syntax` or `config_invalid`, naming the field.
   */
  constructor(config: GateConfig | string);
  /** `enforce` or `dry_run`. */
  readonly mode: 'enforce' | 'dry_run';
  /** The header that carries the approval token (lower case). */
  readonly tokenHeader: string;
  /** Warnings about the configuration (such as trusting the published demo key), one string each, naming the field. */
  readonly warnings: string[];
  /**
   * Decides a request. Nothing a client can send makes it throw: a missing or bad token
   * is a denial with its code, and a request value the gate cannot read (such as an
   * absolute-form `path`) is a denial with reason `request_invalid` (400).
   * @throws {JitgateError} `request_invalid` when `request` is not the request form
   *   (a programming error: a missing or mistyped member, naming the field), or
   *   `argument_invalid` for a bad `now`.
   */
  decide(request: GateRequest, options?: DecideOptions): Decision;
  /** Verifies a token without running the policy. */
  verify(token: string, options?: VerifyOptions): VerifyResult;
  /**
   * Installs the issuer's signed revocation list (`typ: jit-revocations+jwt`; the
   * fetched body's text), as fetched at `options.now` (default: now). Decisions use it
   * at once.
   * @throws {JitgateError} `feed_<code>` (`feed_rollback`, `feed_signature`, …) with `kind`
   *   and `detail` when the gate refuses it (the installed one stays), or
   *   `argument_invalid`.
   */
  installRevocations(issuer: string, text: string, options?: DecideOptions): FeedState;
  /** Installs the issuer's Token Status List `uri` (`typ: statuslist+jwt`, `sub` = `uri`). Like `installRevocations`. */
  installStatusList(issuer: string, uri: string, text: string, options?: DecideOptions): FeedState;
  /**
   * Installs the issuer's key set: a `jwk-set+jwt` signed by a key the gate trusts now,
   * or a plain JWKS where `feed.unsigned_jwks` is true. Like `installRevocations`.
   */
  installKeys(issuer: string, text: string, options?: DecideOptions): FeedState;
  /**
   * After a `304 Not Modified`: the installed revocation list (`uri` absent) or status
   * list `uri` is still current at `options.now`.
   * @throws {JitgateError} `feed_not_installed` when nothing is installed to confirm.
   */
  confirmCurrent(issuer: string, uri?: string | null, options?: DecideOptions): FeedState;
  /** Every issuer's live-trust state at `options.now` (default: now). */
  trustStatus(options?: DecideOptions): TrustStatus[];
  /** Releases the wasm memory. Idempotent; the gate is unusable afterwards. */
  free(): void;
  [Symbol.dispose](): void;
}

/**
 * Where the browser build loads its `.wasm` from: a URL (string or `URL`), a
 * `Request`, a `Response` (or a promise of one), the bytes, or a compiled
 * `WebAssembly.Module`. Typed loosely so the types need no DOM library.
 */
export type WasmSource = string | ArrayBuffer | ArrayBufferView | object;

/**
 * Loads the wasm module. Required once in browsers before `new Gate`; resolves at
 * once in Node. `source` overrides where the `.wasm` comes from (browser build).
 */
export function init(source?: WasmSource): Promise<void>;

/**
 * Instantiates the wasm module synchronously from its bytes or a compiled
 * `WebAssembly.Module` (browser build; no-op in Node).
 */
export function initSync(module?: ArrayBuffer | ArrayBufferView | object): void;

/** Bytes of linear memory the wasm instance holds (it grows, never shrinks). */
export function wasmMemoryBytes(): number;

/** The jitgate version the wasm module was built from. */
export function version(): string;
