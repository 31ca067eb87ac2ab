//! The host state kept in wasmtime's `Store<HostState>`.

use crate::abi::{LogLevel, Status};
use crate::clock::Clock;
use crate::headers::HeaderMap;
use crate::http::{HttpCall, Responder};
use crate::logs::{LogEntry, LogSource};
use crate::metrics::VmMetrics;
use crate::properties::PropertyMap;
use crate::shared_data::{SharedData, SharedQueues};
use std::collections::{BTreeMap, HashMap, VecDeque};
use wasmtime::{Memory, StoreLimits, TypedFunc};

/// One call the host made into the module.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Call {
    /// The export called (`proxy_on_request_headers`, `_initialize`, …).
    pub name: &'static str,
    /// Its first argument when that is a context id (0 for `_initialize` / `_start` / `main`).
    pub context_id: u32,
    /// All arguments, widened to `u64`.
    pub args: Vec<u64>,
}

/// Settings fixed for the life of a host.
#[derive(Debug)]
pub(crate) struct Settings {
    pub vm_config: Vec<u8>,
    pub root_id: String,
    pub vm_id: String,
    pub plugin_name: String,
    pub log_level: LogLevel,
    pub env: Vec<(String, String)>,
    pub properties: PropertyMap,
}

/// A local reply asked for with `proxy_send_local_response`, applied after the callback returns
/// (Envoy defers it with `addAfterVmCallAction`).
#[derive(Clone, Debug)]
pub(crate) struct LocalReply {
    pub status: u32,
    pub details: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// Per-request state of an HTTP context.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    pub root_id: u32,
    pub request_headers: HeaderMap,
    /// Envoy's `request_headers_` is non-null: from `decodeHeaders` until the filter continues.
    pub request_headers_available: bool,
    pub request_body: Vec<u8>,
    pub request_body_available: bool,
    pub response_headers: HeaderMap,
    pub response_headers_available: bool,
    pub response_body: Vec<u8>,
    pub response_body_available: bool,
    /// Response headers exist (upstream or local): a new local reply is then sent directly.
    pub response_started: bool,
    /// `proxy_on_log` is running: maps are readable, not writable.
    pub access_log_phase: bool,
    pub properties: PropertyMap,
    pub set_properties: PropertyMap,
    pub protocol: String,
    pub start_unix_nanos: u64,
    pub response_code: Option<u32>,
    pub response_details: Option<String>,
    pub local_reply: Option<LocalReply>,
    pub continued_request: bool,
    pub continued_response: bool,
    pub closed: bool,
}

/// State of a root context.
#[derive(Debug, Default)]
pub(crate) struct RootState {
    pub status_code: u32,
    pub status_message: String,
}

/// A context alive in the VM.
#[derive(Debug)]
pub(crate) enum ContextState {
    Root(RootState),
    Http(Box<StreamState>),
}

/// The response of a `proxy_http_call` while `proxy_on_http_call_response` runs.
#[derive(Debug, Default)]
pub(crate) struct ActiveCallResponse {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub trailers: HeaderMap,
}

/// A periodic timer of one root context (`proxy_set_tick_period_milliseconds`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timer {
    pub period_ns: u64,
    pub due_monotonic_ns: u64,
}

/// Work Envoy does asynchronously, after the current VM call returns.
#[derive(Debug)]
pub(crate) enum Deferred {
    HttpCall { call: HttpCall, root_id: u32 },
    QueueReady { root_id: u32, token: u32 },
    DeleteRoot(u32),
}

/// Everything the host functions read and write.
pub(crate) struct HostState {
    pub settings: Settings,
    pub memory: Option<Memory>,
    pub malloc: Option<TypedFunc<u32, u32>>,
    /// During `_initialize` / `main` / `_start` only a few host functions may be called.
    pub restricted: bool,
    pub clock: Clock,
    pub rng: u64,
    pub logs: Vec<LogEntry>,
    pub metrics: VmMetrics,
    pub shared_data: SharedData,
    pub queues: SharedQueues,
    pub contexts: BTreeMap<u32, ContextState>,
    /// The context the host called into (0: the VM context, during start).
    pub current: u32,
    /// Set by `proxy_set_effective_context` for the rest of the current call.
    pub effective: u32,
    /// The plugin configuration, visible only while `proxy_on_configure` runs.
    pub plugin_config: Option<Vec<u8>>,
    pub call_response: Option<ActiveCallResponse>,
    pub deferred: VecDeque<Deferred>,
    pub http_calls: Vec<HttpCall>,
    pub upstreams: HashMap<String, Responder>,
    pub next_http_token: u32,
    pub timers: BTreeMap<u32, Timer>,
    /// Root contexts whose `proxy_on_done` returned false, waiting for `proxy_done`.
    pub pending_done: Vec<u32>,
    pub calls: Vec<Call>,
    pub limits: StoreLimits,
    pub proc_exit: Option<u32>,
}

impl HostState {
    pub(crate) fn new(settings: Settings, clock: Clock, seed: u64, max_memory: usize) -> Self {
        let limits = wasmtime::StoreLimitsBuilder::new().memory_size(max_memory).build();
        Self {
            settings,
            memory: None,
            malloc: None,
            restricted: false,
            clock,
            rng: seed,
            logs: Vec::new(),
            metrics: VmMetrics::default(),
            shared_data: SharedData::default(),
            queues: SharedQueues::default(),
            contexts: BTreeMap::new(),
            current: 0,
            effective: 0,
            plugin_config: None,
            call_response: None,
            deferred: VecDeque::new(),
            http_calls: Vec::new(),
            upstreams: HashMap::new(),
            next_http_token: 0,
            timers: BTreeMap::new(),
            pending_done: Vec::new(),
            calls: Vec::new(),
            limits,
            proc_exit: None,
        }
    }

    /// Envoy's `contextOrEffectiveContext()`: the effective context if one is set and still
    /// exists, else the context the host called into.
    pub(crate) fn context_id(&self) -> u32 {
        if self.effective != 0 && self.contexts.contains_key(&self.effective) {
            self.effective
        } else {
            self.current
        }
    }

    /// The stream of the acting context, if it is an HTTP context.
    pub(crate) fn stream(&self) -> Option<&StreamState> {
        match self.contexts.get(&self.context_id()) {
            Some(ContextState::Http(s)) => Some(s),
            _ => None,
        }
    }

    /// The stream of the acting context, mutably.
    pub(crate) fn stream_mut(&mut self) -> Option<&mut StreamState> {
        let id = self.context_id();
        match self.contexts.get_mut(&id) {
            Some(ContextState::Http(s)) => Some(s),
            _ => None,
        }
    }

    /// The root context of the acting context (`root_context()`), 0 if none.
    pub(crate) fn root_id(&self) -> u32 {
        let id = self.context_id();
        match self.contexts.get(&id) {
            Some(ContextState::Http(s)) => s.root_id,
            Some(ContextState::Root(_)) => id,
            None => 0,
        }
    }

    pub(crate) fn log(&mut self, level: LogLevel, source: LogSource, message: String) {
        let context_id = self.context_id();
        self.logs.push(LogEntry {
            level,
            message,
            context_id,
            source,
        });
    }

    /// A host diagnostic (Envoy's `Context::error`, logged at trace).
    pub(crate) fn host_note(&mut self, message: impl Into<String>) {
        self.log(LogLevel::Trace, LogSource::Host, message.into());
    }

    /// SplitMix64: deterministic bytes for WASI `random_get` (seeded by the host config).
    pub(crate) fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Turns a status into the value returned to the module.
pub(crate) fn ret(status: Status) -> wasmtime::Result<u32> {
    Ok(status.code())
}
