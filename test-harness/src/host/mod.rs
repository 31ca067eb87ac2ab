//! The host: one VM running one filter module the way Envoy runs it. Split as
//! proxy-wasm-cpp-host splits it: the VM (`vm`), the root context (`root`), HTTP
//! streams (`stream`), time and outgoing calls (`calls`), and what tests read back
//! (`inspect`).

mod calls;
mod inspect;
mod root;
mod stream;
mod vm;

use crate::abi::{AbiVersion, LogLevel, StreamAction};
use crate::clock::{Clock, DEFAULT_START_UNIX_NS};
use crate::error::Error;
use crate::headers::HeaderMap;
use crate::http::{EnvoyRequest, HttpCall, HttpCallReply};
use crate::logs::LogEntry;
use crate::metrics::{Metric, MetricValue};
use crate::module::FilterModule;
use crate::outcome::{status_of, Outcome, Response, FAIL_STREAM_DETAILS};
use crate::properties::{path_bytes, PropertyValue};
use crate::state::{
    ActiveCallResponse, Call, ContextState, Deferred, HostState, LocalReply, RootState, Settings, StreamState, Timer,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};
use wasmtime::{Instance, Linker, Store, TypedFunc, WasmParams, WasmResults};

/// What Envoy does with requests once the VM has failed (`failure_policy` of the Wasm plugin
/// config; older Envoy: `fail_open`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// `FAIL_CLOSED` (the default): every request is answered `503` with response code details
    /// `wasm_fail_stream` and no body, without calling the module.
    #[default]
    FailClosed,
    /// `FAIL_OPEN`: requests pass as if the filter were not there.
    FailOpen,
}

/// Settings of a host. Every field has a default (see [`HostConfig::default`]).
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// The VM configuration (`vm_config.configuration`), served as buffer type 6. Default: empty.
    pub vm_config: Vec<u8>,
    /// `root_id` of the plugin, returned by the `plugin_root_id` property. Default: empty.
    pub root_id: String,
    /// `vm_id`, returned by `plugin_vm_id`. Default: empty.
    pub vm_id: String,
    /// The plugin `name`, returned by `plugin_name`. Default: empty.
    pub plugin_name: String,
    /// What `proxy_get_log_level` answers. Default: `Info`, Envoy's default. Lines below it are
    /// still captured.
    pub log_level: LogLevel,
    /// What happens to requests after a trap. Default: [`FailurePolicy::FailClosed`].
    pub failure_policy: FailurePolicy,
    /// WASI environment variables (`vm_config.environment_variables`). Default: none.
    pub env: Vec<(String, String)>,
    /// Properties every context can read, by dotted name (e.g. `node.metadata.cluster`).
    /// Default: none.
    pub properties: BTreeMap<String, PropertyValue>,
    /// Start of the wall clock, in nanoseconds since the Unix epoch. Default:
    /// 2025-01-01T00:00:00Z.
    pub start_unix_nanos: u64,
    /// Seed of the deterministic bytes WASI `random_get` returns. Default: 0.
    pub random_seed: u64,
    /// Cap on the VM's linear memory, in bytes (Envoy's runtimes cap it too); growing past
    /// it fails, which a Rust module turns into an abort (a trap). Default: the ABI
    /// limit, [`crate::abi::MAX_MEMORY_BYTES`].
    pub max_memory_bytes: Option<usize>,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            vm_config: Vec::new(),
            root_id: String::new(),
            vm_id: String::new(),
            plugin_name: String::new(),
            log_level: LogLevel::Info,
            failure_policy: FailurePolicy::FailClosed,
            env: Vec::new(),
            properties: BTreeMap::new(),
            start_unix_nanos: DEFAULT_START_UNIX_NS,
            random_seed: 0,
            max_memory_bytes: None,
        }
    }
}

/// `proxy_on_http_call_response(context_id, token, headers, body_size, trailers)`.
type HttpCallResponseFn = TypedFunc<(u32, u32, u32, u32, u32), ()>;

