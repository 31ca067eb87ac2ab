//! # jitgate-filter
//!
//! jitgate as an Envoy HTTP filter: a proxy-wasm module (ABI 0.2.1, `wasm32-wasip1`)
//! that verifies a signed just-in-time approval and decides each request with a Rego
//! policy. It is thin glue over [`jitgate_core::Gate`]; all the logic is the core's.
//!
//! - The root context parses the plugin configuration (DESIGN §6, the filter's
//!   `configuration` string) once, in `on_configure`, into a `Gate` with a random
//!   instance seed (WASI `random_get`), and shares it with its HTTP contexts through an
//!   `Rc`. A bad configuration is logged at error naming the field, counted in
//!   `jitgate.config_errors`, and rejected (`on_configure` returns false).
//! - Each HTTP context, on the request headers, builds a [`jitgate_core::Request`] from
//!   the header map and the properties `source.address`,
//!   `connection.uri_san_peer_certificate`, `connection.sha256_peer_certificate_digest`
//!   (hex, converted to base64url), `request.protocol` and the route's metadata (the
//!   request id is the `x-request-id` header, which is what Envoy's `request.id` is);
//!   takes `now` from the host clock; decides; and forwards (removing the headers it
//!   must strip that the request carries, then setting headers) or answers locally.
//!   Response headers an allowing policy asks for are added to the response.
//! - Every request gives one audit line at info: [`AUDIT_LOG_PREFIX`] followed by one
//!   JSON object (DESIGN §7, with `eval_ns` measured on the host clock), formatted only
//!   when the host writes info lines (`proxy_get_log_level`: with Envoy's `wasm` logger
//!   at warning, no line is built). Every other line starts with [`LOG_PREFIX`].
//! - Counters ([`metrics`]): `jitgate.allowed`, `jitgate.denied`,
//!   `jitgate.denied.<reason>`, `jitgate.dry_run.would_deny`, `jitgate.config_errors`
//!   (Envoy exports them as `wasmcustom.jitgate.*`).
//! - Fail closed: what the decision needs and cannot be read is a refusal (400
//!   `request_invalid` for a header value that is not UTF-8, 500 `internal_error`
//!   when a host call fails), never a pass; see [`filter`].
//!
//! - Live trust ([`feed`]): with `issuers[].feed` configured, every root context ticks,
//!   one VM per period fetches each revocation list, status list and key set with
//!   `proxy_http_call`, and every VM installs it from proxy-wasm shared data.
//!
//! The per-request logic is written against the [`HostCalls`] trait, so it runs natively
//! in tests with a fake host; `proxy` (wasm32 only) binds it to Envoy.

// Lints, each for a reason:
// - a panic kills the Wasm VM (and the release profile aborts): errors are values;
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]
// - everything public is documented.
#![warn(missing_docs)]

pub mod feed;
pub mod filter;
pub mod host;
pub mod metrics;
#[cfg(target_arch = "wasm32")]
pub mod proxy;
pub mod request;

pub use feed::{Feed, FeedHost};
pub use filter::{Filter, Shared, Verdict, AUDIT_LOG_PREFIX, LOG_PREFIX};
pub use host::{HostCalls, HostError, Level};
pub use metrics::CounterIds;
