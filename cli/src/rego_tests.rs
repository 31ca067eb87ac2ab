//! Rego unit tests, the way `opa test` runs them: every rule named `test_*` in the
//! given `.rego` files passes when it is true, fails when false or undefined, errors on
//! an evaluation error. All files load into one engine (so tests import the policy under
//! test by package), built exactly as jitgate builds it: `time.now_ns()` is the
//! injected clock (here the time the run started), and `with time.now_ns as …` still
//! overrides it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, Result};
use jitgate_core::regorus::Value;
use jitgate_core::unstable::policy::load_modules;
use regex::Regex;

use crate::report::{Kind, Status, TestCase, Uncovered};

/// A rule head found in a module: `name` at 1-based `line`.
struct RuleHead {
    name: String,
    line: u32,
}

/// A module's package and rule heads, read from its text.
struct ModuleOutline {
    package: String,
    rules: Vec<RuleHead>,
}

fn outline(text: &str) -> ModuleOutline {
    // Rule heads start at column 0: `name if`, `name :=`, `name[`, `name(`, `name {`,
    // `name contains`, `default name`.
    let package_re = Regex::new(r"(?m)^package\s+([A-Za-z0-9_.\[\]\x22]+)").ok();
    let head_re = Regex::new(r"^(?:default\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(?:if\b|:=|=|\[|\(|\{|contains\b|$)").ok();
    let package = package_re
        .and_then(|re| re.captures(text).and_then(|c| c.get(1)).map(|m| m.as_str().to_owned()))
        .unwrap_or_default();
    let mut rules = Vec::new();
    if let Some(re) = head_re {
        for (i, line) in text.lines().enumerate() {
            if let Some(name) = re.captures(line).and_then(|c| c.get(1)) {
                if !matches!(name.as_str(), "package" | "import") {
                    rules.push(RuleHead {
                        name: name.as_str().to_owned(),
                        line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                    });
                }
            }
        }
    }
    ModuleOutline { package, rules }
}

/// Runs the `test_*` rules of `files` (and loads the others as the policies under
/// test). `select` filters by full name (`data.pkg.test_x`). With `coverage`, also
/// returns, per non-test file, the rules no test ever evaluated.
pub fn run(
    files: &[PathBuf],
    select: Option<&Regex>,
    now_ns: i64,
    coverage: bool,
) -> Result<(Vec<TestCase>, Uncovered)> {
    if files.is_empty() {
        return Ok((Vec::new(), BTreeMap::new()));
    }
    let mut modules = BTreeMap::new();
    let mut outlines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| anyhow!("cannot read `{}`: {e}", file.display()))?;
        let name = file.display().to_string();
        outlines.push((name.clone(), outline(&text)));
        modules.insert(name, text);
    }
    // Syntax and compile errors name the file, line and column (regorus's message).
    let (mut engine, clock) =
        load_modules(&modules, Value::new_object(), false).map_err(|e| anyhow!("{}", e.message.trim_matches('\n')))?;
    clock.set(now_ns);
    if coverage {
        engine.set_enable_coverage(true);
    }

    let mut cases = Vec::new();
    for (file, outline) in &outlines {
        let mut seen = BTreeSet::new();
        for head in outline.rules.iter().filter(|h| h.name.starts_with("test_")) {
            if !seen.insert(head.name.clone()) {
                continue; // incremental definitions of the same test rule
            }
            let full = format!("data.{}.{}", outline.package, head.name);
            if select.is_some_and(|re| !re.is_match(&full)) {
                continue;
            }
            let started = Instant::now();
            let status = match engine.eval_rule(full.clone()) {
                Ok(Value::Bool(true)) => Status::Pass,
                Ok(Value::Undefined) => Status::Fail("undefined".into()),
                Ok(other) => Status::Fail(format!("{other}")),
                Err(e) => Status::Error(e.to_string()),
            };
            cases.push(TestCase {
                kind: Kind::Rego,
                file: file.clone(),
                line: head.line,
                suite: outline.package.clone(),
                name: full,
                status,
                duration: started.elapsed(),
            });
        }
    }

    let mut uncovered = BTreeMap::new();
    if coverage {
        let report = engine.get_coverage_report().map_err(|e| anyhow!("coverage: {e}"))?;
        let empty = BTreeSet::new();
        for (path, outline) in &outlines {
            if is_test_file(Path::new(path)) {
                continue;
            }
            // regorus reports only files it evaluated something in: a file missing
            // from the report had none of its rules evaluated.
            let covered = report
                .files
                .iter()
                .find(|f| f.path.as_str() == path.as_str())
                .map_or(&empty, |f| &f.covered);
            let never = never_evaluated(outline, covered);
            if !never.is_empty() {
                uncovered.insert(path.clone(), never);
            }
        }
    }
    Ok((cases, uncovered))
}

/// Rules none of whose lines (head to the next head) was evaluated.
fn never_evaluated(outline: &ModuleOutline, covered: &BTreeSet<u32>) -> Vec<(String, u32)> {
    let mut by_name: BTreeMap<&str, (u32, bool)> = BTreeMap::new();
    for (i, head) in outline.rules.iter().enumerate() {
        let end = outline.rules.get(i + 1).map_or(u32::MAX, |next| next.line);
        let hit = covered.range(head.line..end).next().is_some();
        let entry = by_name.entry(&head.name).or_insert((head.line, false));
        entry.1 |= hit;
    }
    let mut never: Vec<(String, u32)> = by_name
        .into_iter()
        .filter(|(_, (_, hit))| !hit)
        .map(|(n, (line, _))| (n.to_owned(), line))
        .collect();
    never.sort_by_key(|(_, line)| *line);
    never
}

/// `*_test.rego`.
pub fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with("_test.rego"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlines_rule_heads() {
        let o = outline("package a.b\n\nimport rego.v1\n\ndefault allow := false\nallow if {\n  x\n}\ntest_one if true\ntest_two {\n}\nf(x) := y if y := x\nset contains 1\n  indented := 1\n");
        assert_eq!(o.package, "a.b");
        let names: Vec<(&str, u32)> = o.rules.iter().map(|r| (r.name.as_str(), r.line)).collect();
        assert_eq!(
            names,
            [
                ("allow", 5),
                ("allow", 6),
                ("test_one", 9),
                ("test_two", 10),
                ("f", 12),
                ("set", 13)
            ]
        );
    }
}
