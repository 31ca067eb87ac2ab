//! The policy input document (DESIGN §4), built directly as regorus values.
//!
//! The parts that depend only on a verified token (`approval` without `remaining_ns`,
//! and `requester`) are built once per token and cached with it; per request only the
//! request part and a few numbers are new. Nothing is serialised to JSON and parsed
//! back.

use regorus::Value;

use crate::request::Request;
use crate::token::{Approval, TokenError};

const NANOS: i128 = 1_000_000_000;

/// Builds a regorus object from `(name, value)` pairs, leaving out undefined values
/// (an absent optional claim is absent, never `null`).
fn object<'a>(members: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    let mut obj = Value::new_object();
    if let Ok(map) = obj.as_object_mut() {
        for (name, value) in members {
            if value != Value::Undefined {
                map.insert(Value::from(name), value);
            }
        }
    }
    obj
}

fn opt_str(s: Option<&str>) -> Value {
    s.map_or(Value::Undefined, Value::from)
}

/// Converts a JSON value to a regorus value by reference: no clone of the source and
/// no serde round trip (regorus's own `From<serde_json::Value>` does both).
pub fn to_rego(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::from(*b),
        J::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Value::from(u),
            (None, Some(i), _) => Value::from(i),
            (None, None, Some(f)) => Value::from(f),
            (None, None, None) => Value::Undefined,
        },
        J::String(s) => Value::from(s.as_str()),
        J::Array(items) => Value::from(items.iter().map(to_rego).collect::<Vec<_>>()),
        J::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (Value::from(k.as_str()), to_rego(v)))
                .collect::<std::collections::BTreeMap<_, _>>(),
        ),
    }
}

/// `input.approval` without `remaining_ns` (which depends on `now`).
pub fn approval_value(a: &Approval) -> Value {
    let claims = object(a.claims.iter().map(|(k, v)| (k.as_str(), to_rego(v))));
    // The `jit` members are shared with `claims.jit` (reference-counted, not copied).
    let jit = claims
        .as_object()
        .ok()
        .and_then(|c| c.get(&Value::from("jit")).cloned());
    let member = |name: &str| {
        jit.as_ref()
            .and_then(|j| j.as_object().ok())
            .and_then(|j| j.get(&Value::from(name)).cloned())
            .unwrap_or(Value::Undefined)
    };
    let nbf = i128::from(a.not_before) * NANOS;
    let exp = i128::from(a.expires) * NANOS;
    object([
        ("id", Value::from(a.id.as_str())),
        ("issuer", Value::from(a.issuer.as_str())),
        ("subject", Value::from(a.subject.as_str())),
        ("resource", member("resource")),
        (
            "resources",
            Value::from(a.resources.iter().map(|r| Value::from(r.as_str())).collect::<Vec<_>>()),
        ),
        ("role", member("role")),
        ("actions", member("actions")),
        ("reason", member("reason")),
        ("ticket", member("ticket")),
        ("approvers", member("approvers")),
        ("risk", member("risk")),
        ("not_before_ns", Value::from(nbf)),
        ("expires_ns", Value::from(exp)),
        ("issued_at_ns", Value::from(i128::from(a.issued_at) * NANOS)),
        ("granted_at", Value::from(nbf)),
        ("valid_duration", Value::from(exp - nbf)),
        ("claims", claims),
    ])
}

/// `input.requester`.
pub fn requester_value(a: &Approval) -> Value {
    object([
        ("id", Value::from(a.subject.as_str())),
        ("role", opt_str(a.jit_str("role"))),
    ])
}

/// What the token check found, as the input document reports it.
#[derive(Debug, Clone, Copy)]
pub enum TokenView<'a> {
    /// No token in the request.
    Missing,
    /// A token that failed with this error.
    Failed(TokenError),
    /// A verified token, with its cached values.
    Valid {
        /// The approval.
        approval: &'a Approval,
        /// [`approval_value`] of it.
        approval_value: &'a Value,
        /// [`requester_value`] of it.
        requester_value: &'a Value,
    },
}

/// Everything [`build`] needs.
#[derive(Debug, Clone, Copy)]
pub struct InputParts<'a> {
    /// The request time, ns since the epoch.
    pub now_ns: i64,
    /// The configured resource.
    pub resource: Option<&'a str>,
    /// The request.
    pub request: &'a Request,
    /// The token header name (lower case), left out of `request.headers`.
    pub token_header: &'a str,
    /// The identity from the configured source.
    pub identity: Option<&'a str>,
    /// The token check result.
    pub token: TokenView<'a>,
}

/// Builds the whole input document.
pub fn build(parts: &InputParts<'_>) -> Value {
    let req = parts.request;
    // Repeated headers are joined with "," (RFC 9110 §5.3), in linear time.
    let mut joined: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for (name, value) in &req.headers {
        if name.starts_with(':') || name.eq_ignore_ascii_case(parts.token_header) {
            continue;
        }
        match joined.entry(name.to_ascii_lowercase()) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(value.clone());
            }
            std::collections::btree_map::Entry::Occupied(mut slot) => {
                let all = slot.get_mut();
                all.push(',');
                all.push_str(value);
            }
        }
    }
    let mut headers = Value::new_object();
    if let Ok(map) = headers.as_object_mut() {
        for (name, value) in joined {
            map.insert(Value::from(name), Value::from(value));
        }
    }
    let source = object([
        ("address", opt_str(req.source.address.as_deref())),
        ("principal", opt_str(req.source.principal.as_deref())),
        ("certificate_sha256", opt_str(req.source.certificate_sha256.as_deref())),
    ]);
    let request = object([
        ("method", Value::from(req.method.as_str())),
        ("path", Value::from(req.path.as_str())),
        ("host", opt_str(req.effective_host())),
        ("scheme", opt_str(req.scheme.as_deref())),
        ("protocol", opt_str(req.protocol.as_deref())),
        ("id", opt_str(req.effective_id())),
        ("headers", headers),
        ("source", source),
    ]);
    let (token, requester, approval) = match parts.token {
        TokenView::Missing => (
            object([
                ("present", Value::from(false)),
                ("valid", Value::from(false)),
                ("error", Value::from(TokenError::Missing.code())),
                ("kid", Value::Null),
                ("alg", Value::Null),
            ]),
            Value::Undefined,
            Value::Undefined,
        ),
        TokenView::Failed(e) => (
            object([
                ("present", Value::from(true)),
                ("valid", Value::from(false)),
                ("error", Value::from(e.code())),
                ("kid", Value::Null),
                ("alg", Value::Null),
            ]),
            Value::Undefined,
            Value::Undefined,
        ),
        TokenView::Valid {
            approval,
            approval_value,
            requester_value,
        } => {
            let mut value = approval_value.clone();
            if let Ok(map) = value.as_object_mut() {
                let remaining = approval.expires_ns() - i128::from(parts.now_ns);
                map.insert(Value::from("remaining_ns"), Value::from(remaining));
            }
            (
                object([
                    ("present", Value::from(true)),
                    ("valid", Value::from(true)),
                    ("error", Value::Null),
                    ("kid", Value::from(approval.kid.as_str())),
                    ("alg", Value::from(approval.alg.as_str())),
                ]),
                requester_value.clone(),
                value,
            )
        }
    };
    object([
        ("now_ns", Value::from(parts.now_ns)),
        ("resource", parts.resource.map_or(Value::Null, Value::from)),
        ("request", request),
        ("identity", parts.identity.map_or(Value::Null, Value::from)),
        ("token", token),
        ("requester", requester),
        ("approval", approval),
    ])
}
