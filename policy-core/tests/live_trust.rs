//! Live trust (docs/live-trust.md): revocation lists, Token Status Lists and key sets
//! installed into a running `Gate`, every refusal rule, staleness both ways, and
//! `decide` consulting each — with documents minted here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use jitgate_core::{Algorithm, FeedErrorCode, Gate};
use jitgate_core::{KEY_SET_TYPE, MAX_DOCUMENT_BYTES, REVOCATIONS_TYPE, STATUS_LIST_TYPE};
use jitgate_mint::{self as mint, SigningKey};
use serde_json::{json, Value};

const LIST_URI: &str = "https://approvals.example.com/v1/status-lists/0";

fn feed() -> Value {
    json!({"cluster": "approvals", "status_lists": {LIST_URI: "/v1/status-lists/0"}})
}

fn config_feed(feed: Value) -> Value {
    let mut config = config_with(TOKEN_ONLY_POLICY);
    config["issuers"][0]["feed"] = feed;
    config
}

fn feed_gate() -> Gate {
    gate(&config_feed(feed()))
}

fn revocations(seq: u64, revoked: &[&str]) -> Value {
    json!({"iss": ISSUER, "iat": NOW_S, "exp": NOW_S + 3600, "seq": seq, "revoked": revoked})
}

fn signed(typ: &str, payload: &Value) -> String {
    mint::sign_document(typ, payload, &ed_key(), "ed1")
}

fn install_revocations(gate: &Gate, payload: &Value, now: i64) -> Result<jitgate_core::FeedState, FeedErrorCode> {
    gate.install_revocations(ISSUER, &signed(REVOCATIONS_TYPE, payload), now)
        .map_err(|e| e.code)
}

fn status_list(bits: u8, statuses: &[u8]) -> Value {
    json!({"iss": ISSUER, "sub": LIST_URI, "iat": NOW_S, "exp": NOW_S + 3600, "ttl": 5,
           "status_list": {"bits": bits, "lst": mint::status_list_lst(bits, statuses).unwrap()}})
}

fn with_status(idx: u64) -> Value {
    let mut c = claims();
    c["status"] = json!({"status_list": {"idx": idx, "uri": LIST_URI}});
    c
}

fn reason(gate: &Gate, token: &str, now: i64) -> &'static str {
    gate.decide(&request_with(token), now).reason.code()
}

/// A gate holding an empty revocation list installed at NOW.
fn ready_gate() -> Gate {
    let gate = feed_gate();
    install_revocations(&gate, &revocations(1, &[]), NOW).unwrap();
    gate
}

// ---------------------------------------------------------------- revocation lists

#[test]
fn a_revocation_list_revokes_at_the_next_decision() {
    let gate = ready_gate();
    let t = token(&claims());
    assert_eq!(reason(&gate, &t, NOW), "allowed");
    let state = install_revocations(&gate, &revocations(2, &["appr-1", "appr-9"]), NOW + SEC).unwrap();
    assert_eq!((state.seq, state.entries, state.changed), (Some(2), 2, true));
    let d = gate.decide(&request_with(&t), NOW + 2 * SEC);
    assert_eq!((d.status, d.reason.code()), (401, "token_revoked"));
    assert!(
        d.audit.detail.as_deref().unwrap().contains("seq 2"),
        "{:?}",
        d.audit.detail
    );
    // Un-revoked by a newer list.
    install_revocations(&gate, &revocations(3, &["appr-9"]), NOW + 3 * SEC).unwrap();
    assert_eq!(reason(&gate, &t, NOW + 3 * SEC), "allowed");
}

#[test]
fn older_lists_are_refused_and_the_last_good_one_stays() {
    let gate = feed_gate();
    install_revocations(&gate, &revocations(5, &["appr-1"]), NOW).unwrap();
    // Lower seq.
    assert_eq!(
        install_revocations(&gate, &revocations(4, &[]), NOW).unwrap_err(),
        FeedErrorCode::Rollback
    );
    // Same seq, issued earlier, other ids.
    let mut older = revocations(5, &[]);
    older["iat"] = json!(NOW_S - 10);
    assert_eq!(
        install_revocations(&gate, &older, NOW).unwrap_err(),
        FeedErrorCode::Rollback
    );
    // Same seq and ids, signed earlier (another replica): a confirmation, not a refusal.
    let mut replica = revocations(5, &["appr-1"]);
    replica["iat"] = json!(NOW_S - 10);
    let state = install_revocations(&gate, &replica, NOW + 50 * SEC).unwrap();
    assert!(!state.changed);
    assert_eq!(state.issued_at, Some(NOW_S as u64));
    assert_eq!(gate.trust_status(NOW + 50 * SEC)[0].revocations_age_s, Some(0));
    assert_eq!(reason(&gate, &token(&claims()), NOW), "token_revoked");
    // The same list again is fine and changes nothing.
    let again = install_revocations(&gate, &revocations(5, &["appr-1"]), NOW).unwrap();
    assert!(!again.changed);
}

