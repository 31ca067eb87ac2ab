//! Every rule of DESIGN §3 and every token error code, each with a token minted here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use common::*;
use jitgate_core::unstable::jws::b64url_encode;
use jitgate_mint as mint;
use serde_json::{json, Value};

fn with(mut claims: Value, path: &[&str], value: Value) -> Value {
    let mut target = &mut claims;
    for (i, key) in path.iter().enumerate() {
        if i + 1 == path.len() {
            target[*key] = value;
            break;
        }
        target = &mut target[*key];
    }
    claims
}

fn without(mut claims: Value, path: &[&str]) -> Value {
    let (last, parents) = path.split_last().unwrap();
    let mut target = &mut claims;
    for key in parents {
        target = &mut target[*key];
    }
    target.as_object_mut().unwrap().remove(*last);
    claims
}

fn std_header() -> Value {
    json!({"alg": "EdDSA", "typ": "jit-approval+jwt", "kid": "ed1"})
}

#[test]
fn a_good_token_is_allowed_with_either_algorithm() {
    assert_eq!(code(&token(&claims())), "allowed");
    assert_eq!(code(&es_token(&claims())), "allowed");
}

// --- size and shape -------------------------------------------------------------

#[test]
fn shape_three_segments_base64url_json() {
    let good = token(&claims());
    let parts: Vec<&str> = good.split('.').collect();
    assert_eq!(code(&format!("{}.{}", parts[0], parts[1])), "token_malformed");
    assert_eq!(code(&format!("{good}.x")), "token_malformed");
    // Padding, standard alphabet and non-canonical trailing bits are not base64url.
    assert_eq!(
        code(&format!("{}=.{}.{}", parts[0], parts[1], parts[2])),
        "token_malformed"
    );
    assert_eq!(
        code(&format!("{}.+{}.{}", parts[0], &parts[1][1..], parts[2])),
        "token_malformed"
    );
    let sig = parts[2];
    let last = sig.chars().last().unwrap();
    // Ed25519 signatures are 64 bytes: 86 chars whose last carries 2 unused bits.
    let bumped = match last {
        'A' => 'B',
        c => char::from_u32(c as u32 ^ 1).unwrap(),
    };
    let noncanonical = format!("{}.{}.{}{}", parts[0], parts[1], &sig[..sig.len() - 1], bumped);
    assert_eq!(code(&noncanonical), "token_malformed");
    // Header or payload not a JSON object.
    let h = b64url_encode(b"[1]");
    assert_eq!(code(&format!("{h}.{}.{}", parts[1], parts[2])), "token_malformed");
    let p = b64url_encode(b"not json");
    assert_eq!(code(&format!("{}.{p}.{}", parts[0], parts[2])), "token_malformed");
}

