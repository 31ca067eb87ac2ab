//! The filter's per-request flow and configuration, driven natively through a fake
//! host: forwarding, local answers, dry run, mTLS facts, audit lines, counters, and
//! every fail-closed path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::rc::Rc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use jitgate_filter::{metrics, CounterIds, Filter, Level, Shared, Verdict};
use serde_json::{json, Value};

fn seed_config() -> Value {
    config_with(SEED_POLICY)
}

fn dry_run(mut config: Value) -> Value {
    config["mode"] = json!("dry_run");
    config
}

#[test]
fn an_allowed_request_goes_upstream_without_the_token_and_with_x_jit_headers() {
    let mut host = FakeHost::new()
        .with_header("x-jit-approval", &token(&claims()))
        .with_header("x-jit-subject", "mallory@example.com"); // a client's own copy
    let (verdict, filter) = run(&mut host, &seed_config());
    assert_eq!(verdict, Verdict::Continue);
    assert!(host.sent.is_none());
    assert!(host.header("x-jit-approval").is_empty(), "token removed");
    assert_eq!(host.header("x-jit-approval-id"), ["appr-1"]);
    assert_eq!(host.header("x-jit-subject"), ["alice@example.com"]);
    assert_eq!(host.header("x-jit-expires"), ["2026-11-26T11:00:00Z"]);
    assert_eq!(host.header("x-request-id"), ["rid-1"], "other headers kept");
    assert!(filter.pending_response_headers().is_empty());

    let audit = host.audit();
    assert_eq!(audit["allow"], true);
    assert_eq!(audit["reason"], "allowed");
    assert_eq!(audit["subject"], "alice@example.com");
    assert_eq!(audit["approval_id"], "appr-1");
    assert_eq!(audit["method"], "GET");
    assert_eq!(audit["path"], "/orders?id=7");
    assert_eq!(audit["source"], "10.0.0.7:51234");
    assert_eq!(audit["request_id"], "rid-1");
    assert_eq!(audit["ts"], "2026-11-26T10:00:00Z");
    // The clock was read before and after the decision: one tick apart.
    assert_eq!(audit["eval_ns"], TICK_NS);
    assert_eq!(host.nonzero_counters(), [("jitgate.allowed".to_owned(), 1)].into());
    assert!(host.logs_at(Level::Error).is_empty());
}

#[test]
fn a_missing_token_is_answered_401_locally() {
    let mut host = FakeHost::new();
    let (verdict, _) = run(&mut host, &seed_config());
    assert_eq!(verdict, Verdict::Stop);
    let sent = host.sent().clone();
    assert_eq!(sent.status, 401);
    assert!(sent
        .headers
        .contains(&("www-authenticate".into(), "JIT-Approval error=\"token_missing\"".into())));
    assert!(sent
        .headers
        .contains(&("content-type".into(), "application/json".into())));
    let body = host.sent_body();
    let audit = host.audit();
    assert_eq!(body["reason"], "token_missing");
    assert_eq!(body["decision_id"], audit["decision_id"]);
    assert_eq!(audit["allow"], false);
    assert_eq!(audit["status"], 401);
    assert_eq!(
        host.nonzero_counters(),
        [
            ("jitgate.denied".to_owned(), 1),
            ("jitgate.denied.token_missing".to_owned(), 1)
        ]
        .into()
    );
}

#[test]
fn a_policy_denial_is_403_and_counted_by_reason() {
    let mut c = claims();
    c["jit"]["role"] = json!("analyst");
    let mut host = FakeHost::new().with_header("x-jit-approval", &token(&c));
    let (verdict, _) = run(&mut host, &seed_config());
    assert_eq!(verdict, Verdict::Stop);
    assert_eq!(host.sent().status, 403);
    assert_eq!(host.sent_body()["reason"], "policy_denied");
    assert_eq!(host.counter("jitgate.denied.policy_denied"), 1);
    assert_eq!(host.counter("jitgate.allowed"), 0);
}

#[test]
fn an_expired_token_is_401_token_expired() {
    let mut c = claims();
    c["exp"] = json!(NOW_S - 3600);
    c["nbf"] = json!(NOW_S - 7200);
    let mut host = FakeHost::new().with_header("x-jit-approval", &token(&c));
    run(&mut host, &seed_config());
    assert_eq!(host.sent().status, 401);
    assert_eq!(host.sent_body()["reason"], "token_expired");
    assert_eq!(host.counter("jitgate.denied.token_expired"), 1);
    // The internal detail goes to the audit record, not to the client.
    assert!(host.audit()["detail"].is_string());
    assert!(host.sent_body().get("detail").is_none());
}

