//! Decisions: the seed policy over time, roles, missing tokens, object results, Rego
//! v0, dry run, the injected clock, headers and the audit record.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use common::*;
use jitgate_core::{Action, Gate, Reason, Request, TokenStatus};
use serde_json::{json, Value};

fn seed_gate() -> Gate {
    gate(&config_with(SEED_POLICY))
}

fn forward(d: &jitgate_core::Decision) -> &jitgate_core::Forward {
    match &d.action {
        Action::Forward(f) => f,
        Action::Respond(r) => panic!("expected forward, got local response {r:?}"),
    }
}

fn local(d: &jitgate_core::Decision) -> &jitgate_core::LocalResponse {
    match &d.action {
        Action::Respond(r) => r,
        Action::Forward(f) => panic!("expected local response, got forward {f:?}"),
    }
}

#[test]
fn seed_policy_allows_inside_the_window_only() {
    let g = seed_gate();
    let t = token(&claims());
    let nbf = (NOW_S - 60) * SEC;
    let exp = (NOW_S + 3600) * SEC;
    let d = g.decide(&request_with(&t), NOW);
    assert!(d.allow);
    assert_eq!((d.status, d.reason), (200, Reason::Allowed));
    assert!(
        g.decide(&request_with(&t), exp - 1).allow,
        "last nanosecond of the window"
    );

    // One nanosecond after exp the token is still inside the 30 s leeway, but the
    // policy's exact window check denies: 403.
    let d = g.decide(&request_with(&t), exp + 1);
    assert!(!d.allow);
    assert_eq!((d.status, d.reason.code()), (403, "policy_denied"));
    assert_eq!(d.token, TokenStatus::Valid);
    // Past the leeway the token itself is expired and never reaches the policy: 401.
    let d = g.decide(&request_with(&t), exp + 30 * SEC);
    assert_eq!((d.status, d.reason.code()), (401, "token_expired"));
    // Before nbf but within leeway: the policy denies; beyond leeway: not yet valid.
    assert_eq!(g.decide(&request_with(&t), nbf - 1).reason.code(), "policy_denied");
    assert_eq!(
        g.decide(&request_with(&t), nbf - 31 * SEC).reason.code(),
        "token_not_yet_valid"
    );
}

#[test]
fn seed_policy_denies_the_wrong_role() {
    let mut c = claims();
    c["jit"]["role"] = json!("analyst");
    let d = seed_gate().decide(&request_with(&token(&c)), NOW);
    assert_eq!(
        (d.allow, d.status, d.reason.code()),
        (false, 403, "policy_denied"),
        "{:?}",
        d.audit.detail
    );
    let body: Value = serde_json::from_str(&local(&d).body).unwrap();
    assert_eq!(
        body,
        json!({"error": "access_denied", "reason": "policy_denied", "decision_id": d.decision_id})
    );
}

#[test]
fn missing_token_is_401_with_www_authenticate() {
    let d = seed_gate().decide(&Request::new("GET", "/orders"), NOW);
    assert_eq!((d.allow, d.status, d.reason.code()), (false, 401, "token_missing"));
    let r = local(&d);
    assert_eq!(r.status, 401);
    assert!(r
        .headers
        .contains(&("www-authenticate".into(), "JIT-Approval error=\"token_missing\"".into())));
    assert!(r.headers.contains(&("content-type".into(), "application/json".into())));
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["reason"], "token_missing");
    assert_eq!(body["error"], "access_denied");
    assert!(body.get("message").is_none());
}

#[test]
fn healthz_needs_no_token() {
    let g = seed_gate();
    let d = g.decide(&Request::new("GET", "/healthz"), NOW);
    assert!(d.allow);
    assert_eq!(d.token, TokenStatus::Missing);
    // No approval, so no x-jit headers are added.
    assert!(forward(&d).add_headers.is_empty());
    // A bad token on /healthz does not matter either; the policy allows.
    let d = g.decide(
        &Request::new("GET", "/healthz").header("x-jit-approval", "garbage"),
        NOW,
    );
    assert!(d.allow);
    assert!(matches!(d.token, TokenStatus::Failed(_)));
}

