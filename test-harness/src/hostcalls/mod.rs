//! The host functions, one module per ABI area, each with an `add_to_linker` function.
//!
//! Every function follows proxy-wasm-cpp-host's `exports.cc` and Envoy's `Context`: the same
//! argument checks in the same order, the same status codes. A host function returns `Ok(status)`
//! to the module; it returns `Err` only to trap the module (a call refused during VM start, or a
//! trap inside the module's allocator).

mod buffers;
mod context;
mod grpc;
mod http_call;
mod logging;
mod maps;
mod metrics;
mod properties;
mod shared;
mod stream;
mod timing;
mod wasi;

use crate::abi::{AbiVersion, START_ALLOWED};
use crate::state::HostState;
use wasmtime::{Caller, Linker};

/// Registers every function Envoy provides to a module of ABI version `abi`.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>, abi: AbiVersion) -> wasmtime::Result<()> {
    logging::add_to_linker(linker, abi)?;
    maps::add_to_linker(linker)?;
    buffers::add_to_linker(linker)?;
    properties::add_to_linker(linker)?;
    stream::add_to_linker(linker)?;
    http_call::add_to_linker(linker)?;
    grpc::add_to_linker(linker)?;
    metrics::add_to_linker(linker)?;
    shared::add_to_linker(linker)?;
    timing::add_to_linker(linker)?;
    context::add_to_linker(linker)?;
    wasi::add_to_linker(linker)?;
    Ok(())
}

/// Envoy's `isHostFunctionAllowed`: while the VM starts only [`START_ALLOWED`] may be called;
/// anything else traps with `restricted_callback`.
pub(crate) fn allowed(caller: &Caller<'_, HostState>, module: &str, name: &str) -> wasmtime::Result<()> {
    if !caller.data().restricted {
        return Ok(());
    }
    let ok = START_ALLOWED
        .iter()
        .any(|(m, n)| *n == name && (*m == module || (*m == "*" && module != "env")));
    if ok {
        Ok(())
    } else {
        Err(wasmtime::Error::msg(format!(
            "restricted_callback: `{module}.{name}` may not be called while the VM starts"
        )))
    }
}
