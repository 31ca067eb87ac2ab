//! # jitgate-core
//!
//! The no-IO core of jitgate: it verifies a signed just-in-time (JIT) approval token
//! and decides an HTTP request with a Rego policy. Time, keys, policy and request
//! all come in as arguments; the crate reads no clock, file, network or randomness,
//! so the Envoy filter, the JS package and the `jitgate` command decide alike.
//!
//! ```text
//! host (Envoy / JS / CLI) ──Request, now──▶ Gate::decide ──▶ Decision (allow, status, reason, action, audit)
//! ```
//!
//! - [`Gate`] — built once from the plugin configuration ([`Config`], DESIGN §6).
//! - [`token`] — the approval token rules (DESIGN §3) and their error codes.
//! - [`input`] — the policy input document (DESIGN §4), built as regorus values.
//! - [`policy`] — the compiled Rego policy with the injected `time.now_ns`.
//! - [`decision`] and [`audit`] — the outcome and its audit record (DESIGN §5, §7).
//!
//! Features: `time`, `glob`, `regex`, `encoding`, `semver` add Rego builtins (`full`
//! has them all); `std` and `net` need a host with std on wasm32 (WASI or JS);
//! `coverage` enables Rego coverage reports. The crate only verifies: tokens and
//! feed documents are signed by `jitgate-mint`.

// Lints, each for a reason:
// - no `unsafe`: nothing here needs it, and the crate parses untrusted tokens;
#![forbid(unsafe_code)]
// - a panic inside Envoy kills the Wasm VM: errors are values on every input path;
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
// - indexing can panic too; use `get`;
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]
// - everything public is documented.
#![warn(missing_docs)]

pub mod audit;
pub mod builtins;
pub mod cache;
pub mod calls;
pub mod config;
pub mod decision;
pub mod extract;
mod gate;
pub mod input;
pub mod json;
pub mod jwks;
pub mod jws;
pub mod policy;
pub mod request;
pub mod timefmt;
pub mod token;
pub mod trust;

pub use audit::{AuditRecord, AUDIT_LOG_PREFIX};
pub use config::{Config, ConfigError, FeedConfig, IdentitySource, Mode, OnStale, TokenConfig};
pub use decision::{decision_id, Action, Decision, Fault, Forward, LocalResponse, Reason, TokenStatus};
pub use gate::Gate;
pub use jws::Algorithm;
pub use policy::{set_monotonic_clock, Policy, PolicyOutcome};
/// The regorus crate this core evaluates Rego with (for hosts that build values).
pub use regorus;
pub use request::{Request, RequestError, RequestErrorKind, Route, Source};
pub use token::{Approval, RequestFacts, TokenError, TokenFailure};
pub use trust::{DocumentKind, FeedError, FeedErrorCode, FeedState, TrustStatus};