#[test]
fn dry_run_lets_a_denied_request_through_and_counts_it() {
    let mut host = FakeHost::new()
        .with_header("x-jit-approval", "not-a-token")
        .with_header("x-jit-approval-id", "forged");
    let (verdict, _) = run(&mut host, &dry_run(seed_config()));
    assert_eq!(verdict, Verdict::Continue);
    assert!(host.sent.is_none());
    assert!(host.header("x-jit-approval").is_empty());
    assert!(host.header("x-jit-approval-id").is_empty());
    let audit = host.audit();
    assert_eq!(
        (&audit["allow"], &audit["enforced"], &audit["mode"]),
        (&json!(false), &json!(false), &json!("dry_run"))
    );
    assert_eq!(audit["reason"], "token_malformed");
    assert_eq!(host.counter("jitgate.denied"), 1);
    assert_eq!(host.counter("jitgate.denied.token_malformed"), 1);
    assert_eq!(host.counter("jitgate.dry_run.would_deny"), 1);
}

#[test]
fn policy_response_headers_are_added_to_the_response() {
    let policy = r#"package access.jit
allow := {"allow": true, "headers": {"x-approved-role": "developer"},
          "response_headers": {"x-jit-decision": "allowed", "cache-control": "no-store"}}
"#;
    let mut host = FakeHost::new();
    let (verdict, mut filter) = run(&mut host, &config_with(policy));
    assert_eq!(verdict, Verdict::Continue);
    assert_eq!(host.header("x-approved-role"), ["developer"]);
    assert!(host.response_headers.is_empty(), "not before the response");
    filter.on_response_headers(&mut host);
    assert_eq!(
        host.response_headers,
        [
            ("cache-control".to_owned(), "no-store".to_owned()),
            ("x-jit-decision".to_owned(), "allowed".to_owned())
        ]
    );
    // Applied once.
    filter.on_response_headers(&mut host);
    assert_eq!(host.response_headers.len(), 2);
}

#[test]
fn a_response_header_the_host_refuses_is_logged_not_fatal() {
    let policy = "package access.jit\nallow := {\"allow\": true, \"response_headers\": {\"x-a\": \"b\"}}\n";
    let mut host = FakeHost::new().failing("add_header_map_value");
    let (_, mut filter) = run(&mut host, &config_with(policy));
    filter.on_response_headers(&mut host);
    assert!(host.response_headers.is_empty());
    assert_eq!(host.logs_at(Level::Warn).len(), 1);
}

/// 32 bytes standing for a client certificate's SHA-256.
const CERT_DIGEST: [u8; 32] = [0xab; 32];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn mtls_facts_come_from_the_properties() {
    // Identity from the peer principal, binding to the peer certificate.
    let mut config = seed_config();
    config["identity"] = json!({"source": "peer_principal"});
    let mut c = claims();
    c["sub"] = json!("spiffe://cluster.local/ns/ops/sa/alice");
    c["cnf"] = json!({"x5t#S256": URL_SAFE_NO_PAD.encode(CERT_DIGEST)});
    let t = token(&c);
    let mtls = |host: FakeHost, digest: &[u8]| {
        host.with_header("x-jit-approval", &t)
            .with_property(
                "connection.uri_san_peer_certificate",
                "spiffe://cluster.local/ns/ops/sa/alice",
            )
            .with_property("connection.sha256_peer_certificate_digest", &hex(digest))
    };

    let mut host = mtls(FakeHost::new(), &CERT_DIGEST);
    assert_eq!(run(&mut host, &config).0, Verdict::Continue);
    assert_eq!(host.audit()["identity"], "spiffe://cluster.local/ns/ops/sa/alice");

    // Another certificate: the binding fails.
    let mut host = mtls(FakeHost::new(), &[0xcd; 32]);
    assert_eq!(run(&mut host, &config).0, Verdict::Stop);
    assert_eq!(host.sent_body()["reason"], "token_binding_mismatch");

    // No mTLS at all: no principal, so the identity check fails first.
    let mut host = FakeHost::new().with_header("x-jit-approval", &t);
    assert_eq!(run(&mut host, &config).0, Verdict::Stop);
    assert_eq!(host.sent_body()["reason"], "token_subject_mismatch");
}

