//! `jitgate test [PATH…]`: Rego unit tests and scenario files, like `opa test`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use clap::{Args, ValueEnum};
#[cfg(feature = "harness")]
use jitgate_harness::FilterModule;
use regex::Regex;

use crate::report::{self, counts};
use crate::scenarios::{self, Engine};
use crate::{rego_tests, Failure};

/// Output formats.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// One line per failure (per test with -v) and a summary line.
    Text,
    /// One JSON document.
    Json,
    /// JUnit XML, for CI systems.
    Junit,
}

/// Arguments of `jitgate test`.
#[derive(Args)]
pub struct TestArgs {
    /// Files or directories (searched recursively for `*.rego` and `*.scenarios.json`).
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Print every test, not only failures.
    #[arg(short, long)]
    verbose: bool,
    /// Only tests whose name (`data.pkg.test_x`, or the scenario name) matches.
    #[arg(long, value_name = "REGEX")]
    run: Option<String>,
    /// Report the rules of the policies under test that no test evaluated.
    #[arg(long)]
    coverage: bool,
    /// The filter `.wasm` scenarios run through (default: `$JITGATE_FILTER`, else
    /// `target/jitgate_filter.wasm` if present, else the native core).
    #[arg(long, value_name = "F.wasm")]
    filter: Option<PathBuf>,
    /// Run scenarios through the native core even when a filter is available.
    #[arg(long, conflicts_with = "filter")]
    native: bool,
    /// Time `time.now_ns()` returns in Rego tests that do not set it (default: now).
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
}

fn discover(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut rego = Vec::new();
    let mut scenario_files = Vec::new();
    fn visit(path: &Path, rego: &mut Vec<PathBuf>, scen: &mut Vec<PathBuf>, top: bool) -> Result<()> {
        let meta = std::fs::metadata(path).map_err(|e| anyhow!("cannot read `{}`: {e}", path.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| anyhow!("cannot read `{}`: {e}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for entry in entries {
                let hidden = entry
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'));
                let skipped = entry
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| matches!(n, "target" | "node_modules"));
                if !hidden && !skipped {
                    visit(&entry, rego, scen, false)?;
                }
            }
            return Ok(());
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.ends_with(".rego") {
            rego.push(path.to_path_buf());
        } else if name.ends_with(".scenarios.json") {
            scen.push(path.to_path_buf());
        } else if top {
            return Err(anyhow!(
                "`{}` is neither a `.rego` nor a `.scenarios.json` file",
                path.display()
            ));
        }
        Ok(())
    }
    for path in paths {
        visit(path, &mut rego, &mut scenario_files, true)?;
    }
    Ok((rego, scenario_files))
}

fn engine(args: &TestArgs) -> Result<(Engine, String)> {
    if args.native {
        return Ok((Engine::Native, "scenarios: native core".into()));
    }
    let explicit = args
        .filter
        .clone()
        .or_else(|| std::env::var_os("JITGATE_FILTER").map(PathBuf::from));
    let path = match explicit {
        Some(p) => p,
        None => {
            let default = PathBuf::from("target/jitgate_filter.wasm");
            if !default.exists() {
                return Ok((
                    Engine::Native,
                    "scenarios: native core (no filter .wasm found; pass --filter)".into(),
                ));
            }
            default
        }
    };
    #[cfg(feature = "harness")]
    {
        let module = FilterModule::load(&path).map_err(|e| anyhow!("`{}`: {e}", path.display()))?;
        Ok((
            Engine::Filter(module),
            format!("scenarios: filter `{}` in the harness", path.display()),
        ))
    }
    #[cfg(not(feature = "harness"))]
    {
        if args.filter.is_some() {
            anyhow::bail!(
                "`--filter`: this jitgate is built without the harness (cargo feature `harness`); use --native"
            );
        }
        Ok((
            Engine::Native,
            format!(
                "scenarios: native core (built without the harness: `{}` not run)",
                path.display()
            ),
        ))
    }
}

/// Runs `jitgate test`.
pub fn run(args: TestArgs) -> Result<(), Failure> {
    let select = match &args.run {
        Some(re) => Some(Regex::new(re).map_err(|e| Failure::usage(format!("--run: {e}")))?),
        None => None,
    };
    let now = match &args.now {
        Some(t) => crate::files::parse_time(t)?,
        None => {
            let d = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| anyhow!("{e}"))?;
            i64::try_from(d.as_nanos()).map_err(|e| anyhow!("{e}"))?
        }
    };
    let (rego_files, scenario_files) = discover(&args.paths)?;
    if rego_files.is_empty() && scenario_files.is_empty() {
        return Err(Failure::usage("no `.rego` or `.scenarios.json` files found"));
    }
    let (mut cases, uncovered) = rego_tests::run(&rego_files, select.as_ref(), now, args.coverage)?;
    let mut note = None;
    if !scenario_files.is_empty() {
        let (engine, what) = engine(&args)?;
        note = Some(what);
        for file in &scenario_files {
            cases.extend(scenarios::run(file, &engine, select.as_ref())?);
        }
    }
    let output = match args.format {
        Format::Text => report::text(&cases, args.verbose, &uncovered, note.as_deref()),
        Format::Json => report::json(&cases, &uncovered),
        Format::Junit => report::junit(&cases),
    };
    crate::files::write_stdout(format_args!("{output}"));
    let (_, failed, errored) = counts(&cases);
    if failed + errored > 0 {
        return Err(Failure::negative(""));
    }
    if cases.is_empty() {
        return Err(Failure::negative("no tests ran"));
    }
    Ok(())
}
