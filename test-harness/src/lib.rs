#![doc = include_str!("../README.md")]
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
pub use http::{EnvoyRequest, HttpCall, HttpCallReply, UpstreamResponse};
pub use logs::{LogEntry, LogSource};
pub use metrics::{Metric, MetricValue};
pub use module::FilterModule;
pub use outcome::{Outcome, Response};
pub use properties::PropertyValue;
pub use state::Call;
