#![no_main]
//! Fuzz target `differential`: the filter's code and the core decide alike (see
//! fuzz/src/differential.rs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| jitgate_fuzz::fuzz("differential", data));
