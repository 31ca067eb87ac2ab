//! Build artifacts the tests run: the filter `.wasm`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The jitgate filter `.wasm`: `$JITGATE_FILTER` (what `make test` builds and
/// optimizes, as shipped), else built here with `cargo build -p jitgate-filter
/// --target wasm32-wasip1 --profile wasm-filter` (without wasm-opt). Built at most
/// once per test binary; a failed build fails the test, saying why.
#[allow(clippy::panic)] // test support: a missing artifact fails the test loudly
pub fn filter_wasm() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("JITGATE_FILTER") {
            return PathBuf::from(path);
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let output = Command::new(cargo)
            .current_dir(&workspace)
            .args([
                "build",
                "-p",
                "jitgate-filter",
                "--target",
                "wasm32-wasip1",
                "--profile",
                "wasm-filter",
            ])
            // Flags meant for the host build (coverage, sanitizers) must not reach the wasm build.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            .output()
            .unwrap_or_else(|e| panic!("cannot run cargo to build the filter: {e}"));
        if !output.status.success() {
            panic!(
                "building the filter failed (rustup target add wasm32-wasip1?):\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target"));
        target.join("wasm32-wasip1/wasm-filter/jitgate_filter.wasm")
    })
}
