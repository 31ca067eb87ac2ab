//! Callback order and stream handling, with the `http_headers` and `http_config` reference
//! filters.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::reference_filter;
use jitgate_harness::{Call, EnvoyRequest, Error, Host, HostConfig, LogLevel, LogSource, Outcome, UpstreamResponse};

fn names(calls: &[Call]) -> Vec<(&'static str, u32)> {
    calls.iter().map(|c| (c.name, c.context_id)).collect()
}

fn configured_headers_host() -> Host {
    let mut host = Host::new(&reference_filter("http_headers")).unwrap();
    host.configure("").unwrap();
    host
}

#[test]
fn start_and_configure_follow_envoy() {
    let mut host = Host::new(&reference_filter("http_headers")).unwrap();
    // A wasip1 reactor: only `_initialize` runs at load.
    assert_eq!(host.call_names(), ["_initialize"]);
    host.take_calls();
    host.configure("cfg").unwrap();
    let calls = host.take_calls();
    assert_eq!(
        names(&calls),
        [
            ("proxy_on_context_create", 1),
            ("proxy_on_vm_start", 1),
            ("proxy_on_configure", 1)
        ]
    );
    assert_eq!(calls[0].args, [1, 0], "root context has parent 0");
    assert_eq!(calls[1].args, [1, 0], "empty vm configuration");
    assert_eq!(calls[2].args, [1, 3], "plugin configuration size");
    assert_eq!(host.root_context_id(), Some(1));
}

#[test]
fn forwarded_request_runs_every_callback_in_order() {
    let mut host = configured_headers_host();
    host.take_calls();
    let out = host
        .request(
            EnvoyRequest::get("/orders")
                .header("x-trace", "t1")
                .upstream_response(UpstreamResponse::new(201).header("x-up", "1")),
        )
        .unwrap();
    let calls = host.take_calls();
    assert_eq!(
        names(&calls),
        [
            ("proxy_on_context_create", 2),
            ("proxy_on_request_headers", 2),
            ("proxy_on_response_headers", 2),
            ("proxy_on_log", 2),
            ("proxy_on_done", 2),
            ("proxy_on_delete", 2),
        ]
    );
    assert_eq!(calls[0].args, [2, 1], "http context created under root 1");
    assert_eq!(calls[1].args, [2, 5, 1], "5 headers, end of stream (no body)");
    assert_eq!(calls[2].args, [2, 2, 1], "2 response headers, end of stream");

    let Outcome::Forwarded { headers, response, .. } = &out else {
        panic!("expected forwarded, got {out:?}");
    };
    assert_eq!(headers.get("x-trace"), Some("t1"));
    assert_eq!(response.status, 201);
    assert_eq!(
        response.headers.iter().collect::<Vec<_>>(),
        [(":status", "201"), ("x-up", "1"), ("powered-by", "proxy-wasm")]
    );
    assert_eq!(out.status(), Some(201));

    // Envoy's header order, as the filter logged it, then the access-log line.
    let logs: Vec<_> = host
        .logs()
        .iter()
        .filter(|l| l.source == LogSource::ProxyLog)
        .map(|l| l.message.as_str())
        .collect();
    assert_eq!(
        logs,
        [
            "#2 -> :authority: localhost",
            "#2 -> :path: /orders",
            "#2 -> :method: GET",
            "#2 -> :scheme: http",
            "#2 -> x-trace: t1",
            "#2 <- :status: 201",
            "#2 <- x-up: 1",
            "#2 completed /orders.",
        ]
    );
    assert!(host.logs().iter().all(|l| l.level == LogLevel::Info));
}

#[test]
fn local_reply_passes_through_the_filters_response_callback() {
    let mut host = configured_headers_host();
    host.take_calls();
    let out = host.request(EnvoyRequest::get("/hello")).unwrap();
    assert_eq!(
        host.call_names(),
        [
            "proxy_on_context_create",
            "proxy_on_request_headers",
            // Envoy encodes a local reply through the encoder filters, this one included.
            "proxy_on_response_headers",
            "proxy_on_response_body",
            "proxy_on_log",
            "proxy_on_done",
            "proxy_on_delete",
        ]
    );
    let Outcome::LocalResponse {
        status,
        headers,
        body,
        details,
    } = &out
    else {
        panic!("expected a local response, got {out:?}");
    };
    assert_eq!(*status, 200);
    assert_eq!(body, b"Hello, World!\n");
    assert_eq!(details, "");
    // `:status`, the filter's headers (lower-cased), then Envoy's content-length/-type; the
    // filter's own `set_http_response_header("powered-by")` replaced and moved its header.
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            (":status", "200"),
            ("hello", "World"),
            ("content-length", "14"),
            ("content-type", "text/plain"),
            ("powered-by", "proxy-wasm"),
        ]
    );
    assert!(host.log_messages().contains(&"#2 <- content-type: text/plain"));
    let json = out.to_json();
    assert_eq!(json["action"], "local_response");
    assert_eq!(json["status"], 200);
    assert_eq!(json["headers"]["hello"], "World");
    assert_eq!(json["body"], "Hello, World!\n");
}

