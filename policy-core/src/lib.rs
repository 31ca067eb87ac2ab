#![doc = include_str!("../README.md")]
// Lints, each for a reason:
// - no `unsafe`: nothing here needs it, and the crate parses untrusted tokens;
#![forbid(unsafe_code)]
// - a panic inside Envoy kills the Wasm VM: errors are values on every input path;
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
// - indexing can panic too; use `get`;
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]
// - everything public is documented.
#![warn(missing_docs)]

mod audit;
mod builtins;
mod cache;
mod calls;
mod config;
mod decision;
mod extract;
mod gate;
mod input;
mod json;
mod jwks;
mod jws;
mod policy;
mod request;
#[cfg(feature = "rvm")]
mod rvm;
mod timefmt;
mod token;
mod trust;
mod view;

pub use audit::{AuditRecord, AUDIT_LOG_PREFIX};
pub use config::{Config, ConfigError, FeedConfig, IdentitySource, Mode, OnStale, TokenConfig};
pub use decision::{decision_id, Action, Decision, Fault, Forward, LocalResponse, Reason, TokenStatus};
pub use decision::{POLICY_OVER_BUDGET_COUNTER, SERVED_STALE_COUNTER};
pub use gate::Gate;
pub use jwks::{parse_jwk, Key, KeyMaterial, KeySet};
pub use jws::Algorithm;
pub use policy::{set_monotonic_clock, Evaluator, EvaluatorChoice, Policy, PolicyOutcome};
/// The regorus crate this core evaluates Rego with (for hosts that build values).
pub use regorus;
pub use request::{Request, RequestError, RequestErrorKind, Route, Source};
pub use timefmt::{parse_time_ns, rfc3339_from_ns, rfc3339_from_secs};
pub use token::{Approval, RequestFacts, TokenError, TokenFailure};
pub use token::{FORBIDDEN_HEADERS, TOKEN_TYPE};
pub use trust::{DocumentKind, FeedError, FeedErrorCode, FeedState, TrustStatus};
pub use trust::{KEY_SET_TYPE, MAX_DOCUMENT_BYTES, MAX_STATUS_LIST_BYTES, REVOCATIONS_TYPE, STATUS_LIST_TYPE};
pub use view::{ApprovalView, DecisionView, TimeUnit};

/// Internals that jitgate's own tools, tests, benchmarks and fuzz targets reach into:
/// **not a stable API** (as regorus's `unstable`); anything here may change in any
/// release. Hosts need only what the crate root exports.
pub mod unstable {
    /// The audit record's helpers.
    pub mod audit {
        pub use crate::audit::trace_id;
    }
    /// The builtins a policy may call.
    pub mod calls {
        pub use crate::calls::provided;
    }
    /// The input document, built piece by piece.
    pub mod input {
        pub use crate::input::{approval_value, build, requester_value, InputParts, TokenView};
    }
    /// The strict JSON reader (duplicate members refused).
    pub mod json {
        pub use crate::json::{parse_strict, parse_strict_with_depth, StrictJsonError};
    }
    /// Compact JWS: its parts, and base64url.
    pub mod jws {
        pub use crate::jws::{b64url_decode, b64url_encode, CompactJws};
    }
    /// Rego evaluation below `Policy`.
    pub mod policy {
        pub use crate::policy::{interpret, load_modules, PolicyOutcome};
    }
}
