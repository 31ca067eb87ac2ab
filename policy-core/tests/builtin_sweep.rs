//! No builtin can be made to panic: every builtin this build has (the list regorus
//! registers, `src/regorus_builtins.txt`) is called, through an engine built exactly as
//! the gate builds it (checked builtins installed), with hostile arguments — huge and
//! negative numbers, odd strings, deep and empty collections — in a fixed
//! pseudo-random sample. A panic would be a Wasm trap inside Envoy (the worker's VM
//! dies), so each one found is a failure naming the builtin and its arguments.
//! Errors and undefined results are fine: they are denials.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use jitgate_core::regorus::Value;
use jitgate_core::unstable::policy::load_modules;

const BUILTINS: &str = include_str!("../src/regorus_builtins.txt");

/// Builtins that must never be called with arbitrary arguments by this sweep
/// (they are not pure functions of their arguments).
const SKIP: &[&str] = &["print", "trace", "time.now_ns", "opa.runtime"];

fn hostile_values() -> Vec<Value> {
    let json = [
        "0",
        "1",
        "-1",
        "2",
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551615",
        "1e308",
        "-1e308",
        "0.5",
        "-0.000001",
        "123456789012345678901234567890",
        "\"\"",
        "\"a\"",
        "\"Local\"",
        "\"%99999999999d\"",
        "\"%\\u0663d\"",
        "\"%1\\u00b2s\"",
        "\"((((((((((\"",
        "\"[a-\"",
        "\"**/***\"",
        "\"\\\\\"",
        "\"\\u0000\"",
        "\"2026-11-26T10:30:00Z\"",
        "\"1.2.3\"",
        "\"9999999999999999999h\"",
        "\"1e400\"",
        "\"eyJhbGciOiJub25lIn0\"",
        "\"{\\\"a\\\":[1,\"",
        "\"\\u0663\\u0664\"",
        "\"ＡＢ\"",
        "[]",
        "[1, \"a\", null]",
        "[9223372036854775807, -1]",
        "[0, \"Local\"]",
        "[0, \"UTC\", \"2006\"]",
        "{}",
        "{\"a\": 1, \"b\": [2]}",
        "null",
        "true",
        "false",
    ];
    let mut values: Vec<Value> = json
        .iter()
        .map(|j| Value::from_json_str(j).unwrap_or_else(|e| panic!("{j}: {e}")))
        .collect();
    values.push(Value::from("x".repeat(4096)));
    let mut deep = Value::from_json_str("[]").unwrap();
    for _ in 0..64 {
        deep = Value::from(vec![deep]);
    }
    values.push(deep);
    values.push(Value::from(
        (0..64).map(|i| Value::from(i64::MAX - i)).collect::<Vec<_>>(),
    ));
    values
}

/// A small deterministic generator (xorshift64*), so every run tries the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % below
    }
}

#[test]
fn no_builtin_panics_on_hostile_arguments() {
    let builtins: Vec<(&str, usize)> = BUILTINS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next().unwrap(), parts.next().unwrap().parse().unwrap())
        })
        .filter(|(name, _)| !SKIP.contains(name))
        .collect();
    let values = hostile_values();
    // Cases per builtin: a few dozen in CI; `JITGATE_SWEEP_CASES=100000` for a long run.
    let cases: usize = std::env::var("JITGATE_SWEEP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    // The panics this looks for are reported once, below, not one message each.
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut available = 0;
    let mut missing: Vec<&str> = Vec::new();
    let mut calls = 0;
    let mut panics = Vec::new();
    for (name, arity) in &builtins {
        // The engine the gate builds, with one rule calling the builtin on `input.args`.
        let args: Vec<String> = (0..*arity).map(|a| format!("input.args[{a}]")).collect();
        let module = format!("package sweep\nb := {name}({})\n", args.join(", "));
        let modules = BTreeMap::from([("sweep.rego".to_string(), module)]);
        let Ok((engine, _clock)) = load_modules(&modules, Value::new_object(), false) else {
            missing.push(*name);
            continue;
        };
        let rule = "data.sweep.b".to_string();
        let mut probe = engine.clone();
        probe.set_input(input(vec![Value::Null; *arity]));
        if let Err(e) = probe.eval_rule(rule.clone()) {
            if e.to_string().contains("could not find function") {
                missing.push(*name);
                continue; // not in this build
            }
        }
        available += 1;
        let cases = if *arity == 0 { 1 } else { cases };
        for _ in 0..cases {
            let args: Vec<Value> = (0..*arity).map(|_| values[rng.next(values.len())].clone()).collect();
            let mut e = engine.clone();
            e.set_input(input(args.clone()));
            calls += 1;
            let outcome = catch_unwind(AssertUnwindSafe(|| e.eval_rule(rule.clone())));
            if outcome.is_err() {
                let shown: Vec<String> = args.iter().map(short).collect();
                panics.push(format!("{name}({})", shown.join(", ")));
            }
        }
    }
    let _ = std::panic::take_hook();
    println!("{available} builtins available, {calls} calls, {} panics", panics.len());
    // The builtins the engine really has are exactly those jitgate says it provides
    // (the set the configuration-time call check accepts): one builtin set.
    let provided = jitgate_core::unstable::calls::provided();
    let expected = builtins.iter().filter(|(name, _)| provided.contains(name)).count();
    let missing_provided: Vec<&&str> = missing.iter().filter(|n| provided.contains(**n)).collect();
    assert_eq!(
        available, expected,
        "the engine's builtins differ from calls::provided(): provided but missing {missing_provided:?}"
    );
    assert!(
        available >= 70,
        "only {available} builtins found: the sweep would prove little"
    );
    panics.sort();
    panics.dedup();
    assert!(panics.is_empty(), "builtins that panicked:\n{}", panics.join("\n"));
}

fn input(args: Vec<Value>) -> Value {
    let mut input = Value::new_object();
    input
        .as_object_mut()
        .unwrap()
        .insert(Value::from("args"), Value::from(args));
    input
}

fn short(v: &Value) -> String {
    let text = v.to_json_str().unwrap_or_else(|_| "?".into());
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}
