//! Per-request cost of `Gate::decide` on the cached path (a token already verified),
//! with the seed policy. Build it natively and for `wasm32-wasip1` to compare:
//!
//! ```text
//! cargo run --release -p jitgate-filter --example decide_bench
//! cargo build --release -p jitgate-filter --example decide_bench --target wasm32-wasip1
//! ```
//! and run the `.wasm` in any WASI runtime (`filter/bench.py` uses wasmtime).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark fails loudly

use std::time::Instant;

use jitgate_core::mint::{self, SigningKey};
use jitgate_core::{Algorithm, Gate, Request};
use serde_json::json;

const NOW_S: i64 = 1_795_687_200;
const POLICY: &str = include_str!("../../policies/jit.rego");

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000);
    let key = SigningKey::from_secret(Algorithm::EdDsa, &[0x11; 32]).unwrap();
    let config = json!({
        "issuers": [{"issuer": "https://approvals.example.com", "audience": "db-gateway",
                     "jwks": {"keys": [key.public_jwk("k1")]}}],
        "resource": "test-database",
        "policy": {"modules": {"jit.rego": POLICY}}
    });
    let claims = json!({
        "iss": "https://approvals.example.com", "sub": "alice@example.com", "aud": "db-gateway",
        "iat": NOW_S - 120, "nbf": NOW_S - 60, "exp": NOW_S + 3600, "jti": "appr-1",
        "jit": {"resource": "test-database", "role": "developer", "actions": ["read"]}
    });
    let token = mint::mint(&claims, &key, "k1");
    let gate = Gate::new(&config.to_string()).unwrap();
    let request = Request::new("GET", "/orders?id=7")
        .header("host", "db.internal")
        .header("x-request-id", "rid-1")
        .header("user-agent", "bench")
        .header("x-jit-approval", token);
    let now = NOW_S * 1_000_000_000;

    let start = Instant::now();
    let first = gate.decide(&request, now);
    let first_ns = start.elapsed().as_nanos();
    assert!(first.allow, "{:?}", first.reason);

    let start = Instant::now();
    for i in 0..iterations {
        let d = gate.decide(&request, now + i64::from(i));
        assert!(d.allow);
    }
    let per = start.elapsed().as_nanos() / u128::from(iterations);
    println!(
        "{}",
        json!({"first_decision_ns": first_ns as u64, "cached_decision_ns": per as u64, "iterations": iterations})
    );
}