#[test]
fn allowed_requests_lose_the_token_and_gain_x_jit_headers() {
    let t = token(&claims());
    let r = request_with(&t).header("x-jit-subject", "forged@example.com");
    let d = seed_gate().decide(&r, NOW);
    let f = forward(&d);
    assert!(f.remove_headers.contains(&"x-jit-approval".to_string()));
    for h in ["x-jit-approval-id", "x-jit-subject", "x-jit-expires"] {
        assert!(f.remove_headers.contains(&h.to_string()), "client copy of {h} removed");
    }
    assert_eq!(
        f.add_headers,
        vec![
            ("x-jit-approval-id".to_string(), "appr-1".to_string()),
            ("x-jit-subject".to_string(), "alice@example.com".to_string()),
            ("x-jit-expires".to_string(), "2026-11-26T11:00:00Z".to_string()),
        ]
    );
    // With token.forward the token header stays.
    let mut cfg = config_with(SEED_POLICY);
    cfg["token"] = json!({"forward": true});
    let d = gate(&cfg).decide(&request_with(&t), NOW);
    assert!(!forward(&d).remove_headers.contains(&"x-jit-approval".to_string()));
}

#[test]
fn token_header_and_prefix_are_configurable() {
    let mut cfg = config_with(SEED_POLICY);
    cfg["token"] = json!({"header": "Authorization", "prefix": "Bearer "});
    let g = gate(&cfg);
    let t = token(&claims());
    let r = Request::new("GET", "/orders").header("authorization", format!("Bearer {t}"));
    assert!(g.decide(&r, NOW).allow);
    let r = Request::new("GET", "/orders").header("authorization", t.clone());
    assert_eq!(g.decide(&r, NOW).reason.code(), "token_malformed");
}

#[test]
fn policy_object_results_carry_reason_status_and_headers() {
    let policy = r#"package access.jit
result := {"allow": false, "reason": "change freeze until Monday", "status": 423, "headers": {"retry-after": "3600", "www-authenticate": "x"}} if input.request.method == "DELETE"
result := {"allow": true, "reason": "read ok", "headers": {"x-scope": "read", "x-jit-subject": "spoof"}, "response_headers": {"x-served-by": "jitgate"}} if input.request.method == "GET"
"#;
    let mut cfg = config_with(policy);
    cfg["policy"]["entrypoint"] = json!("data.access.jit.result");
    let g = gate(&cfg);
    let t = token(&claims());

    let d = g.decide(
        &Request::new("DELETE", "/orders/1").header("x-jit-approval", t.clone()),
        NOW,
    );
    assert_eq!((d.allow, d.status, d.reason.code()), (false, 423, "policy_denied"));
    assert_eq!(d.policy_reason.as_deref(), Some("change freeze until Monday"));
    let r = local(&d);
    assert!(r.headers.contains(&("retry-after".into(), "3600".into())));
    assert!(
        !r.headers.iter().any(|(n, v)| n == "www-authenticate" && v == "x"),
        "policy cannot override reserved headers"
    );
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["message"], "change freeze until Monday");

    let d = g.decide(&request_with(&t), NOW);
    assert!(d.allow);
    assert_eq!(d.policy_reason.as_deref(), Some("read ok"));
    let f = forward(&d);
    assert!(f.add_headers.contains(&("x-scope".into(), "read".into())));
    assert!(
        !f.add_headers.contains(&("x-jit-subject".into(), "spoof".into())),
        "policy cannot set x-jit-*"
    );
    assert_eq!(
        f.response_headers,
        vec![("x-served-by".to_string(), "jitgate".to_string())]
    );

    // Undefined result.
    let d = g.decide(
        &Request::new("PUT", "/orders/1").header("x-jit-approval", t.clone()),
        NOW,
    );
    assert_eq!((d.status, d.reason.code()), (403, "policy_undefined"));
    // A failed token with a policy denial keeps the token's code and 401, and the policy's message.
    let d = g.decide(
        &Request::new("DELETE", "/orders/1").header("x-jit-approval", "x.y.z"),
        NOW,
    );
    assert_eq!((d.status, d.reason.code()), (401, "token_malformed"));
}

