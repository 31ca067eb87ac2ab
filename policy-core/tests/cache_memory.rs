//! The verified-token cache holds what it says: filled with worst-case tokens (8 KiB,
//! claims made of many tiny values, which cost the most once parsed), the memory it
//! really keeps — measured with a counting allocator — stays within its bound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::alloc::System;

use common::*;
use serde_json::json;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// One test: the allocator counts every thread's allocations, so two measurements
/// must not run at the same time.
#[test]
fn the_cache_memory_is_what_it_is_charged() {
    the_cache_holds_no_more_memory_than_its_bound();
    the_estimate_per_entry_is_above_what_an_entry_really_holds_but_not_far();
}

fn the_cache_holds_no_more_memory_than_its_bound() {
    const BOUND: usize = 1 << 20;
    let mut g = gate(&config_with(TOKEN_ONLY_POLICY));
    g.set_cache_bounds(10_000, BOUND);
    // ~2,700 one-digit numbers: a token near the 8 KiB limit.
    let tiny: Vec<u32> = (0..2_700).map(|i| i % 10).collect();
    let tokens: Vec<String> = (0..60)
        .map(|i| {
            let mut c = claims();
            c["jti"] = json!(format!("appr-{i}"));
            c["jit"]["tiny"] = json!(tiny);
            let t = token(&c);
            assert!(t.len() <= 8 * 1024, "{}", t.len());
            t
        })
        .collect();
    // Warm up everything that allocates once (regorus, the policy, the first entry).
    assert!(g.decide(&request_with(&tokens[0]), NOW).allow);
    let region = Region::new(ALLOCATOR);
    for t in &tokens[1..] {
        assert!(g.decide(&request_with(t), NOW).allow);
    }
    let change = region.change();
    let held = change.bytes_allocated as isize - change.bytes_deallocated as isize;
    println!("cache of {} tokens holds {held} bytes (bound {BOUND})", tokens.len());
    assert!(held > 0);
    assert!(
        held as usize <= BOUND + BOUND / 8,
        "the cache holds {held} bytes, over its bound of {BOUND}"
    );
}

fn the_estimate_per_entry_is_above_what_an_entry_really_holds_but_not_far() {
    let mut g = gate(&config_with(TOKEN_ONLY_POLICY));
    g.set_cache_bounds(10_000, usize::MAX / 2);
    for (shape, extra) in [
        ("tiny values", json!((0..2_700).map(|i| i % 10).collect::<Vec<u32>>())),
        ("one string", json!("x".repeat(5_000))),
        ("plain", json!(null)),
    ] {
        let tokens: Vec<String> = (0..40)
            .map(|i| {
                let mut c = claims();
                c["jti"] = json!(format!("appr-{shape}-{i}"));
                if !extra.is_null() {
                    c["jit"]["extra"] = extra.clone();
                }
                token(&c)
            })
            .collect();
        assert!(g.decide(&request_with(&tokens[0]), NOW).allow);
        let region = Region::new(ALLOCATOR);
        for t in &tokens[1..] {
            assert!(g.decide(&request_with(t), NOW).allow);
        }
        let change = region.change();
        let real = (change.bytes_allocated - change.bytes_deallocated) / (tokens.len() - 1);
        let estimate = g.cached_bytes_estimate(&tokens[1]).unwrap();
        println!(
            "{shape}: token {} bytes, an entry really holds {real} bytes, charged {estimate}",
            tokens[1].len()
        );
        assert!(estimate >= real, "{shape}: charged {estimate} < real {real}");
        assert!(
            estimate <= 4 * real,
            "{shape}: charged {estimate}, more than 4x the real {real}"
        );
    }
}