#[test]
fn shape_duplicate_members_in_header_or_payload() {
    let key = ed_key();
    let header = br#"{"alg":"EdDSA","typ":"jit-approval+jwt","kid":"ed1","kid":"ed1"}"#;
    let payload = claims().to_string();
    assert_eq!(
        code(&mint::sign_raw(header, payload.as_bytes(), &key)),
        "token_malformed"
    );
    let header = br#"{"alg":"EdDSA","typ":"jit-approval+jwt","kid":"ed1"}"#;
    // A duplicate `sub` would let a verifier and a policy disagree on who it is.
    let payload = payload.replacen("{", r#"{"sub":"mallory@example.com","#, 1);
    assert_eq!(
        code(&mint::sign_raw(header, payload.as_bytes(), &key)),
        "token_malformed"
    );
    // The same payload without the duplicate is fine.
    assert_eq!(
        code(&mint::sign_raw(header, claims().to_string().as_bytes(), &key)),
        "allowed"
    );
}

#[test]
fn shape_nesting_deeper_than_32_is_malformed() {
    fn nested(depth: usize) -> Value {
        let mut v = json!(1);
        for _ in 0..depth {
            v = json!([v]);
        }
        v
    }
    // Outer object (1) + jit (2) + `extra` arrays.
    assert_eq!(code(&token(&with(claims(), &["jit", "extra"], nested(30)))), "allowed");
    assert_eq!(
        code(&token(&with(claims(), &["jit", "extra"], nested(31)))),
        "token_malformed"
    );
}

#[test]
fn shape_size_limit_is_8_kib() {
    let pad = |n: usize| token(&with(claims(), &["jit", "pad"], json!("x".repeat(n))));
    let base = pad(0).len();
    // Base64 grows 4/3: find paddings just under and over the limit.
    let mut n = (8192 - base) * 3 / 4;
    while pad(n).len() > 8192 {
        n -= 1;
    }
    assert!(pad(n).len() <= 8192);
    assert_eq!(code(&pad(n)), "allowed");
    let mut m = n;
    while pad(m).len() <= 8192 {
        m += 1;
    }
    assert_eq!(code(&pad(m)), "token_malformed");
}

// --- header fields, typ, alg ------------------------------------------------------

#[test]
fn header_required_fields_and_forbidden_fields() {
    let c = claims();
    for missing in ["alg", "kid"] {
        let mut h = std_header();
        h.as_object_mut().unwrap().remove(missing);
        assert_eq!(code(&token_with_header(&h, &c)), "token_malformed", "without {missing}");
    }
    for forbidden in ["crit", "b64", "jku", "x5u", "jwk", "cty"] {
        let mut h = std_header();
        h[forbidden] = json!(if forbidden == "b64" { json!(false) } else { json!("x") });
        assert_eq!(code(&token_with_header(&h, &c)), "token_malformed", "with {forbidden}");
    }
    // Other header fields are ignored.
    let mut h = std_header();
    h["x-note"] = json!("hello");
    assert_eq!(code(&token_with_header(&h, &c)), "allowed");
}

#[test]
fn typ_must_be_jit_approval() {
    let c = claims();
    let mut h = std_header();
    h.as_object_mut().unwrap().remove("typ");
    assert_eq!(code(&token_with_header(&h, &c)), "token_type");
    for bad in ["JWT", "at+jwt", "application/jwt", "jit-approval"] {
        h["typ"] = json!(bad);
        assert_eq!(code(&token_with_header(&h, &c)), "token_type", "{bad}");
    }
    for ok in ["JIT-APPROVAL+JWT", "application/jit-approval+jwt"] {
        h["typ"] = json!(ok);
        assert_eq!(code(&token_with_header(&h, &c)), "allowed", "{ok}");
    }
}

#[test]
fn alg_none_hs_and_case_variants_are_refused() {
    let c = claims();
    let payload = b64url_encode(c.to_string().as_bytes());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = b64url_encode(
            json!({"alg": alg, "typ": "jit-approval+jwt", "kid": "ed1"})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(code(&format!("{h}.{payload}.")), "token_algorithm", "{alg} unsigned");
    }
    for alg in [
        "HS256", "RS256", "PS256", "ES384", "ES512", "eddsa", "EDDSA", "es256", "Ed25519",
    ] {
        let mut h = std_header();
        h["alg"] = json!(alg);
        assert_eq!(code(&token_with_header(&h, &c)), "token_algorithm", "{alg}");
    }
}

#[test]
fn the_key_fixes_the_algorithm() {
    // An ES256 header on the Ed25519 key (and the reverse) is refused before any crypto.
    let mut h = std_header();
    h["alg"] = json!("ES256");
    assert_eq!(code(&token_with_header(&h, &claims())), "token_algorithm");
    let h = json!({"alg": "EdDSA", "typ": "jit-approval+jwt", "kid": "ec1"});
    assert_eq!(
        code(&mint::sign(h.as_object().unwrap(), &claims(), &ed_key())),
        "token_algorithm"
    );
}

// --- issuer, kid, signature ---------------------------------------------------------

#[test]
fn issuer_must_be_configured() {
    assert_eq!(
        code(&token(&with(claims(), &["iss"], json!("https://evil.example.com")))),
        "token_issuer"
    );
    assert_eq!(code(&token(&without(claims(), &["iss"]))), "token_malformed");
    assert_eq!(code(&token(&with(claims(), &["iss"], json!(7)))), "token_malformed");
}

#[test]
fn kid_must_name_a_key_of_the_issuer() {
    let mut h = std_header();
    h["kid"] = json!("nope");
    assert_eq!(code(&token_with_header(&h, &claims())), "token_key_unknown");
}

#[test]
fn signatures_that_do_not_verify() {
    let good = token(&claims());
    let (input, sig) = good.rsplit_once('.').unwrap();
    let sig_bytes = jitgate_core::unstable::jws::b64url_decode(sig).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("flipped bit", {
            let mut s = sig_bytes.clone();
            s[10] ^= 1;
            s
        }),
        ("truncated", sig_bytes[..63].to_vec()),
        ("extended", [sig_bytes.clone(), vec![0]].concat()),
        ("empty", vec![]),
        ("zero", vec![0; 64]),
    ];
    for (name, bytes) in cases {
        assert_eq!(
            code(&format!("{input}.{}", b64url_encode(&bytes))),
            "token_signature",
            "{name}"
        );
    }
    // Signed by a key that is not the configured one.
    assert_eq!(code(&mint::mint(&claims(), &stranger_key(), "ed1")), "token_signature");
    // Ed25519 with S + L (non-canonical scalar) is refused by strict verification.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut s = sig_bytes.clone();
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(s[32 + i]) + u16::from(L[i]) + carry;
        s[32 + i] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    assert_eq!(
        code(&format!("{input}.{}", b64url_encode(&s))),
        "token_signature",
        "S + L"
    );
}