#[test]
fn policy_errors_deny() {
    let policy = "package access.jit\nallow := {\"allow\": \"yes\"}\n";
    let d = gate(&config_with(policy)).decide(&request_with(&token(&claims())), NOW);
    assert_eq!((d.allow, d.status, d.reason.code()), (false, 403, "policy_error"));
    assert!(d.audit.detail.as_deref().unwrap_or_default().contains("allow"));
    // A runtime error (division by zero is undefined in Rego; a type error in a builtin is an error).
    let policy = "package access.jit\nallow if count(input.now_ns) > 0\n";
    let d = gate(&config_with(policy)).decide(&request_with(&token(&claims())), NOW);
    assert!(!d.allow);
    assert!(
        matches!(d.reason, Reason::PolicyError | Reason::PolicyUndefined),
        "{:?}",
        d.reason
    );
}

#[test]
fn rego_v0_needs_the_flag() {
    let v0 = "package access.jit\ndefault allow = false\nallow { input.approval.role == \"developer\" }\n";
    let mut cfg = config_with(v0);
    let err = Gate::new(&cfg.to_string()).unwrap_err();
    assert_eq!(err.field(), Some("policy.modules.jit.rego"), "{err}");
    cfg["policy"]["rego_v0"] = json!(true);
    let g = gate(&cfg);
    assert!(g.decide(&request_with(&token(&claims())), NOW).allow);
    let mut c = claims();
    c["jit"]["role"] = json!("analyst");
    assert!(!g.decide(&request_with(&token(&c)), NOW).allow);
}

#[test]
fn time_now_ns_in_the_policy_is_the_now_given_to_decide() {
    let policy = "package access.jit\nallow if time.now_ns() == input.now_ns\nseen := time.now_ns()\n";
    let g = gate(&config_with(policy));
    for now in [NOW, NOW + 1, NOW + 123_456_789, 0, -5] {
        let d = g.decide(&Request::new("GET", "/healthz"), now);
        assert!(d.allow, "time.now_ns() != {now}");
    }
    // And the value itself, read back through the policy's engine.
    g.policy().set_now(NOW + 42);
    let mut engine = g.policy().engine();
    assert_eq!(
        engine.eval_rule("data.access.jit.seen".into()).unwrap(),
        jitgate_core::regorus::Value::from(NOW + 42)
    );
}

#[test]
fn unverified_claims_never_reach_the_policy() {
    let policy = "package access.jit\nallow if not input.approval\nallow if not input.requester\n";
    let g = gate(&config_with(policy));
    let forged = jitgate_mint::mint(&claims(), &stranger_key(), "ed1");
    let d = g.decide(&request_with(&forged), NOW);
    // The policy allowed because approval is absent (the token failed).
    assert!(d.allow);
    assert!(d.approval.is_none());
    let d = g.decide(&request_with(&token(&claims())), NOW);
    assert!(!d.allow, "a verified token does reach the policy");
}

#[test]
fn input_document_shape() {
    // The policy returns pieces of the input so the test can inspect them.
    let policy = r#"package access.jit
allow if {
    input.now_ns == 1795687200000000000
    input.resource == "test-database"
    input.identity == null
    input.request.method == "GET"
    input.request.path == "/orders?id=7"
    input.request.host == "db.internal"
    input.request.id == "rid-1"
    input.request.headers["x-request-id"] == "rid-1"
    input.request.headers["x-multi"] == "a,b"
    not input.request.headers["x-jit-approval"]
    input.request.source.address == "10.0.0.7:51234"
    not input.request.source.principal
    input.token == {"present": true, "valid": true, "error": null, "kid": "ed1", "alg": "EdDSA"}
    input.requester == {"id": "alice@example.com", "role": "developer"}
    a := input.approval
    a.id == "appr-1"
    a.issuer == "https://approvals.example.com"
    a.subject == "alice@example.com"
    a.resource == "test-database"
    a.resources == ["test-database"]
    a.actions == ["read"]
    a.approvers == ["bob@example.com"]
    a.reason == "incident 42"
    a.risk == "low"
    not a.ticket
    a.not_before_ns == 1795687140000000000
    a.expires_ns == 1795690800000000000
    a.issued_at_ns == 1795687080000000000
    a.granted_at == a.not_before_ns
    a.valid_duration == 3660000000000
    a.remaining_ns == 3600000000000
    a.granted_at + a.valid_duration > time.now_ns()
    a.claims.jti == "appr-1"
    a.claims.aud == "db-gateway"
}
"#;
    let g = gate(&config_with(policy));
    let r = request_with(&token(&claims()))
        .header("x-request-id", "rid-1")
        .header("x-multi", "a")
        .header("X-Multi", "b")
        .source_address("10.0.0.7:51234");
    let d = g.decide(&r, NOW);
    assert!(d.allow, "{:?} {:?}", d.reason, d.audit.detail);
}

