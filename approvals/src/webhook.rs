//! Webhook notifications: one JSON `POST` per new request and per decision (approved,
//! denied, issued, revoked, expired), for chat or ticket tools.
//!
//! Delivery never blocks the workflow: events go into a bounded queue after the
//! transaction committed (a full queue drops the event and counts it), and one
//! worker delivers them in order, retrying failures (connection errors, timeouts,
//! non-2xx answers) with exponential backoff. Every outcome is counted in
//! `jitgate_approvals_webhook_deliveries_total{result}`.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::db::AuditEvent;
use crate::metrics::{Metrics, WEBHOOK_DELIVERIES};

/// How webhooks are delivered.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Where to `POST` (`http://` or `https://`).
    pub url: String,
    /// Attempts per event, the first included.
    pub attempts: u32,
    /// The first retry's delay; each further retry doubles it (capped at 60 s).
    pub backoff_ms: u64,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// Events that may wait in the queue.
    pub queue: usize,
}

impl WebhookSettings {
    /// Defaults for `url`: 6 attempts, 1 s first backoff, 5 s timeout, 10,000 queued.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            attempts: 6,
            backoff_ms: 1000,
            timeout_ms: 5000,
            queue: 10_000,
        }
    }
}

/// The sending side of the queue.
#[derive(Debug, Clone)]
pub struct Webhooks {
    tx: mpsc::Sender<Value>,
}

/// The events that are notified.
const NOTIFIED: &[&str] = &["requested", "approved", "denied", "issued", "revoked", "expired"];

impl Webhooks {
    /// Starts the delivery worker.
    pub fn start(settings: WebhookSettings, metrics: Arc<Metrics>) -> Self {
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        tokio::spawn(deliver(settings, metrics, rx));
        Self { tx }
    }

    /// Queues `event` (if it is one that is notified); never waits.
    pub fn notify(&self, event: &AuditEvent, metrics: &Metrics) {
        if !NOTIFIED.contains(&event.event.as_str()) {
            return;
        }
        let body = json!({
            "type": format!("jitgate.approvals.{}", event.event),
            "seq": event.seq, "at": event.at, "actor": event.actor,
            "request_id": event.request_id, "jti": event.jti, "detail": event.detail,
        });
        if self.tx.try_send(body).is_err() {
            metrics.inc(WEBHOOK_DELIVERIES, "result=\"dropped\"".into());
        }
    }
}

async fn deliver(settings: WebhookSettings, metrics: Arc<Metrics>, mut rx: mpsc::Receiver<Value>) {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    while let Some(body) = rx.recv().await {
        let bytes = Bytes::from(body.to_string());
        let mut delay = Duration::from_millis(settings.backoff_ms);
        for attempt in 1..=settings.attempts.max(1) {
            let request = hyper::Request::post(settings.url.as_str())
                .header("content-type", "application/json")
                .header("user-agent", "jitgate-approvals")
                .body(Full::new(bytes.clone()));
            let outcome = match request {
                Ok(request) => {
                    match tokio::time::timeout(Duration::from_millis(settings.timeout_ms), client.request(request))
                        .await
                    {
                        Ok(Ok(response)) if response.status().is_success() => Ok(()),
                        Ok(Ok(response)) => Err(format!("answered {}", response.status())),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("timed out".into()),
                    }
                }
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(()) => {
                    metrics.inc(WEBHOOK_DELIVERIES, "result=\"ok\"".into());
                    break;
                }
                Err(e) if attempt < settings.attempts => {
                    metrics.inc(WEBHOOK_DELIVERIES, "result=\"retry\"".into());
                    eprintln!("jitgate-approvals: webhook attempt {attempt} failed ({e}); retrying in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(60));
                }
                Err(e) => {
                    metrics.inc(WEBHOOK_DELIVERIES, "result=\"failed\"".into());
                    eprintln!("jitgate-approvals: webhook delivery failed after {attempt} attempts: {e}");
                }
            }
        }
    }
}