#[test]
fn every_refusal_rule_of_a_document() {
    let gate = ready_gate();
    let good = revocations(9, &["appr-1"]);
    let cases: Vec<(&str, String, FeedErrorCode)> = vec![
        (
            "signed by a key the issuer does not have, under a known kid",
            mint::sign_document(REVOCATIONS_TYPE, &good, &stranger_key(), "ed1"),
            FeedErrorCode::Signature,
        ),
        (
            "unknown kid",
            mint::sign_document(REVOCATIONS_TYPE, &good, &stranger_key(), "other"),
            FeedErrorCode::KeyUnknown,
        ),
        ("wrong typ", signed("jit-approval+jwt", &good), FeedErrorCode::Type),
        (
            "a status-list typ",
            signed(STATUS_LIST_TYPE, &good),
            FeedErrorCode::Type,
        ),
        (
            "no typ",
            mint::sign(
                json!({"alg": "EdDSA", "kid": "ed1"}).as_object().unwrap(),
                &good,
                &ed_key(),
            ),
            FeedErrorCode::Type,
        ),
        (
            "alg none",
            mint::sign(
                json!({"alg": "none", "kid": "ed1", "typ": REVOCATIONS_TYPE})
                    .as_object()
                    .unwrap(),
                &good,
                &ed_key(),
            ),
            FeedErrorCode::Algorithm,
        ),
        (
            "alg of another key",
            mint::sign(
                json!({"alg": "ES256", "kid": "ed1", "typ": REVOCATIONS_TYPE})
                    .as_object()
                    .unwrap(),
                &good,
                &ed_key(),
            ),
            FeedErrorCode::Algorithm,
        ),
        (
            "jku header",
            mint::sign(
                json!({"alg": "EdDSA", "kid": "ed1", "typ": REVOCATIONS_TYPE, "jku": "https://x"})
                    .as_object()
                    .unwrap(),
                &good,
                &ed_key(),
            ),
            FeedErrorCode::Malformed,
        ),
        (
            "another issuer",
            signed(REVOCATIONS_TYPE, &{
                let mut p = good.clone();
                p["iss"] = json!("https://evil.example.com");
                p
            }),
            FeedErrorCode::Issuer,
        ),
        (
            "expired",
            signed(REVOCATIONS_TYPE, &{
                let mut p = good.clone();
                p["iat"] = json!(NOW_S - 7200);
                p["exp"] = json!(NOW_S - 3600);
                p
            }),
            FeedErrorCode::Expired,
        ),
        (
            "issued in the future",
            signed(REVOCATIONS_TYPE, &{
                let mut p = good.clone();
                p["iat"] = json!(NOW_S + 600);
                p["exp"] = json!(NOW_S + 7200);
                p
            }),
            FeedErrorCode::NotYetValid,
        ),
        (
            "no seq",
            signed(
                REVOCATIONS_TYPE,
                &json!({"iss": ISSUER, "iat": NOW_S, "exp": NOW_S + 60, "revoked": []}),
            ),
            FeedErrorCode::Malformed,
        ),
        (
            "seq not an integer",
            signed(REVOCATIONS_TYPE, &{
                let mut p = good.clone();
                p["seq"] = json!(9.5);
                p
            }),
            FeedErrorCode::Malformed,
        ),
        (
            "revoked not a list of strings",
            signed(REVOCATIONS_TYPE, &{
                let mut p = good.clone();
                p["revoked"] = json!(["ok", 7]);
                p
            }),
            FeedErrorCode::Malformed,
        ),
        (
            "duplicate member",
            mint::sign_raw(
                format!(r#"{{"alg":"EdDSA","kid":"ed1","typ":"{REVOCATIONS_TYPE}"}}"#).as_bytes(),
                format!(
                    r#"{{"iss":"{ISSUER}","iat":{NOW_S},"exp":{},"seq":9,"revoked":["appr-1"],"revoked":[]}}"#,
                    NOW_S + 60
                )
                .as_bytes(),
                &ed_key(),
            ),
            FeedErrorCode::Malformed,
        ),
        ("not a JWS", "hello".into(), FeedErrorCode::Malformed),
        (
            "padding",
            format!("{}=", signed(REVOCATIONS_TYPE, &good)),
            FeedErrorCode::Malformed,
        ),
        ("too large", "a".repeat(MAX_DOCUMENT_BYTES + 1), FeedErrorCode::TooLarge),
    ];
    for (name, text, code) in cases {
        let err = gate.install_revocations(ISSUER, &text, NOW).unwrap_err();
        assert_eq!(err.code, code, "{name}: {err}");
        assert!(!err.detail.is_empty(), "{name}");
    }
    // None of them changed what the gate knows.
    assert_eq!(reason(&gate, &token(&claims()), NOW), "allowed");
    assert_eq!(gate.trust_status(NOW)[0].revocations_seq, Some(1));
    // A trailing newline (a file, an HTTP body) is not part of the document.
    let text = format!("{}\n", signed(REVOCATIONS_TYPE, &good));
    gate.install_revocations(ISSUER, &text, NOW).unwrap();
    assert_eq!(reason(&gate, &token(&claims()), NOW), "token_revoked");
}

#[test]
fn documents_for_issuers_without_a_feed_are_refused() {
    let plain = gate(&config_with(TOKEN_ONLY_POLICY));
    let text = signed(REVOCATIONS_TYPE, &revocations(1, &["appr-1"]));
    assert_eq!(
        plain.install_revocations(ISSUER, &text, NOW).unwrap_err().code,
        FeedErrorCode::NotConfigured
    );
    let with_feed = feed_gate();
    assert_eq!(
        with_feed
            .install_revocations("https://other.example.com", &text, NOW)
            .unwrap_err()
            .code,
        FeedErrorCode::NotConfigured
    );
    // Without a feed, the configuration is the whole trust state: no staleness.
    assert_eq!(reason(&plain, &token(&claims()), NOW), "allowed");
}

#[test]
fn a_large_list_installs_and_decides() {
    let ids: Vec<String> = (0..100_000).map(|i| format!("jit_{i:032x}")).collect();
    let payload = json!({"iss": ISSUER, "iat": NOW_S, "exp": NOW_S + 3600, "seq": 7, "revoked": ids});
    let text = signed(REVOCATIONS_TYPE, &payload);
    assert!(text.len() < MAX_DOCUMENT_BYTES, "{} bytes", text.len());
    let gate = feed_gate();
    let state = gate.install_revocations(ISSUER, &text, NOW).unwrap();
    assert_eq!(state.entries, 100_000);
    assert_eq!(reason(&gate, &token(&claims()), NOW), "allowed");
    let mut revoked = claims();
    revoked["jti"] = json!(format!("jit_{:032x}", 99_999));
    assert_eq!(reason(&gate, &token(&revoked), NOW), "token_revoked");
}

// ---------------------------------------------------------------- staleness

#[test]
fn no_list_yet_is_stale_and_denies() {
    let gate = feed_gate();
    let d = gate.decide(&request_with(&token(&claims())), NOW);
    assert_eq!((d.status, d.reason.code()), (401, "revocations_stale"));
    assert!(d.audit.detail.as_deref().unwrap().contains("no revocation list"));
    // A request without a token is still token_missing.
    let none = gate.decide(&jitgate_core::Request::new("GET", "/orders"), NOW);
    assert_eq!(none.reason.code(), "token_missing");
}

#[test]
fn knowledge_goes_stale_after_max_stale_s_and_a_confirmation_renews_it() {
    let gate = ready_gate(); // max_stale_s 60 (default)
    let t = token(&claims());
    assert_eq!(reason(&gate, &t, NOW + 60 * SEC), "allowed");
    assert_eq!(reason(&gate, &t, NOW + 61 * SEC), "revocations_stale");
    assert!(gate.trust_status(NOW + 61 * SEC)[0].stale);
    // A 304 from the feed says the installed list is still current.
    let state = gate.confirm_current(ISSUER, None, NOW + 61 * SEC).unwrap();
    assert!(!state.changed);
    assert_eq!(reason(&gate, &t, NOW + 62 * SEC), "allowed");
    assert_eq!(gate.trust_status(NOW + 71 * SEC)[0].revocations_age_s, Some(10));
    // Past its own `exp`, no confirmation helps.
    gate.confirm_current(ISSUER, None, NOW + 3600 * SEC).unwrap();
    assert_eq!(reason(&gate, &t, NOW + 3600 * SEC), "revocations_stale");
}

#[test]
fn on_stale_allow_serves_the_last_list_and_says_so() {
    let mut feed = feed();
    feed["on_stale"] = json!("allow");
    feed["max_stale_s"] = json!(30);
    let gate = gate(&config_feed(feed));
    let t = token(&claims());
    // Nothing installed yet: served, marked stale.
    let d = gate.decide(&request_with(&t), NOW);
    assert!(d.allow && d.trust_stale);
    assert!(d.counters().contains(&"jitgate.feed.served_stale".to_string()));
    install_revocations(&gate, &revocations(1, &["appr-2"]), NOW).unwrap();
    let fresh = gate.decide(&request_with(&t), NOW + 30 * SEC);
    assert!(fresh.allow && !fresh.trust_stale);
    let stale = gate.decide(&request_with(&t), NOW + 31 * SEC);
    assert!(stale.allow && stale.trust_stale);
    // A revoked id in the stale list still revokes.
    let mut two = claims();
    two["jti"] = json!("appr-2");
    assert_eq!(reason(&gate, &token(&two), NOW + 31 * SEC), "token_revoked");
}

// ---------------------------------------------------------------- status lists

#[test]
fn status_list_entries_decide_at_every_width() {
    for bits in [1u8, 2, 4, 8] {
        let max = u8::try_from((1u16 << bits) - 1).unwrap();
        let statuses = [0, 1, max, 0, if bits > 1 { 2 } else { 1 }];
        let gate = ready_gate();
        let state = gate
            .install_status_list(
                ISSUER,
                LIST_URI,
                &signed(STATUS_LIST_TYPE, &status_list(bits, &statuses)),
                NOW,
            )
            .unwrap();
        assert!(state.entries >= statuses.len(), "{bits}: {state:?}");
        for (idx, status) in statuses.iter().enumerate() {
            let want = if *status == 0 { "allowed" } else { "token_revoked" };
            let t = token(&with_status(idx as u64));
            assert_eq!(reason(&gate, &t, NOW), want, "bits {bits} idx {idx}");
        }
        // Beyond the list: unknown, never valid.
        let beyond = token(&with_status(state.entries as u64));
        assert_eq!(reason(&gate, &beyond, NOW), "token_status_unknown", "bits {bits}");
    }
}

#[test]
fn a_status_list_the_gate_does_not_hold_is_unknown() {
    let gate = ready_gate();
    // A list the feed names but that has not arrived yet: stale, not unknown.
    assert_eq!(reason(&gate, &token(&with_status(0)), NOW), "revocations_stale");
    let mut other = claims();
    other["status"] = json!({"status_list": {"idx": 0, "uri": "https://elsewhere/1"}});
    assert_eq!(reason(&gate, &token(&other), NOW), "token_status_unknown");
    // Another status mechanism: unknown too; a bad shape is malformed.
    let mut mechanism = claims();
    mechanism["status"] = json!({"other_mechanism": {}});
    assert_eq!(reason(&gate, &token(&mechanism), NOW), "token_status_unknown");
    let mut bad = claims();
    bad["status"] = json!({"status_list": {"idx": "0", "uri": LIST_URI}});
    assert_eq!(reason(&gate, &token(&bad), NOW), "token_malformed");
    // Without a feed the gate holds no list either.
    let plain = gate_without_feed();
    assert_eq!(reason(&plain, &token(&with_status(0)), NOW), "token_status_unknown");
}

fn gate_without_feed() -> Gate {
    gate(&config_with(TOKEN_ONLY_POLICY))
}

#[test]
fn status_list_refusals() {
    let gate = ready_gate();
    let install = |uri: &str, payload: &Value| {
        gate.install_status_list(ISSUER, uri, &signed(STATUS_LIST_TYPE, payload), NOW)
            .map_err(|e| e.code)
    };
    let good = status_list(1, &[0, 1]);
    assert_eq!(
        install("https://approvals.example.com/v1/status-lists/1", &good).unwrap_err(),
        FeedErrorCode::NotConfigured
    );
    let mut sub = good.clone();
    sub["sub"] = json!("https://approvals.example.com/v1/status-lists/9");
    assert_eq!(install(LIST_URI, &sub).unwrap_err(), FeedErrorCode::Subject);
    for (bits, lst) in [(3, mint::status_list_lst(1, &[0]).unwrap()), (1, "!!".into())] {
        let mut bad = good.clone();
        bad["status_list"] = json!({"bits": bits, "lst": lst});
        assert_eq!(install(LIST_URI, &bad).unwrap_err(), FeedErrorCode::Malformed, "{bits}");
    }
    // Not zlib.
    let mut not_zlib = good.clone();
    not_zlib["status_list"]["lst"] = json!(jitgate_core::unstable::jws::b64url_encode(b"plain bytes"));
    assert_eq!(install(LIST_URI, &not_zlib).unwrap_err(), FeedErrorCode::Malformed);
    // A small document that inflates past the bound (a zip bomb).
    let bomb = miniz_oxide_bomb();
    let mut big = good.clone();
    big["status_list"]["lst"] = json!(bomb);
    assert_eq!(install(LIST_URI, &big).unwrap_err(), FeedErrorCode::TooLarge);
    // Rollback by iat.
    install(LIST_URI, &good).unwrap();
    let mut older = good.clone();
    older["iat"] = json!(NOW_S - 1);
    assert_eq!(install(LIST_URI, &older).unwrap_err(), FeedErrorCode::Rollback);
    // The last good list stays.
    assert_eq!(reason(&gate, &token(&with_status(1)), NOW), "token_revoked");
    assert_eq!(reason(&gate, &token(&with_status(0)), NOW), "allowed");
}

/// 64 MiB of zeros, zlib-compressed (about 64 KiB), base64url.
fn miniz_oxide_bomb() -> String {
    let zeros = vec![0u8; 64 << 20];
    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&zeros, 10);
    assert!(compressed.len() < 200_000);
    jitgate_core::unstable::jws::b64url_encode(&compressed)
}

