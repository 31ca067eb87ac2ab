//! Benchmarks of `Gate::decide` on the seed policy, with baselines from the same run:
//! regorus alone evaluating the same policy on a prebuilt input, and the bare
//! signature verifications. Prints a ratio table at the end.
//!
//! Run: `cargo bench -p jitgate-core --bench decide`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a bench fails loudly

use std::hint::black_box;
use std::path::PathBuf;

use criterion::Criterion;
use jitgate_core::unstable::input::{self, InputParts, TokenView};
use jitgate_core::{Algorithm, Gate, Request};
use jitgate_mint::{self as mint, SigningKey};
use serde_json::{json, Value};

const NOW_S: i64 = 1_795_687_200;
const NOW: i64 = NOW_S * 1_000_000_000;
const SEED_POLICY: &str = include_str!("../../policies/jit.rego");

fn keys() -> (SigningKey, SigningKey) {
    (
        SigningKey::from_secret(Algorithm::EdDsa, &[0x11; 32]).unwrap(),
        SigningKey::from_secret(Algorithm::Es256, &[0x22; 32]).unwrap(),
    )
}

fn config() -> Value {
    let (ed, ec) = keys();
    json!({
        "issuers": [{"issuer": "https://approvals.example.com", "audience": "db-gateway",
                     "jwks": {"keys": [ed.public_jwk("ed1"), ec.public_jwk("ec1")]}}],
        "resource": "test-database",
        "policy": {"modules": {"jit.rego": SEED_POLICY}}
    })
}

fn claims() -> Value {
    json!({
        "iss": "https://approvals.example.com", "sub": "alice@example.com", "aud": "db-gateway",
        "iat": NOW_S - 120, "nbf": NOW_S - 60, "exp": NOW_S + 3600, "jti": "appr-1",
        "jit": {"resource": "test-database", "role": "developer", "actions": ["read"],
                "reason": "incident 42", "approvers": ["bob@example.com"]}
    })
}

fn request(token: &str) -> Request {
    Request::new("GET", "/orders?id=7")
        .header("host", "db.internal")
        .header("user-agent", "bench/1.0")
        .header("x-request-id", "9d3f1c2e-0000-4000-8000-000000000001")
        .header("x-jit-approval", token)
        .source_address("10.0.0.7:51234")
}

/// A bare signature check of `token` with `key`, as a closure for `b.iter`.
fn signature_check<'a>(token: &'a str, key: &jitgate_core::Key) -> impl Fn() + 'a {
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = jitgate_core::unstable::jws::b64url_decode(sig).unwrap();
    let material = key.material.clone();
    move || assert!(material.verify(black_box(input.as_bytes()), &sig))
}

