//! The one JSON view of a decision and of an approval: what `jitgate eval` prints
//! (snake_case, as here) and what the JS package returns (the same members
//! camelCased by its serializer, times in epoch milliseconds).
//!
//! The view borrows the [`Decision`]; it adds nothing a host could decide with.
//! Members: `allow`, `enforced`, `status`, `reason`, `policy_reason`,
//! `decision_id`, `token` (`present`, `valid`, `error`, `detail`?), `approval` (or
//! null), `counters`, `trust_stale`, `audit` (the audit record), and either
//! `response` (`status`, `headers`, `body`: answer with it) or `forward`
//! (`remove_headers`, `add_headers`, `response_headers`: apply them and pass the
//! request on). Header lists are JSON objects `{name: value}`.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::audit::AuditRecord;
use crate::decision::{Action, Decision, TokenStatus};
use crate::token::Approval;

/// The unit of the approval's times in a view: seconds (as signed, the CLI) or
/// milliseconds (like `Date.now()`, the JS package).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Epoch seconds.
    Seconds,
    /// Epoch milliseconds.
    Milliseconds,
}

impl TimeUnit {
    /// Epoch seconds `secs` in this unit (saturating).
    pub fn of(self, secs: u64) -> u64 {
        match self {
            Self::Seconds => secs,
            Self::Milliseconds => secs.saturating_mul(1000),
        }
    }
}

/// A decision as JSON (see the module documentation). Build it with [`Decision::view`].
#[derive(Serialize)]
pub struct DecisionView<'a> {
    allow: bool,
    enforced: bool,
    status: u16,
    reason: &'static str,
    policy_reason: Option<&'a str>,
    decision_id: &'a str,
    token: TokenView<'a>,
    approval: Option<ApprovalView<'a>>,
    counters: Vec<String>,
    /// Allowed although the issuer's revocation knowledge is stale (`on_stale: allow`).
    trust_stale: bool,
    audit: &'a AuditRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<ResponseView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forward: Option<ForwardView<'a>>,
}

impl Decision {
    /// The decision's JSON view, approval times in `unit`.
    pub fn view(&self, unit: TimeUnit) -> DecisionView<'_> {
        let token = match &self.token {
            TokenStatus::Missing => TokenView {
                present: false,
                valid: false,
                error: Some("token_missing"),
                detail: None,
            },
            TokenStatus::Failed(f) => TokenView {
                present: true,
                valid: false,
                error: Some(f.error.code()),
                detail: Some(&f.detail),
            },
            TokenStatus::Valid => TokenView {
                present: true,
                valid: true,
                error: None,
                detail: None,
            },
        };
        let (response, forward) = match &self.action {
            Action::Respond(r) => (
                Some(ResponseView {
                    status: r.status,
                    headers: HeaderMap(&r.headers),
                    body: &r.body,
                }),
                None,
            ),
            Action::Forward(f) => (
                None,
                Some(ForwardView {
                    remove_headers: &f.remove_headers,
                    add_headers: HeaderMap(&f.add_headers),
                    response_headers: HeaderMap(&f.response_headers),
                }),
            ),
        };
        DecisionView {
            allow: self.allow,
            enforced: self.enforced,
            status: self.status,
            reason: self.reason.code(),
            policy_reason: self.policy_reason.as_deref(),
            decision_id: &self.decision_id,
            token,
            approval: self.approval.as_deref().map(|a| a.view(unit)),
            counters: self.counters(),
            trust_stale: self.trust_stale,
            audit: &self.audit,
            response,
            forward,
        }
    }
}

/// What the token check found.
#[derive(Serialize)]
struct TokenView<'a> {
    present: bool,
    valid: bool,
    error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

/// The local response of an enforced denial.
#[derive(Serialize)]
struct ResponseView<'a> {
    status: u16,
    headers: HeaderMap<'a>,
    body: &'a str,
}

/// The changes to the request going upstream, and to its response.
#[derive(Serialize)]
struct ForwardView<'a> {
    remove_headers: &'a [String],
    add_headers: HeaderMap<'a>,
    response_headers: HeaderMap<'a>,
}

/// A verified approval as JSON: `id`, `subject`, `issuer`, `kid`, `alg`,
/// `resources`, the `jit` members `role`, `actions`, `reason`, `ticket`,
/// `approvers`, `risk` when present, `issued_at`, `not_before`, `expires` (in the
/// view's unit) and `claims` (the signed payload as is, times in seconds). Build it
/// with [`Approval::view`].
#[derive(Serialize)]
pub struct ApprovalView<'a> {
    id: &'a str,
    subject: &'a str,
    issuer: &'a str,
    kid: &'a str,
    alg: &'static str,
    resources: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actions: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    approvers: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    risk: Option<&'a Value>,
    issued_at: u64,
    not_before: u64,
    expires: u64,
    claims: &'a Map<String, Value>,
}

impl Approval {
    /// The approval's JSON view, times in `unit`.
    pub fn view(&self, unit: TimeUnit) -> ApprovalView<'_> {
        let jit = |name: &str| self.jit().and_then(|j| j.get(name));
        ApprovalView {
            id: &self.id,
            subject: &self.subject,
            issuer: &self.issuer,
            kid: &self.kid,
            alg: self.alg.as_str(),
            resources: &self.resources,
            role: jit("role"),
            actions: jit("actions"),
            reason: jit("reason"),
            ticket: jit("ticket"),
            approvers: jit("approvers"),
            risk: jit("risk"),
            issued_at: unit.of(self.issued_at),
            not_before: unit.of(self.not_before),
            expires: unit.of(self.expires),
            claims: &self.claims,
        }
    }
}

/// Header pairs written as a JSON object (`{name: value}`). The core never repeats a
/// name in the lists it hands out (jitgate's own headers and a policy's object
/// members are unique); were one repeated, the values would be joined with `, `.
struct HeaderMap<'a>(&'a [(String, String)]);

impl Serialize for HeaderMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (i, (name, value)) in self.0.iter().enumerate() {
            if self.0.iter().take(i).any(|(n, _)| n == name) {
                continue;
            }
            let mut values = self.0.iter().skip(i + 1).filter(|(n, _)| n == name).peekable();
            if values.peek().is_none() {
                map.serialize_entry(name, value)?;
            } else {
                let mut joined = value.clone();
                for (_, v) in values {
                    joined.push_str(", ");
                    joined.push_str(v);
                }
                map.serialize_entry(name, &joined)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_maps_are_objects_and_join_repeats() {
        let pairs = vec![
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "3".to_owned()),
        ];
        let v = serde_json::to_value(HeaderMap(&pairs)).unwrap();
        assert_eq!(v, serde_json::json!({"a": "1, 3", "b": "2"}));
    }

    #[test]
    fn time_units_convert_seconds() {
        assert_eq!(TimeUnit::Seconds.of(1_795_687_200), 1_795_687_200);
        assert_eq!(TimeUnit::Milliseconds.of(1_795_687_200), 1_795_687_200_000);
        assert_eq!(TimeUnit::Milliseconds.of(u64::MAX), u64::MAX);
    }
}
