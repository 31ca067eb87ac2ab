//! Translation between the JS package's JSON shapes and `jitgate-core` types.
//!
//! Nothing here decides anything: it reads the request and the clock the JS layer
//! hands over, and writes the core's one view of a [`Decision`] and an [`Approval`]
//! camelCased ([`CamelCase`]), times in milliseconds (see `index.d.ts`). Pure Rust,
//! so it is unit-tested natively.

use jitgate_core::{
    Approval, ApprovalView, ConfigError, Decision, FeedError, FeedState, Request, RequestErrorKind, TimeUnit,
    TokenFailure, TrustStatus,
};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::casing::CamelCase;

const NS_PER_MS: i64 = 1_000_000;

/// A JS argument the binding could not use: the package throws it as a
/// `JitgateError` with this `code`, `field` and `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgumentError {
    /// `config_syntax`, `config_invalid`, `request_invalid` or `argument_invalid`.
    pub code: &'static str,
    /// The field at fault (`issuers[0].leeway_s`, `method`, `now`), when one is.
    pub field: Option<String>,
    /// What is wrong, naming the field.
    pub message: String,
}

impl ArgumentError {
    /// The error as the JSON text the JS layer turns into a `JitgateError`.
    pub fn to_json(&self) -> String {
        // Serialising a struct of strings cannot fail; keep a usable fallback anyway.
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"code":"argument_invalid","field":null,"message":"unknown error"}"#.to_owned())
    }
}

impl core::fmt::Display for ArgumentError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ArgumentError {}

impl From<ConfigError> for ArgumentError {
    fn from(e: ConfigError) -> Self {
        Self {
            code: e.code(),
            field: e.field().map(str::to_owned),
            message: e.to_string(),
        }
    }
}

/// Converts a JS time (epoch milliseconds, possibly fractional) into the core's
/// nanoseconds. Integral milliseconds convert exactly (they are exact in an `f64`
/// up to 2^53, and the multiplication happens in `i64`); a fraction is rounded to
/// the nearest nanosecond.
pub fn now_ns_from_ms(ms: f64) -> Result<i64, ArgumentError> {
    let bad = |why: &str| ArgumentError {
        code: "argument_invalid",
        field: Some("now".to_owned()),
        message: format!("`now` {why}"),
    };
    if !ms.is_finite() {
        return Err(bad("is not a finite time (an invalid `Date`?)"));
    }
    // i64 nanoseconds reach ±9.22e18, that is ±9.22e12 ms (year 2262); stay inside.
    const LIMIT_MS: f64 = 9_000_000_000_000.0;
    if ms.abs() > LIMIT_MS {
        return Err(bad("is outside the years 1684 to 2255"));
    }
    let whole = ms.trunc();
    // INVARIANT: |whole| ≤ 9e12 < 2^53, so the cast is exact.
    #[allow(clippy::cast_possible_truncation)]
    let whole_ms = whole as i64;
    // `ms - whole` is exact in f64; scaled to ns it is at most 1e6 in magnitude.
    #[allow(clippy::cast_possible_truncation)]
    let frac_ns = ((ms - whole) * 1e6).round() as i64;
    whole_ms
        .checked_mul(NS_PER_MS)
        .and_then(|ns| ns.checked_add(frac_ns))
        .ok_or_else(|| bad("is out of range"))
}

/// Why a request from the JS side was not decided by the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestFailure {
    /// The request object is not the request form (the embedder's bug): thrown.
    Argument(ArgumentError),
    /// A value a client sent that the gate cannot read (an absolute-form path, an
    /// invalid header name): a denial, 400 `request_invalid`, with this detail.
    Unreadable(String),
}

impl core::fmt::Display for RequestFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Argument(e) => f.write_str(&e.message),
            Self::Unreadable(detail) => f.write_str(detail),
        }
    }
}

impl std::error::Error for RequestFailure {}

/// Reads the request JSON the JS layer sends (`{method, path, headers, source, …}`),
/// straight from the text (no intermediate JSON value: this runs on every `decide`).
pub fn request_from_json(text: &str) -> Result<Request, RequestFailure> {
    if !text.trim_start().starts_with('{') {
        return Err(RequestFailure::Argument(not_an_object()));
    }
    Request::from_json_str(text).map_err(request_failure)
}

/// Reads a request already parsed into a JSON value.
pub fn request_from_value(value: Value) -> Result<Request, RequestFailure> {
    if !value.is_object() {
        return Err(RequestFailure::Argument(not_an_object()));
    }
    Request::from_json(value).map_err(request_failure)
}

fn request_failure(e: jitgate_core::RequestError) -> RequestFailure {
    match e.kind {
        RequestErrorKind::Value => RequestFailure::Unreadable(e.to_string()),
        RequestErrorKind::Shape => RequestFailure::Argument(request_error(e)),
    }
}

fn not_an_object() -> ArgumentError {
    ArgumentError {
        code: "request_invalid",
        field: None,
        message: "request must be an object `{method, path, headers, source}`".to_owned(),
    }
}

