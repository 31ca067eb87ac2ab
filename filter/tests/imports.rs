//! The built filter imports only what Envoy provides, and exports what Envoy calls.
//!
//! Envoy links a module against proxy-wasm-cpp-host's host functions: the `env.proxy_*`
//! functions (`FOR_ALL_HOST_FUNCTIONS`, plus the ABI-specific ones registered for ABI
//! 0.2.1) and the WASI preview 1 subset it implements (`FOR_ALL_WASI_FUNCTIONS`, under
//! both `wasi_snapshot_preview1` and `wasi_unstable`). Any other import makes Envoy
//! refuse the module at load time, so this is checked on the artifact itself.
//!
//! The artifact is `$JITGATE_FILTER` (as everywhere else), else
//! `target/jitgate_filter.wasm` (written by `filter/build.sh`); without one the test fails
//! and says how to build it. The list of what Envoy provides is the harness's
//! (`jitgate_harness::abi`), which also refuses other imports when it loads a module.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::PathBuf;

use jitgate_harness::AbiVersion;
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

/// Exports Envoy needs from an HTTP filter of ABI 0.2.1.
const REQUIRED_EXPORTS: &[&str] = &[
    "memory",
    "_initialize",
    "proxy_abi_version_0_2_1",
    "proxy_on_memory_allocate",
    "proxy_on_context_create",
    "proxy_on_configure",
    "proxy_on_request_headers",
    "proxy_on_response_headers",
    "proxy_on_done",
    "proxy_on_delete",
];

/// Whether Envoy provides the function `module.name` to a module of ABI 0.2.1 — the
/// harness's list, the one place it is written down.
fn envoy_provides(module: &str, name: &str) -> bool {
    jitgate_harness::abi::envoy_provides(AbiVersion::V0_2_1, module, name)
}

/// One import: module, name, and whether it is a function.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Import {
    module: String,
    name: String,
    function: bool,
}

fn parse(bytes: &[u8]) -> (Vec<Import>, Vec<String>) {
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.expect("a valid wasm module") {
            Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    let import = import.expect("a valid import");
                    imports.push(Import {
                        module: import.module.to_owned(),
                        name: import.name.to_owned(),
                        function: matches!(import.ty, TypeRef::Func(_)),
                    });
                }
            }
            Payload::ExportSection(section) => {
                for export in section {
                    let export = export.expect("a valid export");
                    if matches!(export.kind, ExternalKind::Func | ExternalKind::Memory) {
                        exports.push(export.name.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    (imports, exports)
}

/// The problems with a module: imports Envoy does not provide, missing exports.
fn problems(bytes: &[u8]) -> Vec<String> {
    let (imports, exports) = parse(bytes);
    let mut problems: Vec<String> = imports
        .iter()
        .filter(|i| !i.function || !envoy_provides(&i.module, &i.name))
        .map(|i| {
            format!(
                "import `{}.{}`{} is not provided by Envoy",
                i.module,
                i.name,
                if i.function { "" } else { " (not a function)" }
            )
        })
        .collect();
    problems.extend(
        REQUIRED_EXPORTS
            .iter()
            .filter(|e| !exports.iter().any(|x| x == *e))
            .map(|e| format!("export `{e}` is missing")),
    );
    problems
}

fn artifact() -> PathBuf {
    std::env::var_os("JITGATE_FILTER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/jitgate_filter.wasm"))
}

#[test]
fn the_built_filter_imports_only_what_envoy_provides() {
    let path = artifact();
    assert!(
        path.exists(),
        "no filter artifact at {}: run filter/build.sh (or make filter)",
        path.display()
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (imports, _) = parse(&bytes);
    eprintln!("{} imports:", path.display());
    for i in &imports {
        eprintln!("  {}.{}", i.module, i.name);
    }
    let problems = problems(&bytes);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // What the filter's code calls: the SDK's proxy_* functions and random_get. Sanity
    // check that the module is the filter at all.
    assert!(imports
        .iter()
        .any(|i| i.module == "env" && i.name == "proxy_send_local_response"));
}

fn module_with(imports: &str) -> Vec<u8> {
    let exports: String = REQUIRED_EXPORTS
        .iter()
        .filter(|e| **e != "memory")
        .map(|e| format!("(func (export \"{e}\"))"))
        .collect();
    wat::parse_str(format!("(module {imports} (memory (export \"memory\") 1) {exports})")).unwrap()
}

#[test]
fn the_check_accepts_envoy_functions() {
    let ok = module_with(
        r#"(import "env" "proxy_log" (func (param i32 i32 i32) (result i32)))
           (import "env" "proxy_get_log_level" (func (param i32) (result i32)))
           (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))
           (import "wasi_unstable" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#,
    );
    assert_eq!(problems(&ok), Vec::<String>::new());
}

#[test]
fn the_check_rejects_what_envoy_lacks() {
    let bad = module_with(
        r#"(import "env" "proxy_get_configuration" (func (result i32)))
           (import "wasi_snapshot_preview1" "poll_oneoff" (func (param i32 i32 i32 i32) (result i32)))
           (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
           (import "env" "memory" (memory 1))
           (import "wasi:io/streams" "read" (func))"#,
    );
    let problems = problems(&bad);
    for expected in [
        "import `env.proxy_get_configuration` is not provided by Envoy",
        "import `wasi_snapshot_preview1.poll_oneoff` is not provided by Envoy",
        "import `wasi_snapshot_preview1.sched_yield` is not provided by Envoy",
        "import `env.memory` (not a function) is not provided by Envoy",
        "import `wasi:io/streams.read` is not provided by Envoy",
    ] {
        assert!(problems.iter().any(|p| p == expected), "{problems:#?}");
    }
}

#[test]
fn the_check_requires_the_abi_exports() {
    let bytes = wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap();
    let problems = problems(&bytes);
    assert!(problems.contains(&"export `proxy_abi_version_0_2_1` is missing".to_owned()));
    assert!(problems.contains(&"export `proxy_on_request_headers` is missing".to_owned()));
}
