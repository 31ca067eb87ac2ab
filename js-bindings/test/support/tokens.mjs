// Test-only approval tokens, signed with node:crypto: an independent signer that
// cross-checks the Rust verifier. Keys are generated per run unless a test passes
// its own (the shared vectors carry private JWKs).
import crypto from 'node:crypto';
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