#[test]
fn es256_signature_must_be_raw_r_s() {
    let good = es_token(&claims());
    let (input, sig) = good.rsplit_once('.').unwrap();
    let raw = jitgate_core::unstable::jws::b64url_decode(sig).unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&raw).unwrap();
    let der = sig.to_der();
    assert_eq!(
        code(&format!("{input}.{}", b64url_encode(der.as_bytes()))),
        "token_signature",
        "DER"
    );
    assert_eq!(
        code(&format!("{input}.{}", b64url_encode(&[0u8; 64]))),
        "token_signature",
        "zero"
    );
    // The high-S twin of a valid signature is valid ECDSA (Wycheproof P1363 agrees).
    let high = p256::ecdsa::Signature::from_scalars(sig.r(), -*sig.s()).unwrap();
    assert_eq!(code(&format!("{input}.{}", b64url_encode(&high.to_bytes()))), "allowed");
}

// --- claims -----------------------------------------------------------------------

#[test]
fn required_claims_and_types() {
    for name in ["sub", "aud", "iat", "nbf", "exp", "jti", "jit"] {
        assert_eq!(
            code(&token(&without(claims(), &[name]))),
            "token_malformed",
            "without {name}"
        );
    }
    assert_eq!(
        code(&token(&without(claims(), &["jit", "resource"]))),
        "token_malformed"
    );
    let bad_values: Vec<(&[&str], Value)> = vec![
        (&["sub"], json!(42)),
        (&["sub"], json!("")),
        (&["jti"], json!(["a"])),
        (&["aud"], json!(7)),
        (&["aud"], json!([])),
        (&["aud"], json!([AUDIENCE, 7])),
        (&["exp"], json!(1.5)),
        (&["exp"], json!((NOW_S + 3600) as f64)),
        (&["exp"], json!("1795690800")),
        (&["nbf"], json!(-1)),
        (&["iat"], json!(9_007_199_254_740_992u64)),
        (&["iat"], json!(null)),
        (&["jit"], json!("test-database")),
        (&["jit", "resource"], json!(5)),
        (&["jit", "resource"], json!([])),
        (&["jit", "resource"], json!(["test-database", 5])),
        (&["jit", "role"], json!(["developer"])),
        (&["jit", "actions"], json!("read")),
        (&["jit", "approvers"], json!([1])),
        (&["jit", "ticket"], json!(7)),
        (&["cnf"], json!("x")),
        (&["cnf"], json!({"jkt": "abc"})),
        (&["cnf"], json!({"x5t#S256": "not base64!"})),
        (&["cnf"], json!({"x5t#S256": b64url_encode(&[1; 20])})),
    ];
    for (path, value) in bad_values {
        assert_eq!(
            code(&token(&with(claims(), path, value.clone()))),
            "token_malformed",
            "{path:?} = {value}"
        );
    }
    // The largest time allowed is 2^53 - 1: the window is then just malformed by length or time, not type.
    assert_ne!(
        code(&token(&with(claims(), &["iat"], json!(9_007_199_254_740_991u64)))),
        "token_malformed"
    );
}

#[test]
fn audience_must_contain_the_configured_one() {
    assert_eq!(
        code(&token(&with(claims(), &["aud"], json!("other-gateway")))),
        "token_audience"
    );
    assert_eq!(
        code(&token(&with(claims(), &["aud"], json!(["a", AUDIENCE])))),
        "allowed"
    );
    assert_eq!(
        code(&token(&with(claims(), &["aud"], json!(["a", "b"])))),
        "token_audience"
    );
}

