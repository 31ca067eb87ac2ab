//! Adds the plugin configuration as the `custom-header` response header (the SDK's
//! `http_config` example). An empty configuration, or `fail`, is rejected. The VM
//! configuration is logged in `on_vm_start`.

use log::{error, info};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::*;
use proxy_wasm::types::*;
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(HttpConfigRoot { header_content: Rc::new(String::new()) })
    });
}}

struct HttpConfigRoot {
    header_content: Rc<String>,
}

impl Context for HttpConfigRoot {}

impl RootContext for HttpConfigRoot {
    fn on_vm_start(&mut self, vm_configuration_size: usize) -> bool {
        let vm_config = self.get_vm_configuration().unwrap_or_default();
        info!(
            "vm config ({} bytes): {}",
            vm_configuration_size,
            String::from_utf8_lossy(&vm_config)
        );
        true
    }

    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        let Some(config) = self.get_plugin_configuration() else {
            error!("missing plugin configuration");
            return false;
        };
        let config = String::from_utf8_lossy(&config).into_owned();
        if config == "fail" {
            error!("refusing configuration `{config}`");
            return false;
        }
        info!("configured with {plugin_configuration_size} bytes: {config}");
        self.header_content = Rc::new(config);
        true
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(HttpConfigHeader {
            header_content: Rc::clone(&self.header_content),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct HttpConfigHeader {
    header_content: Rc<String>,
}

impl Context for HttpConfigHeader {}

impl HttpContext for HttpConfigHeader {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        // The configuration is not readable outside on_configure.
        if let Ok(Some(_)) = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX) {
            error!("plugin configuration visible during a request");
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        self.add_http_response_header("custom-header", self.header_content.as_str());
        Action::Continue
    }
}
