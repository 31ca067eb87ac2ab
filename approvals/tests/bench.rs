//! Feed and issuance measurements (ignored by default; run in release):
//!
//! ```sh
//! cargo test --release -p jitgate-approvals --test bench -- --ignored --nocapture
//! ```
//!
//! Seeds 10,000 active grants and 10,000 revoked ones, then measures requests/s of
//! the revocation list and status list (full 200 and 304), the cold rebuild of the
//! revocation list, and the time from the last approval's request to the issued
//! token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::time::{Duration, Instant};

use common::*;
use hyper::Method;
use jitgate_approvals::Clock;
use serde_json::json;

const GRANTS: i64 = 10_000;

async fn seed(svc: &Svc, now: i64) {
    let pool = svc.running().state.store.pool();
    let mut tx = pool.begin().await.unwrap();
    for i in 0..2 * GRANTS {
        let revoked = i >= GRANTS;
        sqlx::query(
            "INSERT INTO requests (id, requester, resource, role, actions, duration_s, reason, state, required_approvals, \
             created_at, updated_at, jti, token, issued_at, nbf, exp, status_idx, revoked_at, revoked_by, revoke_reason) \
             VALUES ($1, 'alice@example.com', 'test-database', 'developer', '[]', 3600, 'bench', $2, 1, $3, $3, $4, 'x', $3, $3, $5, $6, $7, $8, $9)",
        )
        .bind(format!("req_bench_{i}"))
        .bind(if revoked { "revoked" } else { "approved" })
        .bind(now)
        .bind(format!("jit_bench_{i:06}_{}", "x".repeat(16)))
        .bind(now + 3600)
        .bind(i)
        .bind(if revoked { Some(now) } else { None })
        .bind(if revoked { Some("bob@example.com") } else { None })
        .bind(if revoked { Some("bench") } else { None })
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    sqlx::query("UPDATE counters SET value = $1 WHERE name = 'status_idx'")
        .bind(2 * GRANTS - 1)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE counters SET value = $1 WHERE name = 'revocations'")
        .bind(GRANTS)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    svc.running().state.feed.invalidate();
}

async fn rate(svc: &std::sync::Arc<Svc>, path: &str, etag: Option<String>, want: u16) -> f64 {
    let workers = 4;
    let window = Duration::from_secs(3);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let svc = std::sync::Arc::clone(svc);
        let path = path.to_owned();
        let etag = etag.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < window {
                let extra: Vec<(&str, &str)> = etag.iter().map(|e| ("if-none-match", e.as_str())).collect();
                let r = svc.call(Method::GET, &path, None, None, &extra).await;
                assert_eq!(r.status.as_u16(), want);
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
async fn feed_and_issuance() {
    for backend in backends() {
        let place = place(backend).await;
        let now = Clock::system().now();
        let svc = start(settings(&place), Clock::manual(now)).await;
        let t = Instant::now();
        seed(&svc, now).await;
        println!(
            "[{backend:?}] seeded {} grants ({} revoked) in {:?}",
            2 * GRANTS,
            GRANTS,
            t.elapsed()
        );

        let t = Instant::now();
        let full = svc.get("/v1/revocations", None).await;
        println!(
            "[{backend:?}] revocation list cold build (query + sign, {} bytes): {:?}",
            full.body.len(),
            t.elapsed()
        );
        let (_, p) = jws_parts(&full.text());
        assert_eq!(p["revoked"].as_array().unwrap().len() as i64, GRANTS);
        let etag = full.headers["etag"].to_str().unwrap().to_owned();
        let sl = svc.get("/v1/status-lists/0", None).await;
        let sl_etag = sl.headers["etag"].to_str().unwrap().to_owned();

        let svc = std::sync::Arc::new(svc);
        let r200 = rate(&svc, "/v1/revocations", None, 200).await;
        let r304 = rate(&svc, "/v1/revocations", Some(etag), 304).await;
        let s200 = rate(&svc, "/v1/status-lists/0", None, 200).await;
        let s304 = rate(&svc, "/v1/status-lists/0", Some(sl_etag), 304).await;
        println!(
            "[{backend:?}] /v1/revocations ({} KiB): {r200:.0} req/s full, {r304:.0} req/s 304",
            full.body.len() / 1024
        );
        println!(
            "[{backend:?}] /v1/status-lists/0 ({} bytes): {s200:.0} req/s full, {s304:.0} req/s 304",
            sl.body.len()
        );

        let mut lat = Vec::new();
        for _ in 0..50 {
            let id = svc.request("alice@example.com", "developer", 600).await;
            let t = Instant::now();
            let r = svc
                .post(&format!("/v1/requests/{id}/approve"), "bob@example.com", json!({}))
                .await;
            lat.push(t.elapsed());
            assert_eq!(r.json()["state"], "approved");
        }
        lat.sort();
        println!(
            "[{backend:?}] last approval -> token issued (HTTP round trip, committed): median {:?}, p90 {:?}",
            lat[lat.len() / 2],
            lat[lat.len() * 9 / 10]
        );
        let svc = std::sync::Arc::into_inner(svc).unwrap();
        svc.stop().await;
    }
}
