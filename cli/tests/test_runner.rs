//! `jitgate test` itself: fixture directories with passing, failing, erroring and
//! undefined tests give exactly the expected counts, exit codes, JSON and JUnit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn jitgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jitgate")).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

const NOW: &str = "1795687200"; // what test_time_injected expects time.now_ns() to be

#[test]
fn counts_and_exit_code_of_a_mixed_run() {
    let out = jitgate(&["test", &fixture("runner"), "--now", NOW]);
    assert_eq!(out.status.code(), Some(1), "a failure exits 1");
    let text = stdout(&out);
    assert_eq!(text.lines().last(), Some("4 passed, 2 failed, 1 errored"), "{text}");
    // One line per failure, with the failing rule's file and line.
    assert!(
        text.contains("FAIL  ") && text.contains("policy_test.rego:9: data.fixture.policy_test.test_fail: undefined"),
        "{text}"
    );
    assert!(
        text.contains("policy_test.rego:11: data.fixture.policy_test.test_undefined: undefined"),
        "{text}"
    );
    assert!(
        text.contains("ERROR ")
            && text.contains("policy_test.rego:13:26\n")
            && text.contains("    error: could not parse string as number"),
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("FAIL") || l.starts_with("ERROR"))
            .count(),
        3
    );
    // Passing tests are listed only with -v.
    assert!(!text.contains("test_pass_allow"));
    let verbose = stdout(&jitgate(&["test", &fixture("runner"), "--now", NOW, "-v"]));
    assert!(verbose.contains("PASS  ") && verbose.contains("test_pass_allow"));
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    // `jitgate test policies/ | head`: the read end is closed before anything is
    // written. No panic, nothing on stderr, and the exit code is still the run's.
    let mut child = Command::new(env!("CARGO_BIN_EXE_jitgate"))
        .args(["test", &fixture("runner"), "--now", NOW, "-v"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "the failing fixture still exits 1");
}

#[test]
fn injected_clock_and_with_override() {
    // test_time_injected needs time.now_ns() == --now; test_time_pinned uses `with`.
    let out = jitgate(&["test", &fixture("runner"), "--now", NOW, "--run", "test_time_"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out).lines().last(), Some("2 passed, 0 failed"));
    let out = jitgate(&["test", &fixture("runner"), "--now", "1795687201", "--run", "test_time_"]);
    assert_eq!(stdout(&out).lines().last(), Some("1 passed, 1 failed"));
}

#[test]
fn run_selects_by_regex_and_all_passing_exits_zero() {
    let out = jitgate(&["test", &fixture("runner"), "--run", "test_pass_"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out).trim(), "2 passed, 0 failed");
    let out = jitgate(&["test", &fixture("runner"), "--run", "("]);
    assert_eq!(out.status.code(), Some(2), "a bad regex is a usage error");
}

#[test]
fn json_format() {
    let out = jitgate(&["test", &fixture("runner"), "--now", NOW, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        doc["summary"],
        serde_json::json!({"passed": 4, "failed": 2, "errored": 1})
    );
    let tests = doc["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 7);
    let error = tests.iter().find(|t| t["result"] == "error").unwrap();
    assert_eq!(error["name"], "data.fixture.policy_test.test_error");
    assert_eq!(error["line"], 13);
    assert_eq!(error["kind"], "rego");
}

#[test]
fn junit_format() {
    let out = jitgate(&["test", &fixture("runner"), "--now", NOW, "--format", "junit"]);
    assert_eq!(out.status.code(), Some(1));
    let xml = stdout(&out);
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"jitgate\""),
        "{xml}"
    );
    let head = xml.lines().nth(1).unwrap();
    for count in ["tests=\"7\"", "failures=\"2\"", "errors=\"1\""] {
        assert!(head.contains(count), "{head}");
    }
    assert_eq!(xml.matches("<testcase ").count(), 7);
    assert_eq!(xml.matches("<failure message=\"undefined\"").count(), 2);
    assert_eq!(xml.matches("<error message=").count(), 1);
    // The case's file and line, and the engine's message in the error element.
    assert!(xml.contains("line=\"13\""), "{xml}");
    assert!(xml.contains("could not parse string as number"), "{xml}");
    // The case's suite is its package (attribute order is XML's business, not ours).
    let pass_allow = xml
        .lines()
        .find(|l| l.contains("<testcase name=\"data.fixture.policy_test.test_pass_allow\""))
        .unwrap_or_else(|| panic!("no test_pass_allow case: {xml}"));
    assert!(pass_allow.contains("classname=\"fixture.policy_test\""), "{pass_allow}");
    assert!(xml.trim_end().ends_with("</testsuites>"));
    // Balanced suites.
    assert_eq!(xml.matches("<testsuite ").count(), xml.matches("</testsuite>").count());
}

#[test]
fn coverage_names_rules_never_evaluated() {
    let out = jitgate(&["test", &fixture("runner"), "--now", NOW, "--coverage"]);
    let text = stdout(&out);
    assert!(
        text.contains("other.rego: rules never evaluated: unused_rule (line 4)"),
        "{text}"
    );
    assert!(!text.contains("policy.rego: rules never evaluated"), "{text}");
}

#[test]
fn scenarios_pass_and_fail_with_reasons() {
    let out = jitgate(&["test", &fixture("scenarios"), "--native"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert_eq!(text.lines().last(), Some("1 passed, 1 failed"), "{text}");
    assert!(text.contains(
        "gate.scenarios.json:62: deliberately wrong expectation: status: want 200, got 401 (token_missing); reason: want `allowed`, got `token_missing`"
    ), "{text}");
}

#[test]
fn file_errors_exit_2_with_file_and_line() {
    let out = jitgate(&["test", &fixture("broken")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.rego:5:1\n") && err.contains("error: expecting `}` while parsing query"),
        "{err}"
    );

    let out = jitgate(&["test", &fixture("badkey"), "--native"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing-key.scenarios.json`: `keys[0].jwk_file`: cannot read")
            && err.contains("missing.private.jwk"),
        "{err}"
    );

    let out = jitgate(&["test", "/no/such/dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/dir"));
}