#[test]
fn dry_run_lets_everything_through_but_reports_the_real_decision() {
    let mut cfg = config_with(SEED_POLICY);
    cfg["mode"] = json!("dry_run");
    let g = gate(&cfg);
    let d = g.decide(&Request::new("GET", "/orders"), NOW);
    assert_eq!(
        (d.allow, d.enforced, d.status, d.reason.code()),
        (false, false, 401, "token_missing")
    );
    assert!(matches!(d.action, Action::Forward(_)));
    assert_eq!(
        d.counters(),
        [
            "jitgate.denied",
            "jitgate.denied.token_missing",
            "jitgate.dry_run.would_deny"
        ]
    );
    assert_eq!(d.audit.mode, "dry_run");
    assert!(!d.audit.enforced);
    let d = g.decide(&request_with(&token(&claims())), NOW);
    assert!(d.allow);
    assert_eq!(d.counters(), ["jitgate.allowed"]);
}

#[test]
fn audit_record_has_every_field() {
    let g = seed_gate();
    let r = request_with(&token(&claims()))
        .source_address("10.0.0.7:51234")
        .header("x-request-id", "rid-9");
    let d = g.decide(&r, NOW + 5);
    let a: Value = serde_json::from_str(&d.audit.to_json_line()).unwrap();
    for field in [
        "ts",
        "decision_id",
        "mode",
        "allow",
        "status",
        "reason",
        "policy_reason",
        "subject",
        "approval_id",
        "issuer",
        "kid",
        "resource",
        "method",
        "path",
        "source",
        "identity",
        "expires",
        "eval_ns",
    ] {
        assert!(a.get(field).is_some(), "audit lacks {field}");
    }
    assert_eq!(a["ts"], "2026-11-26T10:00:00.000000005Z");
    assert_eq!(a["decision_id"], d.decision_id);
    assert_eq!(a["mode"], "enforce");
    assert_eq!(a["allow"], true);
    assert_eq!(a["status"], 200);
    assert_eq!(a["reason"], "allowed");
    assert_eq!(a["subject"], "alice@example.com");
    assert_eq!(a["approval_id"], "appr-1");
    assert_eq!(a["issuer"], ISSUER);
    assert_eq!(a["kid"], "ed1");
    assert_eq!(a["resource"], "test-database");
    assert_eq!(a["method"], "GET");
    assert_eq!(a["path"], "/orders?id=7");
    assert_eq!(a["source"], "10.0.0.7:51234");
    assert_eq!(a["expires"], "2026-11-26T11:00:00Z");
    assert_eq!(a["request_id"], "rid-9");
    // A failed token: detail explains, subject stays empty (claims were not verified).
    let d = g.decide(
        &request_with(&jitgate_mint::mint(&claims(), &stranger_key(), "ed1")),
        NOW,
    );
    assert_eq!(d.audit.subject, None);
    assert!(d.audit.detail.as_deref().unwrap().starts_with("token_signature: "));
}

#[test]
fn decision_ids_are_unique() {
    let g = seed_gate();
    let ids: std::collections::BTreeSet<String> = (0..1000)
        .map(|_| g.decide(&Request::new("GET", "/healthz"), NOW).decision_id)
        .collect();
    assert_eq!(ids.len(), 1000);
    let mut g2 = seed_gate();
    g2.set_instance_seed([9; 16]);
    assert!(!ids.contains(&g2.decide(&Request::new("GET", "/healthz"), NOW).decision_id));
}

