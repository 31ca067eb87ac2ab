//! Scenario files (`*.scenarios.json`, in the test kit's case format: see
//! `testkit/README.md`): a configuration, signing keys and requests at given times
//! with the decisions expected — run through the compiled filter in the harness (or,
//! without a filter `.wasm`, through the native core).

use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, Result};
use jitgate_core::Gate;
#[cfg(feature = "harness")]
use jitgate_harness::{FilterModule, Host};
use jitgate_testkit::{CaseFile, Decider, Native};
use regex::Regex;

use crate::report::{Kind, Status, TestCase};

/// Where scenarios run.
pub enum Engine {
    /// The compiled filter in the wasmtime harness, as Envoy runs it.
    #[cfg(feature = "harness")]
    Filter(FilterModule),
    /// The native core (when no filter `.wasm` is available).
    Native,
}

/// Runs every scenario of the file at `path` (those whose name matches `select`).
pub fn run(path: &Path, engine: &Engine, select: Option<&Regex>) -> Result<Vec<TestCase>> {
    let file = CaseFile::load(path).map_err(|e| anyhow!("`{}`: {e}", path.display()))?;
    let config_text = file.config.to_string();
    let mut host: Box<dyn Decider> = match engine {
        Engine::Native => Box::new(Native(
            Gate::new(&config_text).map_err(|e| anyhow!("`{}`: config: {e}", path.display()))?,
        )),
        #[cfg(feature = "harness")]
        Engine::Filter(module) => {
            let mut host = Host::new(module).map_err(|e| anyhow!("`{}`: {e}", path.display()))?;
            host.configure(&config_text)
                .map_err(|e| anyhow!("`{}`: the filter refused the configuration: {e}", path.display()))?;
            Box::new(host)
        }
    };
    let suite = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .trim_end_matches(".json")
        .to_owned();
    let mut cases = Vec::new();
    for case in &file.cases {
        if select.is_some_and(|re| !re.is_match(&case.name)) {
            continue;
        }
        let started = Instant::now();
        let status = match case.check(host.as_mut(), &file.token) {
            Ok(failures) if failures.is_empty() => Status::Pass,
            Ok(failures) => Status::Fail(failures.join("; ")),
            Err(e) => Status::Error(e),
        };
        cases.push(TestCase {
            kind: Kind::Scenario,
            file: path.display().to_string(),
            line: case.line,
            suite: suite.clone(),
            name: case.name.clone(),
            status,
            duration: started.elapsed(),
        });
    }
    Ok(cases)
}
