//! ABI conformance with hand-written modules: the exact pairs layout, status codes, map and
//! buffer availability, clocks, shared data, metrics, local replies, the strict import check,
//! start-up restrictions and traps.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::wat_module;
use jitgate_harness::clock::DEFAULT_START_UNIX_NS;
use jitgate_harness::{AbiVersion, EnvoyRequest, Error, FailurePolicy, Host, HostConfig, LogLevel, LogSource, Outcome};
use std::time::Duration;

/// Memory, a bump allocator, the ABI marker and logging helpers: `$log(ptr, len)`,
/// `$log_ret` (the pointer/length pair a host call returned at 16/20), `$log_i32`, `$log_u64`
/// (decimal). `imports` and `body` are spliced in.
fn module(imports: &str, body: &str) -> String {
    format!(
        r#"(module
  (import "env" "proxy_log" (func $proxy_log (param i32 i32 i32) (result i32)))
  {imports}
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (func (export "malloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func (export "proxy_abi_version_0_2_1"))
  (func $log (param $p i32) (param $n i32)
    (drop (call $proxy_log (i32.const 2) (local.get $p) (local.get $n))))
  (func $log_ret (call $log (i32.load (i32.const 16)) (i32.load (i32.const 20))))
  (func $log_u64 (param $v i64) (local $p i32)
    (local.set $p (i32.const 240))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $v) (i64.const 0))))
    (call $log (local.get $p) (i32.sub (i32.const 240) (local.get $p))))
  (func $log_i32 (param $v i32) (call $log_u64 (i64.extend_i32_u (local.get $v))))
  {body}
)"#
    )
}

fn proxy_lines(host: &Host) -> Vec<String> {
    host.logs()
        .iter()
        .filter(|l| l.source == LogSource::ProxyLog)
        .map(|l| l.message.clone())
        .collect()
}

