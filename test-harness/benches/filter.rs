//! The filter in the harness against the native core, same requests, same run:
//! per-request time on the cached-token path (target ≤ 2× native) and with a fresh
//! token, plus VM start + configure time for the shipped seed policy (target ≤ 50 ms).
//!
//! Run: `make bench` (or `JITGATE_FILTER=$PWD/target/jitgate_filter.wasm cargo bench -p
//! jitgate-harness --bench filter`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a bench fails loudly

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use jitgate_core::{Algorithm, Gate, Request};
use jitgate_harness::jitgate::envoy_request;
use jitgate_harness::{FilterModule, Host};
use jitgate_mint::{self as mint, SigningKey};
use serde_json::json;

const NOW_S: i64 = 1_795_687_200;
const NOW: i64 = NOW_S * 1_000_000_000;
const SEED_POLICY: &str = include_str!("../../policies/jit.rego");

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median time of `f` over `rounds` rounds of `batch` calls each, per call.
fn measure(rounds: usize, batch: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..batch {
        f(); // warm up
    }
    let samples = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..batch {
                f();
            }
            t.elapsed() / batch
        })
        .collect();
    median(samples)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let path = std::env::var_os("JITGATE_FILTER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/jitgate_filter.wasm"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run `make filter` first)", path.display()));

    let ed = SigningKey::from_secret(Algorithm::EdDsa, &[0x11; 32]).unwrap();
    let config = json!({
        "issuers": [{"issuer": "https://approvals.example.com", "audience": "db-gateway",
                     "jwks": {"keys": [ed.public_jwk("ed1")]}}],
        "resource": "test-database",
        "policy": {"modules": {"jit.rego": SEED_POLICY}}
    })
    .to_string();
    let claims = |jti: &str| {
        json!({"iss": "https://approvals.example.com", "sub": "alice@example.com", "aud": "db-gateway",
               "iat": NOW_S - 120, "nbf": NOW_S - 60, "exp": NOW_S + 3600, "jti": jti,
               "jit": {"resource": "test-database", "role": "developer", "actions": ["read"]}})
    };
    let request = |token: &str| {
        Request::new("GET", "/orders?id=7")
            .header("host", "db.internal")
            .header("user-agent", "bench/1.0")
            .header("x-request-id", "9d3f1c2e-0000-4000-8000-000000000001")
            .header("x-jit-approval", token)
            .source_address("10.0.0.7:51234")
    };
    let cached_token = mint::mint(&claims("appr-1"), &ed, "ed1");
    let fresh_tokens: Vec<String> = (0..4000)
        .map(|i| mint::mint(&claims(&format!("appr-f{i}")), &ed, "ed1"))
        .collect();

    // VM start + configure: compile (once per process, as Envoy does per module), then
    // instantiate + _initialize + vm_start + configure for each new VM.
    let t = Instant::now();
    let module = FilterModule::from_bytes(&bytes).unwrap();
    let compile = t.elapsed();
    let start_configure = median(
        (0..10)
            .map(|_| {
                let t = Instant::now();
                let mut host = Host::new(&module).unwrap();
                host.configure(&config).unwrap();
                black_box(&host);
                t.elapsed()
            })
            .collect(),
    );

    // Cached-token path.
    let gate = Gate::new(&config).unwrap();
    let mut host = Host::new(&module).unwrap();
    host.configure(&config).unwrap();
    let cached_req = request(&cached_token);
    assert!(gate.decide(&cached_req, NOW).allow);
    assert!(host.request(envoy_request(&cached_req, NOW)).unwrap().is_forwarded());
    let native_cached = measure(15, 200, || {
        black_box(gate.decide(black_box(&cached_req), NOW));
    });
    let filter_cached = measure(15, 200, || {
        let out = host.request(envoy_request(&cached_req, NOW)).unwrap();
        black_box(out);
        // The harness keeps every log line; drop them so memory stays flat.
        host.take_logs();
        host.take_calls();
    });
    // Part of the filter figure that is the harness's, not the filter's: building the
    // Envoy-shaped request.
    let translate = measure(15, 200, || {
        black_box(envoy_request(black_box(&cached_req), NOW));
    });

    // Fresh-token path: a new token every request (signature verified each time).
    let mut uncached = Gate::new(&config).unwrap();
    uncached.set_cache_bounds(0, 0);
    let fresh_reqs: Vec<Request> = fresh_tokens.iter().map(|t| request(t)).collect();
    let mut k = 0;
    let native_fresh = measure(9, 200, || {
        k = (k + 1) % fresh_reqs.len();
        black_box(uncached.decide(&fresh_reqs[k], NOW));
    });
    let mut k = 0;
    let filter_fresh = measure(9, 200, || {
        k = (k + 1) % fresh_reqs.len();
        black_box(host.request(envoy_request(&fresh_reqs[k], NOW)).unwrap());
        host.take_logs();
        host.take_calls();
    });

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "jitgate filter in the harness vs the native core (medians, same run, {} bytes of wasm)",
        bytes.len()
    );
    println!(
        "  module compile (once per module)      {:>10.2} ms",
        compile.as_secs_f64() * 1e3
    );
    println!(
        "  VM start + configure (seed policy)    {:>10.2} ms   (target ≤ 50 ms)",
        start_configure.as_secs_f64() * 1e3
    );
    println!("  native decide, cached token           {:>10.2} µs", us(native_cached));
    println!(
        "  filter request, cached token          {:>10.2} µs   {:.2}× native (target ≤ 2×)",
        us(filter_cached),
        us(filter_cached) / us(native_cached)
    );
    println!("    of which request translation        {:>10.2} µs", us(translate));
    println!("  native decide, fresh token            {:>10.2} µs", us(native_fresh));
    println!(
        "  filter request, fresh token           {:>10.2} µs   {:.2}× native",
        us(filter_fresh),
        us(filter_fresh) / us(native_fresh)
    );
}