#[test]
fn cached_tokens_decide_exactly_like_fresh_ones() {
    let mut cfg = config_with(SEED_POLICY);
    cfg["identity"] = json!({"header": "x-user"});
    let cached = gate(&cfg);
    let mut fresh = gate(&cfg);
    fresh.set_cache_bounds(0, 0);
    let t = token(&claims());
    let exp = (NOW_S + 3600) * SEC;
    let requests = [
        (request_with(&t).header("x-user", "alice@example.com"), NOW),
        (request_with(&t).header("x-user", "alice@example.com"), exp + 1),
        (request_with(&t).header("x-user", "alice@example.com"), exp + 30 * SEC),
        (request_with(&t).header("x-user", "mallory@example.com"), NOW),
        (request_with(&t), NOW),
        (request_with(&t).header("x-user", "alice@example.com"), NOW),
    ];
    for (i, (r, now)) in requests.iter().enumerate() {
        let a = cached.decide(r, *now);
        let b = fresh.decide(r, *now);
        assert_eq!(
            (a.allow, a.status, a.reason),
            (b.allow, b.status, b.reason),
            "request {i}"
        );
    }
}

#[test]
fn verify_reports_claims_or_a_code_without_the_policy() {
    let g = seed_gate();
    let facts = jitgate_core::RequestFacts::default();
    let a = g.verify(&token(&claims()), NOW, &facts).unwrap();
    assert_eq!(a.subject, "alice@example.com");
    assert_eq!(a.expires, (NOW_S + 3600) as u64);
    let e = g.verify(&token(&claims()), (NOW_S + 4000) * SEC, &facts).unwrap_err();
    assert_eq!(e.error.code(), "token_expired");
}

#[test]
fn a_repeated_identity_header_is_never_an_identity() {
    let mut cfg = config_with(SEED_POLICY);
    cfg["identity"] = json!({"header": "x-authenticated-user"});
    let g = gate(&cfg);
    let t = token(&claims());
    let alice = "alice@example.com";
    let mallory = "mallory@example.com";
    assert!(
        g.decide(&request_with(&t).header("x-authenticated-user", alice), NOW)
            .allow
    );
    for (first, second) in [
        ("x-authenticated-user", "x-authenticated-user"),
        ("X-Authenticated-User", "x-authenticated-user"),
        ("x-authenticated-user", "X-AUTHENTICATED-USER"),
    ] {
        for (a, b) in [(alice, mallory), (mallory, alice), (alice, alice)] {
            let r = request_with(&t).header(first, a).header(second, b);
            let d = g.decide(&r, NOW);
            assert_eq!(
                (d.allow, d.status, d.reason.code()),
                (false, 401, "token_subject_mismatch"),
                "{first}: {a}, {second}: {b}"
            );
            assert!(
                d.audit.detail.as_deref().unwrap().contains("more than one identity"),
                "{:?}",
                d.audit.detail
            );
            assert_eq!(d.audit.identity, None);
        }
    }
}

#[test]
fn confusable_spellings_of_jitgate_headers_are_removed() {
    let t = token(&claims());
    let r = request_with(&t)
        .header("x_jit_subject", "forged@example.com")
        .header("X-Jit_Expires", "2099-01-01T00:00:00Z")
        .header("x_jit-approval_id", "forged")
        .header("x_jit_approval", "a.b.c")
        .header("x_request_id", "kept");
    let d = seed_gate().decide(&r, NOW);
    assert!(d.allow);
    let removed = &forward(&d).remove_headers;
    for h in ["x_jit_subject", "x-jit_expires", "x_jit-approval_id", "x_jit_approval"] {
        assert!(removed.contains(&h.to_string()), "{h} not removed: {removed:?}");
    }
    assert!(!removed.iter().any(|h| h == "x_request_id"), "{removed:?}");
    // Denials in dry run strip them too.
    let mut cfg = config_with(SEED_POLICY);
    cfg["mode"] = json!("dry_run");
    let d = gate(&cfg).decide(&Request::new("GET", "/orders").header("x_jit_subject", "x"), NOW);
    assert!(forward(&d).remove_headers.contains(&"x_jit_subject".to_string()));
}

