//! The native core's side of `npm run bench`: decides the same requests as the JS
//! benchmark and prints median microseconds per `decide`, as one JSON line.
//!
//! `bench/decide.mjs` writes the workload (configuration, time, one request with a
//! cached token, requests with fresh tokens) to a file and runs
//! `cargo run --profile bench --example native_bench -p jitgate-js -- FILE`.

use std::time::Instant;

use jitgate_core::Gate;
use jitgate_js::convert::{now_ns_from_ms, request_from_value};
use serde_json::Value;

/// Calls timed together, so the clock's own cost stays out of the figure.
const BATCH: usize = 10;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: native_bench WORKLOAD.json")?;
    let workload: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let gate = Gate::new(&workload["config"].to_string())?;
    let now = now_ns_from_ms(workload["now_ms"].as_f64().ok_or("now_ms")?).map_err(|e| e.to_string())?;
    let iterations = workload["iterations"].as_u64().ok_or("iterations")? as usize;
    let cached = request_from_value(workload["cached"].clone()).map_err(|e| e.to_string())?;
    let fresh = workload["fresh"]
        .as_array()
        .ok_or("fresh")?
        .iter()
        .map(|r| request_from_value(r.clone()).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;

    // Warm up (and check the workload decides as the JS side expects).
    let first = gate.decide(&cached, now);
    if !first.allow {
        return Err(format!("cached request was denied: {}", first.reason).into());
    }
    for _ in 0..iterations / 10 {
        std::hint::black_box(gate.decide(&cached, now));
    }

    let mut samples = Vec::with_capacity(iterations / BATCH);
    for _ in 0..iterations / BATCH {
        let start = Instant::now();
        for _ in 0..BATCH {
            std::hint::black_box(gate.decide(&cached, now));
        }
        samples.push(start.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
    }
    let cached_us = median(samples);

    let mut samples = Vec::with_capacity(fresh.len() / BATCH);
    let mut allowed = 0usize;
    for chunk in fresh.chunks_exact(BATCH) {
        let start = Instant::now();
        for r in chunk {
            allowed += usize::from(std::hint::black_box(gate.decide(r, now)).allow);
        }
        samples.push(start.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
    }
    if allowed != fresh.len() / BATCH * BATCH {
        return Err("a fresh-token request was denied".into());
    }
    let fresh_us = median(samples);

    println!(
        "{}",
        serde_json::json!({"cached_us": cached_us, "fresh_us": fresh_us, "iterations": iterations, "fresh": fresh.len()})
    );
    Ok(())
}
