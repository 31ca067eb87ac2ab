//! Header maps: `proxy_get_header_map_value`, `proxy_get_header_map_pairs`,
//! `proxy_add_header_map_value`, `proxy_replace_header_map_value`,
//! `proxy_remove_header_map_value`, `proxy_set_header_map_pairs`, `proxy_get_header_map_size`.
//!
//! Availability follows Envoy's `Context::getConstMap` (reads) and `Context::getMap` (writes):
//! the request headers exist from `proxy_on_request_headers` until the filter lets the request
//! continue, the response headers from `proxy_on_response_headers` until it lets the response
//! continue; during `proxy_on_log` both are readable but not writable; the response of a
//! `proxy_http_call` is readable only inside `proxy_on_http_call_response`. Trailers and gRPC
//! metadata are never present here.

use super::allowed;
use crate::abi::{MapType, Status};
use crate::headers::HeaderMap;
use crate::memory::{copy_out, read, write_u32, HostResult};
use crate::state::{ret, HostState};
use wasmtime::{Caller, Linker};

/// Envoy's `getConstMap`.
fn const_map(state: &HostState, map: MapType) -> Option<&HeaderMap> {
    match map {
        MapType::RequestHeaders => state
            .stream()
            .filter(|s| s.access_log_phase || s.request_headers_available)
            .map(|s| &s.request_headers),
        MapType::ResponseHeaders => state
            .stream()
            .filter(|s| s.access_log_phase || s.response_headers_available)
            .map(|s| &s.response_headers),
        MapType::HttpCallResponseHeaders => state.call_response.as_ref().map(|r| &r.headers),
        MapType::HttpCallResponseTrailers => state.call_response.as_ref().map(|r| &r.trailers),
        MapType::RequestTrailers
        | MapType::ResponseTrailers
        | MapType::GrpcReceiveInitialMetadata
        | MapType::GrpcReceiveTrailingMetadata => None,
    }
}

