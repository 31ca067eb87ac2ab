//! The shipped approval policy's Rego unit tests (`policies/approvals_test.rego`), run
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! the way `jitgate test policies/` runs them: every `.rego` file of `policies/` in one
//! engine built by `jitgate_core::unstable::policy::load_modules`, each `test_*` rule passing
//! when it is `true`.

use std::collections::BTreeMap;

use jitgate_core::regorus::Value;
use jitgate_core::unstable::policy::load_modules;

#[test]
fn approvals_rego_unit_tests_pass() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies");
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rego") {
            modules.insert(path.display().to_string(), std::fs::read_to_string(&path).unwrap());
        }
    }
    let tests = std::fs::read_to_string(format!("{dir}/approvals_test.rego")).unwrap();
    let (mut engine, clock) = load_modules(&modules, Value::new_object(), false).unwrap();
    clock.set(1_795_687_200_000_000_000);
    let mut seen = Vec::new();
    let mut failed = Vec::new();
    for line in tests.lines() {
        let Some(name) = line.strip_prefix("test_") else {
            continue;
        };
        let name = format!(
            "test_{}",
            name.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap()
        );
        if seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        match engine.eval_rule(format!("data.jitgate.approvals_test.{name}")) {
            Ok(Value::Bool(true)) => {}
            other => failed.push(format!("{name}: {other:?}")),
        }
    }
    assert!(seen.len() >= 14, "found only {} tests", seen.len());
    assert!(failed.is_empty(), "failed: {failed:#?}");
    println!("{} passed, 0 failed", seen.len());
}