#[test]
fn the_policy_sees_the_request_as_envoy_describes_it() {
    let policy = r#"package access.jit
allow if {
    input.request.method == "POST"
    input.request.path == "/orders?id=7"
    input.request.host == "db.internal"
    input.request.scheme == "https"
    input.request.protocol == "HTTP/2"
    input.request.id == "rid-1"
    input.request.headers["x-tenant"] == "acme"
    input.request.source.address == "10.0.0.7:51234"
    input.request.source.principal == "spiffe://x/y"
    input.request.source.certificate_sha256 == "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s"
    not input.request.headers[":method"]
}
"#;
    let mut host = FakeHost::new()
        .with_header("x-tenant", "acme")
        .with_property("request.protocol", "HTTP/2")
        .with_property("connection.uri_san_peer_certificate", "spiffe://x/y")
        .with_property("connection.sha256_peer_certificate_digest", &hex(&CERT_DIGEST));
    for (n, v) in &mut host.request_headers {
        if n == ":method" {
            *v = b"POST".to_vec();
        }
    }
    let (verdict, _) = run(&mut host, &config_with(policy));
    assert_eq!(verdict, Verdict::Continue, "{:?}", host.audits());
}

#[test]
fn a_header_that_is_not_utf8_is_refused_with_400() {
    let mut host = FakeHost::new();
    host.request_headers.push(("x-legacy".into(), b"caf\xe9".to_vec()));
    let (verdict, _) = run(&mut host, &seed_config());
    assert_eq!(verdict, Verdict::Stop);
    assert_eq!(host.sent().status, 400);
    let body = host.sent_body();
    assert_eq!(body["error"], "access_denied");
    assert_eq!(body["reason"], "request_invalid");
    let audit = host.audit();
    assert_eq!(body["decision_id"], audit["decision_id"]);
    assert_eq!(audit["status"], 400);
    assert_eq!(audit["detail"], "request header `x-legacy` is not UTF-8");
    assert_eq!(host.counter("jitgate.denied"), 1);
    assert_eq!(host.counter("jitgate.denied.request_invalid"), 1);
    assert_eq!(host.logs_at(Level::Warn).len(), 1);
}

#[test]
fn in_dry_run_a_refused_request_still_goes_through_stripped() {
    let mut host = FakeHost::new()
        .with_header("x-jit-approval", &token(&claims()))
        .with_header("x-jit-subject", "forged");
    host.request_headers.push(("x-legacy".into(), b"caf\xe9".to_vec()));
    let (verdict, _) = run(&mut host, &dry_run(seed_config()));
    assert_eq!(verdict, Verdict::Continue);
    assert!(host.sent.is_none());
    assert!(host.header("x-jit-approval").is_empty());
    assert!(host.header("x-jit-subject").is_empty());
    assert_eq!(host.audit()["enforced"], false);
    assert_eq!(host.counter("jitgate.dry_run.would_deny"), 1);

    // If even stripping fails, the request is refused, dry run or not.
    let mut host = FakeHost::new().failing("remove_header_map_value");
    host.request_headers.push(("x-legacy".into(), b"caf\xe9".to_vec()));
    let (verdict, _) = run(&mut host, &dry_run(seed_config()));
    assert_eq!(verdict, Verdict::Stop);
    assert_eq!(host.sent().status, 500);
    assert_eq!(host.audit()["enforced"], true);
}

#[test]
fn failing_host_calls_fail_closed_with_500() {
    for call in ["get_current_time", "get_header_map_pairs", "get_property"] {
        // A token that would be allowed: the failure alone decides.
        let mut host = FakeHost::new()
            .with_header("x-jit-approval", &token(&claims()))
            .failing(call);
        let shared = configure(&host, &seed_config());
        let verdict = Filter::new(shared).on_request_headers(&mut host);
        assert_eq!(verdict, Verdict::Stop, "{call}");
        assert_eq!(host.sent().status, 500, "{call}");
        assert_eq!(host.sent_body()["reason"], "internal_error", "{call}");
        assert_eq!(host.counter("jitgate.denied.internal_error"), 1, "{call}");
        assert_eq!(host.counter("jitgate.allowed"), 0, "{call}");
        let errors = host.logs_at(Level::Error);
        assert!(errors.iter().any(|e| e.contains(call)), "{call}: {errors:?}");
    }
}

#[test]
fn a_property_that_is_not_utf8_or_a_bad_digest_fails_closed() {
    let mut host = FakeHost::new();
    host.properties
        .insert("connection.uri_san_peer_certificate".into(), vec![0xff]);
    run(&mut host, &seed_config());
    assert_eq!(host.sent().status, 500);
    assert!(host.audit()["detail"]
        .as_str()
        .unwrap()
        .contains("connection.uri_san_peer_certificate"));

    let mut host = FakeHost::new().with_property("connection.sha256_peer_certificate_digest", "AB:CD");
    run(&mut host, &seed_config());
    assert_eq!(host.sent().status, 500);
}

