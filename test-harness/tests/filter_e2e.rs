//! The real `jitgate-filter` `.wasm` through the harness, the way Envoy runs it: every
//! decision class, header removal and addition, audit lines, metrics, bad
//! configurations, dry run, and a trap that leaves the VM dead and failing closed. Then
//! the shared decision vectors, which must decide alike in the filter and the core.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use jitgate_core::unstable::jws::b64url_encode;
use jitgate_core::{Algorithm, Gate};
use jitgate_harness::jitgate::{audit_records, envoy_request, last_audit};
use jitgate_harness::{EnvoyRequest, Error, Host, HostConfig, Outcome};
use jitgate_mint::{self as mint, SigningKey};
use serde_json::{json, Value};

const NOW_S: u64 = 1_795_687_200; // 2026-11-26T10:00:00Z
const ISSUER: &str = "https://approvals.example.com";

fn ed() -> SigningKey {
    SigningKey::from_secret(Algorithm::EdDsa, &[0x11; 32]).unwrap()
}
fn ec() -> SigningKey {
    SigningKey::from_secret(Algorithm::Es256, &[0x22; 32]).unwrap()
}

const SEED_POLICY: &str = include_str!("../../policies/jit.rego");

fn config() -> Value {
    json!({
        "issuers": [{"issuer": ISSUER, "audience": "db-gateway",
                     "jwks": {"keys": [ed().public_jwk("ed1"), ec().public_jwk("ec1")]}}],
        "resource": "test-database",
        "revoked": ["appr-revoked"],
        "policy": {"modules": {"jit.rego": SEED_POLICY}}
    })
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "alice@example.com", "aud": "db-gateway",
        "iat": NOW_S - 120, "nbf": NOW_S - 60, "exp": NOW_S + 3600, "jti": "appr-1",
        "jit": {"resource": "test-database", "role": "developer"}
    })
}

fn token(claims: &Value) -> String {
    mint::mint(claims, &ed(), "ed1")
}

fn host_with(config: &Value) -> Host {
    let mut host = Host::new(&common::jitgate_filter()).unwrap();
    host.configure(config.to_string())
        .unwrap_or_else(|e| panic!("configure: {e}"));
    host
}

fn get(path: &str) -> EnvoyRequest {
    EnvoyRequest::get(path)
        .authority("db.internal")
        .property("source.address", "10.0.0.7:51234")
        .at_unix_secs(NOW_S)
}

fn local(out: &Outcome) -> (u32, Value) {
    match out {
        Outcome::LocalResponse { status, body, .. } => (*status, serde_json::from_slice(body).unwrap()),
        other => panic!("expected a local response, got {other:?}"),
    }
}

