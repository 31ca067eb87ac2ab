//! The host: one VM running one filter module the way Envoy runs it.

use crate::abi::{AbiVersion, Action, LogLevel};
use crate::clock::{Clock, DEFAULT_START_UNIX_NS};
use crate::error::Error;
use crate::headers::HeaderMap;
use crate::http::{HttpCall, HttpCallReply, Request};
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
    Request,
    Response,
}

/// A proxy-wasm ABI 0.2.1 host on wasmtime that runs one filter module the way Envoy does.
///
/// ```no_run
/// use jitgate_harness::{Host, Outcome, Request};
/// let mut host = Host::load("target/wasm32-wasip1/release/jitgate_filter.wasm")?;
/// host.configure(r#"{"resource": "test-database"}"#)?;
/// let out = host.request(
///     Request::get("/orders")
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

    /// `WasmBase::startVm`: a WASI reactor's `_initialize` (then `main`, if exported), else a
    /// command's `_start`, with host calls restricted.
    fn start_vm(&mut self) -> Result<(), Error> {
        self.store.data_mut().restricted = true;
        let result = if let Some(f) = self.exports.initialize.clone() {
            self.call("_initialize", f, 0, (), Vec::new())
                .and_then(|()| match self.exports.main.clone() {
                    Some(main) => self.call("main", main, 0, (0, 0), vec![0, 0]).map(drop),
                    None => Ok(()),
                })
        } else if let Some(f) = self.exports.start.clone() {
            self.call("_start", f, 0, (), Vec::new())
        } else {
            Ok(())
        };
        self.store.data_mut().restricted = false;
        result
    }

    fn alive(&self) -> Result<(), Error> {
        match &self.dead {
            Some((callback, message)) => Err(Error::VmDead {
                callback: callback.clone(),
                message: message.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Calls into the module with `context_id` as the current context; a failure kills the VM.
    fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &'static str,
        func: TypedFunc<P, R>,
        context_id: u32,
        params: P,
        args: Vec<u64>,
    ) -> Result<R, Error> {
        self.alive()?;
        let state = self.store.data_mut();
        state.current = context_id;
        state.effective = 0;
        state.calls.push(Call { name, context_id, args });
        let logs_before = state.logs.len();
        let result = func.call(&mut self.store, params);
        let state = self.store.data_mut();
        state.effective = 0;
        match result {
            Ok(r) => Ok(r),
            Err(err) => {
                let backtrace = err.downcast_ref::<wasmtime::WasmBacktrace>().map(|b| b.to_string());
                let mut message = match err.downcast_ref::<wasmtime::Trap>() {
                    Some(trap) => trap.to_string(),
                    None => err.root_cause().to_string(),
                };
                if let Some(code) = state.proc_exit {
                    message.push_str(&format!(" (after proc_exit({code}))"));
                }
                let logs = state.logs.get(logs_before..).unwrap_or_default().to_vec();
                self.dead = Some((name.to_string(), message.clone()));
                Err(Error::Trap {
                    callback: name.to_string(),
                    message,
                    backtrace,
                    logs,
                })
            }
        }
    }

    fn alloc_context_id(&mut self) -> u32 {
        let id = self.next_context_id;
        self.next_context_id = self.next_context_id.wrapping_add(1).max(1);
        id
    }

    fn context_create(&mut self, id: u32, parent: u32) -> Result<(), Error> {
        match self.exports.context_create.clone() {
            Some(f) => self.call(
                "proxy_on_context_create",
                f,
                id,
                (id, parent),
                vec![id.into(), parent.into()],
            ),
            None => Ok(()),
        }
    }

    /// Creates a root context for `plugin_config` (`proxy_on_context_create(root, 0)`,
    /// `proxy_on_vm_start`, `proxy_on_configure` with the configuration as buffer type 7).
    ///
    /// Fails with [`Error::VmStartFailed`] or [`Error::ConfigureFailed`] (carrying the log lines
    /// of the attempt) when the module returns false: Envoy then rejects the configuration and
    /// the host stays as it was. Configuring again creates a new root context, as Envoy does for
    /// a new plugin configuration; the previous one gets `proxy_on_done` / `proxy_on_delete`.
    pub fn configure(&mut self, plugin_config: impl AsRef<[u8]>) -> Result<(), Error> {
        self.alive()?;
        let root = self.alloc_context_id();
        self.store
            .data_mut()
            .contexts
            .insert(root, ContextState::Root(RootState::default()));
        let logs_before = self.store.data().logs.len();
        match self.start_root(root, plugin_config.as_ref(), logs_before) {
            Ok(()) => {
                if let Some(old) = self.root.replace(root) {
                    self.shutdown_root(old)?;
                }
                self.run_deferred()
            }
            Err(e) => {
                let state = self.store.data_mut();
                state.contexts.remove(&root);
                state.timers.remove(&root);
                Err(e)
            }
        }
    }

    fn start_root(&mut self, root: u32, plugin_config: &[u8], logs_before: usize) -> Result<(), Error> {
        self.context_create(root, 0)?;
        let vm_config_len = len_u32(self.store.data().settings.vm_config.len());
        if let Some(f) = self.exports.vm_start.clone() {
            let ok = self.call(
                "proxy_on_vm_start",
                f,
                root,
                (root, vm_config_len),
                vec![root.into(), vm_config_len.into()],
            )?;
            if ok == 0 {
                return Err(Error::VmStartFailed {
                    logs: self.logs_since(logs_before),
                });
            }
        }
        if let Some(f) = self.exports.configure.clone() {
            let len = len_u32(plugin_config.len());
            self.store.data_mut().plugin_config = Some(plugin_config.to_vec());
            let result = self.call(
                "proxy_on_configure",
                f,
                root,
                (root, len),
                vec![root.into(), len.into()],
            );
            self.store.data_mut().plugin_config = None;
            if result? == 0 {
                return Err(Error::ConfigureFailed {
                    logs: self.logs_since(logs_before),
                });
            }
        }
        Ok(())
    }

    fn logs_since(&self, at: usize) -> Vec<LogEntry> {
        self.store.data().logs.get(at..).unwrap_or_default().to_vec()
    }

    /// `WasmBase::startShutdown` for one root context: `proxy_on_done`, and `proxy_on_delete`
    /// if it returned true; otherwise the root waits for the module to call `proxy_done`.
    fn shutdown_root(&mut self, root: u32) -> Result<bool, Error> {
        // Its timer keeps running: a root waiting for `proxy_done` usually finishes in a tick.
        let done = match self.exports.done.clone() {
            Some(f) => self.call("proxy_on_done", f, root, root, vec![root.into()])? != 0,
            None => true,
        };
        if done {
            self.delete_root(root)?;
        } else {
            self.store.data_mut().pending_done.push(root);
        }
        Ok(done)
    }

    fn delete_root(&mut self, root: u32) -> Result<(), Error> {
        if let Some(f) = self.exports.delete.clone() {
            self.call("proxy_on_delete", f, root, root, vec![root.into()])?;
        }
        let state = self.store.data_mut();
        state.contexts.remove(&root);
        state.timers.remove(&root);
        Ok(())
    }

    /// Shuts the configured plugin down (`proxy_on_done`, then `proxy_on_delete` unless
    /// `proxy_on_done` returned false, in which case the module must call `proxy_done` later,
    /// e.g. from a tick). Returns whether the root context is gone.
    pub fn shutdown(&mut self) -> Result<bool, Error> {
        self.alive()?;
        let Some(root) = self.root.take() else {
            return Ok(true);
        };
        let done = self.shutdown_root(root)?;
        self.run_deferred()?;
        Ok(done)
    }

    /// Runs one request through the filter and returns what happened to it (see [`Host`] for
    /// the callback order). A trap during the request returns [`Error::Trap`]; once the VM is
    /// dead, requests get the [`FailurePolicy`] outcome without calling the module.
    pub fn request(&mut self, request: Request) -> Result<Outcome, Error> {
        if let Some(at) = request.at_unix_nanos {
            self.store.data_mut().clock.set_unix_nanos(at);
        }
        if self.dead.is_some() {
            return Ok(self.failure_outcome(&request));
        }
        let root = self.root.ok_or(Error::NotConfigured)?;
        let ctx = self.alloc_context_id();
        let now = self.store.data().clock.unix_nanos();
        let stream = StreamState {
            root_id: root,
            request_headers: request.header_map(),
            properties: request.properties.clone(),
            protocol: request.protocol.clone(),
            start_unix_nanos: now,
            ..StreamState::default()
        };
        self.store
            .data_mut()
            .contexts
            .insert(ctx, ContextState::Http(Box::new(stream)));
        let result = self.run_stream(ctx, root, &request);
        self.store.data_mut().contexts.remove(&ctx);
        let outcome = result?;
        self.run_deferred()?;
        Ok(outcome)
    }

    fn failure_outcome(&self, request: &Request) -> Outcome {
        match self.failure_policy {
            FailurePolicy::FailClosed => Outcome::LocalResponse {
                status: 503,
                headers: [(":status", "503")].into_iter().collect(),
                body: Vec::new(),
                details: FAIL_STREAM_DETAILS.into(),
            },
            FailurePolicy::FailOpen => {
                let upstream = request.upstream.clone().unwrap_or_default();
                Outcome::Forwarded {
                    headers: request.header_map(),
                    body: request.body.clone().unwrap_or_default(),
                    response: Response {
                        status: status_of(&upstream.headers),
                        headers: upstream.headers,
                        body: upstream.body,
                    },
                }
            }
        }
    }

    fn run_stream(&mut self, ctx: u32, root: u32, request: &Request) -> Result<Outcome, Error> {
        self.context_create(ctx, root)?;
        match self.stream_phases(ctx, request) {
            Ok(outcome) => {
                self.finish_stream(ctx)?;
                Ok(outcome)
            }
            Err(Error::Stalled { context_id, phase }) => {
                // Nothing will resume the stream; end it as a client that gave up would.
                self.finish_stream(ctx)?;
                Err(Error::Stalled { context_id, phase })
            }
            Err(e) => Err(e),
        }
    }

    fn stream(&mut self, ctx: u32) -> &mut StreamState {
        // INVARIANT: the stream of `ctx` is in `contexts` from `request` until it returns, and
        // the module cannot remove contexts. Were it missing anyway, a detached state absorbs
        // the accesses rather than panicking.
        match self.store.data_mut().contexts.get_mut(&ctx) {
            Some(ContextState::Http(s)) => s,
            _ => &mut self.detached,
        }
    }

    fn stream_callback(
        &mut self,
        name: &'static str,
        func: Option<TypedFunc<(u32, u32, u32), u32>>,
        ctx: u32,
        size: usize,
        end_of_stream: bool,
    ) -> Result<Action, Error> {
        let Some(func) = func else {
            return Ok(Action::Continue);
        };
        let size = len_u32(size);
        let eos = u32::from(end_of_stream);
        let action = self.call(
            name,
            func,
            ctx,
            (ctx, size, eos),
            vec![ctx.into(), size.into(), eos.into()],
        )?;
        Ok(Action::from_u32(action))
    }

    fn stream_phases(&mut self, ctx: u32, request: &Request) -> Result<Outcome, Error> {
        // Request headers.
        let count = self.stream(ctx).request_headers.len();
        self.stream(ctx).request_headers_available = true;
        let f = self.exports.request_headers.clone();
        let action = self.stream_callback("proxy_on_request_headers", f, ctx, count, request.body.is_none())?;
        if let Some(end) = self.settle(ctx, action, Dir::Request, "request headers")? {
            return Ok(end);
        }
        self.stream(ctx).request_headers_available = false;

        // Request body, in one piece.
        if let Some(body) = &request.body {
            let stream = self.stream(ctx);
            stream.request_body = body.clone();
            stream.request_body_available = true;
            let f = self.exports.request_body.clone();
            let action = self.stream_callback("proxy_on_request_body", f, ctx, body.len(), true)?;
            if let Some(end) = self.settle(ctx, action, Dir::Request, "request body")? {
                return Ok(end);
            }
            self.stream(ctx).request_body_available = false;
        }

        // Upstream.
        let stream = self.stream(ctx);
        let forwarded_headers = stream.request_headers.clone();
        let forwarded_body = stream.request_body.clone();
        let upstream = request.upstream.clone().unwrap_or_default();
        let stream = self.stream(ctx);
        stream.response_code = Some(status_of(&upstream.headers));
        stream.response_headers = upstream.headers;
        stream.response_headers_available = true;
        stream.response_started = true;
        let count = stream.response_headers.len();
        let f = self.exports.response_headers.clone();
        let action = self.stream_callback("proxy_on_response_headers", f, ctx, count, upstream.body.is_empty())?;
        if let Some(end) = self.settle(ctx, action, Dir::Response, "response headers")? {
            return Ok(end);
        }
        self.stream(ctx).response_headers_available = false;
        if !upstream.body.is_empty() {
            let len = upstream.body.len();
            let stream = self.stream(ctx);
            stream.response_body = upstream.body;
            stream.response_body_available = true;
            let f = self.exports.response_body.clone();
            let action = self.stream_callback("proxy_on_response_body", f, ctx, len, true)?;
            if let Some(end) = self.settle(ctx, action, Dir::Response, "response body")? {
                return Ok(end);
            }
            self.stream(ctx).response_body_available = false;
        }
        let stream = self.stream(ctx);
        Ok(Outcome::Forwarded {
            headers: forwarded_headers,
            body: forwarded_body,
            response: Response {
                status: status_of(&stream.response_headers),
                headers: stream.response_headers.clone(),
                body: stream.response_body.clone(),
            },
        })
    }

    /// After a stream callback: applies a reset or local reply the module asked for; else, if
    /// the module paused the stream, delivers deferred events one by one until it resumes.
    /// Returns the outcome if the stream ended.
    fn settle(&mut self, ctx: u32, action: Action, dir: Dir, phase: &'static str) -> Result<Option<Outcome>, Error> {
        loop {
            let stream = self.stream(ctx);
            if stream.closed {
                let details = stream
                    .response_details
                    .clone()
                    .unwrap_or_else(|| "wasm_close_stream".into());
                return Ok(Some(Outcome::Reset { details }));
            }
            if let Some(reply) = stream.local_reply.take() {
                return self.local_reply(ctx, reply).map(Some);
            }
            let continued = match dir {
                Dir::Request => std::mem::take(&mut stream.continued_request),
                Dir::Response => std::mem::take(&mut stream.continued_response),
            };
            if action == Action::Continue || continued {
                return Ok(None);
            }
            if !self.run_one_deferred()? {
                return Err(Error::Stalled { context_id: ctx, phase });
            }
        }
    }

    /// Envoy's `sendLocalReply`: builds the reply headers like `Utility::sendLocalReply` and,
    /// if no response has started, passes them through the filter's encoder callbacks; once a
    /// response has started, the reply replaces it directly (`sendDirectLocalReply`).
    fn local_reply(&mut self, ctx: u32, reply: LocalReply) -> Result<Outcome, Error> {
        let mut headers = HeaderMap::new();
        headers.add(":status", reply.status.to_string());
        for (k, v) in &reply.headers {
            headers.add(k, v.as_str());
        }
        if reply.body.is_empty() {
            headers.remove("content-length");
            headers.remove("content-type");
        } else {
            headers.set_in_place("content-length", reply.body.len().to_string());
            if !headers.contains("content-type") {
                headers.add("content-type", "text/plain");
            }
        }
        let stream = self.stream(ctx);
        stream.response_code = Some(reply.status);
        stream.response_details = Some(reply.details.clone());
        stream.request_body_available = false;
        if stream.response_started {
            stream.response_headers = headers.clone();
            stream.response_body = reply.body.clone();
            return Ok(Outcome::LocalResponse {
                status: reply.status,
                headers,
                body: reply.body,
                details: reply.details,
            });
        }
        stream.response_started = true;
        stream.response_headers = headers;
        stream.response_headers_available = true;
        let count = stream.response_headers.len();
        let f = self.exports.response_headers.clone();
        let action = self.stream_callback("proxy_on_response_headers", f, ctx, count, reply.body.is_empty())?;
        if let Some(end) = self.settle(ctx, action, Dir::Response, "local reply headers")? {
            return Ok(end);
        }
        self.stream(ctx).response_headers_available = false;
        if !reply.body.is_empty() {
            let len = reply.body.len();
            let stream = self.stream(ctx);
            stream.response_body = reply.body.clone();
            stream.response_body_available = true;
            let f = self.exports.response_body.clone();
            let action = self.stream_callback("proxy_on_response_body", f, ctx, len, true)?;
            if let Some(end) = self.settle(ctx, action, Dir::Response, "local reply body")? {
                return Ok(end);
            }
            self.stream(ctx).response_body_available = false;
        }
        let stream = self.stream(ctx);
        let status = match status_of(&stream.response_headers) {
            0 => reply.status,
            s => s,
        };
        Ok(Outcome::LocalResponse {
            status,
            headers: stream.response_headers.clone(),
            body: stream.response_body.clone(),
            details: reply.details,
        })
    }

    /// End of a stream: `proxy_on_log` (access-log phase: headers readable, not writable),
    /// then `proxy_on_done` and `proxy_on_delete` (Envoy's `onDestroy`).
    fn finish_stream(&mut self, ctx: u32) -> Result<(), Error> {
        let stream = self.stream(ctx);
        stream.request_headers_available = false;
        stream.request_body_available = false;
        stream.response_headers_available = false;
        stream.response_body_available = false;
        stream.access_log_phase = true;
        if let Some(f) = self.exports.log.clone() {
            self.call("proxy_on_log", f, ctx, ctx, vec![ctx.into()])?;
        }
        self.stream(ctx).access_log_phase = false;
        if let Some(f) = self.exports.done.clone() {
            self.call("proxy_on_done", f, ctx, ctx, vec![ctx.into()])?;
        }
        if let Some(f) = self.exports.delete.clone() {
            self.call("proxy_on_delete", f, ctx, ctx, vec![ctx.into()])?;
        }
        Ok(())
    }

    /// Delivers every deferred event (including those the deliveries cause).
    fn run_deferred(&mut self) -> Result<(), Error> {
        while self.run_one_deferred()? {}
        Ok(())
    }

    /// Delivers the oldest deferred event; false if there was none.
    fn run_one_deferred(&mut self) -> Result<bool, Error> {
        let Some(event) = self.store.data_mut().deferred.pop_front() else {
            return Ok(false);
        };
        match event {
            Deferred::HttpCall { call, root_id } => self.deliver_http_call(call, root_id)?,
            Deferred::QueueReady { root_id, token } => {
                let root_alive = self.store.data().contexts.contains_key(&root_id);
                if let (true, Some(f)) = (root_alive, self.exports.queue_ready.clone()) {
                    self.call(
                        "proxy_on_queue_ready",
                        f,
                        root_id,
                        (root_id, token),
                        vec![root_id.into(), token.into()],
                    )?;
                }
            }
            Deferred::DeleteRoot(root) => self.delete_root(root)?,
        }
        Ok(true)
    }

    fn deliver_http_call(&mut self, call: HttpCall, root_id: u32) -> Result<(), Error> {
        let state = self.store.data_mut();
        let reply = match state.upstreams.get_mut(&call.cluster) {
            Some(responder) => responder(&call),
            None => HttpCallReply::Failure,
        };
        // Envoy keeps the call on the root context: without it, nobody hears the answer.
        if !state.contexts.contains_key(&root_id) {
            return Ok(());
        }
        let Some(f) = self.exports.http_call_response.clone() else {
            return Ok(());
        };
        let (headers, body, trailers) = match reply.into_parts() {
            Some((h, b, t)) => {
                let counts = (len_u32(h.len()), len_u32(b.len()), len_u32(t.len()));
                state.call_response = Some(ActiveCallResponse {
                    headers: h,
                    body: b,
                    trailers: t,
                });
                counts
            }
            None => (0, 0, 0),
        };
        let token = call.token;
        let result = self.call(
            "proxy_on_http_call_response",
            f,
            root_id,
            (root_id, token, headers, body, trailers),
            vec![
                root_id.into(),
                token.into(),
                headers.into(),
                body.into(),
                trailers.into(),
            ],
        );
        self.store.data_mut().call_response = None;
        result
    }

    /// Moves both clocks forward by `by`, firing every tick that falls due on the way (the
    /// clock reads the tick's due time during `proxy_on_tick`). With a dead VM the clock still
    /// moves, and the call returns [`Error::VmDead`].
    pub fn advance(&mut self, by: Duration) -> Result<(), Error> {
        let by_ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let target = self.store.data().clock.monotonic_nanos().saturating_add(by_ns);
        loop {
            if self.dead.is_some() {
                break;
            }
            let next = self
                .store
                .data()
                .timers
                .iter()
                .filter(|(_, t)| t.due_monotonic_ns <= target)
                .min_by_key(|(_, t)| t.due_monotonic_ns)
                .map(|(root, t)| (*root, *t));
            let Some((root, timer)) = next else {
                break;
            };
            self.fire_tick(root, timer)?;
        }
        let state = self.store.data_mut();
        let rest = target.saturating_sub(state.clock.monotonic_nanos());
        state.clock.advance(Duration::from_nanos(rest));
        self.alive()
    }

    /// Moves the clocks to the next due tick and fires it. Returns false (and leaves the clock
    /// alone) when no tick period is set.
    pub fn tick(&mut self) -> Result<bool, Error> {
        self.alive()?;
        let next = self
            .store
            .data()
            .timers
            .iter()
            .min_by_key(|(_, t)| t.due_monotonic_ns)
            .map(|(root, t)| (*root, *t));
        let Some((root, timer)) = next else {
            return Ok(false);
        };
        self.fire_tick(root, timer)?;
        Ok(true)
    }

    fn fire_tick(&mut self, root: u32, timer: Timer) -> Result<(), Error> {
        let state = self.store.data_mut();
        let wait = timer.due_monotonic_ns.saturating_sub(state.clock.monotonic_nanos());
        state.clock.advance(Duration::from_nanos(wait));
        // Re-arm first: a period set during the tick replaces this one (`Wasm::tickHandler`).
        state.timers.insert(
            root,
            Timer {
                period_ns: timer.period_ns,
                due_monotonic_ns: timer.due_monotonic_ns.saturating_add(timer.period_ns),
            },
        );
        if !state.contexts.contains_key(&root) {
            state.timers.remove(&root);
            return Ok(());
        }
        if let Some(f) = self.exports.tick.clone() {
            self.call("proxy_on_tick", f, root, root, vec![root.into()])?;
        }
        self.run_deferred()
    }

    /// Registers a scripted upstream cluster for `proxy_http_call`. Calls to clusters that are
    /// not registered fail with `BadArgument`, as calls to unknown clusters do in Envoy.
    ///
    /// ```no_run
    /// # let mut host: jitgate_harness::Host = unimplemented!();
    /// use jitgate_harness::HttpCallReply;
    /// host.upstream("auth", |call| {
    ///     assert_eq!(call.headers.get(":path"), Some("/check"));
    ///     HttpCallReply::status(200).header("x-auth", "ok").body("granted")
    /// });
    /// ```
    pub fn upstream<F>(&mut self, cluster: impl Into<String>, responder: F)
    where
        F: FnMut(&HttpCall) -> HttpCallReply + Send + 'static,
    {
        self.store
            .data_mut()
            .upstreams
            .insert(cluster.into(), Box::new(responder));
    }

    /// Every `proxy_http_call` the module made, in order.
    pub fn http_calls(&self) -> &[HttpCall] {
        &self.store.data().http_calls
    }

    /// Every log line captured so far (`proxy_log`, WASI stdout/stderr, host notes).
    pub fn logs(&self) -> &[LogEntry] {
        &self.store.data().logs
    }

    /// Takes the captured log lines, leaving none.
    pub fn take_logs(&mut self) -> Vec<LogEntry> {
        std::mem::take(&mut self.store.data_mut().logs)
    }

    /// The messages of the captured lines, in order.
    pub fn log_messages(&self) -> Vec<&str> {
        self.logs().iter().map(|l| l.message.as_str()).collect()
    }

    /// Every call the host made into the module, in order (allocations excluded).
    pub fn calls(&self) -> &[Call] {
        &self.store.data().calls
    }

    /// The names of [`Self::calls`], in order.
    pub fn call_names(&self) -> Vec<&'static str> {
        self.calls().iter().map(|c| c.name).collect()
    }

    /// Takes the recorded calls, leaving none.
    pub fn take_calls(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.store.data_mut().calls)
    }

    /// The value of the counter or gauge the module defined as `name`.
    pub fn metric(&self, name: &str) -> Option<u64> {
        self.metrics().iter().find_map(|m| match (&m.value, m.name == name) {
            (MetricValue::Number(v), true) => Some(*v),
            _ => None,
        })
    }

    /// The values recorded by the histogram the module defined as `name`.
    pub fn histogram(&self, name: &str) -> Option<&[u64]> {
        self.metrics().iter().find_map(|m| match (&m.value, m.name == name) {
            (MetricValue::Samples(v), true) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// Every metric the module defined, in definition order.
    pub fn metrics(&self) -> &[Metric] {
        self.store.data().metrics.all()
    }

    /// A shared-data value and its CAS token.
    pub fn shared_data(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.store.data().shared_data.get(key.as_bytes()).ok()
    }

    /// Stores a shared-data value, as another VM of the same `vm_id` would.
    pub fn set_shared_data(&mut self, key: &str, value: impl AsRef<[u8]>) {
        self.store.data_mut().shared_data.set(key.as_bytes(), value.as_ref(), 0);
    }

    /// The clocks.
    pub fn clock(&self) -> Clock {
        self.store.data().clock
    }

    /// The wall clock.
    pub fn now(&self) -> SystemTime {
        self.store.data().clock.system_time()
    }

    /// Steps the wall clock (the monotonic clock and ticks are unaffected; see [`Self::advance`]).
    pub fn set_time(&mut self, time: SystemTime) {
        self.store.data_mut().clock.set_system_time(time);
    }

    /// Steps the wall clock to `secs` Unix seconds.
    pub fn set_unix_secs(&mut self, secs: u64) {
        self.store
            .data_mut()
            .clock
            .set_unix_nanos(secs.saturating_mul(1_000_000_000));
    }

    /// Whether a trap killed the VM.
    pub fn is_dead(&self) -> bool {
        self.dead.is_some()
    }

    /// The callback and message of the trap that killed the VM.
    pub fn failure(&self) -> Option<(&str, &str)> {
        self.dead.as_ref().map(|(c, m)| (c.as_str(), m.as_str()))
    }

    /// The id of the configured root context.
    pub fn root_context_id(&self) -> Option<u32> {
        self.root
    }

    /// The ABI version of the module.
    pub fn abi_version(&self) -> AbiVersion {
        self.module.abi_version()
    }

    /// The compiled module, to start more hosts cheaply.
    pub fn module(&self) -> &FilterModule {
        &self.module
    }
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}