fn benches(c: &mut Criterion) {
    let (ed, ec) = keys();
    let ed_token = mint::mint(&claims(), &ed, "ed1");
    let es_token = mint::mint(&claims(), &ec, "ec1");
    let cached = Gate::new(&config().to_string()).unwrap();
    let mut rvm_config = config();
    rvm_config["policy"]["evaluator"] = json!("rvm");
    let rvm_cached = Gate::new(&rvm_config.to_string()).unwrap();
    let mut uncached = Gate::new(&config().to_string()).unwrap();
    uncached.set_cache_bounds(0, 0);
    let ed_req = request(&ed_token);
    let es_req = request(&es_token);
    assert!(cached.decide(&ed_req, NOW).allow);
    assert!(rvm_cached.decide(&ed_req, NOW).allow);
    assert!(uncached.decide(&es_req, NOW).allow);

    // Baseline: regorus alone, the same policy and the same input document, prebuilt.
    let approval = cached.verify(&ed_token, NOW, &Default::default()).unwrap();
    let approval_value = input::approval_value(&approval);
    let requester_value = input::requester_value(&approval);
    let prebuilt = input::build(&InputParts {
        now_ns: NOW,
        resource: Some("test-database"),
        request: &ed_req,
        token_header: "x-jit-approval",
        identity: None,
        token: TokenView::Valid {
            approval: &approval,
            approval_value: &approval_value,
            requester_value: &requester_value,
        },
    });
    let mut engine = regorus::Engine::new();
    engine.add_policy("jit.rego".into(), SEED_POLICY.into()).unwrap();
    engine
        .add_extension("time.now_ns".into(), 0, Box::new(|_| Ok(regorus::Value::from(NOW))))
        .unwrap();
    // Prepared once, as regorus recommends: each evaluation then starts from a clone.
    engine.compile_with_entrypoint(&"data.access.jit.allow".into()).unwrap();
    let regorus_eval = || {
        let mut e = engine.clone();
        e.set_input(black_box(prebuilt.clone()));
        black_box(e.eval_rule("data.access.jit.allow".into()).unwrap())
    };
    c.bench_function("baseline/regorus_eval_prebuilt_input", |b| b.iter(regorus_eval));

    // Bare signature verification, for the fresh-token targets.
    let ed_verify = signature_check(&ed_token, &ed.public_key("ed1"));
    let es_verify = signature_check(&es_token, &ec.public_key("ec1"));
    c.bench_function("baseline/ed25519_verify_strict", |b| b.iter(&ed_verify));
    c.bench_function("baseline/p256_verify", |b| b.iter(&es_verify));

    // The two baselines back to back, with no jitgate code between them: how much
    // slower each runs after the other (caches) than alone, for reading ratio (b).
    c.bench_function("baseline/ed25519_verify_then_regorus_eval", |b| {
        b.iter(|| {
            ed_verify();
            regorus_eval()
        })
    });

    // Parts of the fresh-token path.
    let payload = jitgate_core::unstable::jws::b64url_decode(ed_token.split('.').nth(1).unwrap()).unwrap();
    c.bench_function("part/parse_strict_payload", |b| {
        b.iter(|| black_box(jitgate_core::unstable::json::parse_strict(black_box(&payload)).unwrap()))
    });
    c.bench_function("part/gate_verify_uncached_eddsa", |b| {
        b.iter(|| black_box(uncached.verify(black_box(&ed_token), NOW, &Default::default()).unwrap()))
    });
    c.bench_function("part/approval_value", |b| {
        b.iter(|| black_box(input::approval_value(black_box(&approval))))
    });
    c.bench_function("part/input_build", |b| {
        b.iter(|| {
            black_box(input::build(&InputParts {
                now_ns: NOW,
                resource: Some("test-database"),
                request: &ed_req,
                token_header: "x-jit-approval",
                identity: None,
                token: TokenView::Valid {
                    approval: &approval,
                    approval_value: &approval_value,
                    requester_value: &requester_value,
                },
            }))
        })
    });
    c.bench_function("decide/a_cached_token", |b| {
        b.iter(|| black_box(cached.decide(black_box(&ed_req), NOW)))
    });
    c.bench_function("decide/d_cached_token_rvm", |b| {
        b.iter(|| black_box(rvm_cached.decide(black_box(&ed_req), NOW)))
    });
    c.bench_function("decide/b_fresh_eddsa_token", |b| {
        b.iter(|| black_box(uncached.decide(black_box(&ed_req), NOW)))
    });
    c.bench_function("decide/c_fresh_es256_token", |b| {
        b.iter(|| black_box(uncached.decide(black_box(&es_req), NOW)))
    });
}

