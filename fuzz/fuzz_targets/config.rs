#![no_main]
//! Fuzz target `config`: see policy-core/tests/fuzz_checks/mod.rs (the check) and
//! fuzz/src/lib.rs (the structured inputs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| jitgate_fuzz::fuzz("config", data));