#[test]
fn window_must_be_ordered_and_not_too_long() {
    let c = with(claims(), &["exp"], json!(NOW_S - 60));
    assert_eq!(code(&token(&c)), "token_malformed", "nbf == exp");
    let c = with(claims(), &["exp"], json!(NOW_S - 61));
    assert_eq!(code(&token(&c)), "token_malformed", "nbf > exp");
    let c = with(claims(), &["exp"], json!(NOW_S - 60 + 43_200));
    assert_eq!(code(&token(&c)), "allowed", "exactly max_ttl_s");
    let c = with(claims(), &["exp"], json!(NOW_S - 60 + 43_201));
    assert_eq!(code(&token(&c)), "token_window_too_long");
}

// --- time -------------------------------------------------------------------------

#[test]
fn time_window_with_leeway() {
    let c = claims();
    let t = token(&c);
    let nbf = (NOW_S - 60) * SEC;
    let exp = (NOW_S + 3600) * SEC;
    let leeway = 30 * SEC;
    assert_eq!(decide_token(&t, nbf - leeway).reason.code(), "allowed");
    assert_eq!(decide_token(&t, nbf - leeway - 1).reason.code(), "token_not_yet_valid");
    assert_eq!(decide_token(&t, exp + leeway - 1).reason.code(), "allowed");
    assert_eq!(decide_token(&t, exp + leeway).reason.code(), "token_expired");
    // iat in the future beyond the leeway.
    let c = with(claims(), &["iat"], json!(NOW_S + 31));
    assert_eq!(code(&token(&c)), "token_not_yet_valid");
    let c = with(claims(), &["iat"], json!(NOW_S + 30));
    assert_eq!(code(&token(&c)), "allowed");
}

#[test]
fn leeway_is_per_issuer() {
    let mut cfg = config_with(TOKEN_ONLY_POLICY);
    cfg["issuers"][0]["leeway_s"] = json!(0);
    let g = gate(&cfg);
    let t = token(&claims());
    let exp = (NOW_S + 3600) * SEC;
    assert_eq!(g.decide(&request_with(&t), exp - 1).reason.code(), "allowed");
    assert_eq!(g.decide(&request_with(&t), exp).reason.code(), "token_expired");
}

// --- resource, revocation, identity, binding ---------------------------------------

#[test]
fn resource_must_match_the_configured_one() {
    assert_eq!(
        code(&token(&with(claims(), &["jit", "resource"], json!("prod-database")))),
        "token_resource_mismatch"
    );
    assert_eq!(
        code(&token(&with(
            claims(),
            &["jit", "resource"],
            json!(["a", "test-database"])
        ))),
        "allowed"
    );
    // Without a configured resource any resource passes the token layer.
    let mut cfg = config_with(TOKEN_ONLY_POLICY);
    cfg.as_object_mut().unwrap().remove("resource");
    let t = token(&with(claims(), &["jit", "resource"], json!("prod-database")));
    assert_eq!(gate(&cfg).decide(&request_with(&t), NOW).reason.code(), "allowed");
}

#[test]
fn revoked_approvals_grant_nothing() {
    let mut cfg = config_with(TOKEN_ONLY_POLICY);
    cfg["revoked"] = json!(["appr-0", "appr-1"]);
    let g = gate(&cfg);
    assert_eq!(
        g.decide(&request_with(&token(&claims())), NOW).reason.code(),
        "token_revoked"
    );
    let other = token(&with(claims(), &["jti"], json!("appr-2")));
    assert_eq!(g.decide(&request_with(&other), NOW).reason.code(), "allowed");
}

#[test]
fn identity_header_must_equal_sub() {
    let mut cfg = config_with(TOKEN_ONLY_POLICY);
    cfg["identity"] = json!({"header": "x-authenticated-user"});
    let g = gate(&cfg);
    let t = token(&claims());
    assert_eq!(g.decide(&request_with(&t), NOW).reason.code(), "token_subject_mismatch");
    let r = request_with(&t).header("x-authenticated-user", "mallory@example.com");
    assert_eq!(g.decide(&r, NOW).reason.code(), "token_subject_mismatch");
    let r = request_with(&t).header("X-Authenticated-User", "alice@example.com");
    assert_eq!(g.decide(&r, NOW).reason.code(), "allowed");
}

