//! Each bad configuration field gives an error that names it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use common::*;
use jitgate_core::{ConfigError, Gate};
use serde_json::{json, Value};

fn refused(cfg: &Value) -> ConfigError {
    match Gate::new(&cfg.to_string()) {
        Ok(_) => panic!("configuration accepted: {cfg}"),
        Err(e) => e,
    }
}

fn set(path: &str, value: Value) -> Value {
    let mut cfg = config_with(TOKEN_ONLY_POLICY);
    let mut target = &mut cfg;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        target = match p.parse::<usize>() {
            Ok(n) => &mut target[n],
            Err(_) if last && value.is_null() => {
                target.as_object_mut().unwrap().remove(*p);
                return cfg;
            }
            Err(_) => &mut target[*p],
        };
    }
    *target = value;
    cfg
}

#[test]
fn the_test_configuration_itself_is_fine() {
    gate(&config_with(TOKEN_ONLY_POLICY));
}

#[test]
fn each_bad_field_is_named() {
    let ed = ed_key().public_jwk("ed1");
    let cases: Vec<(&str, Value, &str)> = vec![
        // (where, value; null removes it), expected field path
        ("issuers", json!([]), "issuers"),
        ("issuers", Value::Null, "issuers"),
        ("issuers.0.issuer", json!(""), "issuers[0].issuer"),
        ("issuers.0.issuer", Value::Null, "issuers[0].issuer"),
        ("issuers.0.audience", Value::Null, "issuers[0].audience"),
        ("issuers.0.audience", json!(5), "issuers[0].audience"),
        ("issuers.0.jwks", Value::Null, "issuers[0].jwks"),
        ("issuers.0.jwks", json!({"keys": []}), "issuers[0].jwks.keys"),
        ("issuers.0.jwks", json!([]), "issuers[0].jwks"),
        ("issuers.0.leeway_s", json!(301), "issuers[0].leeway_s"),
        ("issuers.0.leeway_s", json!(-1), "issuers[0].leeway_s"),
        ("issuers.0.max_ttl_s", json!(0), "issuers[0].max_ttl_s"),
        ("issuers.0.max_ttl_s", json!("1h"), "issuers[0].max_ttl_s"),
        ("issuers.0.colour", json!("blue"), "issuers[0].colour"),
        ("issuers.0.jwks.keys.1", ed.clone(), "issuers[0].jwks.keys[1].kid"),
        (
            "issuers.0.jwks.keys.0.alg",
            json!("ES256"),
            "issuers[0].jwks.keys[0].alg",
        ),
        ("issuers.0.jwks.keys.0.kty", json!("RSA"), "issuers[0].jwks.keys[0].kty"),
        (
            "issuers.0.jwks.keys.0.crv",
            json!("X25519"),
            "issuers[0].jwks.keys[0].crv",
        ),
        ("issuers.0.jwks.keys.0.x", json!("AAAA"), "issuers[0].jwks.keys[0].x"),
        ("issuers.0.jwks.keys.0.d", json!("AAAA"), "issuers[0].jwks.keys[0].d"),
        ("resource", json!(""), "resource"),
        ("resource", json!(["a"]), "resource"),
        ("token.header", json!("bad header"), "token.header"),
        ("token.prefx", json!("Bearer "), "token.prefx"),
        ("token.forward", json!("yes"), "token.forward"),
        ("identity", json!({}), "identity"),
        (
            "identity",
            json!({"header": "x-user", "source": "peer_principal"}),
            "identity",
        ),
        ("identity", json!({"source": "jwt"}), "identity.source"),
        ("identity", json!({"header": "x-jit-approval"}), "identity.header"),
        ("identity", json!({"hdr": "x-user"}), "identity.hdr"),
        ("policy", Value::Null, "policy"),
        ("policy.modules", json!({}), "policy.modules"),
        ("policy.modules", Value::Null, "policy.modules"),
        (
            "policy.modules.jit.rego",
            json!("package access.jit\nallow if {"),
            "policy.modules.jit.rego",
        ),
        ("policy.entrypoint", json!("data.access.jit.nope"), "policy.entrypoint"),
        ("policy.entrypoint", json!("data.nothing.here"), "policy.entrypoint"),
        ("policy.entrypoint", json!("allow"), "policy.entrypoint"),
        ("policy.data", json!([1]), "policy.data"),
        ("policy.rego_v0", json!("no"), "policy.rego_v0"),
        ("policy.modulez", json!({}), "policy.modulez"),
        ("revoked", json!("appr-1"), "revoked"),
        ("revoked", json!([""]), "revoked[0]"),
        ("mode", json!("permissive"), "mode"),
        ("extra", json!(true), "extra"),
        ("issuers.0.feed", json!({}), "issuers[0].feed.cluster"),
        (
            "issuers.0.feed",
            json!({"cluster": "c", "refresh": 5}),
            "issuers[0].feed.refresh",
        ),
    ];
    for (path, value, field) in cases {
        // `policy.modules.jit.rego` is a key with a dot: set it by hand.
        let cfg = if path == "policy.modules.jit.rego" {
            let mut c = config_with(TOKEN_ONLY_POLICY);
            c["policy"]["modules"]["jit.rego"] = value.clone();
            c
        } else {
            set(path, value.clone())
        };
        let e = refused(&cfg);
        assert_eq!(e.field(), Some(field), "{path} = {value}: {e}");
        assert!(e.to_string().contains(field), "message names the field: {e}");
    }
}