#[test]
fn refusals_are_decisions_of_the_core() {
    use jitgate_core::Fault;
    let g = seed_gate();
    let d = g.refuse(Fault::Request, "request field `path`: must start with `/`", NOW);
    assert_eq!(
        (d.allow, d.enforced, d.status, d.reason.code()),
        (false, true, 400, "request_invalid")
    );
    let r = local(&d);
    assert_eq!(r.status, 400);
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"error": "access_denied", "reason": "request_invalid", "decision_id": d.decision_id})
    );
    assert_eq!(d.audit.reason, "request_invalid");
    assert_eq!(d.audit.decision_id, d.decision_id);
    assert!(d.audit.detail.as_deref().unwrap().contains("path"));
    assert_eq!(d.counters(), ["jitgate.denied", "jitgate.denied.request_invalid"]);

    let h = g.refuse(Fault::Host, "reading the clock: failed", NOW);
    assert_eq!((h.status, h.reason.code()), (500, "internal_error"));
    assert_ne!(h.decision_id, d.decision_id);

    // Dry run: the refused request goes through, stripped of the token and x-jit-*.
    let mut cfg = config_with(SEED_POLICY);
    cfg["mode"] = json!("dry_run");
    let d = gate(&cfg).refuse(Fault::Request, "bad", NOW);
    assert!(!d.enforced);
    let f = forward(&d);
    for h in ["x-jit-approval", "x-jit-approval-id", "x-jit-subject", "x-jit-expires"] {
        assert!(f.remove_headers.contains(&h.to_string()), "{h}");
    }
    assert!(f.add_headers.is_empty());
    assert!(d.counters().contains(&"jitgate.dry_run.would_deny".to_string()));

    // A decision that could not be applied keeps its id and approval, becomes a 500.
    let t = token(&claims());
    let allowed = g.decide(&request_with(&t), NOW);
    let id = allowed.decision_id.clone();
    let refused = g.refuse_decided(allowed, "removing a header failed");
    assert_eq!((refused.allow, refused.enforced, refused.status), (false, true, 500));
    assert_eq!(refused.decision_id, id);
    assert_eq!(refused.audit.subject.as_deref(), Some("alice@example.com"));
    assert_eq!(refused.audit.reason, "internal_error");
    assert_eq!(local(&refused).status, 500);
}

#[test]
fn decision_ids_reveal_neither_the_seed_nor_the_next_id() {
    let mut g = seed_gate();
    g.set_instance_seed([7; 16]);
    let ids: Vec<String> = (0..3)
        .map(|_| g.refuse(jitgate_core::Fault::Host, "x", NOW).decision_id)
        .collect();
    let seed_hex = "07".repeat(16);
    for id in &ids {
        assert_eq!(id.len(), 32);
        assert_ne!(id, &seed_hex);
    }
    // Consecutive ids are not consecutive numbers.
    let as_num = |s: &str| u128::from_str_radix(s, 16).unwrap();
    assert_ne!(as_num(&ids[1]).wrapping_sub(as_num(&ids[0])), 1);
    assert_eq!(jitgate_core::decision_id(&[7; 16], 1, NOW), ids[0]);
}

/// 9 million iterations: seconds of work without a budget.
const SLOW_POLICY: &str = "package access.jit\nallow if count([1 | some i in numbers.range(1, 3000); some j in numbers.range(1, 3000)]) > 0\n";

#[test]
#[cfg(feature = "std")] // regorus reads a monotonic clock only with std (see Policy::set_eval_budget)
fn a_policy_over_its_time_budget_is_stopped_and_denied() {
    let mut cfg = config_with(SLOW_POLICY);
    cfg["policy"]["max_eval_ms"] = json!(5);
    let g = gate(&cfg);
    let d = g.decide(&request_with(&token(&claims())), NOW);
    assert_eq!((d.allow, d.status, d.reason.code()), (false, 403, "policy_error"));
    assert!(d.over_budget);
    assert!(d.counters().contains(&"jitgate.policy_over_budget".to_string()));
    let detail = d.audit.detail.as_deref().unwrap();
    assert!(detail.contains("over its budget of 5 ms"), "{detail}");
    // A fast policy is not affected.
    let d = gate(&config_with(SEED_POLICY)).decide(&request_with(&token(&claims())), NOW);
    assert!(d.allow && !d.over_budget);
}