/// The module's exports the host calls, checked against the ABI signatures at load time.
#[derive(Default)]
struct Exports {
    initialize: Option<TypedFunc<(), ()>>,
    main: Option<TypedFunc<(u32, u32), u32>>,
    start: Option<TypedFunc<(), ()>>,
    context_create: Option<TypedFunc<(u32, u32), ()>>,
    vm_start: Option<TypedFunc<(u32, u32), u32>>,
    configure: Option<TypedFunc<(u32, u32), u32>>,
    tick: Option<TypedFunc<u32, ()>>,
    queue_ready: Option<TypedFunc<(u32, u32), ()>>,
    request_headers: Option<TypedFunc<(u32, u32, u32), u32>>,
    request_body: Option<TypedFunc<(u32, u32, u32), u32>>,
    response_headers: Option<TypedFunc<(u32, u32, u32), u32>>,
    response_body: Option<TypedFunc<(u32, u32, u32), u32>>,
    http_call_response: Option<HttpCallResponseFn>,
    done: Option<TypedFunc<u32, u32>>,
    log: Option<TypedFunc<u32, ()>>,
    delete: Option<TypedFunc<u32, ()>>,
}

fn typed<P: WasmParams, R: WasmResults>(
    instance: &Instance,
    store: &mut Store<HostState>,
    name: &str,
) -> Result<Option<TypedFunc<P, R>>, Error> {
    match instance.get_func(&mut *store, name) {
        None => Ok(None),
        Some(func) => func.typed::<P, R>(&*store).map(Some).map_err(|e| Error::BadExport {
            name: name.to_string(),
            message: format!("{e:#}"),
        }),
    }
}

