//! The JS package's sample vectors (`test/fixtures/sample-vectors.json`) through the
//! native core and this crate's translation, so the sample's expectations are the
//! core's, not only what the JS runner happens to see.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jitgate_core::mint::{mint_spec, Keyring, SigningKey};
use jitgate_core::timefmt::parse_time_ns;
use jitgate_core::Gate;
use jitgate_js::convert::{decision_to_json, request_from_value};
use serde_json::Value;

const SAMPLE: &str = include_str!("../test/fixtures/sample-vectors.json");

fn now_ns(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap() * 1_000_000_000,
        Value::String(s) => parse_time_ns(s).unwrap(),
        other => panic!("bad now {other}"),
    }
}

#[test]
fn the_sample_decides_as_it_says_natively() {
    let corpus: Value = serde_json::from_str(SAMPLE).unwrap();
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
    let cases = corpus["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut request = request_from_value(case["request"].clone()).unwrap();
        if let Some(token) = mint_spec(&case["token"], &keys).unwrap() {
            request.headers.push((gate.token_header().to_owned(), token));
        }
        let d = gate.decide(&request, now_ns(&case["now"]));
        // Through the binding's JSON, as the JS side reads it.
        let out: Value = serde_json::from_str(&decision_to_json(&d)).unwrap();
        let want = &case["expect"];
        let ok = out["allow"] == want["allow"]
            && out["status"] == want["status"]
            && out["reason"] == want["reason"]
            && want.get("policy_reason").is_none_or(|p| *p == out["policyReason"]);
        if !ok {
            failures.push(format!("{name}: want {want}, got {out}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
