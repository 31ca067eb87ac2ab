//! `proxy_http_call`.
//!
//! As in Envoy (`exports::http_call`, `Context::httpCall`): the call belongs to the root context
//! of the caller; the token is written first to check the pointer; a negative timeout, an unknown
//! cluster, or headers without `:path`, `:method` and `:authority` are `BadArgument`. Tokens
//! count 4, 8, 12, … (`nextHttpCallId`). The response is delivered later with
//! `proxy_on_http_call_response(root_context_id, token, headers, body_size, trailers)`.

use super::allowed;
use crate::abi::Status;
use crate::headers::HeaderMap;
use crate::http::HttpCall;
use crate::memory::{read, write_u32, HostResult};
use crate::state::{ret, Deferred, HostState};
use std::time::Duration;
use wasmtime::{Caller, Linker};

fn header_map(bytes: &[u8]) -> HeaderMap {
    crate::pairs::deserialize(bytes)
        .into_iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(&k).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect()
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_http_call",
        |mut caller: Caller<'_, HostState>,
         cluster_ptr: u32,
         cluster_len: u32,
         headers_ptr: u32,
         headers_len: u32,
         body_ptr: u32,
         body_len: u32,
         trailers_ptr: u32,
         trailers_len: u32,
         timeout_ms: u32,
         token_ptr: u32|
         -> HostResult {
            allowed(&caller, "env", "proxy_http_call")?;
            let (Some(cluster), Some(headers), Some(body), Some(trailers)) = (
                read(&caller, cluster_ptr, cluster_len),
                read(&caller, headers_ptr, headers_len),
                read(&caller, body_ptr, body_len),
                read(&caller, trailers_ptr, trailers_len),
            ) else {
                return ret(Status::InvalidMemoryAccess);
            };
            if !write_u32(&mut caller, token_ptr, 0) {
                return ret(Status::InvalidMemoryAccess);
            }
            // Envoy reads the timeout as a signed int.
            if i32::try_from(timeout_ms).is_err() {
                return ret(Status::BadArgument);
            }
            let cluster = String::from_utf8_lossy(&cluster).into_owned();
            let headers = header_map(&headers);
            let state = caller.data_mut();
            if !state.upstreams.contains_key(&cluster) {
                state.host_note(format!(
                    "proxy_http_call to unknown cluster `{cluster}` (register it with Host::upstream)"
                ));
                return ret(Status::BadArgument);
            }
            if [":path", ":method", ":authority"].iter().any(|h| !headers.contains(h)) {
                return ret(Status::BadArgument);
            }
            state.next_http_token = state.next_http_token.wrapping_add(4);
            let token = state.next_http_token;
            let call = HttpCall {
                token,
                context_id: state.context_id(),
                cluster,
                headers,
                body,
                trailers: header_map(&trailers),
                timeout: Duration::from_millis(u64::from(timeout_ms)),
            };
            let root_id = state.root_id();
            state.http_calls.push(call.clone());
            state.deferred.push_back(Deferred::HttpCall { call, root_id });
            if !write_u32(&mut caller, token_ptr, token) {
                return ret(Status::InvalidMemoryAccess);
            }
            ret(Status::Ok)
        },
    )?;
    Ok(())
}