const PROBE_IMPORTS: &str = r#"
  (import "env" "proxy_get_header_map_pairs" (func $pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $hval (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $hadd (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_size" (func $hsize (param i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $prop (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $buf (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_current_time_nanoseconds" (func $now (param i32) (result i32)))
  (import "env" "proxy_get_log_level" (func $loglevel (param i32) (result i32)))
  (import "env" "proxy_get_shared_data" (func $sget (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_shared_data" (func $sset (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_effective_context" (func $eff (param i32) (result i32)))
  (import "env" "proxy_define_metric" (func $defm (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_increment_metric" (func $incm (param i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
"#;

const PROBE_BODY: &str = r#"
  (data (i32.const 1024) "x-missing")
  (data (i32.const 1040) "source\00address")
  (data (i32.const 1060) "plugin_root_id")
  (data (i32.const 1080) "nope")
  (data (i32.const 1090) ":path")
  (data (i32.const 1100) "k")
  (data (i32.const 1104) "v1")
  (data (i32.const 1108) "v2")
  (data (i32.const 1112) "m")
  (data (i32.const 1120) "a")
  (data (i32.const 1124) "b")
  (data (i32.const 1130) ":status")
  (data (i32.const 1140) "request\00path")
  (data (i32.const 1160) "x-seen")
  (data (i32.const 1170) "yes")
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    ;; the request header map, serialised
    (call $log_i32 (call $pairs (i32.const 0) (i32.const 16) (i32.const 20)))
    (call $log_ret)
    ;; a missing header; an unknown map type
    (call $log_i32 (call $hval (i32.const 0) (i32.const 1024) (i32.const 9) (i32.const 16) (i32.const 20)))
    (call $log_i32 (call $hval (i32.const 99) (i32.const 1090) (i32.const 5) (i32.const 16) (i32.const 20)))
    ;; properties: supplied, host-level, derived, missing
    (call $log_i32 (call $prop (i32.const 1040) (i32.const 14) (i32.const 16) (i32.const 20)))
    (call $log_ret)
    (call $log_i32 (call $prop (i32.const 1060) (i32.const 14) (i32.const 16) (i32.const 20)))
    (call $log_ret)
    (call $log_i32 (call $prop (i32.const 1140) (i32.const 12) (i32.const 16) (i32.const 20)))
    (call $log_ret)
    (call $log_i32 (call $prop (i32.const 1080) (i32.const 4) (i32.const 16) (i32.const 20)))
    ;; the plugin configuration outside proxy_on_configure
    (call $log_i32 (call $buf (i32.const 7) (i32.const 0) (i32.const 100) (i32.const 16) (i32.const 20)))
    ;; an absent map: Ok with a null pointer and length 0
    (i32.store (i32.const 16) (i32.const 777))
    (i32.store (i32.const 20) (i32.const 777))
    (call $log_i32 (call $pairs (i32.const 6) (i32.const 16) (i32.const 20)))
    (call $log_i32 (i32.load (i32.const 16)))
    (call $log_i32 (i32.load (i32.const 20)))
    ;; clocks
    (call $log_i32 (call $now (i32.const 24)))
    (call $log_u64 (i64.load (i32.const 24)))
    (call $log_i32 (call $clock (i32.const 0) (i64.const 1) (i32.const 24)))
    (call $log_u64 (i64.load (i32.const 24)))
    (call $log_i32 (call $clock (i32.const 1) (i64.const 1) (i32.const 24)))
    (call $log_u64 (i64.load (i32.const 24)))
    (call $log_i32 (call $clock (i32.const 2) (i64.const 1) (i32.const 24)))
    ;; a log level past critical
    (call $log_i32 (call $proxy_log (i32.const 9) (i32.const 1024) (i32.const 1)))
    ;; shared data with CAS
    (call $log_i32 (call $sget (i32.const 1100) (i32.const 1) (i32.const 16) (i32.const 20) (i32.const 32)))
    (call $log_i32 (call $sset (i32.const 1100) (i32.const 1) (i32.const 1104) (i32.const 2) (i32.const 0)))
    (call $log_i32 (call $sget (i32.const 1100) (i32.const 1) (i32.const 16) (i32.const 20) (i32.const 32)))
    (call $log_ret)
    (call $log_i32 (i32.load (i32.const 32)))
    (call $log_i32 (call $sset (i32.const 1100) (i32.const 1) (i32.const 1108) (i32.const 2)
      (i32.add (i32.load (i32.const 32)) (i32.const 1))))
    (call $log_i32 (call $sset (i32.const 1100) (i32.const 1) (i32.const 1108) (i32.const 2)
      (i32.load (i32.const 32))))
    ;; an unknown effective context
    (call $log_i32 (call $eff (i32.const 999)))
    ;; metrics
    (call $log_i32 (call $defm (i32.const 5) (i32.const 1112) (i32.const 1) (i32.const 40)))
    (call $log_i32 (call $defm (i32.const 0) (i32.const 1112) (i32.const 1) (i32.const 40)))
    (call $log_i32 (i32.load (i32.const 40)))
    (call $log_i32 (call $incm (i32.load (i32.const 40)) (i64.const 0)))
    (call $log_i32 (call $incm (i32.load (i32.const 40)) (i64.const 5)))
    ;; adding a request header, then the map's byte size
    (call $log_i32 (call $hadd (i32.const 0) (i32.const 1160) (i32.const 6) (i32.const 1170) (i32.const 3)))
    (call $log_i32 (call $hsize (i32.const 0) (i32.const 24)))
    (call $log_i32 (i32.load (i32.const 24)))
    ;; the request body outside the body callback: there, but empty
    (call $log_i32 (call $buf (i32.const 0) (i32.const 0) (i32.const 100) (i32.const 16) (i32.const 20)))
    (call $log_i32 (i32.load (i32.const 20)))
    ;; the log level
    (call $log_i32 (call $loglevel (i32.const 24)))
    (call $log_i32 (i32.load (i32.const 24)))
    ;; WASI stderr, and a file descriptor that is not there
    (i32.store (i32.const 48) (i32.const 1170))
    (i32.store (i32.const 52) (i32.const 3))
    (call $log_i32 (call $fd_write (i32.const 2) (i32.const 48) (i32.const 1) (i32.const 56)))
    (call $log_i32 (i32.load (i32.const 56)))
    (call $log_i32 (call $fd_write (i32.const 5) (i32.const 48) (i32.const 1) (i32.const 56)))
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    ;; the request headers are gone once the request continued
    (call $log_i32 (call $hval (i32.const 0) (i32.const 1090) (i32.const 5) (i32.const 16) (i32.const 20)))
    (call $log_i32 (call $hval (i32.const 2) (i32.const 1130) (i32.const 7) (i32.const 16) (i32.const 20)))
    (call $log_ret)
    (i32.const 0))
  (func (export "proxy_on_log") (param $ctx i32)
    ;; access-log phase: readable, not writable, a missing header is NotFound
    (call $log_i32 (call $hval (i32.const 0) (i32.const 1090) (i32.const 5) (i32.const 16) (i32.const 20)))
    (call $log_ret)
    (call $log_i32 (call $hadd (i32.const 0) (i32.const 1120) (i32.const 1) (i32.const 1124) (i32.const 1)))
    (call $log_i32 (call $hval (i32.const 0) (i32.const 1024) (i32.const 9) (i32.const 16) (i32.const 20))))
"#;

#[test]
fn probe_sees_envoys_bytes_statuses_and_availability() {
    let module = wat_module(&module(PROBE_IMPORTS, PROBE_BODY)).unwrap();
    assert_eq!(module.abi_version(), AbiVersion::V0_2_1);
    let config = HostConfig {
        root_id: "probe".into(),
        ..HostConfig::default()
    };
    let mut host = Host::with_config(&module, config).unwrap();
    host.configure("").unwrap();
    let out = host
        .request(
            EnvoyRequest::new("GET", "/p")
                .authority("h")
                .property("source.address", "10.0.0.7:1234"),
        )
        .unwrap();
    assert!(out.is_forwarded());
    assert_eq!(out.header("x-seen"), Some("yes"), "added header went upstream");
    assert_eq!(host.metric("m"), Some(5));

    #[rustfmt::skip]
    let mut pairs: Vec<u8> = vec![
        4, 0, 0, 0,
        10, 0, 0, 0, 1, 0, 0, 0,
        5, 0, 0, 0, 2, 0, 0, 0,
        7, 0, 0, 0, 3, 0, 0, 0,
        7, 0, 0, 0, 4, 0, 0, 0,
    ];
    pairs.extend_from_slice(b":authority\0h\0:path\0/p\0:method\0GET\0:scheme\0http\0");
    let lines = proxy_lines(&host);
    assert_eq!(lines[1].as_bytes(), &pairs[..], "pairs layout");

    let start = DEFAULT_START_UNIX_NS.to_string();
    let expected: Vec<&str> = vec![
        "0",
        "<pairs>",
        "1", // missing header: NotFound
        "2", // map type 99: BadArgument
        "0",
        "10.0.0.7:1234", // supplied property
        "0",
        "probe", // plugin_root_id
        "0",
        "/p", // request.path, derived
        "1",  // missing property
        "1",  // plugin configuration: NotFound
        "0",
        "0",
        "0", // absent map: Ok, null, 0
        "0",
        &start, // proxy_get_current_time_nanoseconds
        "0",
        &start, // clock_time_get(REALTIME)
        "0",
        "1000000000", // clock_time_get(MONOTONIC)
        "58",         // other clocks: ENOTSUP
        "2",          // log level 9: BadArgument
        "1",
        "0",
        "0",
        "v1",
        "1", // shared data: NotFound, set, get, value, cas
        "8",
        "0", // wrong cas: CasMismatch; right cas: Ok
        "2", // unknown effective context: BadArgument
        "2",
        "0",
        "4", // metric type 5: BadArgument; counter id 4
        "2",
        "0", // increment by 0: BadArgument; by 5: Ok
        "0",
        "0",
        "48", // add header; byte size of the map
        "0",
        "0", // request body outside its callback: Ok, empty
        "0",
        "2", // log level: info
        "0",
        "3", // fd_write to stderr: ok, 3 bytes
        "8", // fd 5: EBADF
        "2", // response phase: request headers BadArgument
        "0",
        "200", // response :status
        "0",
        "/p", // on_log: request headers readable
        "2",  // on_log: not writable
        "1",  // on_log: missing header NotFound
    ];
    let mut got: Vec<&str> = lines.iter().map(String::as_str).collect();
    got[1] = "<pairs>";
    assert_eq!(got, expected);

    let stderr = host.logs().iter().find(|l| l.source == LogSource::Stderr).unwrap();
    assert_eq!(
        (stderr.level, stderr.message.as_str(), stderr.context_id),
        (LogLevel::Error, "yes", 2)
    );
}

#[test]
fn pairs_with_empty_names_and_values() {
    let serialized = jitgate_harness::pairs::serialize([("a", ""), ("", "b")]);
    assert_eq!(
        serialized,
        [2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, b'a', 0, 0, 0, b'b', 0]
    );
}

const REPLY_IMPORTS: &str = r#"
  (import "env" "proxy_send_local_response"
    (func $reply (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
"#;

const REPLY_BODY: &str = r#"
  (data (i32.const 1024) "not allowed")
  (data (i32.const 1040) "\01\00\00\00\03\00\00\00\01\00\00\00X-A\001\00")
  (func (export "proxy_on_request_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $log_i32 (call $reply (i32.const 403) (i32.const 1024) (i32.const 11)
      (i32.const 0) (i32.const 0) (i32.const 1040) (i32.const 18) (i32.const -1)))
    ;; Continue: Envoy still stops, because a local reply was sent.
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (i32.const 0))
"#;

#[test]
fn local_reply_with_empty_body_and_continue() {
    let module = wat_module(&module(REPLY_IMPORTS, REPLY_BODY)).unwrap();
    let mut host = Host::new(&module).unwrap();
    host.configure("").unwrap();
    host.take_calls();
    let out = host.request(EnvoyRequest::get("/")).unwrap();
    let Outcome::LocalResponse {
        status,
        headers,
        body,
        details,
    } = &out
    else {
        panic!("expected a local reply, got {out:?}");
    };
    assert_eq!(*status, 403);
    assert!(body.is_empty());
    assert_eq!(details, "not_allowed", "whitespace replaced as Envoy does");
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [(":status", "403"), ("x-a", "1")],
        "no content-length/-type for an empty body"
    );
    let names: Vec<_> = host.calls().iter().map(|c| (c.name, c.args.clone())).collect();
    assert_eq!(
        names,
        [
            ("proxy_on_request_headers", vec![2, 4, 1]),
            ("proxy_on_response_headers", vec![2, 2, 1]),
        ]
    );
    assert_eq!(proxy_lines(&host), ["0"]);
}

#[test]
fn close_stream_resets_and_a_pause_with_nothing_pending_stalls() {
    let close = module(
        r#"(import "env" "proxy_close_stream" (func $close (param i32) (result i32)))"#,
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
             (call $log_i32 (call $close (i32.const 0)))
             (call $log_i32 (call $close (i32.const 9)))
             (i32.const 1))
           (func (export "proxy_on_log") (param i32))"#,
    );
    let mut host = Host::new(&wat_module(&close).unwrap()).unwrap();
    host.configure("").unwrap();
    let out = host.request(EnvoyRequest::get("/")).unwrap();
    assert_eq!(
        out,
        Outcome::Reset {
            details: "wasm_close_stream".into()
        }
    );
    assert_eq!(proxy_lines(&host), ["0", "2"]);
    assert_eq!(out.to_json()["action"], "reset");

    let pause = module(
        "",
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 1))
           (func (export "proxy_on_log") (param i32))
           (func (export "proxy_on_delete") (param i32))"#,
    );
    let mut host = Host::new(&wat_module(&pause).unwrap()).unwrap();
    host.configure("").unwrap();
    host.take_calls();
    let err = host.request(EnvoyRequest::get("/")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Stalled {
                context_id: 2,
                phase: "request headers"
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        host.call_names(),
        ["proxy_on_request_headers", "proxy_on_log", "proxy_on_delete"]
    );
}

#[test]
fn imports_outside_envoys_set_are_all_listed() {
    let text = module(
        r#"(import "env" "proxy_bogus" (func (param i32) (result i32)))
           (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
           (import "wasi_snapshot_preview1" "poll_oneoff" (func (param i32 i32 i32 i32) (result i32)))
           (import "env" "table" (table 1 funcref))
           (import "wasi_unstable" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#,
        "",
    );
    let err = wat_module(&text).unwrap_err();
    let Error::UnsupportedImports(list) = &err else {
        panic!("expected unsupported imports, got {err:?}");
    };
    assert_eq!(
        list,
        &[
            "`env.proxy_bogus`",
            "`wasi_snapshot_preview1.sched_yield`",
            "`wasi_snapshot_preview1.poll_oneoff`",
            "`env.table` (table)",
        ]
    );
    let message = err.to_string();
    assert!(message.contains("`env.proxy_bogus`"), "{message}");
    assert!(message.contains("`wasi_snapshot_preview1.poll_oneoff`"), "{message}");
}

#[test]
fn abi_version_is_required_and_0_2_0_lacks_get_log_level() {
    let no_abi = module("", "").replace(r#"(func (export "proxy_abi_version_0_2_1"))"#, "");
    assert!(matches!(wat_module(&no_abi), Err(Error::AbiVersion(_))));

    let v020 = module("", "").replace("proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0");
    assert_eq!(wat_module(&v020).unwrap().abi_version(), AbiVersion::V0_2_0);

    let v020_log_level = module(
        r#"(import "env" "proxy_get_log_level" (func (param i32) (result i32)))"#,
        "",
    )
    .replace("proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0");
    let err = wat_module(&v020_log_level).unwrap_err();
    assert!(err.to_string().contains("`env.proxy_get_log_level`"), "{err}");

    let v010 = module("", "").replace("proxy_abi_version_0_2_1", "proxy_abi_version_0_1_0");
    assert!(matches!(wat_module(&v010), Err(Error::AbiVersion(_))));
}

#[test]
fn allocator_and_memory_are_required() {
    let no_malloc = module("", "").replace(r#"(export "malloc")"#, "");
    let err = wat_module(&no_malloc).unwrap_err();
    assert!(matches!(err, Error::MissingExport(_)), "{err:?}");
    assert!(err.to_string().contains("proxy_on_memory_allocate"));

    let sdk_style = module("", "").replace(r#"(export "malloc")"#, r#"(export "proxy_on_memory_allocate")"#);
    assert!(wat_module(&sdk_style).is_ok());
}

#[test]
fn an_export_with_the_wrong_signature_is_refused() {
    let text = module(
        "",
        r#"(func (export "proxy_on_request_headers") (param i32) (result i32) (i32.const 0))"#,
    );
    let err = Host::new(&wat_module(&text).unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::BadExport { name, .. } if name == "proxy_on_request_headers"),
        "{err:?}"
    );
}

#[test]
fn only_logging_clocks_and_random_are_allowed_while_starting() {
    let allowed = module(
        "",
        r#"(data (i32.const 1024) "starting")
           (func (export "_initialize") (call $log (i32.const 1024) (i32.const 8)))"#,
    );
    let host = Host::new(&wat_module(&allowed).unwrap()).unwrap();
    assert_eq!(host.log_messages(), ["starting"]);
    assert_eq!(host.logs()[0].context_id, 0);

    let refused = module(
        r#"(import "env" "proxy_get_property" (func $prop (param i32 i32 i32 i32) (result i32)))"#,
        r#"(func (export "_initialize")
             (drop (call $prop (i32.const 0) (i32.const 0) (i32.const 16) (i32.const 20))))"#,
    );
    let err = Host::new(&wat_module(&refused).unwrap()).unwrap_err();
    let Error::Trap { callback, message, .. } = &err else {
        panic!("expected a trap, got {err:?}");
    };
    assert_eq!(callback, "_initialize");
    assert!(message.starts_with("restricted_callback"), "{message}");
    assert!(message.contains("env.proxy_get_property"), "{message}");

    let command = module(
        "",
        r#"(data (i32.const 1024) "command")
           (func (export "_start") (call $log (i32.const 1024) (i32.const 7)))"#,
    );
    let host = Host::new(&wat_module(&command).unwrap()).unwrap();
    assert_eq!(host.call_names(), ["_start"]);
    assert_eq!(host.log_messages(), ["command"]);
}

const TRAP_BODY: &str = r#"
  (func (export "proxy_on_tick") (param i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) unreachable)
"#;

#[test]
fn a_trap_kills_the_vm_and_requests_then_fail_closed() {
    let module = wat_module(&module("", TRAP_BODY)).unwrap();
    let mut host = Host::new(&module).unwrap();
    host.configure("").unwrap();
    let err = host.request(EnvoyRequest::get("/")).unwrap_err();
    let Error::Trap { callback, message, .. } = &err else {
        panic!("expected a trap, got {err:?}");
    };
    assert_eq!(callback, "proxy_on_request_headers");
    assert!(message.contains("unreachable"), "{message}");
    assert!(err.to_string().starts_with("wasm trap in `proxy_on_request_headers`"));
    assert!(host.is_dead());
    assert_eq!(host.failure().map(|f| f.0), Some("proxy_on_request_headers"));

    host.take_calls();
    for _ in 0..2 {
        let out = host.request(EnvoyRequest::get("/")).unwrap();
        assert_eq!(
            out,
            Outcome::LocalResponse {
                status: 503,
                headers: [(":status", "503")].into_iter().collect(),
                body: Vec::new(),
                details: "wasm_fail_stream".into(),
            }
        );
    }
    assert!(host.calls().is_empty(), "a dead VM is never called");
    assert!(matches!(host.configure(""), Err(Error::VmDead { .. })));
    assert!(matches!(host.tick(), Err(Error::VmDead { .. })));
    let before = host.clock().unix_nanos();
    assert!(matches!(
        host.advance(Duration::from_secs(1)),
        Err(Error::VmDead { .. })
    ));
    assert_eq!(host.clock().unix_nanos(), before + 1_000_000_000);
}

#[test]
fn fail_open_forwards_untouched_after_a_trap() {
    let module = wat_module(&module("", TRAP_BODY)).unwrap();
    let config = HostConfig {
        failure_policy: FailurePolicy::FailOpen,
        ..HostConfig::default()
    };
    let mut host = Host::with_config(&module, config).unwrap();
    host.configure("").unwrap();
    assert!(host.request(EnvoyRequest::get("/")).is_err());
    let out = host.request(EnvoyRequest::get("/x").header("a", "b")).unwrap();
    let Outcome::Forwarded { headers, response, .. } = out else {
        panic!("expected forwarded");
    };
    assert_eq!(headers.get("a"), Some("b"));
    assert_eq!(response.status, 200);
}

#[test]
fn a_local_reply_after_the_response_started_replaces_it_directly() {
    let text = module(
        r#"(import "env" "proxy_send_local_response"
             (func $reply (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))"#,
        r#"(data (i32.const 1024) "oops")
           (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 0))
           (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
             (drop (call $reply (i32.const 502) (i32.const 0) (i32.const 0) (i32.const 1024)
               (i32.const 4) (i32.const 0) (i32.const 0) (i32.const -1)))
             (i32.const 0))
           (func (export "proxy_on_response_body") (param i32 i32 i32) (result i32) (i32.const 0))"#,
    );
    let mut host = Host::new(&wat_module(&text).unwrap()).unwrap();
    host.configure("").unwrap();
    host.take_calls();
    let out = host
        .request(
            EnvoyRequest::get("/").upstream_response(jitgate_harness::UpstreamResponse::new(200).body("upstream body")),
        )
        .unwrap();
    assert_eq!(
        out,
        Outcome::LocalResponse {
            status: 502,
            headers: [
                (":status", "502"),
                ("content-length", "4"),
                ("content-type", "text/plain")
            ]
            .into_iter()
            .collect(),
            body: b"oops".to_vec(),
            details: String::new(),
        }
    );
    // No second pass through the filter, no upstream body.
    assert_eq!(
        host.call_names(),
        ["proxy_on_request_headers", "proxy_on_response_headers"]
    );
}

#[test]
fn queues_notify_the_root_and_shutdown_waits_for_proxy_done() {
    let text = module(
        r#"(import "env" "proxy_register_shared_queue" (func $reg (param i32 i32 i32) (result i32)))
           (import "env" "proxy_enqueue_shared_queue" (func $enq (param i32 i32 i32) (result i32)))
           (import "env" "proxy_dequeue_shared_queue" (func $deq (param i32 i32 i32) (result i32)))
           (import "env" "proxy_done" (func $done (result i32)))
           (import "env" "proxy_set_tick_period_milliseconds" (func $tickp (param i32) (result i32)))"#,
        r#"(data (i32.const 1024) "q")
           (data (i32.const 1030) "item")
           (func (export "proxy_on_configure") (param i32 i32) (result i32)
             (drop (call $reg (i32.const 1024) (i32.const 1) (i32.const 40)))
             (drop (call $tickp (i32.const 1000)))
             (i32.const 1))
           (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
             (call $log_i32 (call $enq (i32.load (i32.const 40)) (i32.const 1030) (i32.const 4)))
             (i32.const 0))
           (func (export "proxy_on_queue_ready") (param $root i32) (param $token i32)
             (call $log_i32 (local.get $root))
             (call $log_i32 (call $deq (local.get $token) (i32.const 16) (i32.const 20)))
             (call $log_ret)
             (call $log_i32 (call $deq (local.get $token) (i32.const 16) (i32.const 20))))
           (func (export "proxy_on_done") (param i32) (result i32)
             (call $log_i32 (call $done))
             (i32.const 0))
           (func (export "proxy_on_tick") (param i32) (call $log_i32 (call $done)))
           (func (export "proxy_on_delete") (param $c i32) (call $log_i32 (local.get $c)))"#,
    );
    let mut host = Host::new(&wat_module(&text).unwrap()).unwrap();
    host.configure("").unwrap();
    host.request(EnvoyRequest::get("/")).unwrap();
    assert_eq!(
        proxy_lines(&host),
        [
            "0",    // enqueue
            "1",    // on_done(2): proxy_done from a stream is NotFound (its return is ignored)
            "2",    // on_delete(2)
            "1",    // on_queue_ready: for root 1, after the stream
            "0",    // dequeue
            "item", //
            "7",    // queue empty
        ]
    );
    host.take_logs();
    // on_done(root) returns false: the root waits; its timer keeps running.
    assert!(!host.shutdown().unwrap());
    assert!(matches!(
        host.request(EnvoyRequest::get("/")),
        Err(Error::NotConfigured)
    ));
    host.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(proxy_lines(&host), ["1", "0", "1"]);
    let tail: Vec<_> = host.call_names().into_iter().rev().take(2).collect();
    assert_eq!(tail, ["proxy_on_delete", "proxy_on_tick"]);
}

#[test]
fn a_request_can_set_the_wall_clock() {
    let text = module(
        r#"(import "env" "proxy_get_current_time_nanoseconds" (func $now (param i32) (result i32)))"#,
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
             (drop (call $now (i32.const 24)))
             (call $log_u64 (i64.load (i32.const 24)))
             (i32.const 0))"#,
    );
    let mut host = Host::new(&wat_module(&text).unwrap()).unwrap();
    host.configure("").unwrap();
    host.request(EnvoyRequest::get("/").at_unix_secs(1_764_151_200))
        .unwrap();
    assert_eq!(proxy_lines(&host), ["1764151200000000000"]);
    assert_eq!(host.clock().unix_nanos(), 1_764_151_200_000_000_000);
}

#[test]
fn host_and_module_can_move_between_threads() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<Host>();
    send_sync::<jitgate_harness::FilterModule>();
}

#[test]
fn bodies_can_be_rewritten_and_properties_stored_per_stream() {
    let text = module(
        r#"(import "env" "proxy_get_buffer_bytes" (func $buf (param i32 i32 i32 i32 i32) (result i32)))
           (import "env" "proxy_set_buffer_bytes" (func $setbuf (param i32 i32 i32 i32 i32) (result i32)))
           (import "env" "proxy_get_property" (func $prop (param i32 i32 i32 i32) (result i32)))
           (import "env" "proxy_set_property" (func $setprop (param i32 i32 i32 i32) (result i32)))"#,
        r#"(data (i32.const 1024) "new")
           (data (i32.const 1030) "!")
           (data (i32.const 1040) "my_key")
           (data (i32.const 1050) "value")
           (func (export "proxy_on_configure") (param i32 i32) (result i32)
             ;; no stream in a root context
             (call $log_i32 (call $setprop (i32.const 1040) (i32.const 6) (i32.const 1050) (i32.const 5)))
             (i32.const 1))
           (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
             (call $log_i32 (call $setprop (i32.const 1040) (i32.const 6) (i32.const 1050) (i32.const 5)))
             ;; the body is not writable before its callback, the VM configuration never
             (call $log_i32 (call $setbuf (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1024) (i32.const 3)))
             (call $log_i32 (call $setbuf (i32.const 6) (i32.const 0) (i32.const 0) (i32.const 1024) (i32.const 3)))
             (call $log_i32 (call $setbuf (i32.const 9) (i32.const 0) (i32.const 0) (i32.const 1024) (i32.const 3)))
             (i32.const 0))
           (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32)
             ;; replace the first 3 bytes, append one, then a start in the middle is refused
             (call $log_i32 (call $setbuf (i32.const 0) (i32.const 0) (i32.const 3) (i32.const 1024) (i32.const 3)))
             (call $log_i32 (call $setbuf (i32.const 0) (i32.const 100) (i32.const 0) (i32.const 1030) (i32.const 1)))
             (call $log_i32 (call $setbuf (i32.const 0) (i32.const 2) (i32.const 0) (i32.const 1030) (i32.const 1)))
             ;; a clamped read past the end
             (call $log_i32 (call $buf (i32.const 0) (i32.const 3) (i32.const 1000) (i32.const 16) (i32.const 20)))
             (call $log_ret)
             (call $log_i32 (call $prop (i32.const 1040) (i32.const 6) (i32.const 16) (i32.const 20)))
             (call $log_ret)
             (i32.const 0))"#,
    );
    let mut host = Host::new(&wat_module(&text).unwrap()).unwrap();
    host.configure("").unwrap();
    let out = host.request(EnvoyRequest::post("/").body("old-body")).unwrap();
    let Outcome::Forwarded { body, .. } = &out else {
        panic!("expected forwarded, got {out:?}");
    };
    assert_eq!(body, b"new-body!");
    assert_eq!(
        proxy_lines(&host),
        [
            "1", // set_property without a stream: NotFound
            "0", // set_property on the stream
            "2", "2", "2", // body before its callback, VM config, unknown type: BadArgument
            "0", "0", "2", // replace, append, middle: BadArgument
            "0", "-body!", // read from 3, clamped
            "0", "value", // the stored property
        ]
    );
}
