//! The host calls the filter makes, behind a trait.
//!
//! In Envoy the host is `proxy::ProxyHost` (the proxy-wasm ABI); in unit tests
//! it is a fake, so the whole per-request flow — including every failure path — runs
//! natively. Every call returns a `Result`: the filter decides what a failed call
//! means, and a failure never lets a request through that should be denied.

use core::fmt;

/// Log levels of the proxy-wasm ABI (spdlog's numbers, as Envoy uses them; Envoy's
/// `off` is 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `trace`.
    Trace = 0,
    /// `debug`.
    Debug = 1,
    /// `info`: audit records.
    Info = 2,
    /// `warn`: requests refused as invalid, a host call for a non-essential step failed.
    Warn = 3,
    /// `error`: configuration rejected, a host call the decision needed failed.
    Error = 4,
    /// `critical`: a panic (there should be none) or a denial that could not be sent.
    Critical = 5,
}

/// A host call that did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostError {
    /// The call (`get_property`, `send_local_response`, …).
    pub call: &'static str,
    /// The proxy-wasm status the host returned (0 = ok, 1 = not found, …), or `u32::MAX`
    /// when the call returned a value the filter cannot use.
    pub status: u32,
}

impl HostError {
    /// A failed `call` with proxy-wasm `status`.
    pub fn new(call: &'static str, status: u32) -> Self {
        Self { call, status }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host call `{}` failed with status {}", self.call, self.status)
    }
}

impl std::error::Error for HostError {}

/// What the filter needs from the proxy.
///
/// Header names are lower case (Envoy's header maps are). Header values are bytes: a
/// value need not be UTF-8 (`obs-text`), and the filter decides what that means.
pub trait HostCalls {
    /// Wall-clock time, nanoseconds since the Unix epoch.
    fn now_ns(&self) -> Result<i64, HostError>;
    /// Every request header, pseudo-headers (`:method`, `:path`, …) included, in order.
    fn request_headers(&self) -> Result<Vec<(String, Vec<u8>)>, HostError>;
    /// A property such as `["source", "address"]`; `Ok(None)` when the host has none.
    fn property(&self, path: &[&str]) -> Result<Option<Vec<u8>>, HostError>;
    /// Removes every request header `name` (no error when there is none).
    fn remove_request_header(&mut self, name: &str) -> Result<(), HostError>;
    /// Sets request header `name` to `value`, replacing any value.
    fn set_request_header(&mut self, name: &str, value: &str) -> Result<(), HostError>;
    /// Adds a response header (keeping existing values).
    fn add_response_header(&mut self, name: &str, value: &str) -> Result<(), HostError>;
    /// Answers the request locally instead of forwarding it.
    fn send_response(&mut self, status: u16, headers: &[(String, String)], body: &str) -> Result<(), HostError>;
    /// Resets the request stream (the last resort when a denial cannot be sent).
    fn reset_request(&mut self) -> Result<(), HostError>;
    /// Defines a counter; returns its id.
    fn define_counter(&self, name: &str) -> Result<u32, HostError>;
    /// Adds one to the counter `id`.
    fn increment_counter(&self, id: u32) -> Result<(), HostError>;
    /// Sets filter state `name` (Envoy: `wasm.<name>`, readable by the access log as
    /// `%FILTER_STATE(wasm.<name>:PLAIN)%`) to `value`.
    fn set_filter_state(&mut self, name: &str, value: &str) -> Result<(), HostError>;
    /// Logs `message` at `level`. Logging never fails the request.
    fn log(&self, level: Level, message: &str);
    /// Whether a line at `level` is written now (Envoy: the `wasm` logger's level, which
    /// `--component-log-level` and the admin `/logging` endpoint change at run time).
    /// The filter formats the audit line only when it will be written.
    fn writes(&self, level: Level) -> bool;
}