#[test]
fn when_the_decision_cannot_be_applied_the_request_is_refused() {
    for call in ["remove_header_map_value", "replace_header_map_value"] {
        let mut host = FakeHost::new()
            .with_header("x-jit-approval", &token(&claims()))
            .failing(call);
        let (verdict, _) = run(&mut host, &seed_config());
        assert_eq!(verdict, Verdict::Stop, "{call}");
        assert_eq!(host.sent().status, 500);
        let audit = host.audit();
        assert_eq!(audit["allow"], false);
        assert_eq!(audit["reason"], "internal_error");
        assert_eq!(audit["subject"], "alice@example.com", "the decision's facts stay");
        assert_eq!(host.sent_body()["decision_id"], audit["decision_id"]);
        assert_eq!(host.counter("jitgate.allowed"), 0);
        assert_eq!(host.counter("jitgate.denied.internal_error"), 1);
    }
}

#[test]
fn when_the_denial_cannot_be_sent_the_stream_is_reset() {
    let mut host = FakeHost::new().failing("send_local_response");
    let (verdict, _) = run(&mut host, &seed_config());
    assert_eq!(verdict, Verdict::Stop);
    assert!(host.reset);
    assert_eq!(host.logs_at(Level::Critical).len(), 1);

    let mut host = FakeHost::new().failing("send_local_response").failing("close_stream");
    let (verdict, _) = run(&mut host, &seed_config());
    assert_eq!(verdict, Verdict::Stop, "still never forwarded");
    assert_eq!(host.logs_at(Level::Critical).len(), 2);
}

#[test]
fn without_a_configuration_every_request_is_refused() {
    let mut host = FakeHost::new().with_path("/healthz");
    let shared = Rc::new(Shared::unconfigured(CounterIds::define(&host), [1; 16]));
    let verdict = Filter::new(shared).on_request_headers(&mut host);
    assert_eq!(verdict, Verdict::Stop);
    assert_eq!(host.sent().status, 500);
    assert_eq!(host.audit()["mode"], "enforce");
}

#[test]
fn refusal_ids_are_unique() {
    let host = FakeHost::new();
    let shared = Rc::new(Shared::unconfigured(CounterIds::define(&host), [1; 16]));
    let mut ids = Vec::new();
    for _ in 0..3 {
        let mut host = FakeHost::new();
        Filter::new(Rc::clone(&shared)).on_request_headers(&mut host);
        ids.push(host.sent_body()["decision_id"].as_str().unwrap().to_owned());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|id| id.len() == 32));
}

#[test]
fn every_counter_is_defined_once_up_front() {
    let host = FakeHost::new();
    CounterIds::define(&host);
    assert_eq!(*host.counter_names.borrow(), metrics::counter_names());
}

fn configure_text(text: Option<&[u8]>) -> (FakeHost, bool) {
    let host = FakeHost::new();
    let metrics = CounterIds::define(&host);
    let shared = Shared::configure(&host, text, metrics, [0; 16]);
    (host, shared.is_configured())
}

#[test]
fn a_bad_configuration_is_rejected_naming_the_field() {
    let mut config = seed_config();
    config["issuers"][0]["leeway_s"] = json!(301);
    let (host, ok) = configure_text(Some(config.to_string().as_bytes()));
    assert!(!ok);
    let errors = host.logs_at(Level::Error);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("jitgate: configuration rejected: "));
    assert!(errors[0].contains("`issuers[0].leeway_s`"), "{}", errors[0]);
    assert_eq!(host.counter("jitgate.config_errors"), 1);

    let mut config = seed_config();
    config["polcy"] = json!({});
    let (host, ok) = configure_text(Some(config.to_string().as_bytes()));
    assert!(!ok);
    assert!(host.logs_at(Level::Error)[0].contains("polcy"));

    let (host, ok) = configure_text(None);
    assert!(!ok);
    assert!(host.logs_at(Level::Error)[0].contains("`configuration`"));
    let (host, ok) = configure_text(Some(b"\xff"));
    assert!(!ok);
    assert!(host.logs_at(Level::Error)[0].contains("UTF-8"));
    let (host, ok) = configure_text(Some(b"{"));
    assert!(!ok);
    assert_eq!(host.counter("jitgate.config_errors"), 1);

    let (host, ok) = configure_text(Some(seed_config().to_string().as_bytes()));
    assert!(ok);
    assert!(host.logs_at(Level::Error).is_empty());
    assert_eq!(host.counter("jitgate.config_errors"), 0);
}