#[test]
fn identity_peer_principal_must_equal_sub() {
    let mut cfg = config_with(TOKEN_ONLY_POLICY);
    cfg["identity"] = json!({"source": "peer_principal"});
    let g = gate(&cfg);
    let t = token(&with(claims(), &["sub"], json!("spiffe://corp/alice")));
    assert_eq!(g.decide(&request_with(&t), NOW).reason.code(), "token_subject_mismatch");
    let r = request_with(&t).principal("spiffe://corp/bob");
    assert_eq!(g.decide(&r, NOW).reason.code(), "token_subject_mismatch");
    let r = request_with(&t).principal("spiffe://corp/alice");
    assert_eq!(g.decide(&r, NOW).reason.code(), "allowed");
}

#[test]
fn cnf_binds_the_token_to_a_client_certificate() {
    let digest = b64url_encode(&[7u8; 32]);
    let t = token(&with(claims(), &["cnf"], json!({"x5t#S256": digest})));
    let g = gate(&config_with(TOKEN_ONLY_POLICY));
    assert_eq!(g.decide(&request_with(&t), NOW).reason.code(), "token_binding_mismatch");
    let r = request_with(&t).certificate_sha256(b64url_encode(&[8u8; 32]));
    assert_eq!(g.decide(&r, NOW).reason.code(), "token_binding_mismatch");
    let r = request_with(&t).certificate_sha256(digest);
    assert_eq!(g.decide(&r, NOW).reason.code(), "allowed");
}

// --- which code when a token has several faults -------------------------------------

#[test]
fn the_first_failing_check_decides_the_code() {
    let expired_wrong_aud = with(with(claims(), &["exp"], json!(NOW_S - 10)), &["aud"], json!("x"));
    assert_eq!(
        code(&token(&expired_wrong_aud)),
        "token_audience",
        "audience before time"
    );

    let mut h = std_header();
    h["alg"] = json!("none");
    h["kid"] = json!("nope");
    assert_eq!(
        code(&token_with_header(&h, &claims())),
        "token_algorithm",
        "alg before kid"
    );

    let mut h = std_header();
    h.as_object_mut().unwrap().remove("typ");
    h["alg"] = json!("HS256");
    assert_eq!(code(&token_with_header(&h, &claims())), "token_type", "typ before alg");

    let mut h = std_header();
    h.as_object_mut().unwrap().remove("typ");
    h["jku"] = json!("https://evil");
    assert_eq!(
        code(&token_with_header(&h, &claims())),
        "token_malformed",
        "header fields before typ"
    );

    let unknown_iss_bad_kid = with(claims(), &["iss"], json!("https://evil"));
    let mut h = std_header();
    h["kid"] = json!("nope");
    assert_eq!(
        code(&token_with_header(&h, &unknown_iss_bad_kid)),
        "token_issuer",
        "issuer before kid"
    );

    // A bad signature hides every claim problem.
    let bad_claims = with(without(claims(), &["sub"]), &["exp"], json!(NOW_S - 3600));
    let forged = mint::mint(&bad_claims, &stranger_key(), "ed1");
    assert_eq!(code(&forged), "token_signature", "signature before claims");

    let missing_sub_wrong_aud = with(without(claims(), &["sub"]), &["aud"], json!("x"));
    assert_eq!(
        code(&token(&missing_sub_wrong_aud)),
        "token_malformed",
        "claims before audience"
    );

    let long_and_expired = with(
        with(claims(), &["nbf"], json!(NOW_S - 50_000)),
        &["exp"],
        json!(NOW_S - 100),
    );
    assert_eq!(
        code(&token(&long_and_expired)),
        "token_window_too_long",
        "window before time"
    );

    let expired_other_resource = with(
        with(
            with(claims(), &["nbf"], json!(NOW_S - 3600)),
            &["exp"],
            json!(NOW_S - 100),
        ),
        &["jit", "resource"],
        json!("prod-database"),
    );
    assert_eq!(
        code(&token(&expired_other_resource)),
        "token_expired",
        "time before resource"
    );

    let mut cfg = config_with(TOKEN_ONLY_POLICY);
    cfg["revoked"] = json!(["appr-1"]);
    cfg["identity"] = json!({"header": "x-authenticated-user"});
    let g = gate(&cfg);
    let t = token(&with(claims(), &["jit", "resource"], json!("prod-database")));
    assert_eq!(
        g.decide(&request_with(&t), NOW).reason.code(),
        "token_resource_mismatch",
        "resource before revocation"
    );
    let t = token(&with(claims(), &["cnf"], json!({"x5t#S256": b64url_encode(&[7; 32])})));
    assert_eq!(
        g.decide(&request_with(&t), NOW).reason.code(),
        "token_revoked",
        "revocation before identity"
    );
    let t = token(&with(
        with(claims(), &["jti"], json!("appr-9")),
        &["cnf"],
        json!({"x5t#S256": b64url_encode(&[7; 32])}),
    ));
    assert_eq!(
        g.decide(&request_with(&t), NOW).reason.code(),
        "token_subject_mismatch",
        "identity before binding"
    );
}

