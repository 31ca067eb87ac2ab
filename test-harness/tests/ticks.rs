//! Timers, the controllable clock and metrics, with the `tick_counter` reference filter.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::reference_filter;
use jitgate_harness::{clock::DEFAULT_START_UNIX_NS, Host, LogLevel, LogSource, MetricType};
use std::time::Duration;

const START: u64 = DEFAULT_START_UNIX_NS / 1_000_000_000;

fn host(stop_after: &str) -> Host {
    let mut host = Host::new(&reference_filter("tick_counter")).unwrap();
    host.configure(stop_after).unwrap();
    host.take_calls();
    host
}

#[test]
fn ticks_fire_when_the_clock_reaches_them() {
    let mut host = host("3");
    host.advance(Duration::from_millis(4999)).unwrap();
    assert!(host.calls().is_empty(), "no tick before the period");
    assert_eq!(host.metric("ticks"), Some(0));

    host.advance(Duration::from_millis(1)).unwrap();
    assert_eq!(host.call_names(), ["proxy_on_tick"]);
    assert_eq!(host.calls()[0].context_id, 1, "ticks go to the root context");
    assert_eq!(host.metric("ticks"), Some(1));
    assert_eq!(host.metric("last_tick_unix"), Some(START + 5));
    let tick_line = format!("tick 1 at {}", START + 5);
    assert!(host.log_messages().contains(&tick_line.as_str()));
    // println! in the module: WASI stdout, logged at info, newline dropped; the WASI realtime
    // clock reads the same controllable clock.
    let stdout = host.logs().iter().find(|l| l.source == LogSource::Stdout).unwrap();
    assert_eq!(stdout.message, format!("wasi clock {}", START + 5));
    assert_eq!(stdout.level, LogLevel::Info);
}

#[test]
fn one_advance_fires_every_due_tick_and_the_module_can_stop_the_timer() {
    let mut host = host("3");
    host.advance(Duration::from_secs(60)).unwrap();
    assert_eq!(host.call_names(), ["proxy_on_tick"; 3]);
    assert_eq!(host.metric("ticks"), Some(3));
    // The clock read the due time of each tick.
    assert_eq!(host.metric("last_tick_unix"), Some(START + 15));
    assert_eq!(host.histogram("tick_numbers"), Some(&[1, 2, 3][..]));
    assert!(host.log_messages().contains(&"stopping after 3 ticks"));
    assert_eq!(host.clock().unix_nanos(), DEFAULT_START_UNIX_NS + 60_000_000_000);
    assert!(!host.tick().unwrap(), "timer stopped");

    let kinds: Vec<_> = host.metrics().iter().map(|m| (m.name.as_str(), m.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("ticks", MetricType::Counter),
            ("last_tick_unix", MetricType::Gauge),
            ("tick_numbers", MetricType::Histogram)
        ]
    );
}

#[test]
fn tick_jumps_to_the_next_due_tick() {
    let mut host = host("10");
    assert!(host.tick().unwrap());
    assert!(host.tick().unwrap());
    assert_eq!(host.metric("ticks"), Some(2));
    assert_eq!(host.metric("last_tick_unix"), Some(START + 10));
}

#[test]
fn stepping_the_wall_clock_does_not_fire_ticks() {
    let mut host = host("3");
    host.set_unix_secs(2_000_000_000);
    assert!(host.calls().is_empty());
    host.advance(Duration::from_secs(5)).unwrap();
    assert_eq!(host.metric("last_tick_unix"), Some(2_000_000_005));
}