#[test]
fn request_body_is_announced_by_end_of_stream() {
    let mut host = configured_headers_host();
    host.take_calls();
    let out = host.request(EnvoyRequest::post("/upload").body("abc")).unwrap();
    let calls = host.take_calls();
    let headers = calls.iter().find(|c| c.name == "proxy_on_request_headers").unwrap();
    assert_eq!(headers.args[2], 0, "more data follows the headers");
    // The filter does not export proxy_on_request_body? The SDK always exports it.
    let body = calls
        .iter()
        .find(|c| c.name == "proxy_on_request_body")
        .expect("body callback");
    assert_eq!(body.args, [2, 3, 1]);
    let Outcome::Forwarded { body, .. } = out else {
        panic!("not forwarded");
    };
    assert_eq!(body, b"abc");
}

#[test]
fn context_ids_grow_per_request() {
    let mut host = configured_headers_host();
    for expected in 2..5 {
        host.take_calls();
        host.request(EnvoyRequest::get("/")).unwrap();
        assert!(host.calls().iter().all(|c| c.context_id == expected));
    }
}

#[test]
fn requests_need_a_configured_plugin() {
    let mut host = Host::new(&reference_filter("http_headers")).unwrap();
    assert!(matches!(
        host.request(EnvoyRequest::get("/")),
        Err(Error::NotConfigured)
    ));
}

#[test]
fn plugin_and_vm_configuration_are_served_as_buffers() {
    let config = HostConfig {
        vm_config: b"hello".to_vec(),
        ..HostConfig::default()
    };
    let mut host = Host::with_config(&reference_filter("http_config"), config).unwrap();
    host.configure("x-value-1").unwrap();
    assert!(host.log_messages().contains(&"vm config (5 bytes): hello"));
    assert!(host.log_messages().contains(&"configured with 9 bytes: x-value-1"));
    let out = host.request(EnvoyRequest::get("/")).unwrap();
    let Outcome::Forwarded { response, .. } = out else {
        panic!("not forwarded");
    };
    assert_eq!(response.headers.get("custom-header"), Some("x-value-1"));
    // Buffer type 7 is NotFound outside proxy_on_configure.
    assert!(!host
        .log_messages()
        .contains(&"plugin configuration visible during a request"));
}

#[test]
fn configure_returning_false_is_an_error_with_the_logs() {
    let mut host = Host::new(&reference_filter("http_config")).unwrap();
    let err = host.configure("fail").unwrap_err();
    assert!(matches!(err, Error::ConfigureFailed { .. }), "{err:?}");
    assert!(err
        .logs()
        .iter()
        .any(|l| l.level == LogLevel::Error && l.message == "refusing configuration `fail`"));
    let text = err.to_string();
    assert!(text.starts_with("proxy_on_configure returned false"), "{text}");
    assert!(text.contains("refusing configuration `fail`"), "{text}");
    // An empty configuration reaches the module as a null buffer: "missing".
    let err = host.configure("").unwrap_err();
    assert!(err.to_string().contains("missing plugin configuration"), "{err}");
    // The host is still usable and not configured.
    assert!(matches!(
        host.request(EnvoyRequest::get("/")),
        Err(Error::NotConfigured)
    ));
    host.configure("ok").unwrap();
    assert!(host.request(EnvoyRequest::get("/")).unwrap().is_forwarded());
}

#[test]
fn reconfiguring_replaces_the_root_context() {
    let mut host = Host::new(&reference_filter("http_config")).unwrap();
    host.configure("one").unwrap();
    let first = host.root_context_id().unwrap();
    host.take_calls();
    host.configure("two").unwrap();
    let second = host.root_context_id().unwrap();
    assert_ne!(first, second);
    assert_eq!(
        names(&host.take_calls()),
        [
            ("proxy_on_context_create", second),
            ("proxy_on_vm_start", second),
            ("proxy_on_configure", second),
            ("proxy_on_done", first),
            ("proxy_on_delete", first),
        ]
    );
    let out = host.request(EnvoyRequest::get("/")).unwrap();
    let Outcome::Forwarded { response, .. } = out else {
        panic!("not forwarded");
    };
    assert_eq!(response.headers.get("custom-header"), Some("two"));
}

#[test]
fn a_rust_panic_is_a_trap_with_the_panic_message_and_kills_the_vm() {
    let mut host = configured_headers_host();
    let err = host
        .request(EnvoyRequest::get("/").header("x-panic", "now"))
        .unwrap_err();
    let Error::Trap {
        callback,
        message,
        logs,
        ..
    } = &err
    else {
        panic!("expected a trap, got {err:?}");
    };
    assert_eq!(callback, "proxy_on_request_headers");
    assert!(message.contains("unreachable"), "{message}");
    assert!(
        logs.iter()
            .any(|l| l.level == LogLevel::Critical && l.message.contains("asked to panic: now")),
        "{logs:?}"
    );
    assert!(host.is_dead());
    let out = host.request(EnvoyRequest::get("/")).unwrap();
    assert!(out.is_fail_closed(), "{out:?}");
    assert!(matches!(host.configure("again"), Err(Error::VmDead { .. })));
}
