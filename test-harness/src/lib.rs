//! A proxy-wasm ABI v0.2.1 host on wasmtime that runs an HTTP filter module the way Envoy does,
//! for tests and for the `jitgate` command.
//!
//! ```no_run
//! use jitgate_harness::{Host, Request};
//! let mut host = Host::load("target/wasm32-wasip1/release/jitgate_filter.wasm")?;
//! host.configure(r#"{"resource": "test-database"}"#)?;
//! let out = host.request(Request::get("/orders").property("source.address", "10.0.0.7:1234"))?;
//! println!("{}", out.to_json());
//! # Ok::<(), jitgate_harness::Error>(())
//! ```
//!
//! What follows Envoy, and from where (proxy-wasm-cpp-host `src/exports.cc`, `src/context.cc`,
//! `src/wasm.cc`, `include/proxy-wasm/exports.h`; Envoy `source/extensions/common/wasm/context.cc`,
//! `source/common/http/utility.cc`, `source/common/http/conn_manager_impl.cc`):
//! - the imports a module may use ([`abi::envoy_provides`]) and the start-up restrictions;
//! - the order of callbacks ([`Host`]), including the local reply passing through the filter's
//!   own `proxy_on_response_headers`, and `proxy_on_log` before `proxy_on_done` /
//!   `proxy_on_delete`;
//! - status codes of every host function, when maps and buffers are available, the pairs
//!   layout ([`pairs`]), header-map semantics ([`HeaderMap`]), metric ids ([`Host::metric`]),
//!   shared-data CAS, `proxy_http_call` checks and tokens;
//! - the fail-closed `503` (`wasm_fail_stream`) after a trap.
//!
//! Timing: responses to `proxy_http_call`, `proxy_on_queue_ready` and deferred deletes arrive
//! after the callback that caused them returns — at once while a stream waits for them, else
//! after the current request (or configure / tick) completes. Upstream calls answer instantly
//! (a scripted [`HttpCallReply::Timeout`] stands for a timeout); the clock only moves when the
//! test moves it.
//!
//! Not simulated: ABI 0.1.0, gRPC calls, foreign functions, network (TCP) filters, trailers,
//! Envoy's connection-manager header additions (`x-request-id`, `x-forwarded-proto`, …),
//! streaming bodies (a body arrives in one piece), Envoy's log-level filtering (every line is
//! captured), a limit on guest CPU time.

// Guest input must never panic the host: the workspace denies unwrap/expect/panic; indexing is
// denied here too, since guest pointers and lengths reach slicing code.
#![deny(clippy::indexing_slicing)]

pub mod abi;
pub mod clock;
mod error;
pub mod headers;
mod host;
mod hostcalls;
pub mod http;
pub mod jitgate;
pub mod logs;
mod memory;
pub mod metrics;
mod module;
pub mod outcome;
pub mod pairs;
pub mod properties;
mod shared_data;
mod state;

pub use abi::{AbiVersion, LogLevel, MetricType, Status};
pub use clock::Clock;
pub use error::Error;
pub use headers::HeaderMap;
pub use host::{FailurePolicy, Host, HostConfig};
pub use http::{HttpCall, HttpCallReply, Request, UpstreamResponse};
pub use logs::{LogEntry, LogSource};
pub use metrics::{Metric, MetricValue};
pub use module::FilterModule;
pub use outcome::{Outcome, Response};
pub use properties::PropertyValue;
pub use state::Call;