#[test]
fn every_code_is_reachable() {
    // Guards the list above: each code of DESIGN §3 is produced by some test here.
    let mut cfg = config_with(TOKEN_ONLY_POLICY);
    cfg["revoked"] = json!(["revoked-1"]);
    cfg["identity"] = json!({"header": "x-user"});
    let g = gate(&cfg);
    let user = |r: jitgate_core::Request| r.header("x-user", "alice@example.com");
    let mut h = std_header();
    let cases: Vec<(&str, jitgate_core::Request)> = vec![
        ("token_missing", user(jitgate_core::Request::new("GET", "/"))),
        ("token_malformed", user(request_with("a.b"))),
        ("token_type", {
            h["typ"] = json!("JWT");
            user(request_with(&token_with_header(&h, &claims())))
        }),
        ("token_algorithm", {
            h = std_header();
            h["alg"] = json!("none");
            user(request_with(&token_with_header(&h, &claims())))
        }),
        ("token_key_unknown", {
            h = std_header();
            h["kid"] = json!("zz");
            user(request_with(&token_with_header(&h, &claims())))
        }),
        (
            "token_signature",
            user(request_with(&mint::mint(&claims(), &stranger_key(), "ed1"))),
        ),
        (
            "token_issuer",
            user(request_with(&token(&with(claims(), &["iss"], json!("x"))))),
        ),
        (
            "token_audience",
            user(request_with(&token(&with(claims(), &["aud"], json!("x"))))),
        ),
        (
            "token_not_yet_valid",
            user(request_with(&token(&with(claims(), &["nbf"], json!(NOW_S + 100))))),
        ),
        (
            "token_expired",
            user(request_with(&token(&with(claims(), &["exp"], json!(NOW_S - 31))))),
        ),
        (
            "token_window_too_long",
            user(request_with(&token(&with(claims(), &["exp"], json!(NOW_S + 90_000))))),
        ),
        (
            "token_revoked",
            user(request_with(&token(&with(claims(), &["jti"], json!("revoked-1"))))),
        ),
        (
            "token_status_unknown",
            user(request_with(&token(&with(
                claims(),
                &["status"],
                json!({"status_list": {"idx": 0, "uri": "https://approvals.example.com/v1/status-lists/0"}}),
            )))),
        ),
        (
            "token_resource_mismatch",
            user(request_with(&token(&with(claims(), &["jit", "resource"], json!("x"))))),
        ),
        ("token_subject_mismatch", request_with(&token(&claims()))),
        (
            "token_binding_mismatch",
            user(request_with(&token(&with(
                claims(),
                &["cnf"],
                json!({"x5t#S256": b64url_encode(&[1; 32])}),
            )))),
        ),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (want, request) in cases {
        let d = g.decide(&request, NOW);
        assert_eq!(d.reason.code(), want);
        assert_eq!(d.status, 401, "{want}");
        seen.insert(want);
    }
    // `revocations_stale` needs an issuer with a feed whose list has not arrived.
    let mut fed = cfg.clone();
    fed["issuers"][0]["feed"] = json!({"cluster": "approvals"});
    let d = gate(&fed).decide(&user(request_with(&token(&claims()))), NOW);
    assert_eq!((d.status, d.reason.code()), (401, "revocations_stale"));
    seen.insert("revocations_stale");
    assert_eq!(seen.len(), jitgate_core::TokenError::ALL.len());
}