#[test]
fn a_module_that_fails_to_compile_is_named_not_the_entrypoint() {
    // The rule exists, but its body uses a variable nothing binds: a module error.
    let cfg = config_with("package access.jit\nallow if { input.request.method == unbound }");
    let e = refused(&cfg);
    assert_eq!(e.field(), Some("policy.modules"), "{e}");
}

#[test]
fn a_missing_member_is_required_by_its_own_path() {
    for (path, field) in [
        ("issuers", "issuers"),
        ("policy", "policy"),
        ("issuers.0.audience", "issuers[0].audience"),
        ("policy.modules", "policy.modules"),
    ] {
        let e = refused(&set(path, Value::Null));
        assert_eq!(e.field(), Some(field), "{path}: {e}");
        assert!(e.to_string().ends_with("is required"), "{path}: {e}");
    }
}

#[test]
fn duplicate_issuers_and_syntax_errors() {
    let mut cfg = config_with(TOKEN_ONLY_POLICY);
    let first = cfg["issuers"][0].clone();
    cfg["issuers"].as_array_mut().unwrap().push(first);
    assert_eq!(refused(&cfg).field(), Some("issuers[1].issuer"));

    let e = Gate::new("{\"issuers\": [").unwrap_err();
    assert_eq!(e.code(), "config_syntax");
    assert!(e.to_string().contains("line 1"), "{e}");
    let e = Gate::new("[]").unwrap_err();
    assert_eq!(e.code(), "config_invalid");
    // Duplicate fields in the configuration object are refused, not silently merged.
    let text = config_with(TOKEN_ONLY_POLICY).to_string();
    let dup = text.replacen('{', "{\"mode\":\"dry_run\",\"mode\":\"enforce\",", 1);
    assert_eq!(Gate::new(&dup).unwrap_err().field(), Some("mode"));
}

/// Inserts `"name": value` right after the opening brace of the object that `anchor`
/// (a unique piece of the configuration's JSON text) begins, so the member appears twice.
fn with_repeated_member(anchor: &str, name: &str, value: &str) -> String {
    let text = config_with(TOKEN_ONLY_POLICY).to_string();
    let at = text.find(anchor).unwrap_or_else(|| panic!("`{anchor}` not in {text}"));
    let brace = at + text[at..].find('{').unwrap();
    format!("{}{{\"{name}\":{value},{}", &text[..brace], &text[brace + 1..])
}

#[test]
fn a_member_repeated_anywhere_is_an_error_naming_its_path() {
    let other = stranger_key().public_jwk("ed1");
    let other_x = serde_json::to_string(&other["x"]).unwrap();
    // A second `x` in a JWK: the second key would otherwise be the trusted one.
    let text = with_repeated_member("{\"alg\":\"EdDSA\"", "x", &other_x);
    assert!(text.matches("\"x\":").count() >= 2, "{text}");
    let e = Gate::new(&text).unwrap_err();
    assert_eq!(e.field(), Some("issuers[0].jwks.keys[0].x"), "{e}");
    assert!(e.to_string().contains("more than once"), "{e}");

    // `keys` twice in a key set.
    let text = with_repeated_member("{\"keys\"", "keys", "[]");
    assert_eq!(Gate::new(&text).unwrap_err().field(), Some("issuers[0].jwks.keys"));

    // A module name twice.
    let text = with_repeated_member("{\"jit.rego\"", "jit.rego", "\"package access.jit\\nallow := true\"");
    assert_eq!(Gate::new(&text).unwrap_err().field(), Some("policy.modules.jit.rego"));

    // A `policy.data` member twice, at depth.
    let mut cfg = config_with(TOKEN_ONLY_POLICY);
    cfg["policy"]["data"] = json!({"groups": {"admins": ["bob"]}});
    let text = cfg
        .to_string()
        .replacen("{\"admins\"", "{\"admins\":[\"mallory\"],\"admins\"", 1);
    assert_eq!(Gate::new(&text).unwrap_err().field(), Some("policy.data.groups.admins"));

    // The same configuration without repeats is fine.
    gate(&cfg);
}