#[test]
fn a_stale_status_list_is_stale() {
    let gate = ready_gate();
    gate.install_status_list(ISSUER, LIST_URI, &signed(STATUS_LIST_TYPE, &status_list(1, &[0])), NOW)
        .unwrap();
    let t = token(&with_status(0));
    gate.confirm_current(ISSUER, None, NOW + 50 * SEC).unwrap(); // the revocation list stays fresh
    assert_eq!(reason(&gate, &t, NOW + 61 * SEC), "revocations_stale");
    gate.confirm_current(ISSUER, Some(LIST_URI), NOW + 61 * SEC).unwrap();
    assert_eq!(reason(&gate, &t, NOW + 62 * SEC), "allowed");
    assert_eq!(
        gate.confirm_current(ISSUER, Some("https://nope/0"), NOW)
            .unwrap_err()
            .code,
        FeedErrorCode::NotInstalled
    );
}

// ---------------------------------------------------------------- key sets

fn new_key() -> SigningKey {
    SigningKey::from_secret(Algorithm::EdDsa, &[0x44; 32]).unwrap()
}

fn key_set(keys: &[Value], iat: i64) -> Value {
    json!({"iss": ISSUER, "iat": iat, "exp": iat + 3600, "keys": keys})
}

#[test]
fn a_rotation_announced_by_the_old_key_then_the_old_key_retires() {
    let gate = ready_gate();
    let old_token = token(&claims());
    let new_token = mint::mint(&claims(), &new_key(), "k2");
    assert_eq!(reason(&gate, &old_token, NOW), "allowed"); // cached now
    assert_eq!(reason(&gate, &new_token, NOW), "token_key_unknown");
    // Announce k2, signed by the trusted ed1.
    let both = key_set(&[ed_key().public_jwk("ed1"), new_key().public_jwk("k2")], NOW_S);
    let state = gate.install_keys(ISSUER, &signed(KEY_SET_TYPE, &both), NOW).unwrap();
    assert_eq!((state.entries, state.changed), (2, true));
    assert_eq!(reason(&gate, &new_token, NOW), "allowed");
    assert_eq!(reason(&gate, &old_token, NOW), "allowed");
    // Retire ed1 (signed by k2, trusted now): its tokens fail, cached or not.
    let only_new = key_set(&[new_key().public_jwk("k2")], NOW_S + 1);
    let text = mint::sign_document(KEY_SET_TYPE, &only_new, &new_key(), "k2");
    gate.install_keys(ISSUER, &text, NOW + SEC).unwrap();
    assert_eq!(reason(&gate, &old_token, NOW + SEC), "token_key_unknown");
    assert_eq!(reason(&gate, &new_token, NOW + SEC), "allowed");
    // A key set signed by the retired key is refused now.
    let back = key_set(&[ed_key().public_jwk("ed1")], NOW_S + 2);
    assert_eq!(
        gate.install_keys(ISSUER, &signed(KEY_SET_TYPE, &back), NOW + SEC)
            .unwrap_err()
            .code,
        FeedErrorCode::KeyUnknown
    );
    // And an older set, even signed by a trusted key, is a rollback.
    let old = key_set(&[new_key().public_jwk("k2"), ed_key().public_jwk("ed1")], NOW_S);
    let text = mint::sign_document(KEY_SET_TYPE, &old, &new_key(), "k2");
    assert_eq!(
        gate.install_keys(ISSUER, &text, NOW + SEC).unwrap_err().code,
        FeedErrorCode::Rollback
    );
}

