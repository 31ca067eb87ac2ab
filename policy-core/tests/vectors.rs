//! The shared decision vectors (`tests/vectors/decisions.json`) through the native
//! core. The same corpus runs through the filter in the harness and the JS package.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jitgate_core::mint::Corpus;
use jitgate_core::Gate;

const CORPUS: &str = include_str!("vectors/decisions.json");

#[test]
fn every_vector_decides_as_expected() {
    let corpus = Corpus::from_json(CORPUS).unwrap();
    let gate = Gate::new(&corpus.config.to_string()).unwrap();
    let failures: Vec<String> = corpus
        .cases
        .iter()
        .filter_map(|case| {
            let d = gate.decide(&case.core_request(gate.token_header()).unwrap(), case.now_ns);
            case.mismatch(d.allow, d.status, d.reason.code(), d.policy_reason.as_deref())
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(corpus.cases.len() >= 30);
}

#[test]
fn the_corpus_embeds_the_shipped_seed_policy() {
    let corpus = Corpus::from_json(CORPUS).unwrap();
    let embedded = corpus.config["policy"]["modules"]["jit.rego"].as_str().unwrap();
    assert_eq!(
        embedded,
        include_str!("../../policies/jit.rego"),
        "update the policy embedded in tests/vectors/decisions.json"
    );
}
