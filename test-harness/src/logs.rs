//! Log lines the module wrote, through `proxy_log` or WASI stdout/stderr.

use crate::abi::LogLevel;
use std::fmt;

/// Where a log line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSource {
    /// `proxy_log`.
    ProxyLog,
    /// WASI `fd_write` to fd 1 (Envoy logs it at `info`).
    Stdout,
    /// WASI `fd_write` to fd 2 (Envoy logs it at `error`).
    Stderr,
    /// A message of the host itself about the module (Envoy's `Context::error`, logged at
    /// `trace`), e.g. a call to a WASI function Envoy only stubs.
    Host,
}

/// One captured log line.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LogEntry {
    /// The level.
    pub level: LogLevel,
    /// The message (WASI output: one `fd_write` call, trailing newline removed, as Envoy does).
    pub message: String,
    /// The context that was executing (0 while the VM starts).
    pub context_id: u32,
    /// Where it came from.
    pub source: LogSource,
}

impl fmt::Display for LogEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] #{} {}", self.level, self.context_id, self.message)
    }
}
