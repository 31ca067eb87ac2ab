//! Constants of the proxy-wasm ABI v0.2.1 as Envoy (proxy-wasm-cpp-host) defines them, and the
//! set of imports Envoy provides.
//!
//! Sources: `proxy-wasm/spec` `abi-versions/v0.2.1`, proxy-wasm-cpp-host
//! `include/proxy-wasm/wasm_api_impl.h`, `include/proxy-wasm/exports.h` (`FOR_ALL_HOST_FUNCTIONS`,
//! `FOR_ALL_WASI_FUNCTIONS`) and `src/wasm.cc` (`WasmBase::registerCallbacks`).

use core::fmt;

/// A status code returned by a host function (`WasmResult` in proxy-wasm-cpp-host).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// The item (header, property, shared data key, metric, …) does not exist.
    NotFound = 1,
    /// An argument is out of range, or the item is not available at this point of the stream.
    BadArgument = 2,
    /// A value could not be serialised.
    SerializationFailure = 3,
    /// A value could not be parsed.
    ParseFailure = 4,
    /// An expression was malformed.
    BadExpression = 5,
    /// A pointer or length given by the module is outside its memory, or allocating in it failed.
    InvalidMemoryAccess = 6,
    /// The queue is empty.
    Empty = 7,
    /// The compare-and-swap value did not match.
    CasMismatch = 8,
    /// A result did not match the expected type.
    ResultMismatch = 9,
    /// The host failed internally.
    InternalFailure = 10,
    /// The connection is broken.
    BrokenConnection = 11,
    /// The host does not implement the call.
    Unimplemented = 12,
}

impl Status {
    /// The numeric value passed to the module.
    pub fn code(self) -> u32 {
        self as u32
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Log levels of `proxy_log` / `proxy_get_log_level` (spdlog's order, as Envoy uses it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[repr(u32)]
pub enum LogLevel {
    /// Trace.
    Trace = 0,
    /// Debug.
    Debug = 1,
    /// Info (Envoy's default level; WASI stdout is logged at this level).
    Info = 2,
    /// Warn.
    Warn = 3,
    /// Error (WASI stderr is logged at this level).
    Error = 4,
    /// Critical.
    Critical = 5,
}

impl LogLevel {
    /// The level for a numeric value, `None` above `Critical` (Envoy answers `BadArgument`).
    pub fn from_u32(level: u32) -> Option<Self> {
        Some(match level {
            0 => Self::Trace,
            1 => Self::Debug,
            2 => Self::Info,
            3 => Self::Warn,
            4 => Self::Error,
            5 => Self::Critical,
            _ => return None,
        })
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
            Self::Critical => "critical",
        })
    }
}

/// Header map types (`WasmHeaderMapType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum MapType {
    /// Request headers.
    RequestHeaders = 0,
    /// Request trailers.
    RequestTrailers = 1,
    /// Response headers.
    ResponseHeaders = 2,
    /// Response trailers.
    ResponseTrailers = 3,
    /// gRPC initial metadata of a gRPC call or stream.
    GrpcReceiveInitialMetadata = 4,
    /// gRPC trailing metadata of a gRPC call or stream.
    GrpcReceiveTrailingMetadata = 5,
    /// Headers of the response to a `proxy_http_call`.
    HttpCallResponseHeaders = 6,
    /// Trailers of the response to a `proxy_http_call`.
    HttpCallResponseTrailers = 7,
}

impl MapType {
    /// The map type for a numeric value, `None` past the last one (Envoy answers `BadArgument`).
    pub fn from_u32(value: u32) -> Option<Self> {
        Some(match value {
            0 => Self::RequestHeaders,
            1 => Self::RequestTrailers,
            2 => Self::ResponseHeaders,
            3 => Self::ResponseTrailers,
            4 => Self::GrpcReceiveInitialMetadata,
            5 => Self::GrpcReceiveTrailingMetadata,
            6 => Self::HttpCallResponseHeaders,
            7 => Self::HttpCallResponseTrailers,
            _ => return None,
        })
    }
}

