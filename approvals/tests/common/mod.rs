//! Shared test kit: starts the service on 127.0.0.1:0 against SQLite (always) or
//! PostgreSQL (when `JITGATE_TEST_POSTGRES_URL` is set, one fresh database per test),
//! and talks to it over a real socket with hyper's client.

// Test support: failing loudly is the point.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jitgate_approvals::{Clock, Running, Settings};
use serde_json::Value;
use sqlx::Connection as _;
use sqlx::Executor as _;

/// The backends every suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite always; PostgreSQL when the variable is set.
pub fn backends() -> Vec<Backend> {
    let mut b = vec![Backend::Sqlite];
    if std::env::var("JITGATE_TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty()) {
        b.push(Backend::Postgres);
    } else {
        eprintln!("note: JITGATE_TEST_POSTGRES_URL is not set: SQLite only");
    }
    b
}

/// A place for one test's database and key file.
pub struct Place {
    pub dir: tempfile::TempDir,
    pub db_url: String,
    pub key_file: PathBuf,
}

fn random_suffix() -> String {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A fresh database of `backend`.
pub async fn place(backend: Backend) -> Place {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys.json");
    let db_url = match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.path().join("approvals.db").display()),
        Backend::Postgres => {
            let base = std::env::var("JITGATE_TEST_POSTGRES_URL").unwrap();
            sqlx::any::install_default_drivers();
            let name = format!("jitgate_test_{}", random_suffix());
            let mut conn = sqlx::AnyConnection::connect(&base).await.unwrap();
            conn.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
            conn.close().await.unwrap();
            let (prefix, _) = base.rsplit_once('/').unwrap();
            format!("{prefix}/{name}")
        }
    };
    Place { dir, db_url, key_file }
}

/// A running service and a client for it.
pub struct Svc {
    /// The in-process server (`None` for a client of a server run elsewhere).
    pub running_opt: Option<Running>,
    pub base: String,
    pub client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// Asserts a JSON error with `status`, `code` and (if given) `field`.
    pub fn refused(&self, status: u16, code: &str, field: Option<&str>) {
        let j = self.json();
        assert_eq!(self.status.as_u16(), status, "{j}");
        assert_eq!(j["code"], code, "{j}");
        if let Some(f) = field {
            assert_eq!(j["field"], f, "{j}");
        }
    }
}

pub fn settings(place: &Place) -> Settings {
    let mut s = Settings::new(&place.db_url, place.key_file.clone());
    s.listen = "127.0.0.1:0".parse().unwrap();
    s.issuer = "https://approvals.test".into();
    s.public_url = "https://approvals.test".into();
    s.sweep_interval_ms = 3_600_000;
    s
}

pub async fn start(settings: Settings, clock: Clock) -> Svc {
    let running = jitgate_approvals::start(settings, clock, false).await.unwrap();
    let base = format!("http://{}", running.addr);
    let client = Client::builder(TokioExecutor::new()).build_http();
    Svc {
        running_opt: Some(running),
        base,
        client,
    }
}

