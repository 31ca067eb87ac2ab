//! Shared helpers for the integration tests: TEST-ONLY keys (fixed seeds, never use
//! them anywhere else), claims, configurations and requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
#![allow(dead_code)]

use jitgate_core::{Algorithm, Decision, Gate, Request};
use jitgate_mint::{self as mint, SigningKey};
use serde_json::{json, Value};

/// 2026-11-26T10:00:00Z in seconds.
pub const NOW_S: i64 = 1_795_687_200;
/// The same, in nanoseconds.
pub const NOW: i64 = NOW_S * 1_000_000_000;
pub const SEC: i64 = 1_000_000_000;
pub const ISSUER: &str = "https://approvals.example.com";
pub const AUDIENCE: &str = "db-gateway";

/// TEST-ONLY Ed25519 key, kid `ed1`.
pub fn ed_key() -> SigningKey {
    SigningKey::from_secret(Algorithm::EdDsa, &[0x11; 32]).unwrap()
}

/// TEST-ONLY P-256 key, kid `ec1`.
pub fn ec_key() -> SigningKey {
    SigningKey::from_secret(Algorithm::Es256, &[0x22; 32]).unwrap()
}

/// TEST-ONLY Ed25519 key that is not configured anywhere.
pub fn stranger_key() -> SigningKey {
    SigningKey::from_secret(Algorithm::EdDsa, &[0x33; 32]).unwrap()
}

/// Claims valid at [`NOW`]: window [NOW-60 s, NOW+3600 s), developer on test-database.
pub fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "alice@example.com", "aud": AUDIENCE,
        "iat": NOW_S - 120, "nbf": NOW_S - 60, "exp": NOW_S + 3600,
        "jti": "appr-1",
        "jit": {"resource": "test-database", "role": "developer", "actions": ["read"],
                "reason": "incident 42", "approvers": ["bob@example.com"], "risk": "low"}
    })
}

/// An EdDSA token over `claims` with the standard header.
pub fn token(claims: &Value) -> String {
    mint::mint(claims, &ed_key(), "ed1")
}

/// An ES256 token over `claims` with the standard header.
pub fn es_token(claims: &Value) -> String {
    mint::mint(claims, &ec_key(), "ec1")
}

/// A token with a custom header (as a JSON value) signed by the Ed25519 test key.
pub fn token_with_header(header: &Value, claims: &Value) -> String {
    mint::sign(header.as_object().unwrap(), claims, &ed_key())
}

/// Rego that allows exactly when the token verified (so decisions show token codes).
pub const TOKEN_ONLY_POLICY: &str = "package access.jit\nallow if input.token.valid\n";

/// The seed policy as shipped.
pub const SEED_POLICY: &str = include_str!("../../../policies/jit.rego");

/// A configuration with both test keys and `policy` as the only module.
pub fn config_with(policy: &str) -> Value {
    json!({
        "issuers": [{
            "issuer": ISSUER, "audience": AUDIENCE,
            "jwks": {"keys": [ed_key().public_jwk("ed1"), ec_key().public_jwk("ec1")]}
        }],
        "resource": "test-database",
        "policy": {"modules": {"jit.rego": policy}}
    })
}

pub fn gate(config: &Value) -> Gate {
    Gate::new(&config.to_string()).unwrap_or_else(|e| panic!("config refused: {e}"))
}

pub fn request_with(token: &str) -> Request {
    Request::new("GET", "/orders?id=7")
        .header("host", "db.internal")
        .header("x-jit-approval", token)
}

/// Decides `token` with the token-only policy at `now`.
pub fn decide_token(token: &str, now: i64) -> Decision {
    gate(&config_with(TOKEN_ONLY_POLICY)).decide(&request_with(token), now)
}

/// The reason code of deciding `token` at [`NOW`] with the token-only policy.
pub fn code(token: &str) -> &'static str {
    decide_token(token, NOW).reason.code()
}
