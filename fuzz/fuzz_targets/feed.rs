#![no_main]
//! Fuzz target `feed`: the live-trust documents (see policy-core/tests/fuzz_checks/mod.rs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| jitgate_fuzz::fuzz("feed", data));