impl Svc {
    /// A client of a server at `base` that runs elsewhere (another process).
    pub fn client_only(base: &str) -> Self {
        Svc {
            running_opt: None,
            base: base.to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// The in-process server.
    pub fn running(&self) -> &Running {
        self.running_opt.as_ref().unwrap()
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        user: Option<&str>,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Resp {
        let mut b = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(u) = user {
            b = b.header("x-authenticated-user", u);
        }
        let body = match body {
            Some(v) => {
                b = b.header("content-type", "application/json");
                Full::new(Bytes::from(v.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        for (n, v) in extra {
            b = b.header(*n, *v);
        }
        let resp = self.client.request(b.body(body).unwrap()).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Resp { status, headers, body }
    }

    pub async fn get(&self, path: &str, user: Option<&str>) -> Resp {
        self.call(Method::GET, path, user, None, &[]).await
    }

    pub async fn post(&self, path: &str, user: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(user), Some(body), &[]).await
    }

    /// Creates a request as `user`; returns its id.
    pub async fn request(&self, user: &str, role: &str, duration_s: i64) -> String {
        let mut body = serde_json::json!({"resource": "test-database", "role": role, "duration_s": duration_s, "reason": "incident 42", "actions": ["read"]});
        if role == "admin" {
            body["ticket"] = "OPS-7".into();
        }
        let r = self.post("/v1/requests", user, body).await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_owned()
    }

    pub async fn stop(self) {
        if let Some(r) = self.running_opt {
            r.stop().await;
        }
    }
}

/// The payload of a compact JWS (unverified: the gate verifies tokens; tests check
/// documents' headers and contents).
pub fn jws_parts(jws: &str) -> (Value, Value) {
    let mut parts = jws.split('.');
    let h = jitgate_core::unstable::jws::b64url_decode(parts.next().unwrap()).unwrap();
    let p = jitgate_core::unstable::jws::b64url_decode(parts.next().unwrap()).unwrap();
    (serde_json::from_slice(&h).unwrap(), serde_json::from_slice(&p).unwrap())
}

/// The issuer the test service signs as.
pub const ISSUER: &str = "https://approvals.test";

/// The URI of the service's status list `n` (the `uri` its tokens name).
pub fn status_list_uri(n: u32) -> String {
    format!("{ISSUER}/v1/status-lists/{n}")
}

/// A gate configured as a deployment would be: trusting `jwks` (the service's
/// published key set, the bootstrap trust), guarding `test-database` with the shipped
/// seed policy, and with a live-trust `feed` for the issuer that names status list 0.
/// It decides nothing useful until the feed's documents are installed ([`FeedPoller`]):
/// the service's tokens carry a `status` claim, and the issuer's revocation knowledge is
/// stale until a list arrives.
pub fn gate(jwks: &Value) -> jitgate_core::Gate {
    gate_with_feed(jwks, serde_json::json!({}))
}

/// [`gate`] with `extra` members merged into the issuer's `feed` (`max_stale_s`, …).
pub fn gate_with_feed(jwks: &Value, extra: Value) -> jitgate_core::Gate {
    let policy = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/jit.rego")).unwrap();
    let mut feed = serde_json::json!({
        "cluster": "approvals",
        "revocations_path": "/v1/revocations",
        "jwks_path": "/v1/jwks",
        "status_lists": {status_list_uri(0): "/v1/status-lists/0"},
    });
    for (k, v) in extra.as_object().unwrap() {
        feed[k] = v.clone();
    }
    let config = serde_json::json!({
        "issuers": [{"issuer": ISSUER, "audience": "jitgate", "jwks": jwks, "feed": feed}],
        "resource": "test-database",
        "policy": {"modules": {"jit.rego": policy}},
    });
    jitgate_core::Gate::new(&config.to_string()).unwrap()
}

/// One feed document a gate polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Doc {
    /// The signed revocation list.
    Revocations,
    /// The status list with this URI.
    StatusList(String),
    /// The signed key set.
    Keys,
}

/// What one poll of one document did.
#[derive(Debug)]
pub enum Polled {
    /// 200: installed, with what the gate now holds.
    Installed(jitgate_core::FeedState),
    /// 304: the installed copy was confirmed current (`None` for the key set, which
    /// has no staleness to confirm).
    NotModified(Option<jitgate_core::FeedState>),
}

impl Polled {
    /// The state of an installed document; panics on a 304.
    pub fn installed(self) -> jitgate_core::FeedState {
        match self {
            Polled::Installed(s) => s,
            other => panic!("expected a 200 and an install, got {other:?}"),
        }
    }
}

/// A gate's host, polling the service's feed over HTTP the way the Envoy filter does:
/// `GET` with `If-None-Match`, a 200 installed into the gate, a 304 confirmed with
/// `Gate::confirm_current`. A document the gate refuses panics with its `FeedError`.
#[derive(Debug, Default)]
pub struct FeedPoller {
    etags: std::collections::HashMap<String, String>,
}

impl FeedPoller {
    /// The path of `doc` on the service.
    pub fn path(doc: &Doc) -> String {
        match doc {
            Doc::Revocations => "/v1/revocations".into(),
            Doc::Keys => "/v1/jwks".into(),
            Doc::StatusList(uri) => uri.strip_prefix(ISSUER).unwrap().to_owned(),
        }
    }

    /// Fetches `doc` and hands it to `gate` at `now` (Unix seconds).
    pub async fn try_poll(
        &mut self,
        gate: &jitgate_core::Gate,
        svc: &Svc,
        doc: &Doc,
        now: i64,
    ) -> Result<Polled, jitgate_core::FeedError> {
        let path = Self::path(doc);
        let etag = self.etags.get(&path).cloned();
        let extra: Vec<(&str, &str)> = etag.iter().map(|e| ("if-none-match", e.as_str())).collect();
        let r = svc.call(Method::GET, &path, None, None, &extra).await;
        let now_ns = now * 1_000_000_000;
        match r.status.as_u16() {
            304 => Ok(Polled::NotModified(match doc {
                Doc::Revocations => Some(gate.confirm_current(ISSUER, None, now_ns)?),
                Doc::StatusList(uri) => Some(gate.confirm_current(ISSUER, Some(uri), now_ns)?),
                Doc::Keys => None,
            })),
            200 => {
                let text = r.text();
                let state = match doc {
                    Doc::Revocations => gate.install_revocations(ISSUER, &text, now_ns),
                    Doc::StatusList(uri) => gate.install_status_list(ISSUER, uri, &text, now_ns),
                    Doc::Keys => gate.install_keys(ISSUER, &text, now_ns),
                }?;
                if let Some(tag) = r.headers.get("etag") {
                    self.etags.insert(path, tag.to_str().unwrap().to_owned());
                }
                Ok(Polled::Installed(state))
            }
            status => panic!("GET {path}: {status}: {}", r.text()),
        }
    }

    /// [`FeedPoller::try_poll`], panicking on a refusal.
    pub async fn poll(&mut self, gate: &jitgate_core::Gate, svc: &Svc, doc: &Doc, now: i64) -> Polled {
        match self.try_poll(gate, svc, doc, now).await {
            Ok(p) => p,
            Err(e) => panic!("the gate refused {} of the test service: {e}", Self::path(doc)),
        }
    }

    /// Polls the key set, the revocation list and status list 0, in that order (keys
    /// first: the other documents may be signed by a key the new set brings).
    pub async fn sync(&mut self, gate: &jitgate_core::Gate, svc: &Svc, now: i64) -> Vec<Polled> {
        let mut out = Vec::new();
        for doc in [Doc::Keys, Doc::Revocations, Doc::StatusList(status_list_uri(0))] {
            out.push(self.poll(gate, svc, &doc, now).await);
        }
        out
    }
}

/// A gate trusting the service's published key set, with every feed document
/// installed at `now` (Unix seconds), and the poller that installed them.
pub async fn live_gate(svc: &Svc, now: i64) -> (jitgate_core::Gate, FeedPoller) {
    let jwks = svc.get("/.well-known/jwks.json", None).await.json();
    let gate = gate(&jwks);
    let mut poller = FeedPoller::default();
    poller.sync(&gate, svc, now).await;
    (gate, poller)
}

/// The gate's decision on `GET /orders` with `token` at `now` (Unix seconds).
pub fn decide(gate: &jitgate_core::Gate, token: &str, now: i64) -> jitgate_core::Decision {
    let request = jitgate_core::Request::new("GET", "/orders").header("x-jit-approval", token);
    gate.decide(&request, now * 1_000_000_000)
}