fn request_error(e: jitgate_core::RequestError) -> ArgumentError {
    // The core names the member (missing and repeated ones included).
    let field = e.field;
    if field == "." || field.is_empty() {
        // Not about one member: the text as a whole (trailing characters).
        return ArgumentError {
            code: "request_invalid",
            field: None,
            message: format!("request is not one JSON object: {}", e.message),
        };
    }
    ArgumentError {
        code: "request_invalid",
        message: format!("request field `{field}`: {}", e.message),
        field: Some(field),
    }
}

/// The decision as the JSON text of the package's `Decision` type.
pub fn decision_to_json(d: &Decision) -> String {
    serde_json::to_string(&CamelCase(&d.view(TimeUnit::Milliseconds))).unwrap_or_else(|e| internal_error(&e))
}

/// Writes the decision to any serde serializer, in the same shape as
/// [`decision_to_json`] (the serde-wasm-bindgen comparison build uses it).
pub fn serialize_decision<S: Serializer>(d: &Decision, serializer: S) -> Result<S::Ok, S::Error> {
    CamelCase(&d.view(TimeUnit::Milliseconds)).serialize(serializer)
}

#[derive(Serialize)]
#[serde(untagged)]
enum VerifyOut<'a> {
    Valid {
        valid: bool,
        approval: ApprovalView<'a>,
    },
    Invalid {
        valid: bool,
        code: &'static str,
        detail: &'a str,
    },
}

/// The result of `gate.verify` as JSON text: `{valid: true, approval}` or
/// `{valid: false, code, detail}`.
pub fn verify_to_json(result: &Result<std::sync::Arc<Approval>, TokenFailure>) -> String {
    let out = match result {
        Ok(a) => VerifyOut::Valid {
            valid: true,
            approval: a.view(TimeUnit::Milliseconds),
        },
        Err(f) => VerifyOut::Invalid {
            valid: false,
            code: f.error.code(),
            detail: &f.detail,
        },
    };
    serde_json::to_string(&CamelCase(&out)).unwrap_or_else(|e| internal_error(&e))
}

/// `gate.install*` / `gate.confirmCurrent`: what the gate now holds, in the package's
/// shape (`kind`, `issuer`, `seq`, `issuedAt`, `expires` in epoch ms, `entries`,
/// `changed`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FeedStateOut<'a> {
    kind: &'static str,
    issuer: &'a str,
    seq: Option<u64>,
    issued_at: Option<u64>,
    expires: Option<u64>,
    entries: usize,
    changed: bool,
}

/// A refused feed document, as the JS layer throws it: `JitgateError` with code
/// `feed_<code>`, `kind` and `detail`.
#[derive(Serialize)]
struct FeedErrorOut<'a> {
    code: String,
    field: Option<&'a str>,
    message: String,
    kind: &'static str,
    detail: &'a str,
}

/// The result of an install or confirmation as JSON text: `{"state": {…}}` or
/// `{"error": {code: "feed_<code>", field, message, kind, detail}}`.
pub fn feed_result_to_json(result: &Result<FeedState, FeedError>) -> String {
    let out = match result {
        Ok(state) => serde_json::json!({ "state": FeedStateOut {
            kind: state.kind.as_str(),
            issuer: &state.issuer,
            seq: state.seq,
            issued_at: state.issued_at.map(|t| TimeUnit::Milliseconds.of(t)),
            expires: state.expires.map(|t| TimeUnit::Milliseconds.of(t)),
            entries: state.entries,
            changed: state.changed,
        }}),
        Err(e) => serde_json::json!({ "error": FeedErrorOut {
            code: format!("feed_{}", e.code.code()),
            field: None,
            message: e.to_string(),
            kind: e.kind.as_str(),
            detail: &e.detail,
        }}),
    };
    serde_json::to_string(&out).unwrap_or_else(|e| internal_error(&e))
}

/// `gate.trustStatus()`: one entry per issuer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TrustStatusOut<'a> {
    issuer: &'a str,
    revocations_seq: Option<u64>,
    revocations_age_s: Option<u64>,
    revoked: usize,
    status_lists: usize,
    keys: usize,
    stale: bool,
}

/// Every issuer's live-trust state as the JSON text of an array.
pub fn trust_status_to_json(status: &[TrustStatus]) -> String {
    let out: Vec<TrustStatusOut<'_>> = status
        .iter()
        .map(|s| TrustStatusOut {
            issuer: &s.issuer,
            revocations_seq: s.revocations_seq,
            revocations_age_s: s.revocations_age_s,
            revoked: s.revoked,
            status_lists: s.status_lists,
            keys: s.keys,
            stale: s.stale,
        })
        .collect();
    serde_json::to_string(&out).unwrap_or_else(|e| internal_error(&e))
}

