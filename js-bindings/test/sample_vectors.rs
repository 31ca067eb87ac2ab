//! The JS package's sample vectors (`test/fixtures/sample-vectors.json`) through the
//! native core and this crate's translation, so the sample's expectations are the
//! core's, not only what the JS runner happens to see.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jitgate_core::Gate;
use jitgate_js::convert::{decision_to_json, request_from_value};
use jitgate_testkit::{place_token, CaseFile, Observed};
use serde_json::Value;

const SAMPLE: &str = include_str!("fixtures/sample-vectors.json");

#[test]
fn the_sample_decides_as_it_says_natively() {
    let corpus = CaseFile::from_json(SAMPLE).unwrap();
    let gate = Gate::new(&corpus.config.to_string()).unwrap();
    assert!(corpus.cases.len() >= 10);
    let mut failures = Vec::new();
    for case in &corpus.cases {
        // Through this crate's request translation, as the JS side sends it.
        let mut request = request_from_value(case.request.clone()).unwrap();
        if let Some(token) = &case.token {
            place_token(&mut request, &corpus.token, token);
        }
        let d = gate.decide(&request, case.now_ns);
        // Through the binding's JSON, as the JS side reads it.
        let out: Value = serde_json::from_str(&decision_to_json(&d)).unwrap();
        let reason = out["reason"].as_str().unwrap_or_default();
        let observed = Observed {
            allow: out["allow"] == true,
            status: u16::try_from(out["status"].as_u64().unwrap_or(0)).unwrap(),
            reason: reason.to_owned(),
            policy_reason: out["policyReason"].as_str().map(str::to_owned),
            upstream: None,
        };
        let mismatches = case.expect.mismatches(&observed);
        if !mismatches.is_empty() {
            failures.push(format!("{}: {}", case.name, mismatches.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