#[test]
fn key_set_refusals_and_plain_jwks() {
    let gate = ready_gate();
    let stranger = key_set(&[stranger_key().public_jwk("s1")], NOW_S);
    let forged = mint::sign_document(KEY_SET_TYPE, &stranger, &stranger_key(), "s1");
    assert_eq!(
        gate.install_keys(ISSUER, &forged, NOW).unwrap_err().code,
        FeedErrorCode::KeyUnknown
    );
    let empty = key_set(&[], NOW_S);
    assert_eq!(
        gate.install_keys(ISSUER, &signed(KEY_SET_TYPE, &empty), NOW)
            .unwrap_err()
            .code,
        FeedErrorCode::Malformed
    );
    let mut private = ed_key().private_jwk("ed1");
    private["extra"] = json!(1);
    let bad_key = key_set(&[private], NOW_S);
    assert_eq!(
        gate.install_keys(ISSUER, &signed(KEY_SET_TYPE, &bad_key), NOW)
            .unwrap_err()
            .code,
        FeedErrorCode::Malformed
    );
    let plain = json!({"keys": [stranger_key().public_jwk("s1")]}).to_string();
    assert_eq!(
        gate.install_keys(ISSUER, &plain, NOW).unwrap_err().code,
        FeedErrorCode::Unsigned
    );
    assert_eq!(reason(&gate, &token(&claims()), NOW), "allowed");

    // With `unsigned_jwks`, a plain JWKS replaces the keys.
    let mut f = feed();
    f["unsigned_jwks"] = json!(true);
    let open = gate_from(config_feed(f));
    install_revocations(&open, &revocations(1, &[]), NOW).unwrap();
    open.install_keys(ISSUER, &plain, NOW).unwrap();
    assert_eq!(reason(&open, &token(&claims()), NOW), "token_key_unknown");
    let s_token = mint::mint(&claims(), &stranger_key(), "s1");
    assert_eq!(reason(&open, &s_token, NOW), "allowed");
}

