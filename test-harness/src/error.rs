//! Errors of the harness.

use crate::logs::LogEntry;
use std::fmt::Write as _;
use std::path::PathBuf;

/// What went wrong loading or driving a module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The module file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are not a valid WebAssembly module, or the engine could not be set up.
    #[error("invalid wasm module: {0}")]
    Compile(String),
    /// The module exports none of `proxy_abi_version_0_2_1` / `proxy_abi_version_0_2_0`.
    #[error("module does not declare a supported proxy-wasm ABI version: {0}")]
    AbiVersion(String),
    /// The module imports something Envoy does not provide; every such import is listed, as
    /// `module.name`.
    #[error("module imports what Envoy does not provide: {}", .0.join(", "))]
    UnsupportedImports(Vec<String>),
    /// A required export (`memory`, `malloc` or `proxy_on_memory_allocate`) is missing.
    #[error("module does not export {0}")]
    MissingExport(String),
    /// An export Envoy calls has a different signature than the ABI's.
    #[error("export `{name}` does not have the proxy-wasm signature: {message}")]
    BadExport {
        /// The export.
        name: String,
        /// Why.
        message: String,
    },
    /// Linking or instantiating failed for another reason.
    #[error("cannot instantiate the module: {0}")]
    Instantiate(String),
    /// The module trapped (or a host call failed fatally) inside `callback`. The VM is dead
    /// from now on, as in Envoy.
    #[error("wasm trap in `{callback}`: {message}{}", logs_suffix(.logs))]
    Trap {
        /// The export the host was calling (`proxy_on_request_headers`, `_initialize`, …).
        callback: String,
        /// The trap message (`wasm \`unreachable\` instruction executed`, `restricted_callback`, …).
        message: String,
        /// The wasm backtrace, when wasmtime captured one.
        backtrace: Option<String>,
        /// Log lines written during that call (a Rust panic message usually is one of them).
        logs: Vec<LogEntry>,
    },
    /// A call on a host whose VM died earlier. Re-create the host to go on.
    #[error("the VM is dead since a trap in `{callback}`: {message}")]
    VmDead {
        /// Where the fatal trap happened.
        callback: String,
        /// Its message.
        message: String,
    },
    /// `proxy_on_vm_start` returned false; Envoy rejects the VM.
    #[error("proxy_on_vm_start returned false{}", logs_suffix(.logs))]
    VmStartFailed {
        /// Log lines written during the call.
        logs: Vec<LogEntry>,
    },
    /// `proxy_on_configure` returned false; Envoy rejects the configuration.
    #[error("proxy_on_configure returned false{}", logs_suffix(.logs))]
    ConfigureFailed {
        /// Log lines written during the call.
        logs: Vec<LogEntry>,
    },
    /// A request was sent before a successful [`Host::configure`](crate::Host::configure).
    #[error("the plugin is not configured: call `configure` first")]
    NotConfigured,
    /// The filter paused the stream and nothing resumes it: no pending `proxy_http_call` is
    /// left and neither `proxy_continue_stream` nor `proxy_send_local_response` was called.
    /// Envoy would hold the stream until a timeout.
    #[error("the filter paused the {phase} of context {context_id} and never resumed it")]
    Stalled {
        /// The HTTP context.
        context_id: u32,
        /// `request headers`, `request body`, `response headers` or `response body`.
        phase: &'static str,
    },
}

fn logs_suffix(logs: &[LogEntry]) -> String {
    if logs.is_empty() {
        return String::new();
    }
    let mut out = String::from("; logs:");
    for entry in logs {
        let _ = write!(out, "\n  {entry}");
    }
    out
}

impl Error {
    /// The log lines attached to the error (trap, failed start or configure), if any.
    pub fn logs(&self) -> &[LogEntry] {
        match self {
            Self::Trap { logs, .. } | Self::VmStartFailed { logs } | Self::ConfigureFailed { logs } => logs,
            _ => &[],
        }
    }
}