/// Mean estimate in ns of a finished benchmark, from criterion's output files.
fn mean_ns(id: &str) -> Option<f64> {
    let root = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = root
        .join("criterion")
        .join(id.replace('/', "_"))
        .join("new/estimates.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

thread_local! {
    static TRUST: std::cell::Cell<[f64; 3]> = const { std::cell::Cell::new([f64::NAN; 3]) };
}

/// Live trust: the cached decision with no feed, with an empty revocation list, and
/// with 100,000 revoked ids installed; and how long installing such a list takes.
fn trust_benches(c: &mut Criterion) -> (f64, usize) {
    use jitgate_core::REVOCATIONS_TYPE;
    let (ed, _) = keys();
    let token = mint::mint(&claims(), &ed, "ed1");
    let req = request(&token);
    let mut fed = config();
    fed["issuers"][0]["feed"] = json!({"cluster": "approvals"});
    let list = |ids: Vec<String>| {
        let payload = json!({"iss": "https://approvals.example.com", "iat": NOW_S, "exp": NOW_S + 3600,
                             "seq": 1, "revoked": ids});
        mint::sign_document(REVOCATIONS_TYPE, &payload, &ed, "ed1")
    };
    let plain = Gate::new(&config().to_string()).unwrap();
    let empty = Gate::new(&fed.to_string()).unwrap();
    empty
        .install_revocations("https://approvals.example.com", &list(Vec::new()), NOW)
        .unwrap();
    let big_text = list((0..100_000).map(|i| format!("jit_{i:032x}")).collect());
    // Installing: the median of 5 installs into fresh gates (one-off cost per fetch).
    let mut installs: Vec<f64> = (0..5)
        .map(|_| {
            let g = Gate::new(&fed.to_string()).unwrap();
            let t = std::time::Instant::now();
            g.install_revocations("https://approvals.example.com", black_box(&big_text), NOW)
                .unwrap();
            t.elapsed().as_secs_f64()
        })
        .collect();
    installs.sort_by(f64::total_cmp);
    let big = Gate::new(&fed.to_string()).unwrap();
    big.install_revocations("https://approvals.example.com", &big_text, NOW)
        .unwrap();
    for g in [&plain, &empty, &big] {
        assert!(g.decide(&req, NOW).allow);
    }
    // Interleaved rounds (the three gates take turns, 41 rounds of 2,000 decisions), so
    // the machine's load hits all three alike; the median per-decision time of each.
    let _ = c;
    let gates = [&plain, &empty, &big];
    let mut rounds: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..41 {
        for k in 0..3 {
            let i = (round + k) % 3;
            let t = std::time::Instant::now();
            for _ in 0..2_000 {
                black_box(gates[i].decide(black_box(&req), NOW));
            }
            rounds[i].push(t.elapsed().as_secs_f64() * 1e9 / 2_000.0);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians = [median(&mut rounds[0]), median(&mut rounds[1]), median(&mut rounds[2])];
    TRUST.with(|t| t.set(medians));
    (installs[2], big_text.len())
}

fn print_trust(install_s: f64, bytes: usize) {
    let [none, empty, big] = TRUST.with(std::cell::Cell::get);
    println!("\nlive trust, cached token, seed policy (medians of 41 interleaved rounds, same run):");
    println!("  no feed (baseline)              {:>10.2} µs", none / 1e3);
    println!(
        "  feed, empty revocation list     {:>10.2} µs   {:.3}× baseline",
        empty / 1e3,
        empty / none
    );
    println!(
        "  feed, 100,000 revoked ids       {:>10.2} µs   {:.3}× baseline (target ≤ 1.05×)",
        big / 1e3,
        big / none
    );
    println!(
        "  installing that list ({:.1} MB)  {:>10.1} ms (median of 5; once per fetch, never per request)",
        bytes as f64 / 1e6,
        install_s * 1e3
    );
}

fn print_ratios() {
    let get = |id: &str| mean_ns(id).unwrap_or(f64::NAN);
    let base = get("baseline/regorus_eval_prebuilt_input");
    let ed = get("baseline/ed25519_verify_strict");
    let p256 = get("baseline/p256_verify");
    let (a, b, c) = (
        get("decide/a_cached_token"),
        get("decide/b_fresh_eddsa_token"),
        get("decide/c_fresh_es256_token"),
    );
    println!("\njitgate-core decide, seed policy (means, same run):");
    println!("  regorus alone (baseline)        {:>10.2} µs", base / 1e3);
    println!("  Ed25519 verify_strict           {:>10.2} µs", ed / 1e3);
    println!("  P-256 verify                    {:>10.2} µs", p256 / 1e3);
    println!(
        "  (a) decide, cached token        {:>10.2} µs   {:.2}× baseline (target ≤ 2×)",
        a / 1e3,
        a / base
    );
    println!(
        "  (b) decide, fresh EdDSA token   {:>10.2} µs   {:.2}× (Ed25519 verify + baseline) (target ≤ 1.3×)",
        b / 1e3,
        b / (ed + base)
    );
    let d = get("decide/d_cached_token_rvm");
    println!(
        "  (d) decide, cached token, RVM   {:>10.2} µs   {:.2}× (a): `policy.evaluator: \"rvm\"` (experimental)",
        d / 1e3,
        d / a
    );
    let pair = get("baseline/ed25519_verify_then_regorus_eval");
    println!(
        "  Ed25519 verify, then regorus     {:>10.2} µs   {:.2}× (Ed25519 verify + baseline): the two alone, back to back",
        pair / 1e3,
        pair / (ed + base)
    );
    println!(
        "  (c) decide, fresh ES256 token   {:>10.2} µs   {:.2}× (P-256 verify + baseline)",
        c / 1e3,
        c / (p256 + base)
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    let (install_s, bytes) = trust_benches(&mut c);
    c.final_summary();
    print_ratios();
    print_trust(install_s, bytes);
}