/// Serialising the output structs cannot fail (strings, numbers, JSON values); if it
/// ever did, the JS layer gets an error object rather than a panic.
fn internal_error(e: &serde_json::Error) -> String {
    ArgumentError {
        code: "internal",
        field: None,
        message: format!("could not serialise the result: {e}"),
    }
    .to_json()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_milliseconds_convert_exactly() {
        assert_eq!(now_ns_from_ms(0.0), Ok(0));
        assert_eq!(now_ns_from_ms(1_795_687_200_123.0), Ok(1_795_687_200_123_000_000));
        assert_eq!(now_ns_from_ms(-1.0), Ok(-1_000_000));
        // Largest accepted value, still exact.
        assert_eq!(now_ns_from_ms(8_999_999_999_999.0), Ok(8_999_999_999_999_000_000));
        // A fraction (performance.timeOrigin + performance.now()) rounds to the ns.
        assert_eq!(now_ns_from_ms(1.5), Ok(1_500_000));
        assert_eq!(now_ns_from_ms(0.000_001), Ok(1));
    }

    #[test]
    fn bad_times_name_now() {
        for bad in [f64::NAN, f64::INFINITY, -f64::INFINITY, 1e13, -1e16] {
            let e = now_ns_from_ms(bad).unwrap_err();
            assert_eq!((e.code, e.field.as_deref()), ("argument_invalid", Some("now")));
        }
    }

    fn argument_error(text: &str) -> ArgumentError {
        match request_from_json(text).unwrap_err() {
            RequestFailure::Argument(e) => e,
            other => panic!("{text}: expected an argument error, got {other:?}"),
        }
    }

    #[test]
    fn values_a_client_can_send_are_unreadable_requests_not_errors() {
        for text in [
            r#"{"method": "GET", "path": "http://host/healthz"}"#,
            r#"{"method": "GET", "path": ""}"#,
            r#"{"method": "", "path": "/"}"#,
            r#"{"method": "GET", "path": "/", "headers": {"bad name": "v"}}"#,
        ] {
            assert!(
                matches!(request_from_json(text), Err(RequestFailure::Unreadable(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn request_errors_name_the_field() {
        let e = argument_error(r#"{"path": "/"}"#);
        assert_eq!(e.code, "request_invalid");
        assert_eq!(e.field.as_deref(), Some("method"));
        assert!(e.message.contains("`method`"), "{}", e.message);
        let e = argument_error(r#"{"method": "GET", "path": "/", "source": {"adress": "x"}}"#);
        assert_eq!(e.field.as_deref(), Some("source.adress"));
        let e = argument_error(r#"{"method": "GET", "path": "/", "headers": {"a": 1}}"#);
        assert_eq!(e.field.as_deref(), Some("headers.a"));
        let e = argument_error("[1]");
        assert_eq!((e.code, e.field), ("request_invalid", None));
        let e = argument_error("{");
        assert_eq!(e.code, "request_invalid");
        let e = argument_error(r#"{"method": "GET", "path": "/"} x"#);
        assert_eq!((e.code, e.field), ("request_invalid", None));
        let e = argument_error(r#"{"method": "GET", "path": "/", "method": "POST"}"#);
        assert_eq!(e.field.as_deref(), Some("method"));
        let r = request_from_json(
            r#"{"method": "GET", "path": "/", "headers": {"x-a": ["1", "2"]}, "source": {"address": "1.2.3.4:5"}}"#,
        )
        .unwrap();
        assert_eq!(r.header_values("X-A").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(r.source.address.as_deref(), Some("1.2.3.4:5"));
    }

    #[test]
    fn feed_results_have_the_package_shape() {
        let gate = jitgate_core::Gate::new(
            &serde_json::json!({
                "issuers": [{"issuer": "https://i", "audience": "a", "feed": {"cluster": "c"},
                             "jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k",
                                                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}}],
                "policy": {"modules": {"p.rego": "package access.jit\nallow := false\n"}},
            })
            .to_string(),
        )
        .unwrap();
        let v: Value =
            serde_json::from_str(&feed_result_to_json(&gate.install_revocations("https://i", "x", 0))).unwrap();
        assert_eq!(v["error"]["code"], "feed_malformed");
        assert_eq!(v["error"]["kind"], "revocations");
        assert!(v["error"]["message"].as_str().unwrap().contains("(malformed)"));
        let v: Value =
            serde_json::from_str(&feed_result_to_json(&gate.install_revocations("https://other", "x", 0))).unwrap();
        assert_eq!(v["error"]["code"], "feed_not_configured");
        let v: Value = serde_json::from_str(&trust_status_to_json(&gate.trust_status(0))).unwrap();
        assert_eq!(
            v,
            serde_json::json!([{"issuer": "https://i", "revocationsSeq": null, "revocationsAgeS": null,
                                "revoked": 0, "statusLists": 0, "keys": 1, "stale": true}])
        );
    }

    #[test]
    fn config_errors_keep_code_and_field() {
        let e: ArgumentError = jitgate_core::Gate::new("{").unwrap_err().into();
        assert_eq!((e.code, e.field), ("config_syntax", None));
        let e: ArgumentError = jitgate_core::Gate::new(r#"{"policy": {"modules": {}}}"#)
            .unwrap_err()
            .into();
        assert_eq!(e.code, "config_invalid");
        assert_eq!(e.field.as_deref(), Some("issuers"));
        assert!(e.message.contains("`issuers`"), "{}", e.message);
    }
}