#[test]
fn allowed_request_is_forwarded_with_x_jit_headers_and_without_the_token() {
    let mut host = host_with(&config());
    let out = host
        .request(
            get("/orders")
                .header("x-jit-approval", token(&claims()))
                .header("x-jit-subject", "forged"),
        )
        .unwrap();
    let Outcome::Forwarded { headers, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(headers.get("x-jit-approval"), None, "token removed");
    assert_eq!(headers.get("x-jit-approval-id"), Some("appr-1"));
    assert_eq!(
        headers.get_all("x-jit-subject"),
        ["alice@example.com"],
        "client copy replaced"
    );
    assert_eq!(headers.get("x-jit-expires"), Some("2026-11-26T11:00:00Z"));
    assert_eq!(host.metric("jitgate.allowed"), Some(1));
    assert_eq!(host.metric("jitgate.denied"), Some(0));

    // One audit line per decision, with the §7 fields.
    let audit = last_audit(&host).unwrap();
    assert_eq!(audit["allow"], true);
    assert_eq!(audit["reason"], "allowed");
    assert_eq!(audit["subject"], "alice@example.com");
    assert_eq!(audit["approval_id"], "appr-1");
    assert_eq!(audit["source"], "10.0.0.7:51234");
    assert_eq!(audit["ts"], "2026-11-26T10:00:00Z");
    assert!(audit["eval_ns"].is_u64(), "the filter measures eval_ns: {audit}");
    assert_eq!(audit_records(&host).len(), 1);
}

#[test]
fn es256_tokens_work_in_the_filter() {
    let mut host = host_with(&config());
    let out = host
        .request(get("/orders").header("x-jit-approval", mint::mint(&claims(), &ec(), "ec1")))
        .unwrap();
    assert!(out.is_forwarded(), "{out:?}");
}

#[test]
fn each_token_error_is_a_401_with_its_code() {
    let mut host = host_with(&config());
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims();
        f(&mut c);
        token(&c)
    };
    let cases: Vec<(&str, Option<String>)> = vec![
        ("token_missing", None),
        ("token_malformed", Some("a.b.c".into())),
        (
            "token_type",
            Some(mint::sign(
                json!({"alg": "EdDSA", "typ": "JWT", "kid": "ed1"}).as_object().unwrap(),
                &claims(),
                &ed(),
            )),
        ),
        (
            "token_algorithm",
            Some(mint::sign(
                json!({"alg": "ES256", "typ": "jit-approval+jwt", "kid": "ed1"})
                    .as_object()
                    .unwrap(),
                &claims(),
                &ed(),
            )),
        ),
        ("token_key_unknown", Some(mint::mint(&claims(), &ed(), "nope"))),
        (
            "token_signature",
            Some(mint::mint(
                &claims(),
                &SigningKey::from_secret(Algorithm::EdDsa, &[9; 32]).unwrap(),
                "ed1",
            )),
        ),
        (
            "token_issuer",
            Some(with(&|c| c["iss"] = json!("https://evil.example.com"))),
        ),
        ("token_audience", Some(with(&|c| c["aud"] = json!("other")))),
        ("token_not_yet_valid", Some(with(&|c| c["nbf"] = json!(NOW_S + 120)))),
        ("token_expired", Some(with(&|c| c["exp"] = json!(NOW_S - 31)))),
        (
            "token_window_too_long",
            Some(with(&|c| c["exp"] = json!(NOW_S + 86_400))),
        ),
        ("token_revoked", Some(with(&|c| c["jti"] = json!("appr-revoked")))),
        (
            "token_resource_mismatch",
            Some(with(&|c| c["jit"]["resource"] = json!("prod-database"))),
        ),
        (
            "token_binding_mismatch",
            Some(with(&|c| c["cnf"] = json!({"x5t#S256": b64url_encode(&[1; 32])}))),
        ),
    ];
    for (i, (code, tok)) in cases.iter().enumerate() {
        let mut req = get("/orders");
        if let Some(t) = tok {
            req = req.header("x-jit-approval", t.clone());
        }
        let out = host.request(req).unwrap();
        let (status, body) = local(&out);
        assert_eq!((status, body["reason"].as_str().unwrap()), (401, *code), "case {i}");
        assert_eq!(
            out.header("www-authenticate"),
            Some(format!("JIT-Approval error=\"{code}\"").as_str())
        );
        assert_eq!(out.header("content-type"), Some("application/json"));
        assert_eq!(body["error"], "access_denied");
        assert_eq!(body["decision_id"], last_audit(&host).unwrap()["decision_id"]);
        assert_eq!(host.metric(&format!("jitgate.denied.{code}")), Some(1), "{code}");
    }
    assert_eq!(host.metric("jitgate.denied"), Some(cases.len() as u64));
    assert_eq!(host.metric("jitgate.allowed"), Some(0));
}

