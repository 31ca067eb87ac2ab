//! Per-request cost on the cached path (a token already verified), with the seed policy:
//! `Gate::decide` alone, and the filter's whole request path (`Filter::on_request_headers`:
//! request building, decision, header changes, audit line, counters) over an in-memory
//! host. Build it natively and for `wasm32-wasip1` to compare:
//!
//! ```text
//! cargo run --release -p jitgate-filter --example decide_bench
//! cargo build --release -p jitgate-filter --example decide_bench --target wasm32-wasip1
//! ```
//! and run the `.wasm` in any WASI runtime (`filter/bench.py` uses wasmtime).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark fails loudly

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use jitgate_core::{Algorithm, Gate, Request};
use jitgate_filter::{CounterIds, Filter, HostCalls, HostError, Level, Shared, Verdict};
use jitgate_mint::{self as mint, SigningKey};
use serde_json::json;

/// A host that holds one request in memory and does the least work per call.
struct MemoryHost {
    headers: Vec<(String, Vec<u8>)>,
    clock: Cell<i64>,
    log_bytes: Cell<usize>,
}

impl HostCalls for MemoryHost {
    fn now_ns(&self) -> Result<i64, HostError> {
        Ok(self.clock.get())
    }
    fn request_headers(&self) -> Result<Vec<(String, Vec<u8>)>, HostError> {
        Ok(self.headers.clone())
    }
    fn property(&self, path: &[&str]) -> Result<Option<Vec<u8>>, HostError> {
        Ok(match path {
            ["source", "address"] => Some(b"10.0.0.7:51234".to_vec()),
            ["request", "protocol"] => Some(b"HTTP/1.1".to_vec()),
            _ => None,
        })
    }
    fn remove_request_header(&mut self, _: &str) -> Result<(), HostError> {
        Ok(())
    }
    fn set_request_header(&mut self, _: &str, _: &str) -> Result<(), HostError> {
        Ok(())
    }
    fn add_response_header(&mut self, _: &str, _: &str) -> Result<(), HostError> {
        Ok(())
    }
    fn send_response(&mut self, _: u16, _: &[(String, String)], _: &str) -> Result<(), HostError> {
        Ok(())
    }
    fn reset_request(&mut self) -> Result<(), HostError> {
        Ok(())
    }
    fn define_counter(&self, _: &str) -> Result<u32, HostError> {
        Ok(0)
    }
    fn increment_counter(&self, _: u32) -> Result<(), HostError> {
        Ok(())
    }
    fn set_filter_state(&mut self, _name: &str, _value: &str) -> Result<(), HostError> {
        Ok(())
    }

    fn log(&self, _: Level, message: &str) {
        self.log_bytes.set(self.log_bytes.get() + message.len());
    }

    // Every line written, so the audit line is built and counted.
    fn writes(&self, _: Level) -> bool {
        true
    }
}

const NOW_S: i64 = 1_795_687_200;
const POLICY: &str = include_str!("../../policies/jit.rego");

fn main() {
    let iterations: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5_000);
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
        .header("x-jit-approval", token.clone());
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

    // The whole filter path.
    let mut host = MemoryHost {
        headers: [
            (":authority", "db.internal"),
            (":path", "/orders?id=7"),
            (":method", "GET"),
            (":scheme", "https"),
            ("x-request-id", "rid-1"),
            ("user-agent", "bench"),
            ("x-jit-approval", token.as_str()),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
        .collect(),
        clock: Cell::new(now),
        log_bytes: Cell::new(0),
    };
    let shared = Rc::new(Shared::configure(
        &host,
        Some(config.to_string().as_bytes()),
        CounterIds::define(&host),
        [0; 16],
    ));
    assert!(shared.is_configured());
    assert_eq!(
        Filter::new(Rc::clone(&shared)).on_request_headers(&mut host),
        Verdict::Continue
    );
    let start = Instant::now();
    for i in 0..iterations {
        host.clock.set(now + i64::from(i));
        let verdict = Filter::new(Rc::clone(&shared)).on_request_headers(&mut host);
        assert_eq!(verdict, Verdict::Continue);
    }
    let filter_per = start.elapsed().as_nanos() / u128::from(iterations);
    println!(
        "{}",
        json!({"first_decision_ns": first_ns as u64, "cached_decision_ns": per as u64,
               "filter_cached_ns": filter_per as u64, "iterations": iterations})
    );
}
