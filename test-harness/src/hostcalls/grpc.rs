//! gRPC calls: registered because Envoy provides them, but not simulated.
//!
//! `proxy_grpc_call` / `proxy_grpc_stream` answer `ParseFailure` (Envoy's answer when the
//! service is neither a `GrpcService` proto nor a known cluster); with a registered cluster they
//! answer `Unimplemented`. `proxy_grpc_send` / `_cancel` / `_close` answer `NotFound`.

use super::allowed;
use crate::abi::Status;
use crate::memory::{read, HostResult};
use crate::state::{ret, HostState};
use wasmtime::{Caller, Linker};

fn start(caller: &mut Caller<'_, HostState>, service_ptr: u32, service_len: u32) -> HostResult {
    let Some(service) = read(caller, service_ptr, service_len) else {
        return ret(Status::InvalidMemoryAccess);
    };
    let service = String::from_utf8_lossy(&service).into_owned();
    let state = caller.data_mut();
    if state.upstreams.contains_key(&service) {
        state.host_note(format!("gRPC call to `{service}`: not simulated by the harness"));
        return ret(Status::Unimplemented);
    }
    ret(Status::ParseFailure)
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_grpc_call",
        |mut caller: Caller<'_, HostState>,
         service_ptr: u32,
         service_len: u32,
         _service_name_ptr: u32,
         _service_name_len: u32,
         _method_ptr: u32,
         _method_len: u32,
         _metadata_ptr: u32,
         _metadata_len: u32,
         _message_ptr: u32,
         _message_len: u32,
         _timeout_ms: u32,
         _token_ptr: u32|
         -> HostResult {
            allowed(&caller, "env", "proxy_grpc_call")?;
            start(&mut caller, service_ptr, service_len)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_stream",
        |mut caller: Caller<'_, HostState>,
         service_ptr: u32,
         service_len: u32,
         _service_name_ptr: u32,
         _service_name_len: u32,
         _method_ptr: u32,
         _method_len: u32,
         _metadata_ptr: u32,
         _metadata_len: u32,
         _token_ptr: u32|
         -> HostResult {
            allowed(&caller, "env", "proxy_grpc_stream")?;
            start(&mut caller, service_ptr, service_len)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_send",
        |caller: Caller<'_, HostState>, _token: u32, _ptr: u32, _len: u32, _end: u32| -> HostResult {
            allowed(&caller, "env", "proxy_grpc_send")?;
            ret(Status::NotFound)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_cancel",
        |caller: Caller<'_, HostState>, _token: u32| -> HostResult {
            allowed(&caller, "env", "proxy_grpc_cancel")?;
            ret(Status::NotFound)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_close",
        |caller: Caller<'_, HostState>, _token: u32| -> HostResult {
            allowed(&caller, "env", "proxy_grpc_close")?;
            ret(Status::NotFound)
        },
    )?;
    Ok(())
}
