//! `proxy_http_call` round trips with the `http_auth_random` reference filter.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::reference_filter;
use jitgate_harness::{EnvoyRequest, Host, HttpCallReply, Outcome};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn host() -> Host {
    let mut host = Host::new(&reference_filter("http_auth_random")).unwrap();
    host.configure("").unwrap();
    host.take_calls();
    host
}

#[test]
fn even_byte_resumes_the_request() {
    let mut host = host();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen_in = Arc::clone(&seen);
    host.upstream("httpbin", move |call| {
        seen_in.lock().unwrap().push(call.clone());
        HttpCallReply::status(200)
            .header("content-type", "application/octet-stream")
            .body(vec![2u8])
    });
    let out = host.request(EnvoyRequest::get("/protected")).unwrap();

    let Outcome::Forwarded { response, .. } = &out else {
        panic!("expected forwarded, got {out:?}");
    };
    assert_eq!(response.headers.get("powered-by"), Some("proxy-wasm"));

    let calls = host.calls();
    let order: Vec<_> = calls.iter().map(|c| c.name).collect();
    assert_eq!(
        order,
        [
            "proxy_on_context_create",
            "proxy_on_request_headers",
            "proxy_on_http_call_response",
            "proxy_on_response_headers",
            "proxy_on_log",
            "proxy_on_done",
            "proxy_on_delete",
        ]
    );
    // Delivered to the root context (1): token 4 (Envoy counts 4, 8, …), 2 headers, 1 byte.
    assert_eq!(calls[2].args, [1, 4, 2, 1, 0]);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let call = &seen[0];
    assert_eq!(call.cluster, "httpbin");
    assert_eq!(call.token, 4);
    assert_eq!(call.context_id, 2, "made by the HTTP context");
    assert_eq!(
        call.headers.iter().collect::<Vec<_>>(),
        [(":method", "GET"), (":path", "/bytes/1"), (":authority", "httpbin.org")]
    );
    assert_eq!(call.timeout, Duration::from_secs(5));
    assert_eq!(host.http_calls(), &seen[..]);

    let logs = host.log_messages();
    assert!(logs.contains(&"dispatched call 4"), "{logs:?}");
    assert!(logs.contains(&"call 4 answered: 2 headers, 1 bytes"));
    assert!(logs.contains(&"call response header :status: 200"));
    assert!(logs.contains(&"call response header content-type: application/octet-stream"));
    assert!(logs.contains(&"Access granted."));
}

#[test]
fn odd_byte_answers_403_from_the_callback() {
    let mut host = host();
    host.upstream("httpbin", |_| HttpCallReply::status(200).body(vec![1u8]));
    let out = host.request(EnvoyRequest::get("/protected")).unwrap();
    let Outcome::LocalResponse {
        status, headers, body, ..
    } = &out
    else {
        panic!("expected a local response, got {out:?}");
    };
    assert_eq!(*status, 403);
    assert_eq!(body, b"Access forbidden.\n");
    // The reply's own header and the filter's response-phase header are one entry.
    assert_eq!(headers.get_all("powered-by"), ["proxy-wasm"]);
    assert_eq!(headers.get("content-length"), Some("18"));
    assert_eq!(
        host.call_names(),
        [
            "proxy_on_context_create",
            "proxy_on_request_headers",
            "proxy_on_http_call_response",
            "proxy_on_response_headers",
            "proxy_on_response_body",
            "proxy_on_log",
            "proxy_on_done",
            "proxy_on_delete",
        ]
    );
    assert_eq!(out.to_json()["status"], 403);
}

#[test]
fn a_failed_call_delivers_nothing_to_read() {
    let mut host = host();
    host.upstream("httpbin", |_| HttpCallReply::Failure);
    let out = host.request(EnvoyRequest::get("/")).unwrap();
    assert_eq!(out.status(), Some(403));
    let call = host
        .calls()
        .iter()
        .find(|c| c.name == "proxy_on_http_call_response")
        .unwrap();
    assert_eq!(call.args, [1, 4, 0, 0, 0]);
}

#[test]
fn a_timeout_is_envoys_504() {
    let mut host = host();
    host.upstream("httpbin", |_| HttpCallReply::Timeout);
    host.request(EnvoyRequest::get("/")).unwrap();
    let call = host
        .calls()
        .iter()
        .find(|c| c.name == "proxy_on_http_call_response")
        .unwrap();
    assert_eq!(call.args, [1, 4, 3, 24, 0]);
    assert!(host.log_messages().contains(&"call response header :status: 504"));
}

#[test]
fn unknown_cluster_is_bad_argument() {
    let mut host = host();
    let out = host.request(EnvoyRequest::get("/")).unwrap();
    assert_eq!(out.status(), Some(503));
    assert_eq!(out.body(), b"no upstream\n");
    assert!(host.log_messages().contains(&"dispatch failed: BadArgument"));
    assert!(host.http_calls().is_empty());
}

#[test]
fn tokens_advance_by_four() {
    let mut host = host();
    host.upstream("httpbin", |_| HttpCallReply::status(200).body(vec![0u8]));
    for _ in 0..3 {
        host.request(EnvoyRequest::get("/")).unwrap();
    }
    let tokens: Vec<_> = host.http_calls().iter().map(|c| c.token).collect();
    assert_eq!(tokens, [4, 8, 12]);
}