#[test]
#[cfg(feature = "std")]
fn the_time_budget_stops_the_rvm_too() {
    let mut cfg = config_with(SLOW_POLICY);
    cfg["policy"]["max_eval_ms"] = json!(5);
    cfg["policy"]["evaluator"] = json!("rvm");
    let g = gate(&cfg);
    assert_eq!(g.policy().evaluator(), jitgate_core::Evaluator::Rvm);
    let d = g.decide(&request_with(&token(&claims())), NOW);
    assert_eq!((d.allow, d.status, d.reason.code()), (false, 403, "policy_error"));
    assert!(d.over_budget);
    let detail = d.audit.detail.as_deref().unwrap();
    assert!(detail.contains("over its budget of 5 ms"), "{detail}");
}

#[test]
#[cfg(feature = "rvm")]
fn the_evaluator_is_validated_and_the_rvm_is_the_default() {
    use jitgate_core::Evaluator;
    assert_eq!(gate(&config_with(SEED_POLICY)).policy().evaluator(), Evaluator::Rvm);
    for (choice, expected) in [
        ("auto", Evaluator::Rvm),
        ("rvm", Evaluator::Rvm),
        ("interpreter", Evaluator::Interpreter { fallback: None }),
    ] {
        let mut cfg = config_with(SEED_POLICY);
        cfg["policy"]["evaluator"] = json!(choice);
        assert_eq!(gate(&cfg).policy().evaluator(), expected, "{choice}");
    }
    for bad in [json!("Auto"), json!("RVM"), json!(true), json!(null)] {
        let mut cfg = config_with(SEED_POLICY);
        cfg["policy"]["evaluator"] = bad.clone();
        let e = Gate::new(&cfg.to_string()).unwrap_err();
        assert_eq!(e.field(), Some("policy.evaluator"), "{bad}: {e}");
    }
}

#[test]
fn the_time_budget_is_validated() {
    for bad in [json!(0), json!(10_001), json!("5"), json!(-1)] {
        let mut cfg = config_with(SEED_POLICY);
        cfg["policy"]["max_eval_ms"] = bad.clone();
        let e = Gate::new(&cfg.to_string()).unwrap_err();
        assert_eq!(e.field(), Some("policy.max_eval_ms"), "{bad}: {e}");
    }
}

#[test]
fn many_repeated_headers_are_joined_in_linear_time_and_bounded() {
    let g = gate(&config_with(
        "package access.jit\nallow if count(input.request.headers[\"x-r\"]) > 0\n",
    ));
    let mut r = Request::new("GET", "/");
    for _ in 0..999 {
        r = r.header("x-r", "v");
    }
    assert!(g.decide(&r, NOW).allow);
    let d = g.decide(&r.clone().header("x-r", "v").header("x-r", "v"), NOW);
    assert_eq!((d.status, d.reason.code()), (400, "request_invalid"));
}

#[test]
fn trusting_the_published_demo_key_is_warned_about() {
    let example = include_str!("../../policies/config.example.json");
    let g = Gate::new(example).unwrap();
    assert_eq!(g.warnings().len(), 1, "{:?}", g.warnings());
    assert!(
        g.warnings()[0].contains("issuers[0].jwks.keys[0]"),
        "{:?}",
        g.warnings()
    );
    assert!(seed_gate().warnings().is_empty());
}

// ---------------------------------------------------------------- per-route resources (issue 15)

#[test]
fn the_route_resource_replaces_the_configured_one() {
    let g = gate(&config_with(TOKEN_ONLY_POLICY));
    let mut billing = claims();
    billing["jit"]["resource"] = json!("billing-db");
    let on_billing = |t: &str| request_with(t).route_resource("billing-db");
    let d = g.decide(&on_billing(&token(&billing)), NOW);
    assert!(d.allow, "{:?}", d.reason);
    assert_eq!(d.audit.resource.as_deref(), Some("billing-db"));
    // The approval for the configured resource does not open the billing route…
    let d = g.decide(&on_billing(&token(&claims())), NOW);
    assert_eq!(d.reason.code(), "token_resource_mismatch");
    // …and the billing approval does not open the default route.
    assert_eq!(
        g.decide(&request_with(&token(&billing)), NOW).reason.code(),
        "token_resource_mismatch"
    );
    // The policy sees the route's resource.
    let p = gate(&config_with(
        "package access.jit\nallow if input.resource == \"billing-db\"\n",
    ));
    assert!(p.decide(&on_billing(&token(&billing)), NOW).allow);
}

