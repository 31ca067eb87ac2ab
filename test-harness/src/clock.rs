//! The controllable clock behind `proxy_get_current_time_nanoseconds` and WASI `clock_time_get`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Default wall-clock start: 2025-01-01T00:00:00Z, so runs are reproducible.
pub const DEFAULT_START_UNIX_NS: u64 = 1_735_689_600_000_000_000;

/// A wall clock and a monotonic clock that only move when the test moves them.
///
/// - [`set_unix_nanos`](Self::set_unix_nanos) steps the wall clock (like an NTP step) and leaves
///   the monotonic clock alone; it never fires ticks.
/// - [`advance`](Self::advance) moves both clocks forward by the same amount.
///
/// `proxy_get_current_time_nanoseconds` and `clock_time_get(REALTIME)` read the wall clock,
/// `clock_time_get(MONOTONIC)` the monotonic one — as in Envoy, where both come from its
/// `TimeSource`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    realtime_ns: u64,
    monotonic_ns: u64,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            realtime_ns: DEFAULT_START_UNIX_NS,
            monotonic_ns: 1_000_000_000,
        }
    }
}

impl Clock {
    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(&self) -> u64 {
        self.realtime_ns
    }

    /// The wall clock as a [`SystemTime`].
    pub fn system_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.realtime_ns)
    }

    /// The monotonic clock, in nanoseconds from an arbitrary origin.
    pub fn monotonic_nanos(&self) -> u64 {
        self.monotonic_ns
    }

    /// Sets the wall clock.
    pub fn set_unix_nanos(&mut self, nanos: u64) {
        self.realtime_ns = nanos;
    }

    /// Sets the wall clock from a [`SystemTime`]; times before the epoch clamp to it, times past
    /// year 2554 to `u64::MAX` nanoseconds.
    pub fn set_system_time(&mut self, time: SystemTime) {
        let nanos = time
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        self.realtime_ns = nanos;
    }

    /// Moves both clocks forward (saturating).
    pub fn advance(&mut self, by: Duration) {
        let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.realtime_ns = self.realtime_ns.saturating_add(ns);
        self.monotonic_ns = self.monotonic_ns.saturating_add(ns);
    }
}
