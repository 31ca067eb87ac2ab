// The public JS API of jitgate, shared by the Node and the web entry points.
//
// This layer only translates: JS values in (config objects, request objects with
// plain-object or `Headers` headers, `Date` or epoch-millisecond times), JSON text
// across the wasm boundary, plain objects out. Every decision is jitgate-core's.

/** @type {null | { RawGate: any, wasmMemoryBytes: () => number, coreVersion: () => string }} */
let backend = null;

/**
 * Installs the wasm-bindgen module the API runs on (called by the entry points).
 * @param {object} raw the generated module namespace
 */
export function setBackend(raw) {
  backend = raw;
}

function requireBackend() {
  if (backend === null) {
    throw new JitgateError(
      'not_initialized',
      null,
      'the jitgate wasm module is not initialised: `await init()` first',
    );
  }
  return backend;
}

/** An error jitgate throws for a bad configuration, request, argument or feed document. */
export class JitgateError extends Error {
  /**
   * @param {string} code stable code (`config_syntax`, `config_invalid`, `request_invalid`, `feed_rollback`, …)
   * @param {string | null} field the field at fault, when one is
   * @param {string} message what is wrong, naming the field
   * @param {{ kind?: string, detail?: string }} [feed] for a refused feed document: its kind and the detail
   */
  constructor(code, field, message, feed) {
    super(message);
    this.name = 'JitgateError';
    this.code = code;
    this.field = field ?? null;
    if (feed?.kind !== undefined) {
      this.kind = feed.kind;
      this.detail = feed.detail ?? '';
    }
  }
}

/** The `{code, field, message}` JSON the wasm side reports, as a `JitgateError`. */
function errorFrom(text) {
  let e;
  try {
    e = typeof text === 'string' ? JSON.parse(text) : text;
  } catch {
    e = null;
  }
  if (e === null || typeof e !== 'object' || typeof e.code !== 'string') {
    return new JitgateError('internal', null, `jitgate: unexpected error ${String(text)}`);
  }
  return new JitgateError(e.code, e.field ?? null, e.message, e.kind === undefined ? undefined : e);
}

function requireString(value, name) {
  if (typeof value !== 'string') {
    throw new JitgateError('argument_invalid', name, `\`${name}\` must be a string`);
  }
  return value;
}

/** The `{state}` or `{error}` JSON of an install or confirmation: the state, or a throw. */
function feedResult(text) {
  const out = JSON.parse(text);
  if (out.error !== undefined) throw errorFrom(out.error);
  return out.state;
}

const disposeSymbol = typeof Symbol.dispose === 'symbol' ? Symbol.dispose : Symbol.for('Symbol.dispose');

