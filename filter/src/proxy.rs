//! The proxy-wasm binding (wasm32 only): [`ProxyHost`] implements [`HostCalls`] with the
//! SDK's `hostcalls`, and the root and HTTP contexts hand their callbacks to
//! [`crate::filter`].
//!
//! Only the `Result`-returning `proxy_wasm::hostcalls` functions are used, never the
//! trait helpers that `unwrap` (`get_http_request_headers`, …), and header maps are
//! read as bytes (`get_map_bytes`), so a header value that is not UTF-8 is the filter's
//! decision, not a panic. What remains out of the filter's hands: the SDK's hostcalls
//! still `panic!` when the host returns a status the proxy-wasm spec does not list for
//! that call, and `get_map_bytes` requires header *names* to be UTF-8 (Envoy's codecs
//! only accept RFC 9110 token characters). Neither can be caused by a client.

use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, MetricType, Status};

use crate::feed::{Feed, FeedHost, TICK_MS};
use crate::filter::{Filter, Shared, Verdict, LOG_PREFIX};
use crate::host::{HostCalls, HostError, Level};
use crate::metrics::CounterIds;

/// The proxy-wasm host (Envoy), through `proxy_wasm::hostcalls`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProxyHost;

fn failed(call: &'static str) -> impl Fn(Status) -> HostError {
    move |status| HostError::new(call, status as u32)
}

impl HostCalls for ProxyHost {
    fn now_ns(&self) -> Result<i64, HostError> {
        let time = hostcalls::get_current_time().map_err(failed("get_current_time"))?;
        let since_epoch = time
            .duration_since(UNIX_EPOCH)
            .map_err(|_| HostError::new("get_current_time", u32::MAX))?;
        i64::try_from(since_epoch.as_nanos()).map_err(|_| HostError::new("get_current_time", u32::MAX))
    }

    fn request_headers(&self) -> Result<Vec<(String, Vec<u8>)>, HostError> {
        hostcalls::get_map_bytes(MapType::HttpRequestHeaders).map_err(failed("get_header_map_pairs"))
    }

    fn property(&self, path: &[&str]) -> Result<Option<Vec<u8>>, HostError> {
        hostcalls::get_property(path.to_vec()).map_err(failed("get_property"))
    }

    fn remove_request_header(&mut self, name: &str) -> Result<(), HostError> {
        hostcalls::remove_map_value(MapType::HttpRequestHeaders, name).map_err(failed("remove_header_map_value"))
    }

    fn set_request_header(&mut self, name: &str, value: &str) -> Result<(), HostError> {
        hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value))
            .map_err(failed("replace_header_map_value"))
    }

    fn add_response_header(&mut self, name: &str, value: &str) -> Result<(), HostError> {
        hostcalls::add_map_value(MapType::HttpResponseHeaders, name, value).map_err(failed("add_header_map_value"))
    }

    fn send_response(&mut self, status: u16, headers: &[(String, String)], body: &str) -> Result<(), HostError> {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        hostcalls::send_http_response(u32::from(status), headers, Some(body.as_bytes()))
            .map_err(failed("send_local_response"))
    }

    fn reset_request(&mut self) -> Result<(), HostError> {
        hostcalls::reset_http_request().map_err(failed("close_stream"))
    }

    fn define_counter(&self, name: &str) -> Result<u32, HostError> {
        hostcalls::define_metric(MetricType::Counter, name).map_err(failed("define_metric"))
    }

    fn increment_counter(&self, id: u32) -> Result<(), HostError> {
        hostcalls::increment_metric(id, 1).map_err(failed("increment_metric"))
    }

    fn set_filter_state(&mut self, name: &str, value: &str) -> Result<(), HostError> {
        hostcalls::set_property(vec![name], Some(value.as_bytes())).map_err(failed("set_property"))
    }

    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
            Level::Critical => LogLevel::Critical,
        };
        // Nothing useful can be done when logging fails.
        let _ = hostcalls::log(level, message);
    }

    fn writes(&self, level: Level) -> bool {
        // A host that cannot say gets every line.
        host_log_level().is_none_or(|lowest| level as u32 >= lowest)
    }
}

impl FeedHost for ProxyHost {
    fn dispatch_get(&self, cluster: &str, headers: &[(&str, &str)], timeout_ms: u64) -> Result<u32, HostError> {
        hostcalls::dispatch_http_call(
            cluster,
            headers.to_vec(),
            None,
            Vec::new(),
            Duration::from_millis(timeout_ms),
        )
        .map_err(failed("http_call"))
    }

    fn call_response_headers(&self) -> Result<Vec<(String, Vec<u8>)>, HostError> {
        hostcalls::get_map_bytes(MapType::HttpCallResponseHeaders).map_err(failed("get_header_map_pairs"))
    }

    fn call_response_body(&self, size: usize) -> Result<Vec<u8>, HostError> {
        hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, size)
            .map(Option::unwrap_or_default)
            .map_err(failed("get_buffer_bytes"))
    }

    fn shared_get(&self, key: &str) -> Result<(Option<Vec<u8>>, u32), HostError> {
        hostcalls::get_shared_data(key)
            .map(|(value, cas)| (value, cas.unwrap_or(0)))
            .map_err(failed("get_shared_data"))
    }

    fn shared_set(&self, key: &str, value: &[u8], cas: u32) -> Result<bool, HostError> {
        match hostcalls::set_shared_data(key, Some(value), (cas != 0).then_some(cas)) {
            Ok(()) => Ok(true),
            Err(Status::CasMismatch) => Ok(false),
            Err(status) => Err(HostError::new("set_shared_data", status as u32)),
        }
    }

    fn define_gauge(&self, name: &str) -> Result<u32, HostError> {
        hostcalls::define_metric(MetricType::Gauge, name).map_err(failed("define_metric"))
    }

    fn set_gauge(&self, id: u32, value: u64) -> Result<(), HostError> {
        hostcalls::record_metric(id, value).map_err(failed("record_metric"))
    }
}

