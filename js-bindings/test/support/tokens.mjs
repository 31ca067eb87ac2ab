// Test-only approval tokens, signed with node:crypto: an independent signer that
// cross-checks the Rust verifier. Keys are generated per run unless a test passes
// its own (the shared vectors carry private JWKs).
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ISSUER = 'https://approvals.example.com';
export const AUDIENCE = 'db-gateway';
export const RESOURCE = 'test-database';
export const TOKEN_TYPE = 'jit-approval+jwt';

/** 2026-11-26T10:00:00Z, in epoch milliseconds and seconds. */
export const NOW_MS = Date.UTC(2026, 10, 26, 10, 0, 0);
export const NOW_S = NOW_MS / 1000;

/** The seed policy shipped in `policies/jit.rego`. */
export const SEED_POLICY = readFileSync(
  fileURLToPath(new URL('../../../policies/jit.rego', import.meta.url)),
  'utf8',
);

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');

/** A signing key: `{ kid, alg, privateKey, publicJwk }`. */
export function newKey(kind = 'ed25519', kid = kind === 'ed25519' ? 'ed1' : 'ec1') {
  const { privateKey, publicKey } =
    kind === 'ed25519'
      ? crypto.generateKeyPairSync('ed25519')
      : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return keyFrom(privateKey, kid, publicKey);
}

/** A signing key from a private JWK (with `d`), as the shared vectors carry them. */
export function keyFromJwk(jwk, kid = jwk.kid) {
  const privateKey = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
  return keyFrom(privateKey, kid, crypto.createPublicKey(privateKey));
}

function keyFrom(privateKey, kid, publicKey) {
  const jwk = publicKey.export({ format: 'jwk' });
  const alg = jwk.kty === 'OKP' ? 'EdDSA' : 'ES256';
  return { kid, alg, privateKey, publicJwk: { ...jwk, kid, alg } };
}

/** Signs `input` (the JWS signing input) with `key`: Ed25519, or P-256 as r‖s. */
export function signBytes(key, input) {
  const data = Buffer.from(input);
  return key.alg === 'EdDSA'
    ? crypto.sign(null, data, key.privateKey)
    : crypto.sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
}

/**
 * A compact JWS over `claims`. `header` members override the standard header
 * `{alg, typ, kid}`; an override of `null` removes the member.
 */
export function mint(key, claims, header = {}) {
  const h = { alg: key.alg, typ: TOKEN_TYPE, kid: key.kid };
  for (const [name, value] of Object.entries(header)) {
    if (value === null) delete h[name];
    else h[name] = value;
  }
  const input = `${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(signBytes(key, input))}`;
}

/** Claims valid at NOW: window [NOW-60 s, NOW+3600 s), developer on test-database. */
export function claims(overrides = {}) {
  return {
    iss: ISSUER,
    sub: 'alice@example.com',
    aud: AUDIENCE,
    iat: NOW_S - 120,
    nbf: NOW_S - 60,
    exp: NOW_S + 3600,
    jti: 'appr-1',
    jit: {
      resource: RESOURCE,
      role: 'developer',
      actions: ['read'],
      reason: 'incident 42',
      approvers: ['bob@example.com'],
      risk: 'low',
    },
    ...overrides,
  };
}

/** A configuration trusting `keys`, guarding test-database with `policy`. */
export function config(keys, policy = SEED_POLICY, extra = {}) {
  return {
    issuers: [{ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: keys.map((k) => k.publicJwk) } }],
    resource: RESOURCE,
    policy: { modules: { 'jit.rego': policy } },
    ...extra,
  };
}

/** A request to the guarded service carrying `token` (when given). */
export function request(token, extra = {}) {
  const headers = { host: 'db.internal', 'x-request-id': 'rid-1' };
  if (token !== undefined) headers['x-jit-approval'] = token;
  return { method: 'GET', path: '/orders?id=7', headers, source: { address: '10.0.0.7:51234' }, ...extra };
}

// ---------------------------------------------------------------------------
// Live-trust documents (docs/live-trust.md), signed here with node:crypto too.

export const REVOCATIONS_TYPE = 'jit-revocations+jwt';
export const STATUS_LIST_TYPE = 'statuslist+jwt';
export const KEY_SET_TYPE = 'jwk-set+jwt';
export const LIST_URI = `${ISSUER}/v1/status-lists/0`;

/** A feed document: `payload` signed by `key` with `typ` (header overrides as in `mint`). */
export function signDocument(key, typ, payload, header = {}) {
  return mint(key, payload, { typ, ...header });
}

/** A signed revocation list issued at `atS` (seconds), valid for an hour. */
export function revocationList(key, seq, revoked, atS = NOW_S, extra = {}) {
  return signDocument(key, REVOCATIONS_TYPE, { iss: ISSUER, iat: atS, exp: atS + 3600, seq, revoked, ...extra });
}

/**
 * The `lst` of a Token Status List: `statuses` (one per entry) packed `bits` per entry,
 * entry 0 in the least significant bits of byte 0, zlib-compressed, base64url.
 */
export function statusListLst(bits, statuses) {
  const perByte = 8 / bits;
  const bytes = new Uint8Array(Math.ceil(statuses.length / perByte));
  statuses.forEach((s, i) => {
    bytes[Math.floor(i / perByte)] |= s << ((i % perByte) * bits);
  });
  return zlib.deflateSync(bytes).toString('base64url');
}

/** A signed status list `uri` issued at `atS`, with `statuses` at `bits` per entry. */
export function statusList(key, statuses, { bits = 1, uri = LIST_URI, atS = NOW_S, extra = {} } = {}) {
  return signDocument(key, STATUS_LIST_TYPE, {
    iss: ISSUER, sub: uri, iat: atS, exp: atS + 3600, ttl: 5,
    status_list: { bits, lst: statusListLst(bits, statuses) },
    ...extra,
  });
}

/** A key set of `keys` (public halves) signed by `signer`, issued at `atS`. */
export function keySet(signer, keys, atS = NOW_S) {
  return signDocument(signer, KEY_SET_TYPE, { iss: ISSUER, iat: atS, exp: atS + 3600, keys: keys.map((k) => k.publicJwk) });
}

/** `config(keys, policy)` with a `feed` for the issuer (merged with `feed`). */
export function feedConfig(keys, feed = {}, policy = SEED_POLICY) {
  const c = config(keys, policy);
  c.issuers[0].feed = {
    cluster: 'approvals',
    revocations_path: '/v1/revocations',
    jwks_path: '/v1/jwks',
    status_lists: { [LIST_URI]: '/v1/status-lists/0' },
    ...feed,
  };
  return c;
}
