//! Shared helpers of the harness self-tests: builds the reference filters once per test binary
//! and hands out compiled modules.

// Test support: failing loudly is the point.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jitgate_harness::FilterModule;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

const HOW_TO_BUILD: &str = "build them with:\n  rustup target add wasm32-wasip1\n  cargo build \
     --manifest-path test-harness/reference-filters/Cargo.toml --target wasm32-wasip1 --release \
     --examples --target-dir target/reference-filters";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    manifest_dir().join("..").join("target").join("reference-filters")
}

/// Builds every reference filter (once per test binary) and returns the directory of the
/// `.wasm` files. Fails the test, saying how to build them by hand, if the build fails.
fn reference_filters_dir() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let manifest = manifest_dir().join("reference-filters").join("Cargo.toml");
        let output = Command::new(cargo)
            .arg("build")
            .arg("--manifest-path")
            .arg(&manifest)
            .args(["--target", "wasm32-wasip1", "--release", "--examples"])
            .arg("--target-dir")
            .arg(target_dir())
            // Flags meant for the host build (coverage, sanitizers) must not reach the wasm build.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .unwrap_or_else(|e| panic!("cannot run cargo to build the reference filters ({e}); {HOW_TO_BUILD}"));
        assert!(
            output.status.success(),
            "building the reference filters failed:\n{}\n{HOW_TO_BUILD}",
            String::from_utf8_lossy(&output.stderr)
        );
        target_dir().join("wasm32-wasip1").join("release").join("examples")
    })
}

/// The compiled reference filter `name` (`http_headers`, `http_config`, `http_auth_random`,
/// `tick_counter`), compiled once per test binary.
pub fn reference_filter(name: &str) -> FilterModule {
    static MODULES: OnceLock<Mutex<HashMap<String, FilterModule>>> = OnceLock::new();
    let modules = MODULES.get_or_init(Default::default);
    let mut modules = modules.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(module) = modules.get(name) {
        return module.clone();
    }
    let path = reference_filters_dir().join(format!("{name}.wasm"));
    assert!(path.exists(), "missing {}; {HOW_TO_BUILD}", path.display());
    let module = FilterModule::load(&path).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
    modules.insert(name.to_string(), module.clone());
    module
}

/// Compiles a module written in the WebAssembly text format.
pub fn wat_module(text: &str) -> Result<FilterModule, jitgate_harness::Error> {
    let bytes = wat::parse_str(text).expect("valid WAT");
    FilterModule::from_bytes(&bytes)
}

/// The jitgate filter `.wasm` (the test kit's [`jitgate_testkit::filter_wasm`]).
pub fn jitgate_filter_path() -> &'static Path {
    jitgate_testkit::filter_wasm()
}

/// The jitgate filter module ([`jitgate_filter_path`]), compiled once per test binary.
pub fn jitgate_filter() -> FilterModule {
    static MODULE: OnceLock<FilterModule> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            let path = jitgate_filter_path();
            FilterModule::load(path).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
        })
        .clone()
}
