//! Counts ticks: every 5 s `on_tick` increments the counter `ticks`, sets the gauge
//! `last_tick_unix` to the current time, records the tick number in the histogram
//! `tick_numbers`, logs, and prints the WASI clock to stdout. After `stop_after` ticks (plugin
//! configuration, default 3) it stops the timer.

use log::info;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::*;
use proxy_wasm::types::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(TickCounter::default()) });
}}

#[derive(Default)]
struct TickCounter {
    ticks: u64,
    stop_after: u64,
    counter: u32,
    gauge: u32,
    histogram: u32,
}

impl Context for TickCounter {}

impl RootContext for TickCounter {
    fn on_vm_start(&mut self, _: usize) -> bool {
        self.counter = hostcalls::define_metric(MetricType::Counter, "ticks").unwrap_or_default();
        self.gauge =
            hostcalls::define_metric(MetricType::Gauge, "last_tick_unix").unwrap_or_default();
        self.histogram =
            hostcalls::define_metric(MetricType::Histogram, "tick_numbers").unwrap_or_default();
        self.set_tick_period(Duration::from_secs(5));
        true
    }

    fn on_configure(&mut self, _: usize) -> bool {
        self.stop_after = self
            .get_plugin_configuration()
            .and_then(|c| String::from_utf8(c).ok())
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(3);
        true
    }

    fn on_tick(&mut self) {
        self.ticks += 1;
        let now = self.get_current_time();
        let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let _ = hostcalls::increment_metric(self.counter, 1);
        let _ = hostcalls::record_metric(self.gauge, secs);
        let _ = hostcalls::record_metric(self.histogram, self.ticks);
        info!("tick {} at {}", self.ticks, secs);
        // The WASI clock must agree with proxy_get_current_time_nanoseconds.
        let wasi = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        println!("wasi clock {}", wasi.as_secs());
        if self.ticks >= self.stop_after {
            info!("stopping after {} ticks", self.ticks);
            self.set_tick_period(Duration::ZERO);
        }
    }
}
