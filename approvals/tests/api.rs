//! The HTTP API over a real socket, on SQLite and (when configured) PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use common::*;
use hyper::Method;
use jitgate_approvals::Clock;
use serde_json::{json, Value};

const ALICE: &str = "alice@example.com"; // a developer: may request
const BOB: &str = "bob@example.com"; // dba: may approve
const CAROL: &str = "carol@example.com"; // dba: may approve
const SAM: &str = "sam@example.com"; // security: admin
const MALLORY: &str = "mallory@example.com"; // nobody

fn now() -> i64 {
    Clock::system().now()
}

async fn fresh(backend: Backend) -> (Place, Svc) {
    let place = place(backend).await;
    let svc = start(settings(&place), Clock::manual(now())).await;
    (place, svc)
}

#[tokio::test]
async fn issued_token_passes_the_gate_and_is_denied_after_revocation() {
    for backend in backends() {
        let (_place, svc) = fresh(backend).await;
        let id = svc.request(ALICE, "developer", 600).await;
        let r = svc
            .post(&format!("/v1/requests/{id}/approve"), BOB, json!({"comment": "ok"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let view = r.json();
        assert_eq!(view["state"], "approved");
        assert_eq!(view["approvals"][0]["approver"], BOB);

        let t = svc.get(&format!("/v1/requests/{id}/token"), Some(ALICE)).await;
        assert_eq!(t.status, 200, "{}", t.text());
        assert_eq!(t.headers["cache-control"], "no-store");
        let token = t.json()["token"].as_str().unwrap().to_owned();
        let jti = t.json()["jti"].as_str().unwrap().to_owned();
        let (header, claims) = jws_parts(&token);
        assert_eq!(header["typ"], "jit-approval+jwt");
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(claims["sub"], ALICE);
        assert_eq!(claims["jit"]["approvers"], json!([BOB]));
        assert_eq!(claims["jit"]["reason"], "incident 42");
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["nbf"].as_i64().unwrap(), 600);
        assert_eq!(
            claims["status"]["status_list"]["uri"],
            "https://approvals.test/v1/status-lists/0"
        );

        // A gate that trusts the published key set and has installed the service's feed
        // documents, fetched over HTTP, lets the token through.
        let jwks = svc.get("/.well-known/jwks.json", None).await.json();
        let t_now = svc.running().state.clock.now() + 1;
        let (g, mut poller) = live_gate(&svc, t_now).await;
        let d = decide(&g, &token, t_now);
        assert!(d.allow, "{:?} {:?}", d.reason, d.audit.detail);
        // Without the feed's documents the same gate configuration lets nothing through:
        // it has received neither the revocation list nor the token's status list.
        let bare = gate(&jwks);
        assert_eq!(decide(&bare, &token, t_now).reason.code(), "revocations_stale");
        let old_revocations = svc.get("/v1/revocations", None).await.text();
        let old_status_list = svc.get("/v1/status-lists/0", None).await.text();

        // A stranger cannot revoke; an approver can.
        svc.post(&format!("/v1/approvals/{jti}/revoke"), MALLORY, json!({"reason": "x"}))
            .await
            .refused(403, "revoke_not_allowed", None);
        let r = svc
            .post(
                &format!("/v1/approvals/{jti}/revoke"),
                BOB,
                json!({"reason": "incident closed"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["state"], "revoked");
        // Idempotent.
        let again = svc
            .post(&format!("/v1/approvals/{jti}/revoke"), BOB, json!({"reason": "again"}))
            .await;
        assert_eq!(again.status, 200);
        assert_eq!(again.json()["revoke_reason"], "incident closed");

        let doc = svc.get("/v1/revocations", None).await;
        assert_eq!(doc.status, 200);
        assert_eq!(doc.headers["content-type"], "application/jit-revocations+jwt");
        let (h, p) = jws_parts(&doc.text());
        assert_eq!(h["typ"], "jit-revocations+jwt");
        assert_eq!(p["iss"], "https://approvals.test");
        assert_eq!(p["seq"], 1);
        assert_eq!(p["revoked"], json!([jti]));
        // The gate only knows what it installed: until it polls, the token still passes.
        assert!(decide(&g, &token, t_now).allow);
        // The next poll installs the new revocation list (seq 1) and status list; the
        // token is revoked at the next decision.
        let polled = poller.sync(&g, &svc, t_now).await;
        let mut polled = polled.into_iter();
        assert!(
            matches!(polled.next(), Some(Polled::NotModified(None))),
            "the key set is unchanged"
        );
        let revocations = polled.next().unwrap().installed();
        assert_eq!(
            (revocations.seq, revocations.entries, revocations.changed),
            (Some(1), 1, true)
        );
        let status = polled.next().unwrap().installed();
        assert!(status.changed);
        assert_eq!(status.entries, 65_536);
        let d = decide(&g, &token, t_now);
        assert!(!d.allow);
        assert_eq!((d.status, d.reason.code()), (401, "token_revoked"));
        // Each document revokes it on its own: the new status list with the old
        // revocation list, and the new revocation list with the old status list.
        let new_revocations = doc.text();
        let t_ns = t_now * 1_000_000_000;
        let uri = status_list_uri(0);
        let by_status = gate(&jwks);
        by_status.install_revocations(ISSUER, &old_revocations, t_ns).unwrap();
        by_status
            .install_status_list(ISSUER, &uri, &svc.get("/v1/status-lists/0", None).await.text(), t_ns)
            .unwrap();
        let d = decide(&by_status, &token, t_now);
        assert_eq!(d.reason.code(), "token_revoked");
        assert!(
            d.audit.detail.as_deref().unwrap().contains("status-list entry"),
            "{:?}",
            d.audit.detail
        );
        let by_list = gate(&jwks);
        by_list.install_revocations(ISSUER, &new_revocations, t_ns).unwrap();
        by_list
            .install_status_list(ISSUER, &uri, &old_status_list, t_ns)
            .unwrap();
        let d = decide(&by_list, &token, t_now);
        assert_eq!(d.reason.code(), "token_revoked");
        assert!(
            d.audit.detail.as_deref().unwrap().contains("seq 1"),
            "{:?}",
            d.audit.detail
        );
        // The list from before the revocation is a rollback now, and the gate keeps seq 1.
        let e = g.install_revocations(ISSUER, &old_revocations, t_ns).unwrap_err();
        assert_eq!(e.code.code(), "rollback", "{e}");
        assert_eq!(decide(&g, &token, t_now).reason.code(), "token_revoked");

        // The status list has the token's bit set.
        let sl = svc.get("/v1/status-lists/0", None).await;
        assert_eq!(sl.status, 200);
        let (h, p) = jws_parts(&sl.text());
        assert_eq!(h["typ"], "statuslist+jwt");
        assert_eq!(p["sub"], "https://approvals.test/v1/status-lists/0");
        assert_eq!(p["status_list"]["bits"], 1);
        let lst = jitgate_core::unstable::jws::b64url_decode(p["status_list"]["lst"].as_str().unwrap()).unwrap();
        let bytes = miniz_oxide::inflate::decompress_to_vec_zlib(&lst).unwrap();
        let idx = claims["status"]["status_list"]["idx"].as_u64().unwrap() as usize;
        assert_eq!(bytes[idx / 8] >> (idx % 8) & 1, 1);
        assert_eq!(bytes.iter().map(|b| b.count_ones()).sum::<u32>(), 1);
        svc.get("/v1/status-lists/1", None)
            .await
            .refused(404, "not_found", None);

        // The token endpoint no longer hands it out.
        svc.get(&format!("/v1/requests/{id}/token"), Some(ALICE))
            .await
            .refused(409, "no_active_grant", None);
        svc.stop().await;
    }
}

#[tokio::test]
async fn every_refusal_has_a_code_and_names_the_field() {
    for backend in backends() {
        let (_place, svc) = fresh(backend).await;
        let base = json!({"resource": "test-database", "role": "developer", "duration_s": 600, "reason": "why"});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            b
        };
        let without = |k: &str| {
            let mut b = base.clone();
            b.as_object_mut().unwrap().remove(k);
            b
        };
        // Identity.
        svc.call(Method::POST, "/v1/requests", None, Some(base.clone()), &[])
            .await
            .refused(401, "unauthenticated", None);
        // Bad input: 400 naming the field.
        svc.post("/v1/requests", ALICE, without("reason"))
            .await
            .refused(400, "missing_field", Some("reason"));
        svc.post("/v1/requests", ALICE, with("reason", json!("   ")))
            .await
            .refused(400, "reason_required", Some("reason"));
        svc.post("/v1/requests", ALICE, with("duration_s", json!("ten")))
            .await
            .refused(400, "invalid_field", Some("duration_s"));
        svc.post("/v1/requests", ALICE, with("duration_s", json!(1.5)))
            .await
            .refused(400, "invalid_field", Some("duration_s"));
        svc.post("/v1/requests", ALICE, with("duration_s", json!(0)))
            .await
            .refused(400, "invalid_field", Some("duration_s"));
        svc.post("/v1/requests", ALICE, with("extra", json!(1)))
            .await
            .refused(400, "unknown_field", Some("extra"));
        svc.post("/v1/requests", ALICE, with("resource", json!("a b")))
            .await
            .refused(400, "invalid_field", Some("resource"));
        svc.post("/v1/requests", ALICE, with("actions", json!(["ok", ""])))
            .await
            .refused(400, "invalid_field", Some("actions[1]"));
        svc.post("/v1/requests", ALICE, with("actions", json!("read")))
            .await
            .refused(400, "invalid_field", Some("actions"));
        let r = svc
            .call(
                Method::POST,
                "/v1/requests",
                Some(ALICE),
                None,
                &[("content-type", "application/json")],
            )
            .await;
        r.refused(400, "missing_field", Some("resource"));
        let r = svc
            .client
            .request(
                hyper::Request::post(format!("{}/v1/requests", svc.base))
                    .header("x-authenticated-user", ALICE)
                    .header("content-type", "application/json")
                    .body(http_body_util::Full::new(hyper::body::Bytes::from_static(
                        b"{\"resource\": ",
                    )))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let r = svc
            .client
            .request(
                hyper::Request::post(format!("{}/v1/requests", svc.base))
                    .header("x-authenticated-user", ALICE)
                    .header("content-type", "text/plain")
                    .body(http_body_util::Full::new(hyper::body::Bytes::from(base.to_string())))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), 415);
        // Policy: duration, ticket, who may request.
        svc.post("/v1/requests", ALICE, with("duration_s", json!(3601)))
            .await
            .refused(400, "duration_too_long", Some("duration_s"));
        svc.post("/v1/requests", ALICE, with("role", json!("admin")))
            .await
            .refused(400, "ticket_required", Some("ticket"));
        svc.post("/v1/requests", CAROL, base.clone())
            .await
            .refused(403, "request_not_allowed", None);
        svc.post("/v1/requests", ALICE, with("resource", json!("other-db")))
            .await
            .refused(403, "request_not_allowed", None);

        // Approvals.
        let id = svc.request(ALICE, "developer", 600).await;
        svc.post(&format!("/v1/requests/{id}/approve"), ALICE, json!({}))
            .await
            .refused(403, "self_approval", None);
        svc.post(&format!("/v1/requests/{id}/approve"), MALLORY, json!({}))
            .await
            .refused(403, "approver_not_allowed", None);
        svc.post(&format!("/v1/requests/{id}/approve"), BOB, json!({"nope": 1}))
            .await
            .refused(400, "unknown_field", Some("nope"));
        svc.post("/v1/requests/req_nope/approve", BOB, json!({}))
            .await
            .refused(404, "not_found", None);
        svc.get("/v1/requests/req_nope", Some(BOB))
            .await
            .refused(404, "not_found", None);
        svc.get(&format!("/v1/requests/{id}/token"), Some(ALICE))
            .await
            .refused(409, "not_issued", None);
        svc.get(&format!("/v1/requests/{id}/token"), Some(BOB))
            .await
            .refused(403, "not_requester", None);
        svc.post("/v1/approvals/jit_nope/revoke", BOB, json!({"reason": "x"}))
            .await
            .refused(404, "not_found", None);
        // Deny, then approval is a conflict; the same deny again is idempotent.
        let r = svc
            .post(&format!("/v1/requests/{id}/deny"), BOB, json!({"comment": "no"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["state"], "denied");
        assert_eq!(
            svc.post(&format!("/v1/requests/{id}/deny"), BOB, json!({}))
                .await
                .status,
            200
        );
        svc.post(&format!("/v1/requests/{id}/approve"), BOB, json!({}))
            .await
            .refused(409, "already_decided", None);
        svc.post(&format!("/v1/requests/{id}/approve"), CAROL, json!({}))
            .await
            .refused(409, "request_not_pending", None);
        // Revocation needs a reason.
        let id2 = svc.request(ALICE, "developer", 600).await;
        svc.post(&format!("/v1/requests/{id2}/approve"), BOB, json!({})).await;
        let jti = svc.get(&format!("/v1/requests/{id2}"), Some(ALICE)).await.json()["jti"]
            .as_str()
            .unwrap()
            .to_owned();
        svc.post(&format!("/v1/approvals/{jti}/revoke"), ALICE, json!({}))
            .await
            .refused(400, "missing_field", Some("reason"));
        // The requester may end their own grant early.
        assert_eq!(
            svc.post(&format!("/v1/approvals/{jti}/revoke"), ALICE, json!({"reason": "done"}))
                .await
                .status,
            200
        );
        // Listing.
        svc.get("/v1/requests?state=bogus", Some(BOB))
            .await
            .refused(400, "invalid_field", Some("state"));
        svc.get("/v1/requests?colour=red", Some(BOB))
            .await
            .refused(400, "unknown_parameter", Some("colour"));
        svc.get("/v1/requests?limit=0", Some(BOB))
            .await
            .refused(400, "invalid_field", Some("limit"));
        let denied = svc.get("/v1/requests?state=denied", Some(BOB)).await.json();
        assert_eq!(denied["requests"].as_array().unwrap().len(), 1);
        assert_eq!(denied["requests"][0]["id"], id.as_str());
        assert!(denied["requests"][0].get("token").is_none());
        let all = svc.get("/v1/requests", Some(BOB)).await.json();
        assert_eq!(all["requests"].as_array().unwrap().len(), 2);
        svc.get("/v1/nothing", None).await.refused(404, "not_found", None);
        svc.stop().await;
    }
}

#[tokio::test]
async fn k_of_n_needs_distinct_approvers() {
    for backend in backends() {
        let (_place, svc) = fresh(backend).await;
        let id = svc.request(ALICE, "admin", 900).await;
        let r = svc.get(&format!("/v1/requests/{id}"), Some(ALICE)).await.json();
        assert_eq!(r["required_approvals"], 2);
        let r = svc
            .post(&format!("/v1/requests/{id}/approve"), BOB, json!({}))
            .await
            .json();
        assert_eq!(r["state"], "pending");
        // The same approver twice still counts once.
        let r = svc
            .post(&format!("/v1/requests/{id}/approve"), BOB, json!({"comment": "again"}))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["state"], "pending");
        assert_eq!(r.json()["approvals"].as_array().unwrap().len(), 1);
        let r = svc
            .post(&format!("/v1/requests/{id}/approve"), CAROL, json!({}))
            .await
            .json();
        assert_eq!(r["state"], "approved");
        let token = svc.get(&format!("/v1/requests/{id}/token"), Some(ALICE)).await.json()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, claims) = jws_parts(&token);
        assert_eq!(claims["jit"]["approvers"], json!([BOB, CAROL]));
        assert_eq!(claims["jit"]["ticket"], "OPS-7");
        assert_eq!(claims["jit"]["role"], "admin");
        svc.stop().await;
    }
}

#[tokio::test]
async fn concurrent_approvals_issue_exactly_one_token() {
    for backend in backends() {
        let (_place, svc) = fresh(backend).await;
        let svc = std::sync::Arc::new(svc);
        for role in ["developer", "admin", "developer", "admin", "developer"] {
            let id = svc.request(ALICE, role, 600).await;
            let mut tasks = Vec::new();
            for approver in [BOB, CAROL, BOB, CAROL] {
                let svc = std::sync::Arc::clone(&svc);
                let path = format!("/v1/requests/{id}/approve");
                tasks.push(tokio::spawn(async move {
                    svc.post(&path, approver, json!({})).await.status.as_u16()
                }));
            }
            let mut statuses = Vec::new();
            for t in tasks {
                statuses.push(t.await.unwrap());
            }
            assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "{statuses:?}");
            let view = svc.get(&format!("/v1/requests/{id}"), Some(ALICE)).await.json();
            assert_eq!(view["state"], "approved", "{view}");
            let audit = svc.get("/v1/audit", Some(SAM)).await.json();
            let issued = audit["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["event"] == "issued" && e["request_id"] == id.as_str())
                .count();
            assert_eq!(issued, 1, "{role}: {statuses:?}");
        }
        let svc = std::sync::Arc::into_inner(svc).unwrap();
        svc.stop().await;
    }
}

#[tokio::test]
async fn restart_with_the_same_database_loses_nothing() {
    for backend in backends() {
        let place = place(backend).await;
        let clock = Clock::manual(now());
        let svc = start(settings(&place), clock.clone()).await;
        let id = svc.request(ALICE, "developer", 600).await;
        svc.post(&format!("/v1/requests/{id}/approve"), BOB, json!({})).await;
        let pending = svc.request(ALICE, "admin", 600).await;
        let token = svc.get(&format!("/v1/requests/{id}/token"), Some(ALICE)).await.json()["token"].clone();
        let jwks = svc.get("/.well-known/jwks.json", None).await.json();
        let audit = svc.get("/v1/audit", Some(SAM)).await.json();
        svc.stop().await;

        let svc = start(settings(&place), clock.clone()).await;
        assert_eq!(
            svc.get(&format!("/v1/requests/{id}/token"), Some(ALICE)).await.json()["token"],
            token
        );
        assert_eq!(
            svc.get(&format!("/v1/requests/{pending}"), Some(ALICE)).await.json()["state"],
            "pending"
        );
        assert_eq!(svc.get("/.well-known/jwks.json", None).await.json(), jwks);
        assert_eq!(svc.get("/v1/audit", Some(SAM)).await.json(), audit);
        // The sequence goes on where it stopped.
        svc.post(&format!("/v1/requests/{pending}/approve"), CAROL, json!({}))
            .await;
        let events = svc.get("/v1/audit?since=4", Some(SAM)).await.json();
        assert_eq!(events["events"][0]["seq"], 5);
        svc.stop().await;
    }
}

#[tokio::test]
async fn audit_trail_in_order_with_since_and_only_for_approvers_and_admins() {
    for backend in backends() {
        let (_place, svc) = fresh(backend).await;
        let id = svc.request(ALICE, "developer", 60).await;
        svc.post(&format!("/v1/requests/{id}/approve"), BOB, json!({"comment": "fine"}))
            .await;
        let jti = svc.get(&format!("/v1/requests/{id}"), Some(ALICE)).await.json()["jti"]
            .as_str()
            .unwrap()
            .to_owned();
        svc.post(
            &format!("/v1/approvals/{jti}/revoke"),
            SAM,
            json!({"reason": "left the team"}),
        )
        .await;
        let denied = svc.request(ALICE, "developer", 60).await;
        svc.post(&format!("/v1/requests/{denied}/deny"), CAROL, json!({})).await;
        // Expiry: a grant past its exp, swept.
        let short = svc.request(ALICE, "developer", 60).await;
        svc.post(&format!("/v1/requests/{short}/approve"), BOB, json!({})).await;
        svc.running().state.clock.advance(61);
        // Past exp, before the sweep: no token either.
        svc.get(&format!("/v1/requests/{short}/token"), Some(ALICE))
            .await
            .refused(409, "no_active_grant", None);
        assert_eq!(svc.running().state.sweep().await.unwrap(), 1);
        assert_eq!(
            svc.get(&format!("/v1/requests/{short}"), Some(ALICE)).await.json()["state"],
            "expired"
        );
        svc.get(&format!("/v1/requests/{short}/token"), Some(ALICE))
            .await
            .refused(409, "no_active_grant", None);
        assert_eq!(
            svc.get("/v1/requests?state=expired", Some(BOB)).await.json()["requests"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        let audit = svc.get("/v1/audit", Some(BOB)).await.json();
        let kinds: Vec<&str> = audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "requested",
                "approved",
                "issued",
                "revoked",
                "requested",
                "denied",
                "requested",
                "approved",
                "issued",
                "expired"
            ]
        );
        let seqs: Vec<i64> = audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect();
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
        assert_eq!(audit["events"][3]["actor"], SAM);
        assert_eq!(audit["events"][3]["detail"]["reason"], "left the team");
        assert_eq!(audit["events"][1]["detail"]["comment"], "fine");
        let later = svc.get("/v1/audit?since=8&limit=1", Some(SAM)).await.json();
        assert_eq!(later["events"].as_array().unwrap().len(), 1);
        assert_eq!(later["events"][0]["event"], "issued");
        assert_eq!(later["next"], 9);
        svc.get("/v1/audit", Some(ALICE))
            .await
            .refused(403, "audit_not_allowed", None);
        svc.get("/v1/audit?since=-1", Some(SAM))
            .await
            .refused(400, "invalid_field", Some("since"));
        svc.stop().await;
    }
}

#[tokio::test]
async fn feed_documents_have_etags_and_answer_304() {
    for backend in backends() {
        let (_place, svc) = fresh(backend).await;
        for (path, typ) in [
            ("/.well-known/jwks.json", None),
            ("/v1/jwks", Some("jwk-set+jwt")),
            ("/v1/revocations", Some("jit-revocations+jwt")),
            ("/v1/status-lists/0", Some("statuslist+jwt")),
        ] {
            let r = svc.get(path, None).await;
            assert_eq!(r.status, 200, "{path}");
            let etag = r.headers["etag"].to_str().unwrap().to_owned();
            assert!(
                r.headers["cache-control"]
                    .to_str()
                    .unwrap()
                    .starts_with("public, max-age="),
                "{path}"
            );
            if let Some(typ) = typ {
                let (h, p) = jws_parts(&r.text());
                assert_eq!(h["typ"], typ, "{path}");
                assert_eq!(p["iss"], "https://approvals.test");
                assert!(p["exp"].as_i64().unwrap() > p["iat"].as_i64().unwrap());
            } else {
                assert_eq!(r.json()["keys"].as_array().unwrap().len(), 2);
            }
            let again = svc
                .call(Method::GET, path, None, None, &[("if-none-match", &etag)])
                .await;
            assert_eq!(again.status, 304, "{path}");
            assert!(again.body.is_empty());
            assert_eq!(again.headers["etag"], etag.as_str());
            // Time passing (a rebuild) with unchanged content keeps the ETag.
            svc.running().state.clock.advance(2);
            let later = svc
                .call(Method::GET, path, None, None, &[("if-none-match", &etag)])
                .await;
            assert_eq!(later.status, 304, "{path}");
        }
        // The signed key set verifies with the published key.
        let jwks = svc.get("/.well-known/jwks.json", None).await.json();
        let signed = svc.get("/v1/jwks", None).await.text();
        let (h, p) = jws_parts(&signed);
        assert_eq!(p["keys"], jwks["keys"]);
        let kid = h["kid"].as_str().unwrap();
        let key = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap();
        let key = jitgate_core::parse_jwk(key, "k").unwrap();
        let (input, sig) = signed.rsplit_once('.').unwrap();
        assert!(key.material.verify(
            input.as_bytes(),
            &jitgate_core::unstable::jws::b64url_decode(sig).unwrap()
        ));

        // A revocation changes the list and its ETag at once.
        let before = svc.get("/v1/revocations", None).await;
        let etag = before.headers["etag"].to_str().unwrap().to_owned();
        let id = svc.request(ALICE, "developer", 600).await;
        svc.post(&format!("/v1/requests/{id}/approve"), BOB, json!({})).await;
        let jti = svc.get(&format!("/v1/requests/{id}"), Some(ALICE)).await.json()["jti"]
            .as_str()
            .unwrap()
            .to_owned();
        svc.post(&format!("/v1/approvals/{jti}/revoke"), BOB, json!({"reason": "r"}))
            .await;
        let after = svc
            .call(Method::GET, "/v1/revocations", None, None, &[("if-none-match", &etag)])
            .await;
        assert_eq!(after.status, 200);
        assert_ne!(after.headers["etag"], etag.as_str());
        let (_, p) = jws_parts(&after.text());
        assert_eq!(p["revoked"], json!([jti]));
        // Past the grant's exp the id leaves the list (the gate rejects it as expired anyway).
        svc.running().state.clock.advance(601);
        let (_, p) = jws_parts(&svc.get("/v1/revocations", None).await.text());
        assert_eq!(p["revoked"], json!([]));
        assert_eq!(p["seq"], 1);
        let m = svc.get("/metrics", None).await.text();
        assert!(
            m.contains("jitgate_approvals_feed_responses_total{doc=\"revocations\",status=\"304\"}"),
            "{m}"
        );
        svc.stop().await;
    }
}

#[tokio::test]
async fn a_polling_gate_stays_fresh_on_304s_and_goes_stale_without_the_feed() {
    for backend in backends() {
        let (_place, svc) = fresh(backend).await;
        let id = svc.request(ALICE, "developer", 600).await;
        svc.post(&format!("/v1/requests/{id}/approve"), BOB, json!({})).await;
        let token = svc.get(&format!("/v1/requests/{id}/token"), Some(ALICE)).await.json()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let t0 = svc.running().state.clock.now();
        let (g, mut poller) = live_gate(&svc, t0).await;
        assert!(decide(&g, &token, t0).allow);

        // 30 s later nothing changed: three 304s, each confirming what the gate holds.
        svc.running().state.clock.advance(30);
        for polled in poller.sync(&g, &svc, t0 + 30).await {
            match polled {
                Polled::NotModified(Some(state)) => assert!(!state.changed),
                Polled::NotModified(None) => {}
                other => panic!("expected a 304, got {other:?}"),
            }
        }
        // The gate stops hearing from the feed: 60 s (`feed.max_stale_s`) after the last
        // confirmation, approvals of the issuer are denied.
        assert!(decide(&g, &token, t0 + 90).allow);
        let d = decide(&g, &token, t0 + 91);
        assert_eq!((d.status, d.reason.code()), (401, "revocations_stale"));
        let status = &g.trust_status((t0 + 91) * 1_000_000_000)[0];
        assert!(status.stale);
        assert_eq!(status.revocations_age_s, Some(61));
        // The next poll (304s again) makes the knowledge fresh.
        svc.running().state.clock.advance(61);
        poller.sync(&g, &svc, t0 + 91).await;
        assert!(decide(&g, &token, t0 + 91).allow);
        assert!(!g.trust_status((t0 + 91) * 1_000_000_000)[0].stale);

        // With `on_stale: allow` a stale gate keeps serving its last lists, and says so.
        let jwks = svc.get("/.well-known/jwks.json", None).await.json();
        let lenient = gate_with_feed(&jwks, json!({"on_stale": "allow"}));
        FeedPoller::default().sync(&lenient, &svc, t0 + 91).await;
        let d = decide(&lenient, &token, t0 + 300);
        assert!(d.allow, "{:?}", d.reason);
        assert!(d.trust_stale);
        assert!(d.counters().contains(&"jitgate.feed.served_stale".to_owned()));
        svc.stop().await;
    }
}

#[tokio::test]
async fn identity_only_from_trusted_proxies_and_dev_mode_says_so() {
    let place = place(Backend::Sqlite).await;
    let mut s = settings(&place);
    s.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
    let svc = start(s, Clock::system()).await;
    svc.get("/v1/requests", Some(ALICE))
        .await
        .refused(401, "untrusted_source", None);
    // The feed and probes need no identity.
    assert_eq!(svc.get("/.well-known/jwks.json", None).await.status, 200);
    assert!(svc
        .get("/healthz", None)
        .await
        .headers
        .get("x-jitgate-dev-mode")
        .is_none());
    svc.stop().await;

    let mut s = settings(&place);
    s.trusted_proxies = vec![];
    s.dev = true;
    let svc = start(s, Clock::system()).await;
    let r = svc.get("/v1/requests", Some(ALICE)).await;
    assert_eq!(r.status, 200);
    assert!(r.headers["x-jitgate-dev-mode"].to_str().unwrap().contains("INSECURE"));
    let r = svc.get("/v1/requests/req_x", Some(ALICE)).await;
    assert!(r.headers.contains_key("x-jitgate-dev-mode"));
    svc.stop().await;
}

#[tokio::test]
async fn probes_and_metrics() {
    for backend in backends() {
        let (_place, svc) = fresh(backend).await;
        assert_eq!(svc.get("/healthz", None).await.json()["status"], "ok");
        assert_eq!(svc.get("/readyz", None).await.json()["status"], "ready");
        let id = svc.request(ALICE, "developer", 60).await;
        svc.post(&format!("/v1/requests/{id}/approve"), ALICE, json!({})).await;
        let m = svc.get("/metrics", None).await;
        assert!(m.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
        let text = m.text();
        assert!(text.contains("# TYPE jitgate_approvals_events_total counter"));
        assert!(
            text.contains("jitgate_approvals_events_total{event=\"requested\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("jitgate_approvals_http_responses_total{status=\"403\",code=\"self_approval\"} 1"),
            "{text}"
        );
        svc.stop().await;
    }
}

#[tokio::test]
async fn key_rotation_is_picked_up_and_old_tokens_still_verify() {
    let place = place(Backend::Sqlite).await;
    let clock = Clock::manual(now());
    let svc = start(settings(&place), clock.clone()).await;
    let id = svc.request(ALICE, "developer", 600).await;
    svc.post(&format!("/v1/requests/{id}/approve"), BOB, json!({})).await;
    let old_token = svc.get(&format!("/v1/requests/{id}/token"), Some(ALICE)).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = svc.get("/.well-known/jwks.json", None).await.json();
    let (g, mut poller) = live_gate(&svc, clock.now()).await;
    assert!(decide(&g, &old_token, clock.now()).allow);

    let mut set = jitgate_approvals::keys::KeySet::load(&place.key_file).unwrap();
    let next = set
        .keys
        .iter()
        .find(|k| k.state == jitgate_approvals::keys::KeyState::Next)
        .unwrap()
        .kid
        .clone();
    // The next key was announced before it signs anything.
    assert!(before["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == next.as_str()));
    let active = set.rotate(clock.now() + 400, 300, 43_500, false).unwrap();
    assert_eq!(active, next);
    set.write(&place.key_file).unwrap();
    svc.running().state.reload_keys_if_changed();

    let id = svc.request(ALICE, "developer", 600).await;
    svc.post(&format!("/v1/requests/{id}/approve"), BOB, json!({})).await;
    let new_token = svc.get(&format!("/v1/requests/{id}/token"), Some(ALICE)).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(jws_parts(&new_token).0["kid"], next.as_str());
    let after = svc.get("/.well-known/jwks.json", None).await.json();
    assert_eq!(after["keys"].as_array().unwrap().len(), 3);
    // The gate installed the key set before the rotation; the new key was in it
    // already (announced as next), so its tokens pass before the gate polls again.
    let t = clock.now() + 1;
    assert!(decide(&g, &old_token, t).allow);
    assert!(decide(&g, &new_token, t).allow);
    // The rotated key set, signed by the new key, installs: the gate trusts it already.
    let polled = poller.sync(&g, &svc, t).await;
    let keys = polled.into_iter().next().unwrap().installed();
    assert_eq!((keys.entries, keys.changed), (3, true));
    assert_eq!(g.trust_status(t * 1_000_000_000)[0].keys, 3);
    assert!(decide(&g, &old_token, t).allow);
    assert!(decide(&g, &new_token, t).allow);
    // A gate that was never told of the next key cannot take the rotated set from the
    // feed: it is signed by a key that gate does not trust.
    let mut only_old = before.clone();
    only_old["keys"]
        .as_array_mut()
        .unwrap()
        .retain(|k| k["kid"] != next.as_str());
    let stranger = gate(&only_old);
    let e = FeedPoller::default()
        .try_poll(&stranger, &svc, &Doc::Keys, t)
        .await
        .unwrap_err();
    assert_eq!(e.code.code(), "key_unknown", "{e}");
    svc.stop().await;
}

#[tokio::test]
async fn web_page_and_csrf() {
    let place = place(Backend::Sqlite).await;
    let mut s = settings(&place);
    s.dev = true;
    let svc = start(s, Clock::system()).await;
    let page = svc.get("/", Some("bob <b>@example.com")).await;
    assert_eq!(page.status, 200);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let html = page.text();
    assert!(html.contains("bob &lt;b&gt;@example.com"), "the identity is escaped");
    assert!(html.contains("INSECURE"), "the dev banner is on the page");
    svc.get("/", None).await.refused(401, "unauthenticated", None);
    let js = svc.get("/app.js", None).await;
    assert!(js.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.text().contains("x-csrf-token"));

    let alice_page = svc.get("/", Some(ALICE)).await.text();
    let marker = "name=\"csrf-token\" content=\"";
    let start = alice_page.find(marker).unwrap() + marker.len();
    let token = &alice_page[start..start + alice_page[start..].find('"').unwrap()];
    let body = json!({"resource": "test-database", "role": "developer", "duration_s": 60, "reason": "page"});
    let origin = ("origin", "http://127.0.0.1");
    // A browser request without the token, with someone else's token, or cross-site: refused.
    svc.call(Method::POST, "/v1/requests", Some(ALICE), Some(body.clone()), &[origin])
        .await
        .refused(403, "csrf_failed", None);
    let bobs = {
        let p = svc.get("/", Some(BOB)).await.text();
        let s = p.find(marker).unwrap() + marker.len();
        p[s..s + p[s..].find('"').unwrap()].to_owned()
    };
    svc.call(
        Method::POST,
        "/v1/requests",
        Some(ALICE),
        Some(body.clone()),
        &[origin, ("x-csrf-token", &bobs)],
    )
    .await
    .refused(403, "csrf_failed", None);
    svc.call(
        Method::POST,
        "/v1/requests",
        Some(ALICE),
        Some(body.clone()),
        &[("sec-fetch-site", "cross-site"), ("x-csrf-token", token)],
    )
    .await
    .refused(403, "csrf_failed", None);
    // With the caller's token: accepted.
    let ok = svc
        .call(
            Method::POST,
            "/v1/requests",
            Some(ALICE),
            Some(body.clone()),
            &[origin, ("sec-fetch-site", "same-origin"), ("x-csrf-token", token)],
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text());
    // Reads need no token; API clients (no Origin, no Sec-Fetch-*) need none either.
    assert_eq!(
        svc.call(Method::GET, "/v1/requests", Some(ALICE), None, &[origin])
            .await
            .status,
        200
    );
    assert_eq!(svc.post("/v1/requests", ALICE, body).await.status, 201);
    svc.stop().await;
}

#[tokio::test]
async fn webhooks_are_retried_with_backoff_and_never_block() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    // A receiver that fails twice, then accepts.
    let hits = Arc::new(AtomicUsize::new(0));
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let receiver = {
        let (hits, got) = (Arc::clone(&hits), Arc::clone(&got));
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::body::Bytes| {
                let (hits, got) = (Arc::clone(&hits), Arc::clone(&got));
                async move {
                    if hits.fetch_add(1, Ordering::SeqCst) < 2 {
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    got.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let place = place(Backend::Sqlite).await;
    let mut s = settings(&place);
    let mut w = jitgate_approvals::webhook::WebhookSettings::new(&hook);
    w.backoff_ms = 20;
    s.webhook = Some(w);
    let svc = start(s, Clock::system()).await;
    let id = svc.request(ALICE, "developer", 60).await;
    svc.post(&format!("/v1/requests/{id}/approve"), BOB, json!({})).await;
    for _ in 0..200 {
        // The counter moves after the receiver answered: wait for both.
        let ok = svc
            .running()
            .state
            .metrics
            .get(jitgate_approvals::metrics::WEBHOOK_DELIVERIES, "result=\"ok\"");
        if got.lock().unwrap().len() >= 3 && ok >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let kinds: Vec<String> = got
        .lock()
        .unwrap()
        .iter()
        .map(|v| v["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "jitgate.approvals.requested",
            "jitgate.approvals.approved",
            "jitgate.approvals.issued"
        ]
    );
    assert_eq!(got.lock().unwrap()[0]["request_id"], id.as_str());
    let m = svc.running().state.metrics.render();
    assert!(
        m.contains("jitgate_approvals_webhook_deliveries_total{result=\"retry\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("jitgate_approvals_webhook_deliveries_total{result=\"ok\"} 3"),
        "{m}"
    );
    svc.stop().await;

    // A dead endpoint: counted as failed, the workflow goes on at full speed.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", dead.local_addr().unwrap());
    drop(dead);
    let mut s = settings(&place);
    let mut w = jitgate_approvals::webhook::WebhookSettings::new(&url);
    w.backoff_ms = 10;
    w.attempts = 2;
    s.webhook = Some(w);
    let svc = start(s, Clock::system()).await;
    let t = std::time::Instant::now();
    svc.request(ALICE, "developer", 60).await;
    assert!(t.elapsed() < std::time::Duration::from_secs(2));
    for _ in 0..200 {
        if svc
            .running()
            .state
            .metrics
            .get(jitgate_approvals::metrics::WEBHOOK_DELIVERIES, "result=\"failed\"")
            == 1
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        svc.running()
            .state
            .metrics
            .get(jitgate_approvals::metrics::WEBHOOK_DELIVERIES, "result=\"failed\""),
        1
    );
    svc.stop().await;
}

#[tokio::test]
async fn pending_requests_expire_after_the_pending_ttl() {
    for backend in backends() {
        let (_place, svc) = fresh(backend).await;
        let id = svc.request(ALICE, "developer", 60).await;
        svc.running().state.clock.advance(86_399);
        assert_eq!(svc.running().state.sweep().await.unwrap(), 0);
        svc.running().state.clock.advance(2);
        assert_eq!(svc.running().state.sweep().await.unwrap(), 1);
        assert_eq!(
            svc.get(&format!("/v1/requests/{id}"), Some(BOB)).await.json()["state"],
            "expired"
        );
        svc.post(&format!("/v1/requests/{id}/approve"), BOB, json!({}))
            .await
            .refused(409, "request_not_pending", None);
        svc.stop().await;
    }
}
