//! The web page in headless Chromium (Debian's `chromium`), behind a small
//! authenticating proxy that sets the identity header, as production would. The page's
//! JS must load the pending requests and active grants through the JSON API; the
//! rendered DOM is checked and a screenshot kept as a test artifact
//! (`target/jitgate-approvals-page.png`). Needs Debian's `chromium`, which `make test`
//! installs (as root) before the Rust tests; without it the test fails, it never skips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::path::{Path, PathBuf};

use axum::body::Body;
use common::*;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jitgate_approvals::Clock;
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";

/// A reverse proxy to `upstream` that says every caller is `user`.
async fn authenticating_proxy(upstream: String, user: &'static str) -> String {
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let client = client.clone();
        let upstream = upstream.clone();
        async move {
            let (mut parts, body) = req.into_parts();
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
            parts.uri = format!("{upstream}{path}").parse().unwrap();
            parts.headers.insert("x-authenticated-user", user.parse().unwrap());
            let resp = client.request(hyper::Request::from_parts(parts, body)).await.unwrap();
            resp.map(Body::new)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn chromium(args: &[&str], profile: &Path) -> String {
    let out = std::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
            "--run-all-compositor-stages-before-draw",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn artifact() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    std::fs::create_dir_all(&target).unwrap();
    target.join("jitgate-approvals-page.png")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_renders_requests_and_grants_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: `apt-get install -y chromium` (`make test` installs it as root)"
    );
    let place = place(Backend::Sqlite).await;
    let svc = start(settings(&place), Clock::system()).await;
    let pending = svc.request("alice@example.com", "developer", 900).await;
    let granted = svc.request("alice@example.com", "admin", 600).await;
    svc.post(
        &format!("/v1/requests/{granted}/approve"),
        "carol@example.com",
        json!({}),
    )
    .await;
    svc.post(&format!("/v1/requests/{granted}/approve"), "sam@example.com", json!({}))
        .await; // not an approver: refused
    svc.post(
        &format!("/v1/requests/{granted}/approve"),
        "bob@example.com",
        json!({"comment": "ok"}),
    )
    .await;
    assert_eq!(
        svc.get(&format!("/v1/requests/{granted}"), Some("bob@example.com"))
            .await
            .json()["state"],
        "approved"
    );

    let proxy = authenticating_proxy(svc.base.clone(), "bob@example.com").await;
    let profile = tempfile::tempdir().unwrap();
    let url = format!("{proxy}/");
    let dom = {
        let (url, dir) = (url.clone(), profile.path().to_owned());
        tokio::task::spawn_blocking(move || chromium(&["--dump-dom", &url], &dir))
            .await
            .unwrap()
    };
    assert!(
        dom.contains("Signed in as <strong id=\"me\">bob@example.com</strong>"),
        "{dom}"
    );
    // Filled in by the page's JS from the API: one pending request (with Approve/Deny),
    // one active grant with both approvers.
    let pending_table = &dom[dom.find("id=\"pending\"").unwrap()..dom.find("id=\"active\"").unwrap()];
    assert!(pending_table.contains("alice@example.com"), "{pending_table}");
    assert!(pending_table.contains("incident 42"), "{pending_table}");
    assert!(pending_table.contains("0 of 1"), "{pending_table}");
    assert!(pending_table.contains(">Approve</button>"), "{pending_table}");
    let active_table = &dom[dom.find("id=\"active\"").unwrap()..];
    assert!(
        active_table.contains("carol@example.com, bob@example.com"),
        "{active_table}"
    );
    assert!(active_table.contains(">Revoke</button>"), "{active_table}");
    assert!(!dom.contains("INSECURE"), "no dev banner outside --dev");
    let _ = pending;

    let shot = artifact();
    let _ = std::fs::remove_file(&shot);
    {
        let (url, dir, path) = (url.clone(), profile.path().to_owned(), shot.clone());
        tokio::task::spawn_blocking(move || {
            chromium(
                &[
                    &format!("--screenshot={}", path.display()),
                    "--window-size=1100,800",
                    &url,
                ],
                &dir,
            )
        })
        .await
        .unwrap();
    }
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    eprintln!("screenshot: {}", shot.display());
    svc.stop().await;
}
