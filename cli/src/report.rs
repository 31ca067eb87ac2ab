//! Test results and their three formats: text (like `opa test`), JSON, JUnit XML.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

/// What kind of test a case is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Rego `test_*` rule.
    Rego,
    /// A scenario from a `*.scenarios.json` file.
    Scenario,
}

/// The result of one case.
#[derive(Clone, PartialEq, Eq)]
pub enum Status {
    /// Passed.
    Pass,
    /// Failed, with what was wrong.
    Fail(String),
    /// Could not be evaluated, with the error.
    Error(String),
}

/// One test case and its result.
pub struct TestCase {
    /// Rego or scenario.
    pub kind: Kind,
    /// The file it is in.
    pub file: String,
    /// Its line (1-based; 0 when unknown).
    pub line: u32,
    /// The package (Rego) or the scenario file's description.
    pub suite: String,
    /// `data.pkg.test_x` or the scenario name.
    pub name: String,
    /// The result.
    pub status: Status,
    /// How long it took.
    pub duration: Duration,
}

/// Per policy file, the rules no test evaluated: `(rule, line)`.
pub type Uncovered = BTreeMap<String, Vec<(String, u32)>>;

/// Counts of passed, failed and errored cases.
pub fn counts<'a>(cases: impl IntoIterator<Item = &'a TestCase>) -> (usize, usize, usize) {
    cases.into_iter().fold((0, 0, 0), |(p, f, e), c| match c.status {
        Status::Pass => (p + 1, f, e),
        Status::Fail(_) => (p, f + 1, e),
        Status::Error(_) => (p, f, e + 1),
    })
}

/// The last line: `N passed, N failed` (plus `, N errored` when there are errors).
pub fn summary_line(cases: &[TestCase]) -> String {
    let (p, f, e) = counts(cases);
    if e > 0 {
        format!("{p} passed, {f} failed, {e} errored")
    } else {
        format!("{p} passed, {f} failed")
    }
}

fn location(c: &TestCase) -> String {
    if c.line > 0 {
        format!("{}:{}", c.file, c.line)
    } else {
        c.file.clone()
    }
}

/// Text: one line per failure or error (per case with `verbose`; an engine
/// diagnostic follows on indented lines), then coverage, then the summary line.
pub fn text(cases: &[TestCase], verbose: bool, uncovered: &Uncovered, note: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(note) = note {
        let _ = writeln!(out, "{note}");
    }
    for c in cases {
        let ms = c.duration.as_secs_f64() * 1e3;
        match &c.status {
            Status::Pass if verbose => {
                let _ = writeln!(out, "PASS  {}: {} ({ms:.3} ms)", location(c), c.name);
            }
            Status::Pass => {}
            Status::Fail(why) => {
                let _ = writeln!(out, "FAIL  {}: {}:{}", location(c), c.name, block(why));
            }
            Status::Error(why) => {
                let _ = writeln!(out, "ERROR {}: {}:{}", location(c), c.name, block(why));
            }
        }
    }
    for (file, rules) in uncovered {
        let list: Vec<String> = rules.iter().map(|(n, l)| format!("{n} (line {l})")).collect();
        let _ = writeln!(out, "coverage: {file}: rules never evaluated: {}", list.join(", "));
    }
    let _ = writeln!(out, "{}", summary_line(cases));
    out
}

/// JSON: `{"tests": [...], "summary": {...}, "uncovered": {...}}`.
pub fn json(cases: &[TestCase], uncovered: &Uncovered) -> String {
    let (p, f, e) = counts(cases);
    let tests: Vec<_> = cases
        .iter()
        .map(|c| {
            let (result, message) = match &c.status {
                Status::Pass => ("pass", None),
                Status::Fail(m) => ("fail", Some(m.as_str())),
                Status::Error(m) => ("error", Some(m.as_str())),
            };
            json!({
                "kind": if c.kind == Kind::Rego { "rego" } else { "scenario" },
                "file": c.file, "line": c.line, "suite": c.suite, "name": c.name,
                "result": result, "message": message,
                "duration_ns": u64::try_from(c.duration.as_nanos()).unwrap_or(u64::MAX),
            })
        })
        .collect();
    let uncovered: serde_json::Map<String, serde_json::Value> = uncovered
        .iter()
        .map(|(file, rules)| {
            (
                file.clone(),
                json!(rules
                    .iter()
                    .map(|(n, l)| json!({"rule": n, "line": l}))
                    .collect::<Vec<_>>()),
            )
        })
        .collect();
    let doc = json!({"tests": tests, "summary": {"passed": p, "failed": f, "errored": e}, "uncovered": uncovered});
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// JUnit XML (written by `quick-junit`): one `<testsuite>` per file, one `<testcase>`
/// per case (with `file` and `line`), `<failure>` or `<error>` with the message.
pub fn junit(cases: &[TestCase]) -> String {
    let mut by_file: BTreeMap<&str, Vec<&TestCase>> = BTreeMap::new();
    for c in cases {
        by_file.entry(c.file.as_str()).or_default().push(c);
    }
    let mut report = quick_junit::Report::new("jitgate");
    report.set_time(cases.iter().map(|c| c.duration).sum());
    for (file, group) in by_file {
        let mut suite = quick_junit::TestSuite::new(file);
        suite.set_time(group.iter().map(|c| c.duration).sum());
        for c in group {
            let status = match &c.status {
                Status::Pass => quick_junit::TestCaseStatus::success(),
                Status::Fail(m) | Status::Error(m) => {
                    let kind = if matches!(c.status, Status::Fail(_)) {
                        quick_junit::NonSuccessKind::Failure
                    } else {
                        quick_junit::NonSuccessKind::Error
                    };
                    let mut status = quick_junit::TestCaseStatus::non_success(kind);
                    status.set_message(m.as_str()).set_description(location(c));
                    status
                }
            };
            let mut case = quick_junit::TestCase::new(c.name.as_str(), status);
            case.set_classname(c.suite.as_str()).set_time(c.duration);
            case.extra.insert("file".into(), c.file.as_str().into());
            case.extra.insert("line".into(), c.line.to_string().into());
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().unwrap_or_else(|e| {
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- could not write the report: {e} -->\n")
    })
}

/// A message for the text report: inline when it is one line, else (a regorus
/// diagnostic: location, source excerpt, caret, `error: …`) on the lines below,
/// indented, as the engine wrote it.
fn block(message: &str) -> String {
    let message = message.trim_matches('\n');
    if message.contains('\n') {
        message.lines().fold(String::new(), |mut out, line| {
            let _ = write!(out, "\n    {line}");
            out
        })
    } else {
        format!(" {message}")
    }
}