#[test]
fn wrong_role_is_403_and_healthz_needs_nothing() {
    let mut host = host_with(&config());
    let mut c = claims();
    c["jit"]["role"] = json!("analyst");
    let (status, body) = local(
        &host
            .request(get("/orders").header("x-jit-approval", token(&c)))
            .unwrap(),
    );
    assert_eq!((status, body["reason"].as_str().unwrap()), (403, "policy_denied"));
    assert!(host.request(get("/healthz")).unwrap().is_forwarded());
    assert_eq!(host.metric("jitgate.denied.policy_denied"), Some(1));
}

#[test]
fn identity_and_mtls_binding_come_from_envoy_properties() {
    let mut cfg = config();
    cfg["identity"] = json!({"source": "peer_principal"});
    let mut host = host_with(&cfg);
    let mut c = claims();
    c["sub"] = json!("spiffe://corp/ns/dev/sa/alice");
    let digest = [7u8; 32];
    c["cnf"] = json!({"x5t#S256": b64url_encode(&digest)});
    let t = token(&c);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();

    let (status, body) = local(
        &host
            .request(get("/orders").header("x-jit-approval", t.clone()))
            .unwrap(),
    );
    assert_eq!(
        (status, body["reason"].as_str().unwrap()),
        (401, "token_subject_mismatch")
    );
    let req = get("/orders")
        .header("x-jit-approval", t.clone())
        .property("connection.uri_san_peer_certificate", "spiffe://corp/ns/dev/sa/alice");
    let (_, body) = local(&host.request(req).unwrap());
    assert_eq!(
        body["reason"], "token_binding_mismatch",
        "right peer, no certificate digest"
    );
    let req = get("/orders")
        .header("x-jit-approval", t)
        .property("connection.uri_san_peer_certificate", "spiffe://corp/ns/dev/sa/alice")
        .property("connection.sha256_peer_certificate_digest", hex);
    assert!(host.request(req).unwrap().is_forwarded());
}

#[test]
fn dry_run_forwards_and_counts_would_be_denials() {
    let mut cfg = config();
    cfg["mode"] = json!("dry_run");
    let mut host = host_with(&cfg);
    let out = host.request(get("/orders")).unwrap();
    assert!(out.is_forwarded(), "{out:?}");
    let audit = last_audit(&host).unwrap();
    assert_eq!(
        (
            audit["allow"].clone(),
            audit["enforced"].clone(),
            audit["reason"].clone()
        ),
        (json!(false), json!(false), json!("token_missing"))
    );
    assert_eq!(host.metric("jitgate.dry_run.would_deny"), Some(1));
    assert_eq!(host.metric("jitgate.denied.token_missing"), Some(1));
}

#[test]
fn policy_headers_and_forward_option() {
    let policy = r#"package access.jit
result := {"allow": true, "headers": {"x-scope": "read"}, "response_headers": {"x-served-by": "jitgate"}} if input.token.valid
result := {"allow": false, "status": 429, "reason": "slow down", "headers": {"retry-after": "60"}} if not input.token.valid
"#;
    let mut cfg = config();
    cfg["policy"] = json!({"modules": {"p.rego": policy}, "entrypoint": "data.access.jit.result"});
    cfg["token"] = json!({"forward": true});
    let mut host = host_with(&cfg);
    let out = host
        .request(get("/orders").header("x-jit-approval", token(&claims())))
        .unwrap();
    let Outcome::Forwarded { headers, response, .. } = &out else {
        panic!("{out:?}")
    };
    assert!(headers.get("x-jit-approval").is_some(), "token.forward keeps the token");
    assert_eq!(headers.get("x-scope"), Some("read"));
    assert_eq!(
        response.headers.get("x-served-by"),
        Some("jitgate"),
        "response_headers reach the client"
    );
    // A missing token keeps 401 even though the policy asked for 429; its reason reaches the body.
    let out = host.request(get("/orders")).unwrap();
    let (status, body) = local(&out);
    assert_eq!(status, 401);
    assert_eq!(body["message"], "slow down");
    assert_eq!(out.header("retry-after"), Some("60"));
}