/// Buffer types (`WasmBufferType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum BufferType {
    /// The request body.
    HttpRequestBody = 0,
    /// The response body.
    HttpResponseBody = 1,
    /// Downstream data of a network (TCP) filter.
    DownstreamData = 2,
    /// Upstream data of a network (TCP) filter.
    UpstreamData = 3,
    /// The body of the response to a `proxy_http_call`.
    HttpCallResponseBody = 4,
    /// A message received on a gRPC call or stream.
    GrpcReceiveBuffer = 5,
    /// The VM configuration (during `proxy_on_vm_start` and after).
    VmConfiguration = 6,
    /// The plugin configuration (during `proxy_on_configure` only).
    PluginConfiguration = 7,
    /// Call data of a foreign function.
    CallData = 8,
}

impl BufferType {
    /// The buffer type for a numeric value, `None` past the last one (Envoy: `BadArgument`).
    pub fn from_u32(value: u32) -> Option<Self> {
        Some(match value {
            0 => Self::HttpRequestBody,
            1 => Self::HttpResponseBody,
            2 => Self::DownstreamData,
            3 => Self::UpstreamData,
            4 => Self::HttpCallResponseBody,
            5 => Self::GrpcReceiveBuffer,
            6 => Self::VmConfiguration,
            7 => Self::PluginConfiguration,
            8 => Self::CallData,
            _ => return None,
        })
    }
}

/// Stream types of `proxy_continue_stream` / `proxy_close_stream` (`WasmStreamType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum StreamType {
    /// The HTTP request.
    HttpRequest = 0,
    /// The HTTP response.
    HttpResponse = 1,
    /// The downstream connection of a network filter.
    Downstream = 2,
    /// The upstream connection of a network filter.
    Upstream = 3,
}

impl StreamType {
    /// The stream type for a numeric value, `None` past the last one (Envoy: `BadArgument`).
    pub fn from_u32(value: u32) -> Option<Self> {
        Some(match value {
            0 => Self::HttpRequest,
            1 => Self::HttpResponse,
            2 => Self::Downstream,
            3 => Self::Upstream,
            _ => return None,
        })
    }
}

/// Metric types of `proxy_define_metric`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[repr(u32)]
pub enum MetricType {
    /// A counter: only grows.
    Counter = 0,
    /// A gauge: set, or moved up and down.
    Gauge = 1,
    /// A histogram: records values.
    Histogram = 2,
}

impl MetricType {
    /// The metric type for a numeric value, `None` past `Histogram` (Envoy: `BadArgument`).
    pub fn from_u32(value: u32) -> Option<Self> {
        Some(match value {
            0 => Self::Counter,
            1 => Self::Gauge,
            2 => Self::Histogram,
            _ => return None,
        })
    }
}

/// Return values of `proxy_on_request_headers` and the other stream callbacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum StreamAction {
    /// `Continue` (0).
    Continue,
    /// Anything else: Envoy turns `StopIteration` (1) and every unknown value into
    /// `StopAllIterationAndWatermark`, so the stream waits for `proxy_continue_stream`.
    Pause,
}

impl StreamAction {
    pub(crate) fn from_u32(value: u32) -> Self {
        if value == 0 {
            Self::Continue
        } else {
            Self::Pause
        }
    }
}

/// The proxy-wasm ABI version a module declares by exporting `proxy_abi_version_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum AbiVersion {
    /// `proxy_abi_version_0_2_0` (Envoy still accepts it; no `proxy_get_log_level`).
    V0_2_0,
    /// `proxy_abi_version_0_2_1`.
    V0_2_1,
}

impl fmt::Display for AbiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V0_2_0 => "0.2.0",
            Self::V0_2_1 => "0.2.1",
        })
    }
}