/// `proxy_get_log_level` (ABI 0.2.1), read as the number Envoy writes: spdlog's level,
/// 0 (`trace`) to 6 (`off`). Not through the SDK's `hostcalls::get_log_level`, whose
/// `LogLevel` has no `off`: Envoy's 6 in it would be undefined behaviour (in practice a
/// trap, on every request, with `--component-log-level wasm:off`). `None` when the host
/// answers with an error.
#[allow(unsafe_code)] // the workspace denies it; this is the filter's one FFI call
fn host_log_level() -> Option<u32> {
    #[link(wasm_import_module = "env")]
    extern "C" {
        fn proxy_get_log_level(return_level: *mut u32) -> u32;
    }
    let mut level = 0u32;
    // SAFETY: the host writes one u32 through the pointer, which is valid and aligned
    // for the whole call; nothing else is read or kept.
    let status = unsafe { proxy_get_log_level(&mut level) };
    (status == 0).then_some(level)
}

/// 16 random bytes from WASI `random_get`; if the host refuses, the clock and the
/// context id (still unique per VM and configuration, just guessable).
fn instance_seed(host: &ProxyHost, context_id: u32) -> [u8; 16] {
    let mut seed = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut seed) {
        host.log(
            Level::Warn,
            &format!("{LOG_PREFIX}random_get failed ({e}); decision ids are seeded from the clock"),
        );
        let now = host.now_ns().unwrap_or_default();
        let fallback = (u128::from(now.unsigned_abs()) << 32) | u128::from(context_id);
        seed = fallback.to_be_bytes();
    }
    seed
}

/// The root context: one per plugin configuration and worker.
pub struct Root {
    context_id: u32,
    metrics: Option<CounterIds>,
    shared: Rc<Shared>,
    feed: Feed,
}

impl Root {
    /// A root context that is not configured yet.
    pub fn new(context_id: u32) -> Self {
        Self {
            context_id,
            metrics: None,
            shared: Rc::new(Shared::unconfigured(CounterIds::default(), [0; 16])),
            feed: Feed::default(),
        }
    }
}

impl Context for Root {
    fn on_http_call_response(&mut self, token_id: u32, _num_headers: usize, body_size: usize, _num_trailers: usize) {
        let host = ProxyHost;
        let (Some(gate), Ok(now)) = (self.shared.gate(), host.now_ns()) else {
            return;
        };
        self.feed
            .on_response(&host, gate, self.shared.metrics(), token_id, body_size, now);
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        let host = ProxyHost;
        let metrics = self.metrics.get_or_insert_with(|| CounterIds::define(&host)).clone();
        let seed = instance_seed(&host, self.context_id);
        let config = match hostcalls::get_buffer(BufferType::PluginConfiguration, 0, plugin_configuration_size) {
            Ok(config) => config,
            Err(status) => {
                host.log(
                    Level::Error,
                    &format!(
                        "{LOG_PREFIX}configuration rejected: {}",
                        HostError::new("get_buffer_bytes", status as u32)
                    ),
                );
                metrics.increment(&host, crate::metrics::CONFIG_ERRORS);
                self.shared = Rc::new(Shared::unconfigured(metrics, seed));
                return false;
            }
        };
        self.shared = Rc::new(Shared::configure(&host, config.as_deref(), metrics, seed));
        self.feed = match self.shared.gate() {
            Some(gate) => Feed::new(&host, gate),
            None => Feed::default(),
        };
        if self.feed.is_active() {
            if let Err(status) = hostcalls::set_tick_period(Duration::from_millis(TICK_MS)) {
                host.log(
                    Level::Error,
                    &format!(
                        "{LOG_PREFIX}configuration rejected: the feed needs a timer: {}",
                        HostError::new("set_tick_period_milliseconds", status as u32)
                    ),
                );
                return false;
            }
        }
        self.shared.is_configured()
    }

    fn on_tick(&mut self) {
        let host = ProxyHost;
        let (Some(gate), Ok(now)) = (self.shared.gate(), host.now_ns()) else {
            return;
        };
        let kid_unknown = self.shared.take_kid_unknown();
        self.feed.on_tick(&host, gate, self.shared.metrics(), now, kid_unknown);
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Always a context (the SDK panics on `None`); without a configuration it
        // refuses every request with 500.
        Some(Box::new(Http {
            filter: Filter::new(Rc::clone(&self.shared)),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// The HTTP context: one per request.
pub struct Http {
    filter: Filter,
}

impl Context for Http {}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        match self.filter.on_request_headers(&mut ProxyHost) {
            Verdict::Continue => Action::Continue,
            Verdict::Stop => Action::Pause,
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.filter.on_response_headers(&mut ProxyHost);
        Action::Continue
    }
}

/// The module's start (`_initialize`): a panic hook that logs, and the root context.
#[allow(missing_docs)] // `_initialize` comes from the SDK's macro
mod start {
    use super::*;

    proxy_wasm::main! {{
        // The release profile aborts on panic, and a panic kills the VM (Envoy then fails
        // closed). There should be none; if there is, say where before the VM dies.
        std::panic::set_hook(Box::new(|info| {
            let _ = hostcalls::log(LogLevel::Critical, &format!("{LOG_PREFIX}panic: {info}"));
        }));
        proxy_wasm::set_root_context(|context_id| -> Box<dyn RootContext> {
            Box::new(Root::new(context_id))
        });
    }}
}