function isPlainObject(v) {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * `now` as epoch milliseconds: a `Date`, a number of milliseconds, or the current
 * time when absent. The wasm side converts to nanoseconds exactly (integral ms).
 */
function nowMs(options) {
  if (options === undefined || options === null) return Date.now();
  if (typeof options !== 'object' || options instanceof Date) {
    throw new JitgateError('argument_invalid', 'options', 'options must be an object such as `{ now }`');
  }
  const now = options.now;
  if (now === undefined || now === null) return Date.now();
  if (now instanceof Date) return now.getTime(); // NaN for an invalid Date: rejected in wasm
  if (typeof now === 'number') return now;
  throw new JitgateError(
    'argument_invalid',
    'now',
    '`now` must be a Date or epoch milliseconds (a number)',
  );
}

/** Header input (plain object, `Headers`, `Map` or `[name, value]` pairs) as a plain object. */
function headersObject(headers) {
  const out = Object.create(null);
  const add = (name, value) => {
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else out[name] = [].concat(prev, value);
  };
  if (typeof headers.getSetCookie === 'function' && typeof headers.get === 'function') {
    // A fetch `Headers`: iteration joins repeated values with ", ", except
    // `set-cookie`, which only `getSetCookie()` gives one by one.
    for (const [name, value] of headers) {
      if (name !== 'set-cookie') add(name, value);
    }
    const cookies = headers.getSetCookie();
    if (cookies.length > 0) add('set-cookie', cookies);
    return out;
  }
  for (const [name, value] of headers) add(String(name), value);
  return out;
}

/** The request as the JSON text the wasm side reads. */
function requestJson(request) {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    throw new JitgateError(
      'request_invalid',
      null,
      'request must be an object `{ method, path, headers, source }`',
    );
  }
  let doc = request;
  const headers = request.headers;
  if (headers !== undefined && headers !== null && !isPlainObject(headers)) {
    if (typeof headers[Symbol.iterator] !== 'function' || typeof headers === 'string') {
      throw new JitgateError(
        'request_invalid',
        'headers',
        'request field `headers` must be a plain object, a `Headers` or a `Map`',
      );
    }
    doc = { ...request, headers: headersObject(headers) };
  }
  const source = request.source;
  if (source !== null && typeof source === 'object' && source.certificateSha256 !== undefined) {
    // The JS spelling; the wasm side reads the request-file spelling.
    const { certificateSha256, ...rest } = source;
    if (rest.certificate_sha256 !== undefined && rest.certificate_sha256 !== certificateSha256) {
      throw new JitgateError(
        'request_invalid',
        'source.certificateSha256',
        'request fields `source.certificateSha256` and `source.certificate_sha256` differ',
      );
    }
    doc = { ...doc, source: { ...rest, certificate_sha256: certificateSha256 } };
  }
  try {
    return JSON.stringify(doc);
  } catch (e) {
    throw new JitgateError('request_invalid', null, `request cannot be written as JSON: ${e.message}`);
  }
}

const clock = typeof performance !== 'undefined' ? performance : Date;

/**
 * A compiled jitgate configuration that decides requests.
 *
 * Keeps its compiled policy and verified-token cache in wasm memory: call
 * `free()` (or use `using gate = new Gate(…)`) when done with it.
 */
export class Gate {
  #raw;

  /**
   * @param {object | string} config the DESIGN §6 configuration, or its JSON text
   */
  constructor(config) {
    const raw = requireBackend();
    let text;
    if (typeof config === 'string') {
      text = config;
    } else if (config !== null && typeof config === 'object' && !Array.isArray(config)) {
      try {
        text = JSON.stringify(config);
      } catch (e) {
        throw new JitgateError('config_invalid', null, `configuration cannot be written as JSON: ${e.message}`);
      }
    } else {
      throw new JitgateError('config_invalid', null, 'configuration must be an object or its JSON text');
    }
    const seed = new Uint8Array(16);
    globalThis.crypto?.getRandomValues?.(seed);
    try {
      this.#raw = new raw.RawGate(text, seed);
    } catch (e) {
      throw errorFrom(e);
    }
  }

