//! Logs request and response headers and adds `powered-by: proxy-wasm` to the response (the SDK's
//! `http_headers` example). A request with `x-panic` makes it panic, to exercise traps.

use log::{info, warn};
use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(HttpHeadersRoot) });
}}

struct HttpHeadersRoot;

impl Context for HttpHeadersRoot {}

impl RootContext for HttpHeadersRoot {
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(HttpHeaders { context_id }))
    }
}

struct HttpHeaders {
    context_id: u32,
}

impl Context for HttpHeaders {}

impl HttpContext for HttpHeaders {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        for (name, value) in &self.get_http_request_headers() {
            info!("#{} -> {}: {}", self.context_id, name, value);
        }
        if let Some(reason) = self.get_http_request_header("x-panic") {
            panic!("asked to panic: {reason}");
        }
        match self.get_http_request_header(":path") {
            Some(path) if path == "/hello" => {
                self.send_http_response(
                    200,
                    vec![("Hello", "World"), ("Powered-By", "proxy-wasm")],
                    Some(b"Hello, World!\n"),
                );
                Action::Pause
            }
            _ => Action::Continue,
        }
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        for (name, value) in &self.get_http_response_headers() {
            info!("#{} <- {}: {}", self.context_id, name, value);
        }
        self.set_http_response_header("powered-by", Some("proxy-wasm"));
        Action::Continue
    }

    fn on_log(&mut self) {
        // Headers stay readable in the access-log phase.
        match self.get_http_request_header(":path") {
            Some(path) => info!("#{} completed {}.", self.context_id, path),
            None => warn!("#{} completed, request headers gone", self.context_id),
        }
    }
}