#[test]
fn a_skip_route_allows_without_a_token_and_strips_forged_headers() {
    let g = gate(&config_with(TOKEN_ONLY_POLICY));
    let mut r = jitgate_core::Request::new("GET", "/public")
        .header("x-jit-subject", "mallory")
        .header("x-jit-approval", "junk");
    r.route.skip = true;
    let d = g.decide(&r, NOW);
    assert!(d.allow && d.status == 200);
    let jitgate_core::Action::Forward(fwd) = &d.action else {
        panic!("forward")
    };
    assert!(fwd.remove_headers.iter().any(|h| h == "x-jit-subject"));
    assert!(fwd.remove_headers.iter().any(|h| h == "x-jit-approval"));
    assert!(d.audit.detail.as_deref().unwrap().contains("skip"));
    assert!(d.audit.token_present);
}

#[test]
fn the_route_in_the_json_request_form() {
    let r = jitgate_core::Request::from_json_str(
        r#"{"method": "GET", "path": "/b", "route": {"resource": "billing-db", "skip": false}}"#,
    )
    .unwrap();
    assert_eq!(r.route.resource.as_deref(), Some("billing-db"));
    for (bad, field) in [
        (
            r#"{"method": "GET", "path": "/", "route": {"resource": ""}}"#,
            "route.resource",
        ),
        (
            r#"{"method": "GET", "path": "/", "route": {"resouce": "x"}}"#,
            "route.resouce",
        ),
        (
            r#"{"method": "GET", "path": "/", "route": {"skip": "yes"}}"#,
            "route.skip",
        ),
    ] {
        let e = jitgate_core::Request::from_json_str(bad).unwrap_err();
        assert_eq!(e.field, field, "{bad}: {e}");
    }
}

#[test]
fn the_decision_header_and_the_trace_id() {
    let mut cfg = config_with(TOKEN_ONLY_POLICY);
    cfg["decision_header"] = json!("X-Jitgate-Decision-Id");
    let g = gate(&cfg);
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let ok = g.decide(
        &request_with(&token(&claims())).header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01")),
        NOW,
    );
    assert_eq!(ok.audit.trace_id.as_deref(), Some(trace));
    let jitgate_core::Action::Forward(fwd) = &ok.action else {
        panic!("forward")
    };
    assert!(fwd
        .response_headers
        .contains(&("x-jitgate-decision-id".into(), ok.decision_id.clone())));
    let no = g.decide(&jitgate_core::Request::new("GET", "/x"), NOW);
    let jitgate_core::Action::Respond(resp) = &no.action else {
        panic!("respond")
    };
    assert!(resp
        .headers
        .contains(&("x-jitgate-decision-id".into(), no.decision_id.clone())));
    assert_eq!(no.audit.trace_id, None);
    // Off by default.
    let plain = gate(&config_with(TOKEN_ONLY_POLICY)).decide(&jitgate_core::Request::new("GET", "/x"), NOW);
    let jitgate_core::Action::Respond(resp) = &plain.action else {
        panic!("respond")
    };
    assert!(!resp.headers.iter().any(|(n, _)| n == "x-jitgate-decision-id"));
    for bad in ["x-jit-subject", "content-type", "x-jit-approval", "a b"] {
        let mut cfg = config_with(TOKEN_ONLY_POLICY);
        cfg["decision_header"] = json!(bad);
        let e = jitgate_core::Gate::new(&cfg.to_string()).unwrap_err();
        assert_eq!(e.field(), Some("decision_header"), "{bad}");
    }
    for (tp, want) in [
        (format!("00-{trace}-00f067aa0ba902b7-01"), Some(trace)),
        (format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)), None),
        (format!("00-{}-00f067aa0ba902b7-01", trace.to_uppercase()), None),
        (format!("ff-{trace}-00f067aa0ba902b7-01"), None),
        (format!("00-{trace}-0000000000000000-01"), None),
        (format!("00-{trace}-00f067aa0ba902b7-01-extra"), None),
        (format!("01-{trace}-00f067aa0ba902b7-01-extra"), Some(trace)),
        ("garbage".to_owned(), None),
    ] {
        assert_eq!(jitgate_core::unstable::audit::trace_id(&tp), want, "{tp}");
    }
}
