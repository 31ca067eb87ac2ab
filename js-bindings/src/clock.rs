//! The clock of the evaluation budget (`policy.max_eval_ms`): regorus built without
//! `std` (as here, for `wasm32-unknown-unknown`) has no clock of its own, so the binding
//! gives it the JS host's monotonic `performance.now()` (Node, browsers, Deno, Bun).
//! Where that is missing or throws, the budget cannot be measured and evaluation runs
//! without it, as before.

/// Gives the core the JS host's monotonic clock, once per process (later calls are
/// no-ops). Native builds (tests, benchmarks) have `std`'s clock already.
pub fn install() {
    #[cfg(target_arch = "wasm32")]
    jitgate_core::set_monotonic_clock(&js::PERFORMANCE);
}

#[cfg(target_arch = "wasm32")]
mod js {
    use core::time::Duration;

    use jitgate_core::regorus::utils::limits::TimeSource;
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// `performance.now()`: milliseconds since the time origin, monotonic.
        #[wasm_bindgen(catch, js_namespace = performance, js_name = now)]
        fn performance_now() -> Result<f64, JsValue>;
    }

    /// `performance.now()` as a regorus time source.
    pub struct Performance;

    /// The one instance the core keeps.
    pub static PERFORMANCE: Performance = Performance;

    impl TimeSource for Performance {
        fn now(&self) -> Option<Duration> {
            let ms = performance_now().ok()?;
            Duration::try_from_secs_f64(ms / 1000.0).ok()
        }
    }
}