#[test]
fn the_shipped_time_builtins_work_and_named_zones_are_not_compiled_in() {
    // The workspace keeps only UTC and the fixed-offset Etc/* zones (.cargo/config.toml):
    // what the shipped policies use works; a named zone is an evaluation error (deny).
    let policy = |zone: &str| {
        format!(
            "package access.jit\nallow if {{\n  time.clock([time.now_ns(), \"{zone}\"])[0] >= 0\n  time.weekday([time.now_ns(), \"{zone}\"]) == time.weekday([time.now_ns(), \"{zone}\"])\n  count(time.date([time.now_ns(), \"{zone}\"])) == 3\n}}\n"
        )
    };
    for zone in ["UTC", "Etc/GMT-1", "Etc/UTC", "GMT"] {
        let mut host = FakeHost::new();
        assert_eq!(
            run(&mut host, &config_with(&policy(zone))).0,
            Verdict::Continue,
            "{zone}: {:?}",
            host.audits()
        );
    }
    let mut host = FakeHost::new();
    run(&mut host, &config_with(&policy("Europe/Berlin")));
    assert_eq!(host.audit()["reason"], "token_missing", "denied");
    assert!(host.audit()["detail"]
        .as_str()
        .is_some_and(|d| d.contains("policy_error")));
}

#[test]
fn the_audit_line_is_formatted_only_when_the_host_writes_info() {
    for (level, written) in [
        (None, true),
        (Some(Level::Debug), true),
        (Some(Level::Info), true),
        (Some(Level::Warn), false),
        (Some(Level::Critical), false),
    ] {
        let mut host = FakeHost::new().with_header("x-jit-approval", &token(&claims()));
        host.log_level = level;
        let (verdict, _) = run(&mut host, &seed_config());
        assert_eq!(verdict, Verdict::Continue, "{level:?}");
        assert_eq!(host.audits().len(), usize::from(written), "{level:?}");
        // The decision is recorded all the same: filter state and counters.
        assert_eq!(
            host.nonzero_counters(),
            [("jitgate.allowed".to_owned(), 1)].into(),
            "{level:?}"
        );
        assert!(host.filter_state.contains_key("jitgate.decision_id"), "{level:?}");
        assert_eq!(host.filter_state["jitgate.approval_id"], "appr-1", "{level:?}");
    }
}

#[test]
fn only_headers_the_request_carries_are_removed() {
    let removals = |host: &FakeHost| {
        host.calls
            .borrow()
            .iter()
            .filter(|c| **c == "remove_header_map_value")
            .count()
    };
    // The token only: one removal (not one per x-jit-* header jitgate could strip).
    let mut host = FakeHost::new().with_header("x-jit-approval", &token(&claims()));
    assert_eq!(run(&mut host, &seed_config()).0, Verdict::Continue);
    assert_eq!(removals(&host), 1);
    assert!(host.header("x-jit-approval").is_empty());
    // A client's own copies, in any spelling, are still removed before jitgate's are set.
    let mut host = FakeHost::new()
        .with_header("x-jit-approval", &token(&claims()))
        .with_header("x-jit-subject", "mallory@example.com")
        .with_header("x_jit_expires", "2099-01-01T00:00:00Z")
        .with_header("X-Jit-Approval-Id", "forged");
    assert_eq!(run(&mut host, &seed_config()).0, Verdict::Continue);
    assert_eq!(removals(&host), 4);
    assert_eq!(host.header("x-jit-subject"), ["alice@example.com"]);
    assert_eq!(host.header("x-jit-approval-id"), ["appr-1"]);
    assert!(host.header("x_jit_expires").is_empty());
    assert_eq!(host.header("x-jit-expires"), ["2026-11-26T11:00:00Z"]);
}

#[test]
fn the_request_id_is_the_x_request_id_header_not_a_property_read() {
    let mut host = FakeHost::new().with_header("x-jit-approval", &token(&claims()));
    assert_eq!(run(&mut host, &seed_config()).0, Verdict::Continue);
    assert_eq!(host.audit()["request_id"], "rid-1");
    // source.address, the peer principal and certificate digest, request.protocol and
    // the route's metadata: nothing else.
    let reads = host.calls.borrow().iter().filter(|c| **c == "get_property").count();
    assert_eq!(reads, 5);
}
