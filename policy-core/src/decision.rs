//! The decision (DESIGN §5): allow or deny, why, and exactly what the host must do.
//!
//! Hosts only translate: a [`Decision`] says which headers to remove and add on the
//! request going upstream, or the whole local response to send instead.

use std::sync::Arc;

use crate::audit::AuditRecord;
use crate::token::{Approval, TokenError, TokenFailure};

/// Headers added to an allowed request, naming the approval that allowed it.
pub const APPROVAL_ID_HEADER: &str = "x-jit-approval-id";
/// See [`APPROVAL_ID_HEADER`].
pub const SUBJECT_HEADER: &str = "x-jit-subject";
/// See [`APPROVAL_ID_HEADER`]; RFC 3339 UTC.
pub const EXPIRES_HEADER: &str = "x-jit-expires";
/// The headers jitgate sets; a client's own copies are always removed.
pub const JITGATE_HEADERS: [&str; 3] = [APPROVAL_ID_HEADER, SUBJECT_HEADER, EXPIRES_HEADER];

/// The stable reason code of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The policy allowed the request.
    Allowed,
    /// The token was missing or failed, and the policy denied.
    Token(TokenError),
    /// The policy said `false` (or `allow: false`).
    PolicyDenied,
    /// The entrypoint was undefined.
    PolicyUndefined,
    /// Evaluation failed or the result had a bad shape.
    PolicyError,
    /// The host could not read the request as the client sent it (400): a header
    /// value that is not UTF-8, a path that is not origin-form, … The client's fault.
    RequestInvalid,
    /// The host failed (500): a host call failed, the decision could not be applied.
    InternalError,
}

impl Reason {
    /// The stable code (`allowed`, `token_expired`, `policy_denied`, …).
    pub fn code(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Token(e) => e.code(),
            Self::PolicyDenied => "policy_denied",
            Self::PolicyUndefined => "policy_undefined",
            Self::PolicyError => "policy_error",
            Self::RequestInvalid => "request_invalid",
            Self::InternalError => "internal_error",
        }
    }

    /// Every reason code there is, for declaring metrics up front.
    pub fn all_codes() -> impl Iterator<Item = &'static str> {
        [
            Self::Allowed,
            Self::PolicyDenied,
            Self::PolicyUndefined,
            Self::PolicyError,
            Self::RequestInvalid,
            Self::InternalError,
        ]
        .into_iter()
        .chain(TokenError::ALL.into_iter().map(Self::Token))
        .map(Self::code)
    }
}

impl core::fmt::Display for Reason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.code())
    }
}

/// Why a host refuses a request without a policy decision ([`crate::Gate::refuse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The client sent something the host cannot read: 400 `request_invalid`.
    Request,
    /// The host failed: 500 `internal_error`.
    Host,
}

impl Fault {
    /// The status and reason of a refusal for this fault.
    pub fn status_and_reason(self) -> (u16, Reason) {
        match self {
            Self::Request => (400, Reason::RequestInvalid),
            Self::Host => (500, Reason::InternalError),
        }
    }
}

/// A decision id: the first 128 bits of SHA-256 over the host's 16-byte seed, a
/// per-gate sequence number and the time, as 32 lower-case hex digits. One id does
/// not reveal the next, nor the seed.
pub fn decision_id(seed: &[u8; 16], sequence: u64, now_ns: i64) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(seed)
        .chain_update(sequence.to_be_bytes())
        .chain_update(now_ns.to_be_bytes())
        .finalize();
    let mut id = String::with_capacity(32);
    for b in digest.iter().take(16) {
        // Both nibbles are below 16: `from_digit` always returns a digit.
        id.extend([b >> 4, b & 0xf].map(|n| char::from_digit(u32::from(n), 16).unwrap_or('0')));
    }
    id
}

/// The JSON body of a denial (DESIGN §5), in the documented field order.
#[derive(serde::Serialize)]
struct DenialBody<'a> {
    error: &'static str,
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    decision_id: &'a str,
}

/// The JSON body of a denial: `{"error":"access_denied","reason","message"?,"decision_id"}`.
pub fn denial_body(reason: Reason, message: Option<&str>, decision_id: &str) -> String {
    let body = DenialBody {
        error: "access_denied",
        reason: reason.code(),
        message,
        decision_id,
    };
    // Serialising strings cannot fail; an empty body would still deny.
    serde_json::to_string(&body).unwrap_or_default()
}

/// What the token check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenStatus {
    /// No token in the request.
    Missing,
    /// A token that does not grant anything.
    Failed(TokenFailure),
    /// A token that verified and passed the per-request checks.
    Valid,
}

/// A response the host sends instead of forwarding the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    /// 401, 403 or the policy's status.
    pub status: u16,
    /// Response headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// JSON body `{"error","reason","message"?,"decision_id"}`.
    pub body: String,
}

/// Changes to the request forwarded upstream (and to its response).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forward {
    /// Request headers to remove (lower-case names), before adding.
    pub remove_headers: Vec<String>,
    /// Request headers to set (replacing any value).
    pub add_headers: Vec<(String, String)>,
    /// Headers to add to the upstream response.
    pub response_headers: Vec<(String, String)>,
}