  #use() {
    if (this.#raw === null) {
      throw new JitgateError('gate_freed', null, 'this Gate was freed');
    }
    return this.#raw;
  }

  /** `"enforce"` or `"dry_run"`. */
  get mode() {
    return this.#use().mode;
  }

  /** The header that carries the approval token (lower case). */
  get tokenHeader() {
    return this.#use().tokenHeader;
  }

  /** Warnings about the configuration (such as trusting the published demo key), one string each. */
  get warnings() {
    return JSON.parse(this.#use().warnings);
  }

  /**
   * Decides a request. Never throws for anything a client can send: a bad token is
   * a denial with its code, an unreadable request value a denial `request_invalid`
   * (400). Throws a `JitgateError` only for a programming error: a `request` that
   * is not the request form, or a bad `now`.
   */
  decide(request, options) {
    const raw = this.#use();
    const now = nowMs(options);
    const text = requestJson(request);
    const start = clock.now();
    const out = JSON.parse(raw.decide(text, now));
    const elapsed = clock.now() - start;
    if (out.error !== undefined) throw errorFrom(out.error);
    // The host measures the time spent deciding (the core reads no clock).
    out.audit.evalNs = Math.round(elapsed * 1e6);
    return out;
  }

  /**
   * Verifies an approval token without running the policy.
   * @returns `{ valid: true, approval }` or `{ valid: false, code, detail }`
   */
  verify(token, options) {
    const raw = this.#use();
    if (typeof token !== 'string') {
      throw new JitgateError('argument_invalid', 'token', '`token` must be a string');
    }
    const now = nowMs(options);
    const identity = optionalString(options, 'identity');
    const certificate = optionalString(options, 'certificateSha256');
    const out = JSON.parse(raw.verify(token, now, identity, certificate));
    if (out.error !== undefined) throw errorFrom(out.error);
    return out;
  }

  /**
   * Installs the issuer's signed revocation list (`typ: jit-revocations+jwt`), as
   * fetched (the response body's text) at `options.now` (default: now).
   * @returns `{ kind, issuer, seq, issuedAt, expires, entries, changed }`
   * @throws {JitgateError} `feed_<code>` (such as `feed_rollback`) with `kind` and
   *   `detail` when the gate refuses the document; the installed one stays.
   */
  installRevocations(issuer, text, options) {
    const raw = this.#use();
    requireString(issuer, 'issuer');
    requireString(text, 'text');
    return feedResult(raw.installRevocations(issuer, text, nowMs(options)));
  }

  /**
   * Installs the issuer's Token Status List `uri` (`typ: statuslist+jwt`, `sub` = `uri`,
   * one of the issuer's `feed.status_lists`). Like `installRevocations`.
   */
  installStatusList(issuer, uri, text, options) {
    const raw = this.#use();
    requireString(issuer, 'issuer');
    requireString(uri, 'uri');
    requireString(text, 'text');
    return feedResult(raw.installStatusList(issuer, uri, text, nowMs(options)));
  }

  /**
   * Installs the issuer's key set: a `jwk-set+jwt` signed by a key the gate trusts now,
   * or a plain JWKS where `feed.unsigned_jwks` is true. Like `installRevocations`.
   */
  installKeys(issuer, text, options) {
    const raw = this.#use();
    requireString(issuer, 'issuer');
    requireString(text, 'text');
    return feedResult(raw.installKeys(issuer, text, nowMs(options)));
  }

  /**
   * After a `304 Not Modified`: the installed revocation list (no `uri`) or status list
   * `uri` is still current at `options.now`, so it does not go stale.
   * @throws {JitgateError} `feed_not_installed` when there is nothing to confirm.
   */
  confirmCurrent(issuer, uri, options) {
    const raw = this.#use();
    requireString(issuer, 'issuer');
    if (uri !== undefined && uri !== null) requireString(uri, 'uri');
    return feedResult(raw.confirmCurrent(issuer, uri ?? undefined, nowMs(options)));
  }

  /**
   * Every issuer's live-trust state at `options.now`:
   * `[{ issuer, revocationsSeq, revocationsAgeS, revoked, statusLists, keys, stale }]`.
   */
  trustStatus(options) {
    const raw = this.#use();
    const out = JSON.parse(raw.trustStatus(nowMs(options)));
    if (!Array.isArray(out)) throw errorFrom(out.error);
    return out;
  }

  /** Releases the wasm memory this gate holds. Idempotent. */
  free() {
    const raw = this.#raw;
    this.#raw = null;
    raw?.free();
  }

  /** Same as `free()`, for `using gate = new Gate(…)`. */
  [disposeSymbol]() {
    this.free();
  }
}

function optionalString(options, name) {
  const v = options?.[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    throw new JitgateError('argument_invalid', name, `\`${name}\` must be a string`);
  }
  return v;
}

/** Bytes of linear memory the wasm instance holds (it grows, never shrinks). */
/**
 * The audit record as the one JSON line the Envoy filter logs (after its `jitgate
 * audit: ` prefix): the same members in the same order, with the audit log's
 * snake_case names (`decision_id`, `eval_ns`, …), so one log pipeline reads both.
 */
export function auditLine(audit) {
  const line = {};
  for (const [name, value] of Object.entries(audit)) {
    line[name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = value;
  }
  return JSON.stringify(line);
}

export function wasmMemoryBytes() {
  return requireBackend().wasmMemoryBytes();
}

/** The jitgate version the wasm module was built from. */
export function version() {
  return requireBackend().coreVersion();
}
