//! The audit record (DESIGN §7): one JSON object per decision, allowed or denied.
//!
//! Hosts emit it as one line (the filter logs it at info; the JS package returns it).
//! It carries the internal detail a client never sees (`detail`).

use serde::Serialize;

/// Prefix of the line a host logs each audit record on (the filter, at info): the
/// rest of the line is the record as one JSON object ([`AuditRecord::to_json_line`]).
/// Log readers (the harness, the end-to-end tests, a log pipeline) split on it.
pub const AUDIT_LOG_PREFIX: &str = "jitgate.audit ";

/// One decision, as the audit trail keeps it. Field order is the serialised order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// Decision time, RFC 3339 UTC with nanoseconds.
    pub ts: String,
    /// Unique id of the decision (also in the denial body).
    pub decision_id: String,
    /// `enforce` or `dry_run`.
    pub mode: &'static str,
    /// The decision.
    pub allow: bool,
    /// Whether the decision was enforced (`false` in dry run).
    pub enforced: bool,
    /// HTTP status of the decision (200 when allowed).
    pub status: u16,
    /// Stable reason code.
    pub reason: &'static str,
    /// The policy's own reason string.
    pub policy_reason: Option<String>,
    /// `sub` of the verified approval.
    pub subject: Option<String>,
    /// `jti` of the verified approval.
    pub approval_id: Option<String>,
    /// `iss` of the verified approval.
    pub issuer: Option<String>,
    /// `kid` of the key that verified the approval.
    pub kid: Option<String>,
    /// The guarded resource (configuration).
    pub resource: Option<String>,
    /// Request method.
    pub method: String,
    /// Request path, with query.
    pub path: String,
    /// Peer address.
    pub source: Option<String>,
    /// Identity from the configured identity source.
    pub identity: Option<String>,
    /// End of the approval window (`exp`), RFC 3339 UTC.
    pub expires: Option<String>,
    /// Time spent deciding, measured by the host (the core reads no clock).
    pub eval_ns: Option<u64>,
    /// The request id (`x-request-id`).
    pub request_id: Option<String>,
    /// The W3C trace id of the request's one valid `traceparent` header.
    pub trace_id: Option<String>,
    /// Whether a token was present.
    pub token_present: bool,
    /// Internal detail of a token failure or policy error; never sent to the client.
    pub detail: Option<String>,
}

/// The trace id of a W3C `traceparent` value (`00-<32 hex>-<16 hex>-<2 hex>`, lower-case
/// hex, version not `ff`, ids not all zeros), else `None`.
pub fn trace_id(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.split('-');
    let (Some(version), Some(trace), Some(parent), Some(flags)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let zero = |s: &str| s.bytes().all(|b| b == b'0');
    // Version 00 has exactly four fields; later versions may append more.
    let extra = parts.next().is_some();
    let ok = hex(version, 2)
        && version != "ff"
        && !(version == "00" && extra)
        && hex(trace, 32)
        && !zero(trace)
        && hex(parent, 16)
        && !zero(parent)
        && hex(flags, 2);
    ok.then_some(trace)
}

impl AuditRecord {
    /// The record of a refusal: a denial no policy decided (`request_invalid`,
    /// `internal_error`), with nothing known of the request but the time.
    #[allow(clippy::too_many_arguments)] // every field a refusal knows, named at the call
    pub fn refusal(
        ts: String,
        decision_id: String,
        mode: &'static str,
        enforced: bool,
        status: u16,
        reason: &'static str,
        resource: Option<String>,
        detail: String,
    ) -> Self {
        Self {
            ts,
            decision_id,
            mode,
            allow: false,
            enforced,
            status,
            reason,
            policy_reason: None,
            subject: None,
            approval_id: None,
            issuer: None,
            kid: None,
            resource,
            method: String::new(),
            path: String::new(),
            source: None,
            identity: None,
            expires: None,
            eval_ns: None,
            request_id: None,
            trace_id: None,
            token_present: false,
            detail: Some(detail),
        }
    }

    /// The record as one line of JSON.
    pub fn to_json_line(&self) -> String {
        // Serialising this struct cannot fail: every field is a string, number, bool
        // or null. Fall back to a minimal line rather than panic.
        serde_json::to_string(self)
            .unwrap_or_else(|_| format!("{{\"decision_id\":\"{}\",\"audit_error\":true}}", self.decision_id))
    }

    /// The record as a JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