impl Forward {
    /// `headers` as the upstream receives them: the removals (case-insensitive), then
    /// the additions, each replacing any header of its name. Hosts without a header
    /// map of their own (the CLI, the test kit) forward with this; the filter makes
    /// the same changes through the proxy-wasm calls.
    pub fn apply_to(&self, headers: &mut Vec<(String, String)>) {
        headers.retain(|(name, _)| !self.remove_headers.iter().any(|r| r.eq_ignore_ascii_case(name)));
        for (name, value) in &self.add_headers {
            headers.retain(|(have, _)| !have.eq_ignore_ascii_case(name));
            headers.push((name.clone(), value.clone()));
        }
    }
}

/// What to do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send it upstream with these changes.
    Forward(Forward),
    /// Answer it locally.
    Respond(LocalResponse),
}

/// The outcome of [`crate::Gate::decide`].
#[derive(Debug, Clone)]
pub struct Decision {
    /// The real decision (also in dry run).
    pub allow: bool,
    /// Whether the decision is enforced (`false` in dry run: every request goes through).
    pub enforced: bool,
    /// 200 when allowed, else 401, 403 or the policy's status.
    pub status: u16,
    /// The stable reason code.
    pub reason: Reason,
    /// The policy's own reason string.
    pub policy_reason: Option<String>,
    /// Unique id of this decision.
    pub decision_id: String,
    /// What the token check found.
    pub token: TokenStatus,
    /// The verified approval, when the token verified.
    pub approval: Option<Arc<Approval>>,
    /// What the host must do.
    pub action: Action,
    /// The audit record (the host sets `eval_ns` before emitting it).
    pub audit: AuditRecord,
    /// The policy ran past its time budget (`policy.max_eval_ms`): a `policy_error`
    /// denial counted in [`POLICY_OVER_BUDGET_COUNTER`] too.
    pub over_budget: bool,
    /// The approval passed although its issuer's revocation knowledge is stale,
    /// because `feed.on_stale` is `allow`: counted in [`SERVED_STALE_COUNTER`].
    pub trust_stale: bool,
}

/// Counter of evaluations stopped at their time budget.
pub const POLICY_OVER_BUDGET_COUNTER: &str = "jitgate.policy_over_budget";
/// Counter of approvals accepted with stale revocation knowledge (`on_stale: allow`).
pub const SERVED_STALE_COUNTER: &str = "jitgate.feed.served_stale";

impl Decision {
    /// The decision of a host that has no configuration to decide with (Envoy
    /// normally refuses such a plugin): 500 `internal_error`, numbered with
    /// [`decision_id`] from the host's seed and its own sequence, audited like any other.
    pub fn unconfigured(seed: &[u8; 16], sequence: u64, now_ns: i64, detail: impl Into<String>) -> Self {
        let decision_id = decision_id(seed, sequence, now_ns);
        let (status, reason) = Fault::Host.status_and_reason();
        let audit = AuditRecord::refusal(
            crate::timefmt::rfc3339_from_ns(now_ns),
            decision_id.clone(),
            "enforce",
            true,
            status,
            reason.code(),
            None,
            detail.into(),
        );
        let body = denial_body(reason, None, &decision_id);
        let action = Action::Respond(LocalResponse {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body,
        });
        Self::without_approval(false, true, status, reason, decision_id, action, audit)
    }

    /// A decision no approval took part in (refusals, `skip` routes).
    pub(crate) fn without_approval(
        allow: bool,
        enforced: bool,
        status: u16,
        reason: Reason,
        decision_id: String,
        action: Action,
        audit: AuditRecord,
    ) -> Self {
        Self {
            allow,
            enforced,
            status,
            reason,
            policy_reason: None,
            decision_id,
            token: TokenStatus::Missing,
            approval: None,
            action,
            audit,
            over_budget: false,
            trust_stale: false,
        }
    }

    /// The names of the counters this decision increments (DESIGN §7):
    /// `jitgate.allowed`, or `jitgate.denied` and `jitgate.denied.<reason>`, plus
    /// `jitgate.dry_run.would_deny` for a denial in dry run.
    pub fn counters(&self) -> Vec<String> {
        if self.allow {
            let mut names = vec!["jitgate.allowed".to_string()];
            if self.trust_stale {
                names.push(SERVED_STALE_COUNTER.into());
            }
            return names;
        }
        let mut names = vec![
            "jitgate.denied".to_string(),
            format!("jitgate.denied.{}", self.reason.code()),
        ];
        if !self.enforced {
            names.push("jitgate.dry_run.would_deny".into());
        }
        if self.over_budget {
            names.push(POLICY_OVER_BUDGET_COUNTER.into());
        }
        if self.trust_stale {
            names.push(SERVED_STALE_COUNTER.into());
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_removes_then_replaces_case_insensitively() {
        let forward = Forward {
            remove_headers: vec!["x-jit-approval".into(), "x-jit-subject".into()],
            add_headers: vec![
                ("x-jit-subject".into(), "alice".into()),
                ("x-jit-role".into(), "dev".into()),
            ],
            response_headers: vec![],
        };
        let mut headers = vec![
            ("Host".into(), "db".into()),
            ("X-JIT-Approval".into(), "token".into()),
            ("x-jit-subject".into(), "mallory".into()),
            ("X-Jit-Role".into(), "admin".into()),
        ];
        forward.apply_to(&mut headers);
        let want: Vec<(String, String)> = vec![
            ("Host".into(), "db".into()),
            ("x-jit-subject".into(), "alice".into()),
            ("x-jit-role".into(), "dev".into()),
        ];
        assert_eq!(headers, want);
    }
}