/// The `env` functions Envoy registers for every ABI version (`FOR_ALL_HOST_FUNCTIONS` with the
/// `proxy_` prefix, plus `pthread_equal` and `emscripten_notify_memory_growth`).
pub const ENV_FUNCTIONS: &[&str] = &[
    "proxy_log",
    "proxy_get_status",
    "proxy_set_property",
    "proxy_get_property",
    "proxy_send_local_response",
    "proxy_get_shared_data",
    "proxy_set_shared_data",
    "proxy_register_shared_queue",
    "proxy_resolve_shared_queue",
    "proxy_dequeue_shared_queue",
    "proxy_enqueue_shared_queue",
    "proxy_get_header_map_value",
    "proxy_add_header_map_value",
    "proxy_replace_header_map_value",
    "proxy_remove_header_map_value",
    "proxy_get_header_map_pairs",
    "proxy_set_header_map_pairs",
    "proxy_get_header_map_size",
    "proxy_get_buffer_status",
    "proxy_get_buffer_bytes",
    "proxy_set_buffer_bytes",
    "proxy_http_call",
    "proxy_grpc_call",
    "proxy_grpc_stream",
    "proxy_grpc_close",
    "proxy_grpc_cancel",
    "proxy_grpc_send",
    "proxy_set_tick_period_milliseconds",
    "proxy_get_current_time_nanoseconds",
    "proxy_define_metric",
    "proxy_increment_metric",
    "proxy_record_metric",
    "proxy_get_metric",
    "proxy_set_effective_context",
    "proxy_done",
    "proxy_call_foreign_function",
    "pthread_equal",
    "emscripten_notify_memory_growth",
];

/// The `env` functions Envoy registers only for ABI 0.2.0 and 0.2.1.
pub const ENV_FUNCTIONS_0_2: &[&str] = &["proxy_continue_stream", "proxy_close_stream"];

/// The `env` functions Envoy registers only for ABI 0.2.1.
pub const ENV_FUNCTIONS_0_2_1: &[&str] = &["proxy_get_log_level"];

/// The WASI preview 1 functions Envoy registers, under both `wasi_snapshot_preview1` and
/// `wasi_unstable` (`FOR_ALL_WASI_FUNCTIONS`). Notably absent: `sched_yield`, `poll_oneoff`,
/// `fd_filestat_get`, `path_filestat_get`, `fd_readdir` — a module importing them does not load.
pub const WASI_FUNCTIONS: &[&str] = &[
    "fd_write",
    "fd_read",
    "fd_seek",
    "fd_close",
    "fd_fdstat_get",
    "environ_get",
    "environ_sizes_get",
    "args_get",
    "args_sizes_get",
    "clock_time_get",
    "random_get",
    "proc_exit",
    "path_open",
    "fd_prestat_get",
    "fd_prestat_dir_name",
];

/// The WASI module names Envoy registers [`WASI_FUNCTIONS`] under.
pub const WASI_MODULES: &[&str] = &["wasi_snapshot_preview1", "wasi_unstable"];

/// Host functions a module may call from `_initialize` / `main` / `_start`
/// (`WasmBase::startVm`); any other call traps with `restricted_callback`.
pub(crate) const START_ALLOWED: &[(&str, &str)] = &[
    ("env", "proxy_log"),
    ("*", "fd_write"),
    ("*", "args_sizes_get"),
    ("*", "args_get"),
    ("*", "environ_sizes_get"),
    ("*", "environ_get"),
    ("*", "fd_prestat_get"),
    ("*", "fd_prestat_dir_name"),
    ("*", "clock_time_get"),
    ("*", "random_get"),
];

/// Whether Envoy provides `module.name` to a module of the given ABI version.
pub fn envoy_provides(abi: AbiVersion, module: &str, name: &str) -> bool {
    match module {
        "env" => {
            ENV_FUNCTIONS.contains(&name)
                || ENV_FUNCTIONS_0_2.contains(&name)
                || (abi == AbiVersion::V0_2_1 && ENV_FUNCTIONS_0_2_1.contains(&name))
        }
        m if WASI_MODULES.contains(&m) => WASI_FUNCTIONS.contains(&name),
        _ => false,
    }
}

/// Envoy's limit on the guest memory (`PROXY_WASM_HOST_MAX_WASM_MEMORY_SIZE_BYTES`, 1 GiB).
pub const MAX_MEMORY_BYTES: usize = 1024 * 1024 * 1024;
/// Envoy's limit on one `random_get` (`PROXY_WASM_HOST_WASI_RANDOM_GET_MAX_SIZE_BYTES`, 64 KiB).
pub const MAX_RANDOM_GET_BYTES: u32 = 64 * 1024;
