//! The shared decision vectors (`policy-core/tests/vectors/decisions.json`) through
//! the shipped filter in this host, one named test per case (`filter: …`), and through
//! the native core beside it (`native: …`): both must decide every case as it says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use jitgate_core::Gate;
use jitgate_harness::Host;
use jitgate_testkit::{Case, CaseFile, Decider, Native};
use libtest_mimic::{Arguments, Failed, Trial};
use std::sync::{Arc, OnceLock};

const CORPUS: &str = include_str!("../../policy-core/tests/vectors/decisions.json");

fn corpus() -> &'static CaseFile {
    static FILE: OnceLock<CaseFile> = OnceLock::new();
    FILE.get_or_init(|| CaseFile::from_json(CORPUS).expect("decisions.json"))
}

thread_local! {
    // One VM and one native gate per test thread, configured once, as Envoy keeps a
    // VM per worker.
    static FILTER: std::cell::RefCell<Host> = std::cell::RefCell::new({
        let mut host = Host::new(&common::jitgate_filter()).expect("filter VM");
        host.configure(corpus().config.to_string()).expect("the vectors' configuration");
        host
    });
    static NATIVE: std::cell::RefCell<Native> =
        std::cell::RefCell::new(Native(Gate::new(&corpus().config.to_string()).expect("the vectors' configuration")));
}

fn run(case: &Case, decider: &mut dyn Decider) -> Result<(), Failed> {
    match case.check(decider, &corpus().token) {
        Ok(lines) if lines.is_empty() => Ok(()),
        Ok(lines) => Err(lines.join("; ").into()),
        Err(e) => Err(e.into()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let cases: Vec<Arc<Case>> = corpus().cases.iter().cloned().map(Arc::new).collect();
    let count = cases.len();
    let mut trials = vec![Trial::test("the corpus has at least 30 cases", move || {
        (count >= 30)
            .then_some(())
            .ok_or_else(|| format!("only {count} cases").into())
    })];
    for case in cases {
        let native = Arc::clone(&case);
        trials.push(Trial::test(format!("filter: {}", case.name), move || {
            FILTER.with(|host| run(&case, &mut *host.borrow_mut()))
        }));
        trials.push(Trial::test(format!("native: {}", native.name), move || {
            NATIVE.with(|gate| run(&native, &mut *gate.borrow_mut()))
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}
