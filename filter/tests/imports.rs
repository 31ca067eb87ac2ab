//! The built filter imports only what Envoy provides, and exports what Envoy calls.
//!
//! Envoy links a module against proxy-wasm-cpp-host's host functions: the `env.proxy_*`
//! functions (`FOR_ALL_HOST_FUNCTIONS`, plus the ABI-specific ones registered for ABI
//! 0.2.1) and the WASI preview 1 subset it implements (`FOR_ALL_WASI_FUNCTIONS`, under
//! both `wasi_snapshot_preview1` and `wasi_unstable`). Any other import makes Envoy
//! refuse the module at load time, so this is checked on the artifact itself.
//!
//! The artifact is `$JITGATE_FILTER_WASM`, else `target/jitgate_filter.wasm` (written by
//! `filter/build.sh`). When there is none the check is skipped with a message, unless
//! `JITGATE_REQUIRE_WASM=1` (set by `filter/build.sh` and CI), which makes it fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::PathBuf;

use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

/// `FOR_ALL_HOST_FUNCTIONS` in proxy-wasm-cpp-host, with the `proxy_` prefix.
const ENV_FUNCTIONS: &[&str] = &[
    "proxy_log",
    "proxy_get_status",
    "proxy_set_property",
    "proxy_get_property",
    "proxy_send_local_response",
    "proxy_get_shared_data",
    "proxy_set_shared_data",
    "proxy_register_shared_queue",
    "proxy_resolve_shared_queue",
    "proxy_dequeue_shared_queue",
    "proxy_enqueue_shared_queue",
    "proxy_get_header_map_value",
    "proxy_add_header_map_value",
    "proxy_replace_header_map_value",
    "proxy_remove_header_map_value",
    "proxy_get_header_map_pairs",
    "proxy_set_header_map_pairs",
    "proxy_get_header_map_size",
    "proxy_get_buffer_status",
    "proxy_get_buffer_bytes",
    "proxy_set_buffer_bytes",
    "proxy_http_call",
    "proxy_grpc_call",
    "proxy_grpc_stream",
    "proxy_grpc_close",
    "proxy_grpc_cancel",
    "proxy_grpc_send",
    "proxy_set_tick_period_milliseconds",
    "proxy_get_current_time_nanoseconds",
    "proxy_define_metric",
    "proxy_increment_metric",
    "proxy_record_metric",
    "proxy_get_metric",
    "proxy_set_effective_context",
    "proxy_done",
    "proxy_call_foreign_function",
];

/// Registered for ABI 0.2.x (`proxy_get_log_level` for 0.2.1 only).
const ENV_FUNCTIONS_ABI_0_2_1: &[&str] = &["proxy_continue_stream", "proxy_close_stream", "proxy_get_log_level"];

/// `FOR_ALL_WASI_FUNCTIONS` in proxy-wasm-cpp-host.
const WASI_FUNCTIONS: &[&str] = &[
    "fd_write",
    "fd_read",
    "fd_seek",
    "fd_close",
    "fd_fdstat_get",
    "environ_get",
    "environ_sizes_get",
    "args_get",
    "args_sizes_get",
    "clock_time_get",
    "random_get",
    "proc_exit",
    "path_open",
    "fd_prestat_get",
    "fd_prestat_dir_name",
];

const WASI_MODULES: &[&str] = &["wasi_snapshot_preview1", "wasi_unstable"];

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

/// Whether Envoy provides the function `module.name` to a module of ABI 0.2.1.
fn envoy_provides(module: &str, name: &str) -> bool {
    match module {
        "env" => ENV_FUNCTIONS.contains(&name) || ENV_FUNCTIONS_ABI_0_2_1.contains(&name),
        m if WASI_MODULES.contains(&m) => WASI_FUNCTIONS.contains(&name),
        _ => false,
    }
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

fn artifact() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("JITGATE_FILTER_WASM") {
        return Some(PathBuf::from(path));
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/jitgate_filter.wasm");
    path.exists().then_some(path)
}

#[test]
fn the_built_filter_imports_only_what_envoy_provides() {
    let required = std::env::var("JITGATE_REQUIRE_WASM").is_ok_and(|v| v == "1");
    let Some(path) = artifact() else {
        assert!(
            !required,
            "no filter artifact: run filter/build.sh or set JITGATE_FILTER_WASM"
        );
        eprintln!("skipped: no target/jitgate_filter.wasm (run filter/build.sh)");
        return;
    };
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
