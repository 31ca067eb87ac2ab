//! The shared decision vectors (`tests/vectors/decisions.json`) through the native
//! core. The same corpus runs through the filter in the harness and the JS package.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jitgate_core::mint::{mint_spec, Keyring, SigningKey};
use jitgate_core::timefmt::parse_time_ns;
use jitgate_core::{Gate, Request};
use serde_json::Value;

const CORPUS: &str = include_str!("vectors/decisions.json");

fn now_ns(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap() * 1_000_000_000,
        Value::String(s) => parse_time_ns(s).unwrap(),
        other => panic!("bad now {other}"),
    }
}

#[test]
fn every_vector_decides_as_expected() {
    let corpus: Value = serde_json::from_str(CORPUS).unwrap();
    let gate = Gate::new(&corpus["config"].to_string()).unwrap();
    let keys: Keyring = corpus["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().to_owned(),
                SigningKey::from_jwk(&k["jwk"]).unwrap(),
            )
        })
        .collect();
    let mut failures = Vec::new();
    let cases = corpus["cases"].as_array().unwrap();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut request = Request::from_json(case["request"].clone()).unwrap();
        if let Some(token) = mint_spec(&case["token"], &keys).unwrap() {
            request.headers.push(("x-jit-approval".into(), token));
        }
        let d = gate.decide(&request, now_ns(&case["now"]));
        let want = &case["expect"];
        let got = serde_json::json!({"allow": d.allow, "status": d.status, "reason": d.reason.code()});
        let matches = ["allow", "status", "reason"].iter().all(|k| want[*k] == got[*k])
            && want
                .get("policy_reason")
                .is_none_or(|p| Some(p.as_str().unwrap()) == d.policy_reason.as_deref());
        if !matches {
            failures.push(format!("{name}: want {want}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() >= 30);
}

#[test]
fn the_corpus_embeds_the_shipped_seed_policy() {
    let corpus: Value = serde_json::from_str(CORPUS).unwrap();
    let embedded = corpus["config"]["policy"]["modules"]["jit.rego"].as_str().unwrap();
    assert_eq!(
        embedded,
        include_str!("../../policies/jit.rego"),
        "re-render tests/vectors/decisions.json"
    );
}
