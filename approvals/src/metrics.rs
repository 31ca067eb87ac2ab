//! Prometheus counters, all declared in [`Metrics`] and rendered in the text format.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Every counter of the service: name → labels → value.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
}

/// HTTP responses by status and error code.
pub const HTTP_RESPONSES: &str = "jitgate_approvals_http_responses_total";
/// Audit events by kind (requested, approved, denied, issued, revoked, expired).
pub const EVENTS: &str = "jitgate_approvals_events_total";
/// Feed responses by document and status (200 or 304).
pub const FEED_RESPONSES: &str = "jitgate_approvals_feed_responses_total";
/// Feed documents signed, by document.
pub const FEED_SIGNED: &str = "jitgate_approvals_feed_documents_signed_total";

/// Webhook deliveries by result (ok, retry, failed, dropped).
pub const WEBHOOK_DELIVERIES: &str = "jitgate_approvals_webhook_deliveries_total";

const HELP: &[(&str, &str)] = &[
    (HTTP_RESPONSES, "HTTP responses by status and error code"),
    (EVENTS, "Audit events by kind"),
    (FEED_RESPONSES, "Trust feed responses by document and status"),
    (FEED_SIGNED, "Trust feed documents signed"),
    (WEBHOOK_DELIVERIES, "Webhook delivery attempts by result"),
];

impl Metrics {
    /// Adds one to `name` with `labels` (already formatted: `a="b",c="d"`).
    pub fn inc(&self, name: &'static str, labels: String) {
        if let Ok(mut c) = self.counters.lock() {
            *c.entry((name, labels)).or_insert(0) += 1;
        }
    }

    /// The value of `name` with `labels` (tests).
    pub fn get(&self, name: &'static str, labels: &str) -> u64 {
        self.counters
            .lock()
            .ok()
            .and_then(|c| c.get(&(name, labels.to_owned())).copied())
            .unwrap_or(0)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = match self.counters.lock() {
            Ok(c) => c.clone(),
            Err(_) => BTreeMap::new(),
        };
        for (name, help) in HELP {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
            for ((n, labels), value) in &counters {
                if n == name {
                    out.push_str(&format!("{name}{{{labels}}} {value}\n"));
                }
            }
        }
        out
    }
}

/// A label value with `\`, `"` and newlines escaped.
pub fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