impl Exports {
    fn resolve(instance: &Instance, store: &mut Store<HostState>) -> Result<Self, Error> {
        Ok(Self {
            initialize: typed(instance, store, "_initialize")?,
            main: typed(instance, store, "main")?,
            start: typed(instance, store, "_start")?,
            context_create: typed(instance, store, "proxy_on_context_create")?,
            vm_start: typed(instance, store, "proxy_on_vm_start")?,
            configure: typed(instance, store, "proxy_on_configure")?,
            tick: typed(instance, store, "proxy_on_tick")?,
            queue_ready: typed(instance, store, "proxy_on_queue_ready")?,
            request_headers: typed(instance, store, "proxy_on_request_headers")?,
            request_body: typed(instance, store, "proxy_on_request_body")?,
            response_headers: typed(instance, store, "proxy_on_response_headers")?,
            response_body: typed(instance, store, "proxy_on_response_body")?,
            http_call_response: typed(instance, store, "proxy_on_http_call_response")?,
            done: typed(instance, store, "proxy_on_done")?,
            log: typed(instance, store, "proxy_on_log")?,
            delete: typed(instance, store, "proxy_on_delete")?,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    EnvoyRequest,
    Response,
}

/// A proxy-wasm ABI 0.2.1 host on wasmtime that runs one filter module the way Envoy does.
///
/// ```no_run
/// use jitgate_harness::{Host, Outcome, EnvoyRequest};
/// let mut host = Host::load("target/wasm32-wasip1/release/jitgate_filter.wasm")?;
/// host.configure(r#"{"resource": "test-database"}"#)?;
/// let out = host.request(
///     EnvoyRequest::get("/orders")
///         .header("x-jit-approval", "eyJ…")
///         .property("source.address", "10.0.0.7:1234"),
/// )?;
/// match out {
///     Outcome::Forwarded { headers, .. } => println!("upstream got {headers:?}"),
///     Outcome::LocalResponse { status, body, .. } => println!("{status} {body:?}"),
///     Outcome::Reset { .. } => println!("reset"),
/// }
/// println!("{:?} {:?}", host.logs(), host.metric("jitgate.allowed"));
/// # Ok::<(), jitgate_harness::Error>(())
/// ```
///
/// Lifecycle, as Envoy (proxy-wasm-cpp-host `WasmBase`, Envoy `Context`):
/// - loading instantiates the module and calls `_initialize` (then `main` if exported) or
///   `_start`, with only logging, clocks, random and the WASI argument/environment functions
///   allowed (`restricted_callback` traps otherwise);
/// - [`configure`](Self::configure) creates a root context: `proxy_on_context_create(root, 0)`,
///   `proxy_on_vm_start(root, vm_config_size)`, `proxy_on_configure(root, plugin_config_size)`;
/// - [`request`](Self::request) runs one stream: `proxy_on_context_create(ctx, root)`,
///   `proxy_on_request_headers`, `proxy_on_request_body` (if the request has a body),
///   `proxy_on_response_headers` / `_body` (for the upstream response, or for the filter's own
///   local reply, which Envoy passes through the encoder filters too), then `proxy_on_log`,
///   `proxy_on_done`, `proxy_on_delete` (Envoy logs before it destroys the filters);
/// - responses to `proxy_http_call` and queue notifications arrive after the callback that
///   caused them returns; a paused stream waits for them;
/// - a trap kills the VM: the call returns [`Error::Trap`], later requests get the
///   [`FailurePolicy`] outcome and every other call [`Error::VmDead`].
pub struct Host {
    store: Store<HostState>,
    exports: Exports,
    module: FilterModule,
    root: Option<u32>,
    next_context_id: u32,
    dead: Option<(String, String)>,
    failure_policy: FailurePolicy,
    detached: StreamState,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("module", &self.module)
            .field("root", &self.root)
            .field("dead", &self.dead)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// Loads the module at `path` and starts a VM with the default [`HostConfig`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::new(&FilterModule::load(path)?)
    }

    /// Loads a module from WebAssembly binary bytes with the default [`HostConfig`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::new(&FilterModule::from_bytes(bytes)?)
    }

    /// Starts a VM for a compiled module with the default [`HostConfig`].
    pub fn new(module: &FilterModule) -> Result<Self, Error> {
        Self::with_config(module, HostConfig::default())
    }

    /// Starts a VM: instantiates the module and runs its start function(s).
    pub fn with_config(module: &FilterModule, config: HostConfig) -> Result<Self, Error> {
        let abi = module.abi_version();
        let mut clock = Clock::default();
        clock.set_unix_nanos(config.start_unix_nanos);
        let settings = Settings {
            vm_config: config.vm_config,
            root_id: config.root_id,
            vm_id: config.vm_id,
            plugin_name: config.plugin_name,
            log_level: config.log_level,
            env: config.env,
            properties: config
                .properties
                .into_iter()
                .map(|(k, v)| (path_bytes(&k), v))
                .collect(),
        };
        let mut store = Store::new(
            module.engine(),
            HostState::new(
                settings,
                clock,
                config.random_seed,
                config.max_memory_bytes.unwrap_or(crate::abi::MAX_MEMORY_BYTES),
            ),
        );
        store.limiter(|state| &mut state.limits);

        let mut linker = Linker::new(module.engine());
        crate::hostcalls::add_to_linker(&mut linker, abi).map_err(|e| Error::Instantiate(format!("{e:#}")))?;
        let instance = linker
            .instantiate(&mut store, module.module())
            .map_err(|e| Error::Instantiate(format!("{e:#}")))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| Error::MissingExport("`memory`".into()))?;
        // Envoy looks for `malloc` first, then `proxy_on_memory_allocate`.
        let malloc = match typed::<u32, u32>(&instance, &mut store, "malloc")? {
            Some(f) => f,
            None => typed::<u32, u32>(&instance, &mut store, "proxy_on_memory_allocate")?
                .ok_or_else(|| Error::MissingExport("`malloc` or `proxy_on_memory_allocate`".into()))?,
        };
        store.data_mut().memory = Some(memory);
        store.data_mut().malloc = Some(malloc);
        let exports = Exports::resolve(&instance, &mut store)?;

        let mut host = Self {
            store,
            exports,
            module: module.clone(),
            root: None,
            next_context_id: 1,
            dead: None,
            failure_policy: config.failure_policy,
            detached: StreamState::default(),
        };
        host.start_vm()?;
        Ok(host)
    }
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}