/// Envoy's `getMap`.
fn mut_map(state: &mut HostState, map: MapType) -> Option<&mut HeaderMap> {
    let stream = state.stream_mut()?;
    match map {
        MapType::RequestHeaders if stream.request_headers_available && !stream.access_log_phase => {
            Some(&mut stream.request_headers)
        }
        MapType::ResponseHeaders if stream.response_headers_available && !stream.access_log_phase => {
            Some(&mut stream.response_headers)
        }
        _ => None,
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut caller: Caller<'_, HostState>,
         map: u32,
         key_ptr: u32,
         key_len: u32,
         ret_ptr: u32,
         ret_len: u32|
         -> HostResult {
            allowed(&caller, "env", "proxy_get_header_map_value")?;
            let Some(map) = MapType::from_u32(map) else {
                return ret(Status::BadArgument);
            };
            let Some(key) = read(&caller, key_ptr, key_len) else {
                return ret(Status::InvalidMemoryAccess);
            };
            let state = caller.data();
            let value = match const_map(state, map) {
                Some(m) => match m.get(&text(&key)) {
                    Some(v) => v.as_bytes().to_vec(),
                    None => return ret(Status::NotFound),
                },
                None if state.stream().is_some_and(|s| s.access_log_phase) => return ret(Status::NotFound),
                None => return ret(Status::BadArgument),
            };
            ret(copy_out(&mut caller, &value, ret_ptr, ret_len)?)
        },
    )?;

    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut caller: Caller<'_, HostState>, map: u32, ret_ptr: u32, ret_len: u32| -> HostResult {
            allowed(&caller, "env", "proxy_get_header_map_pairs")?;
            let Some(map) = MapType::from_u32(map) else {
                return ret(Status::BadArgument);
            };
            let bytes = match const_map(caller.data(), map) {
                Some(m) if !m.is_empty() => m.to_pairs_bytes(),
                // Envoy hands out an empty map as a null pointer and length 0.
                _ => Vec::new(),
            };
            ret(copy_out(&mut caller, &bytes, ret_ptr, ret_len)?)
        },
    )?;

    linker.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |mut caller: Caller<'_, HostState>,
         map: u32,
         key_ptr: u32,
         key_len: u32,
         value_ptr: u32,
         value_len: u32|
         -> HostResult {
            allowed(&caller, "env", "proxy_add_header_map_value")?;
            let Some(map) = MapType::from_u32(map) else {
                return ret(Status::BadArgument);
            };
            let (Some(key), Some(value)) = (read(&caller, key_ptr, key_len), read(&caller, value_ptr, value_len))
            else {
                return ret(Status::InvalidMemoryAccess);
            };
            match mut_map(caller.data_mut(), map) {
                Some(m) => {
                    m.add(text(&key), text(&value));
                    ret(Status::Ok)
                }
                None => ret(Status::BadArgument),
            }
        },
    )?;

    linker.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |mut caller: Caller<'_, HostState>,
         map: u32,
         key_ptr: u32,
         key_len: u32,
         value_ptr: u32,
         value_len: u32|
         -> HostResult {
            allowed(&caller, "env", "proxy_replace_header_map_value")?;
            let Some(map) = MapType::from_u32(map) else {
                return ret(Status::BadArgument);
            };
            let (Some(key), Some(value)) = (read(&caller, key_ptr, key_len), read(&caller, value_ptr, value_len))
            else {
                return ret(Status::InvalidMemoryAccess);
            };
            match mut_map(caller.data_mut(), map) {
                Some(m) => {
                    m.replace(text(&key), text(&value));
                    ret(Status::Ok)
                }
                None => ret(Status::BadArgument),
            }
        },
    )?;

    linker.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut caller: Caller<'_, HostState>, map: u32, key_ptr: u32, key_len: u32| -> HostResult {
            allowed(&caller, "env", "proxy_remove_header_map_value")?;
            let Some(map) = MapType::from_u32(map) else {
                return ret(Status::BadArgument);
            };
            let Some(key) = read(&caller, key_ptr, key_len) else {
                return ret(Status::InvalidMemoryAccess);
            };
            match mut_map(caller.data_mut(), map) {
                Some(m) => {
                    m.remove(&text(&key));
                    ret(Status::Ok)
                }
                None => ret(Status::BadArgument),
            }
        },
    )?;

    linker.func_wrap(
        "env",
        "proxy_set_header_map_pairs",
        |mut caller: Caller<'_, HostState>, map: u32, ptr: u32, len: u32| -> HostResult {
            allowed(&caller, "env", "proxy_set_header_map_pairs")?;
            let Some(map) = MapType::from_u32(map) else {
                return ret(Status::BadArgument);
            };
            let Some(bytes) = read(&caller, ptr, len) else {
                return ret(Status::InvalidMemoryAccess);
            };
            // Malformed input parses as an empty list, which empties the map — as in Envoy.
            let pairs = crate::pairs::deserialize(&bytes)
                .into_iter()
                .map(|(k, v)| (text(&k), text(&v)))
                .collect();
            match mut_map(caller.data_mut(), map) {
                Some(m) => {
                    m.set_all(pairs);
                    ret(Status::Ok)
                }
                None => ret(Status::BadArgument),
            }
        },
    )?;

    linker.func_wrap(
        "env",
        "proxy_get_header_map_size",
        |mut caller: Caller<'_, HostState>, map: u32, ret_ptr: u32| -> HostResult {
            allowed(&caller, "env", "proxy_get_header_map_size")?;
            let Some(map) = MapType::from_u32(map) else {
                return ret(Status::BadArgument);
            };
            // Envoy uses the writable map here, and answers its byte size, not its length.
            let Some(size) = mut_map(caller.data_mut(), map).map(|m| m.byte_size()) else {
                return ret(Status::BadArgument);
            };
            let size = u32::try_from(size).unwrap_or(u32::MAX);
            if !write_u32(&mut caller, ret_ptr, size) {
                return ret(Status::InvalidMemoryAccess);
            }
            ret(Status::Ok)
        },
    )?;
    Ok(())
}
