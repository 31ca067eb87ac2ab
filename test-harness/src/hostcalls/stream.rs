//! The stream: `proxy_send_local_response`, `proxy_continue_stream`, `proxy_close_stream`.
//!
//! Like Envoy, these only record what to do; the host applies it after the callback returns
//! (`addAfterVmCallAction`). A local reply also turns the callback's return value into "stop".

use super::allowed;
use crate::abi::{Status, StreamType};
use crate::memory::{read, HostResult};
use crate::state::{ret, HostState, LocalReply};
use wasmtime::{Caller, Linker};

/// Envoy's `StringUtil::replaceAllEmptySpace`.
fn replace_whitespace(details: &[u8]) -> String {
    String::from_utf8_lossy(details)
        .chars()
        .map(|c| if c.is_ascii_whitespace() { '_' } else { c })
        .collect()
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut caller: Caller<'_, HostState>,
         status: u32,
         details_ptr: u32,
         details_len: u32,
         body_ptr: u32,
         body_len: u32,
         headers_ptr: u32,
         headers_len: u32,
         _grpc_status: i32|
         -> HostResult {
            allowed(&caller, "env", "proxy_send_local_response")?;
            let (Some(details), Some(body), Some(headers)) = (
                read(&caller, details_ptr, details_len),
                read(&caller, body_ptr, body_len),
                read(&caller, headers_ptr, headers_len),
            ) else {
                return ret(Status::InvalidMemoryAccess);
            };
            let headers = crate::pairs::deserialize(&headers)
                .into_iter()
                .map(|(k, v)| {
                    (
                        String::from_utf8_lossy(&k).to_ascii_lowercase(),
                        String::from_utf8_lossy(&v).into_owned(),
                    )
                })
                .collect();
            let reply = LocalReply {
                status,
                details: replace_whitespace(&details),
                body,
                headers,
            };
            let state = caller.data_mut();
            match state.stream_mut() {
                Some(stream) if stream.local_reply.is_none() => stream.local_reply = Some(reply),
                Some(_) => {
                    state.host_note("proxy_send_local_response called again in the same callback; the first reply wins")
                }
                // A root context has no stream to answer: Envoy accepts and ignores the call.
                None => {}
            }
            ret(Status::Ok)
        },
    )?;

    linker.func_wrap(
        "env",
        "proxy_continue_stream",
        |mut caller: Caller<'_, HostState>, kind: u32| -> HostResult {
            allowed(&caller, "env", "proxy_continue_stream")?;
            match StreamType::from_u32(kind) {
                None => ret(Status::BadArgument),
                Some(StreamType::Upstream) => ret(Status::Unimplemented),
                Some(StreamType::Downstream) => ret(Status::Ok),
                Some(kind) => {
                    if let Some(stream) = caller.data_mut().stream_mut() {
                        if kind == StreamType::HttpRequest {
                            stream.continued_request = true;
                        } else {
                            stream.continued_response = true;
                        }
                        // Envoy's `Context::continueStream` drops its request header and body
                        // pointers for both the request and the response case.
                        stream.request_headers_available = false;
                        stream.request_body_available = false;
                    }
                    ret(Status::Ok)
                }
            }
        },
    )?;

    linker.func_wrap(
        "env",
        "proxy_close_stream",
        |mut caller: Caller<'_, HostState>, kind: u32| -> HostResult {
            allowed(&caller, "env", "proxy_close_stream")?;
            match StreamType::from_u32(kind) {
                None => ret(Status::BadArgument),
                Some(StreamType::HttpRequest | StreamType::HttpResponse) => {
                    if let Some(stream) = caller.data_mut().stream_mut() {
                        stream.closed = true;
                        if stream.response_details.is_none() {
                            stream.response_details = Some("wasm_close_stream".into());
                        }
                    }
                    ret(Status::Ok)
                }
                Some(_) => ret(Status::Ok),
            }
        },
    )?;
    Ok(())
}
