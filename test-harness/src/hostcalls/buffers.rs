//! Buffers: `proxy_get_buffer_bytes`, `proxy_get_buffer_status`, `proxy_set_buffer_bytes`.
//!
//! Which buffer exists when follows Envoy's `Context::getBuffer`: the plugin configuration only
//! during `proxy_on_configure` and the `proxy_http_call` response body only during
//! `proxy_on_http_call_response` (else `NotFound`); the VM configuration always; the request and
//! response bodies always exist but are empty (and read-only) outside the body callbacks; the
//! other types are always empty.

use super::allowed;
use crate::abi::{BufferType, Status};
use crate::memory::{copy_out, read, write_u32, HostResult};
use crate::state::{ret, HostState};
use wasmtime::{Caller, Linker};

/// The bytes of a buffer, `None` when Envoy has no such buffer now.
fn buffer(state: &HostState, kind: BufferType) -> Option<Vec<u8>> {
    match kind {
        BufferType::HttpRequestBody => Some(
            state
                .stream()
                .filter(|s| s.request_body_available)
                .map(|s| s.request_body.clone())
                .unwrap_or_default(),
        ),
        BufferType::HttpResponseBody => Some(
            state
                .stream()
                .filter(|s| s.response_body_available)
                .map(|s| s.response_body.clone())
                .unwrap_or_default(),
        ),
        BufferType::HttpCallResponseBody => state.call_response.as_ref().map(|r| r.body.clone()),
        BufferType::VmConfiguration => Some(state.settings.vm_config.clone()),
        BufferType::PluginConfiguration => state.plugin_config.clone(),
        BufferType::DownstreamData
        | BufferType::UpstreamData
        | BufferType::GrpcReceiveBuffer
        | BufferType::CallData => Some(Vec::new()),
    }
}

/// The writable body, if the kind is a body being processed right now.
fn body_mut(state: &mut HostState, kind: BufferType) -> Option<&mut Vec<u8>> {
    let stream = state.stream_mut()?;
    match kind {
        BufferType::HttpRequestBody if stream.request_body_available => Some(&mut stream.request_body),
        BufferType::HttpResponseBody if stream.response_body_available => Some(&mut stream.response_body),
        _ => None,
    }
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut caller: Caller<'_, HostState>,
         kind: u32,
         start: u32,
         max: u32,
         ret_ptr: u32,
         ret_len: u32|
         -> HostResult {
            allowed(&caller, "env", "proxy_get_buffer_bytes")?;
            let Some(kind) = BufferType::from_u32(kind) else {
                return ret(Status::BadArgument);
            };
            let Some(data) = buffer(caller.data(), kind) else {
                return ret(Status::NotFound);
            };
            // Envoy clamps the range to the buffer instead of failing.
            let start = start as usize;
            let end = start.saturating_add(max as usize).min(data.len());
            let slice = data.get(start..end).unwrap_or_default();
            ret(copy_out(&mut caller, slice, ret_ptr, ret_len)?)
        },
    )?;

    linker.func_wrap(
        "env",
        "proxy_get_buffer_status",
        |mut caller: Caller<'_, HostState>, kind: u32, len_ptr: u32, flags_ptr: u32| -> HostResult {
            allowed(&caller, "env", "proxy_get_buffer_status")?;
            let Some(kind) = BufferType::from_u32(kind) else {
                return ret(Status::BadArgument);
            };
            let Some(data) = buffer(caller.data(), kind) else {
                return ret(Status::NotFound);
            };
            let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
            if !write_u32(&mut caller, len_ptr, len) || !write_u32(&mut caller, flags_ptr, 0) {
                return ret(Status::InvalidMemoryAccess);
            }
            ret(Status::Ok)
        },
    )?;

    linker.func_wrap(
        "env",
        "proxy_set_buffer_bytes",
        |mut caller: Caller<'_, HostState>,
         kind: u32,
         start: u32,
         size: u32,
         data_ptr: u32,
         data_len: u32|
         -> HostResult {
            allowed(&caller, "env", "proxy_set_buffer_bytes")?;
            let Some(kind) = BufferType::from_u32(kind) else {
                return ret(Status::BadArgument);
            };
            if buffer(caller.data(), kind).is_none() {
                return ret(Status::NotFound);
            }
            let Some(data) = read(&caller, data_ptr, data_len) else {
                return ret(Status::InvalidMemoryAccess);
            };
            // Envoy's `Buffer::copyFrom`: start 0 replaces the first `size` bytes, a start at or
            // past the end appends, anything else is refused; immutable buffers refuse all.
            let Some(body) = body_mut(caller.data_mut(), kind) else {
                return ret(Status::BadArgument);
            };
            let start = start as usize;
            if start == 0 {
                let drained = (size as usize).min(body.len());
                body.splice(..drained, data);
            } else if start >= body.len() {
                body.extend_from_slice(&data);
            } else {
                return ret(Status::BadArgument);
            }
            ret(Status::Ok)
        },
    )?;
    Ok(())
}