#[test]
fn bad_configurations_are_rejected_naming_the_field() {
    for (cfg, field) in [
        (json!({"issuers": []}), "policy"),
        (
            {
                let mut c = config();
                c["issuers"][0]["leeway_s"] = json!(301);
                c
            },
            "issuers[0].leeway_s",
        ),
        (
            {
                let mut c = config();
                c["policy"]["entrypoint"] = json!("data.access.jit.nope");
                c
            },
            "policy.entrypoint",
        ),
        (json!("not an object"), "."),
    ] {
        let mut host = Host::new(&common::jitgate_filter()).unwrap();
        let err = host.configure(cfg.to_string()).unwrap_err();
        assert!(matches!(err, Error::ConfigureFailed { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains(field), "message names `{field}`: {text}");
        assert_eq!(host.metric("jitgate.config_errors"), Some(1), "{text}");
    }
    let mut host = Host::new(&common::jitgate_filter()).unwrap();
    assert!(host.configure("{not json").is_err());
}

#[test]
fn the_configuration_log_line_says_which_evaluator_decides_and_why() {
    let accepted = |host: &Host| {
        host.logs()
            .iter()
            .find(|l| l.message.contains("configuration accepted"))
            .map(|l| l.message.clone())
            .unwrap()
    };
    // The default (`auto`): the seed policy compiles for the RVM, which then decides.
    let host = host_with(&config());
    assert!(
        accepted(&host).contains("policy evaluated by regorus's RVM"),
        "{}",
        accepted(&host)
    );
    // regorus's RVM compiler has no `with`: `auto` falls back and says why; `rvm` refuses.
    let mut cfg = config();
    cfg["policy"] = json!({
        "modules": {"w.rego": "package t\nallow if {\n  f with input as {\"x\": 1}\n}\nf if input.x == 1"},
        "entrypoint": "data.t.allow"
    });
    let mut host = host_with(&cfg);
    let line = accepted(&host);
    assert!(
        line.contains("policy evaluated by regorus's interpreter: the RVM cannot evaluate this policy"),
        "{line}"
    );
    let out = host
        .request(get("/orders").header("x-jit-approval", token(&claims())))
        .unwrap();
    assert!(matches!(out, Outcome::Forwarded { .. }), "{out:?}");
    cfg["policy"]["evaluator"] = json!("rvm");
    let err = Host::new(&common::jitgate_filter())
        .unwrap()
        .configure(cfg.to_string())
        .unwrap_err();
    assert!(err.to_string().contains("policy.evaluator"), "{err}");
}

#[test]
fn a_trap_leaves_the_vm_dead_and_requests_failing_closed() {
    // Envoy's V8 caps a VM's memory; here a cap plus a request far over it makes the
    // filter's allocation fail, which aborts (a trap), as it would in Envoy.
    let config_host = HostConfig {
        max_memory_bytes: Some(64 << 20),
        ..HostConfig::default()
    };
    let mut host = Host::with_config(&common::jitgate_filter(), config_host).unwrap();
    host.configure(config().to_string()).unwrap();
    assert!(host.request(get("/healthz")).unwrap().is_forwarded());
    let huge = "x".repeat(80 << 20);
    let err = host.request(get("/orders").header("x-big", huge));
    match err {
        Err(Error::Trap { .. }) => {}
        Ok(out) => assert!(out.is_fail_closed(), "{out:?}"),
        Err(other) => panic!("expected a trap, got {other}"),
    }
    assert!(host.is_dead());
    // Dead VM, FAIL_CLOSED: even a request the policy would allow gets Envoy's 503.
    let out = host.request(get("/healthz")).unwrap();
    assert!(out.is_fail_closed(), "{out:?}");
    assert_eq!(out.status(), Some(503));
}

/// The configuration deploy/envoy.yaml and the Istio WasmPlugin carry (validated equal
/// by deploy/validate.sh) loads into the filter, which then enforces it.
#[test]
fn the_deployed_configuration_runs_in_the_filter() {
    let config: Value = serde_json::from_str(include_str!("../../deploy/plugin-config.json")).unwrap();
    let mut host = host_with(&config);
    assert!(host.request(get("/healthz")).unwrap().is_forwarded());
    let (status, body) = local(&host.request(get("/orders")).unwrap());
    assert_eq!((status, body["reason"].as_str().unwrap()), (401, "token_missing"));
    let key = SigningKey::from_jwk(&serde_json::from_str(include_str!("../../deploy/demo-key.private.jwk")).unwrap())
        .unwrap();
    let issuer = config["issuers"][0]["issuer"].as_str().unwrap();
    let audience = config["issuers"][0]["audience"].as_str().unwrap();
    let resource = config["resource"].as_str().unwrap_or("test-database");
    let kid = config["issuers"][0]["jwks"]["keys"][0]["kid"].as_str().unwrap();
    let approval = mint::mint(
        &json!({"iss": issuer, "sub": "alice@example.com", "aud": audience, "iat": NOW_S - 60, "nbf": NOW_S - 60,
                "exp": NOW_S + 600, "jti": "appr-deploy", "jit": {"resource": resource, "role": "developer"}}),
        &key,
        kid,
    );
    assert!(host
        .request(get("/orders").header("x-jit-approval", approval))
        .unwrap()
        .is_forwarded());
}

/// Envoy's HTTP/1 codec strips leading and trailing spaces and tabs from header values
/// (RFC 9110 OWS) before the filter sees them (e2e/test_decisions.py shows it in Envoy
/// 1.40): the harness presents the request the same way, so ` TOKEN<TAB>` is TOKEN.
#[test]
fn header_values_reach_the_filter_without_surrounding_whitespace_as_in_envoy() {
    let mut host = host_with(&config());
    let request = jitgate_core::Request::from_json(json!({
        "method": "GET",
        "path": "/orders",
        "headers": {"host": "db.internal", "x-jit-approval": format!(" {}\t", token(&claims())), "x-note": "\t a b  "}
    }))
    .unwrap();
    let out = host
        .request(envoy_request(&request, i64::try_from(NOW_S).unwrap() * 1_000_000_000))
        .unwrap();
    let Outcome::Forwarded { headers, .. } = &out else {
        panic!("not forwarded: {out:?}");
    };
    assert_eq!(headers.get_all("x-note"), ["a b"]);
    assert_eq!(last_audit(&host).unwrap()["reason"], "allowed");
}

/// The time zones compiled in (.cargo/config.toml) and the regex classes are the same
/// in the filter and the native core: a kept zone works in both, a dropped one is a
/// policy error in both; `\d` patterns work in both.
#[test]
fn time_zones_and_regex_agree_between_filter_and_core() {
    let policy = r#"package access.jit
allow if {
    [h, _, _] := time.clock([time.now_ns(), input.request.headers["x-zone"]])
    h >= 0
    regex.match(`^[A-Z]+-\d+$`, "INC-4711")
}
"#;
    let mut cfg = config();
    cfg["policy"] = json!({"modules": {"p.rego": policy}});
    let mut host = host_with(&cfg);
    let gate = Gate::new(&cfg.to_string()).unwrap();
    for (zone, allowed) in [
        ("UTC", true),
        ("Etc/GMT-1", true),
        ("Zulu", true),
        ("Europe/Berlin", false),
    ] {
        let out = host.request(get("/healthz").header("x-zone", zone)).unwrap();
        let native = gate.decide(
            &jitgate_core::Request::new("GET", "/healthz").header("x-zone", zone),
            (NOW_S as i64) * 1_000_000_000,
        );
        assert_eq!(out.is_forwarded(), allowed, "filter, {zone}");
        assert_eq!(native.allow, allowed, "core, {zone}");
        if !allowed {
            assert_eq!(last_audit(&host).unwrap()["reason"], native.reason.code(), "{zone}");
        }
    }
}
