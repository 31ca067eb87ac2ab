//! A crash loses nothing that was acknowledged: the real binary is killed with
//! SIGKILL right after a burst of acknowledged changes, restarted on the same
//! database and key file, and every acknowledged request, decision and token is
//! there. SQLite always, PostgreSQL when `JITGATE_TEST_POSTGRES_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::json;

fn spawn(place: &Place, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_jitgate-approvals"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--issuer",
            "https://approvals.test",
        ])
        .arg("--database-url")
        .arg(&place.db_url)
        .arg("--key-file")
        .arg(&place.key_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(svc: &Svc) {
    for _ in 0..200 {
        let ok = tokio::time::timeout(Duration::from_millis(200), async {
            let req = hyper::Request::get(format!("{}/readyz", svc.base))
                .body(http_body_util::Full::new(hyper::body::Bytes::new()))
                .unwrap();
            svc.client.request(req).await
        })
        .await;
        if matches!(ok, Ok(Ok(r)) if r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the service did not become ready");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_acknowledged_changes_loses_nothing() {
    for backend in backends() {
        let place = place(backend).await;
        let port = free_port();
        let mut child = spawn(&place, port);
        // A client only: the server is the child process.
        let svc = Svc::client_only(&format!("http://127.0.0.1:{port}"));
        wait_ready(&svc).await;
        let mut approved = Vec::new();
        let mut pending = Vec::new();
        for i in 0..10 {
            let id = svc.request("alice@example.com", "developer", 600).await;
            if i % 2 == 0 {
                let r = svc
                    .post(&format!("/v1/requests/{id}/approve"), "bob@example.com", json!({}))
                    .await;
                assert_eq!(r.json()["state"], "approved");
                let token = svc
                    .get(&format!("/v1/requests/{id}/token"), Some("alice@example.com"))
                    .await
                    .json()["token"]
                    .clone();
                approved.push((id, token));
            } else {
                pending.push(id);
            }
        }
        // The last acknowledged change, then SIGKILL at once.
        let last = svc.request("alice@example.com", "developer", 600).await;
        child.kill().unwrap();
        child.wait().unwrap();

        let mut child = spawn(&place, port);
        wait_ready(&svc).await;
        for (id, token) in &approved {
            let t = svc
                .get(&format!("/v1/requests/{id}/token"), Some("alice@example.com"))
                .await;
            assert_eq!(t.json()["token"], *token, "{backend:?}: token of {id}");
        }
        for id in pending.iter().chain([&last]) {
            assert_eq!(
                svc.get(&format!("/v1/requests/{id}"), Some("bob@example.com"))
                    .await
                    .json()["state"],
                "pending"
            );
        }
        let audit = svc.get("/v1/audit", Some("sam@example.com")).await.json();
        assert_eq!(audit["events"].as_array().unwrap().len(), 10 + 5 * 2 + 1, "{backend:?}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
