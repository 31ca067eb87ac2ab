//! The shared decision vectors (`tests/vectors/decisions.json`) through the native
//! core, one named test per case. The same corpus runs through the filter in the
//! harness, in a real Envoy and in the JS package.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jitgate_core::Gate;
use jitgate_testkit::{CaseFile, Observed};
use libtest_mimic::{Arguments, Failed, Trial};

const CORPUS: &str = include_str!("vectors/decisions.json");

thread_local! {
    // One gate per test thread (a gate is built once and decides many requests).
    static GATE: Gate = Gate::new(&corpus().config.to_string()).expect("the vectors' configuration");
}

fn corpus() -> CaseFile {
    CaseFile::from_json(CORPUS).expect("tests/vectors/decisions.json")
}

fn main() {
    let args = Arguments::from_args();
    let file = corpus();
    let count = file.cases.len();
    let embedded = file.config["policy"]["modules"]["jit.rego"].as_str().map(str::to_owned);
    let mut trials = vec![
        Trial::test("the corpus has at least 30 cases", move || {
            (count >= 30)
                .then_some(())
                .ok_or_else(|| Failed::from(format!("only {count} cases")))
        }),
        Trial::test("the corpus embeds the shipped seed policy", move || {
            (embedded.as_deref() == Some(include_str!("../../policies/jit.rego")))
                .then_some(())
                .ok_or_else(|| "update the policy embedded in tests/vectors/decisions.json".into())
        }),
    ];
    for case in file.cases {
        let token = file.token.clone();
        trials.push(Trial::test(format!("vector: {}", case.name), move || {
            let request = case.request(&token).map_err(|e| format!("request: {e}"))?;
            let observed = GATE.with(|gate| Observed::from_decision(&gate.decide(&request, case.now_ns), &request));
            let mismatches = case.expect.mismatches(&observed);
            if mismatches.is_empty() {
                Ok(())
            } else {
                Err(mismatches.join("; ").into())
            }
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}