fn gate_from(config: Value) -> Gate {
    gate(&config)
}

// ---------------------------------------------------------------- configuration

#[test]
fn feed_configuration_errors_name_the_field() {
    let cases = [
        (json!({}), "issuers[0].feed.cluster"),
        (json!({"cluster": ""}), "issuers[0].feed.cluster"),
        (json!({"cluster": "a", "refresh_s": 0}), "issuers[0].feed.refresh_s"),
        (
            json!({"cluster": "a", "refresh_s": 30, "max_stale_s": 10}),
            "issuers[0].feed.max_stale_s",
        ),
        (
            json!({"cluster": "a", "revocations_path": "v1/revocations"}),
            "issuers[0].feed.revocations_path",
        ),
        (
            json!({"cluster": "a", "jwks_path": "/a b"}),
            "issuers[0].feed.jwks_path",
        ),
        (json!({"cluster": "a", "on_stale": "maybe"}), "issuers[0].feed.on_stale"),
        (json!({"cluster": "a", "timeout_ms": 0}), "issuers[0].feed.timeout_ms"),
        (json!({"cluster": "a", "refresh": 5}), "issuers[0].feed.refresh"),
        (
            json!({"cluster": "a", "status_lists": {"u": "nope"}}),
            "issuers[0].feed.status_lists.u",
        ),
    ];
    for (feed, field) in cases {
        let err = Gate::new(&config_feed(feed.clone()).to_string()).unwrap_err();
        assert_eq!(err.field(), Some(field), "{feed}: {err}");
    }
    let ok = Gate::new(&config_feed(json!({"cluster": "approvals"})).to_string()).unwrap();
    let feeds = ok.feeds();
    assert_eq!(feeds.len(), 1);
    let f = &feeds[0].1;
    assert_eq!((f.authority.as_str(), f.refresh_s, f.max_stale_s), ("approvals", 5, 60));
    assert_eq!(f.revocations_path, "/v1/revocations");
}
