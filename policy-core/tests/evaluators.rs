//! regorus's RVM against its interpreter (`policy.evaluator`): every case of the shared
//! decision vectors and of every shipped policy's scenarios, decided by a gate on each
//! evaluator, must give the same decision — allow, status, reason, headers, body, audit
//! record — one named test per case. Only what measures the evaluation itself may
//! differ (`eval_ns`), and the text of an evaluation error (each evaluator words its
//! own; the code and the status stay the same).
//!
//! With no exception: regorus 0.14.1's RVM bound `x := <undefined>` where the
//! interpreter fails the body (16 four-eyes scenarios differed), which the vendored
//! regorus fixes (`vendor/regorus/JITGATE-PATCH.md`). Every file's policy must also
//! compile for the RVM, so that the default (`auto`) decides them on it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::{Path, PathBuf};

use jitgate_core::{Evaluator, Gate, TimeUnit};
use jitgate_testkit::CaseFile;
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

/// The case files: the shared vectors and every shipped policy's scenarios.
fn case_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("tests/vectors/decisions.json")];
    let policies = root.join("../policies");
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(&policies)
        .expect("policies/")
        .map(|e| e.expect("policies/ entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".scenarios.json"))
        .collect();
    scenarios.sort();
    files.extend(scenarios);
    files
}

/// A gate for `config` with `policy.evaluator` set to `evaluator`.
fn gate(config: &Value, evaluator: &str) -> Gate {
    let mut config = config.clone();
    config["policy"]["evaluator"] = Value::from(evaluator);
    Gate::new(&config.to_string()).unwrap_or_else(|e| panic!("policy.evaluator {evaluator}: {e}"))
}

/// The decision as JSON, without what measures the evaluation, and with an evaluation
/// error's text reduced to its being one.
fn comparable(mut view: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("eval_ns");
                for (_, v) in map.iter_mut() {
                    strip(v);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut view);
    if view["reason"] == "policy_error" && view["audit"]["detail"].is_string() {
        view["audit"]["detail"] = Value::from("(evaluation error)");
    }
    view
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    let mut total = 0usize;
    for path in case_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let file = CaseFile::load(&path).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let rvm = gate(&file.config, "rvm");
        let interpreter = gate(&file.config, "interpreter");
        assert_eq!(rvm.policy().evaluator(), Evaluator::Rvm, "{name}");
        assert_eq!(
            gate(&file.config, "auto").policy().evaluator(),
            Evaluator::Rvm,
            "{name}"
        );
        assert_eq!(
            interpreter.policy().evaluator(),
            Evaluator::Interpreter { fallback: None },
            "{name}"
        );
        // Both gates decide every case of the file in order (decision ids are
        // numbered per gate, so they match too); each case is then its own test.
        for case in &file.cases {
            total += 1;
            let outcome = case.request(&file.token).map(|request| {
                let a = comparable(
                    serde_json::to_value(rvm.decide(&request, case.now_ns).view(TimeUnit::Seconds)).unwrap(),
                );
                let b = comparable(
                    serde_json::to_value(interpreter.decide(&request, case.now_ns).view(TimeUnit::Seconds)).unwrap(),
                );
                (a, b)
            });
            trials.push(Trial::test(format!("{name}: {}", case.name), move || match outcome {
                Err(e) => Err(Failed::from(format!("request: {e}"))),
                Ok((a, b)) if a == b => Ok(()),
                Ok((a, b)) => Err(format!("the RVM decided\n{a:#}\nthe interpreter\n{b:#}").into()),
            }));
        }
    }
    trials.push(Trial::test("the files have at least 100 cases", move || {
        (total >= 100)
            .then_some(())
            .ok_or_else(|| Failed::from(format!("only {total} cases")))
    }));
    libtest_mimic::run(&args, trials).exit();
}
