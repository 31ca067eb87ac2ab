//! `proxy_get_property`, `proxy_set_property`.
//!
//! A path is the NUL-joined segments the SDK sends. Lookup order for an HTTP context:
//! 1. properties the test supplied with the request ([`crate::EnvoyRequest::property`]);
//! 2. attributes Envoy derives from the stream: `request.path`, `request.url_path`,
//!    `request.query`, `request.host`, `request.scheme`, `request.method`, `request.headers`
//!    (and `request.headers.<name>`), `request.referer`, `request.useragent`, `request.id`
//!    (from the request headers, only while Envoy exposes them), `request.protocol`,
//!    `request.time`, `response.code`, `response.code_details`, `response.headers`;
//! 3. `plugin_name`, `plugin_root_id`, `plugin_vm_id` and the host's configured properties;
//! 4. values the module stored with `proxy_set_property` on this stream.
//!
//! Root contexts see only 3. Anything else is `NotFound`.

use super::allowed;
use crate::abi::Status;
use crate::headers::HeaderMap;
use crate::memory::{copy_out, read, HostResult};
use crate::properties::PropertyValue;
use crate::state::{ret, HostState, StreamState};
use wasmtime::{Caller, Linker};

fn headers_value(headers: &HeaderMap, rest: &[&[u8]]) -> Option<PropertyValue> {
    match rest {
        [] => Some(PropertyValue::string_map(headers.iter())),
        [name] => headers.get(&String::from_utf8_lossy(name)).map(PropertyValue::from),
        _ => None,
    }
}

fn derived(stream: &StreamState, segments: &[&[u8]]) -> Option<PropertyValue> {
    let request = (stream.request_headers_available || stream.access_log_phase).then_some(&stream.request_headers);
    let response = (stream.response_headers_available || stream.access_log_phase).then_some(&stream.response_headers);
    let header = |name: &str| request.and_then(|h| h.get(name)).map(PropertyValue::from);
    match segments {
        [b"request", b"protocol"] => Some(PropertyValue::from(stream.protocol.as_str())),
        [b"request", b"time"] => Some(PropertyValue::timestamp_nanos(
            i64::try_from(stream.start_unix_nanos).unwrap_or(i64::MAX),
        )),
        [b"request", b"path"] => header(":path"),
        [b"request", b"url_path"] => request
            .and_then(|h| h.get(":path"))
            .map(|p| PropertyValue::from(p.split('?').next().unwrap_or_default())),
        [b"request", b"query"] => request
            .and_then(|h| h.get(":path"))
            .map(|p| PropertyValue::from(p.split_once('?').map(|(_, q)| q).unwrap_or_default())),
        [b"request", b"host"] => header(":authority"),
        [b"request", b"scheme"] => header(":scheme"),
        [b"request", b"method"] => header(":method"),
        [b"request", b"referer"] => header("referer"),
        [b"request", b"useragent"] => header("user-agent"),
        [b"request", b"id"] => header("x-request-id"),
        [b"request", b"headers", rest @ ..] => request.and_then(|h| headers_value(h, rest)),
        [b"response", b"code"] => stream.response_code.map(|c| PropertyValue::int(i64::from(c))),
        [b"response", b"code_details"] => stream.response_details.as_deref().map(PropertyValue::from),
        [b"response", b"headers", rest @ ..] => response.and_then(|h| headers_value(h, rest)),
        _ => None,
    }
}

fn host_level(state: &HostState, path: &[u8]) -> Option<PropertyValue> {
    let settings = &state.settings;
    match path {
        b"plugin_name" => Some(PropertyValue::from(settings.plugin_name.as_str())),
        b"plugin_root_id" => Some(PropertyValue::from(settings.root_id.as_str())),
        b"plugin_vm_id" => Some(PropertyValue::from(settings.vm_id.as_str())),
        _ => settings.properties.get(path).cloned(),
    }
}

pub(crate) fn lookup(state: &HostState, path: &[u8]) -> Option<PropertyValue> {
    let segments: Vec<&[u8]> = path.split(|b| *b == 0).collect();
    if let Some(stream) = state.stream() {
        if let Some(v) = stream.properties.get(path) {
            return Some(v.clone());
        }
        if let Some(v) = derived(stream, &segments) {
            return Some(v);
        }
    }
    if let Some(v) = host_level(state, path) {
        return Some(v);
    }
    state.stream().and_then(|s| s.set_properties.get(path).cloned())
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut caller: Caller<'_, HostState>, path_ptr: u32, path_len: u32, ret_ptr: u32, ret_len: u32| -> HostResult {
            allowed(&caller, "env", "proxy_get_property")?;
            let Some(path) = read(&caller, path_ptr, path_len) else {
                return ret(Status::InvalidMemoryAccess);
            };
            let Some(value) = lookup(caller.data(), &path) else {
                return ret(Status::NotFound);
            };
            ret(copy_out(&mut caller, value.as_bytes(), ret_ptr, ret_len)?)
        },
    )?;

    linker.func_wrap(
        "env",
        "proxy_set_property",
        |mut caller: Caller<'_, HostState>,
         path_ptr: u32,
         path_len: u32,
         value_ptr: u32,
         value_len: u32|
         -> HostResult {
            allowed(&caller, "env", "proxy_set_property")?;
            let (Some(path), Some(value)) = (read(&caller, path_ptr, path_len), read(&caller, value_ptr, value_len))
            else {
                return ret(Status::InvalidMemoryAccess);
            };
            // Envoy keeps these in the stream's filter state: without a stream, `NotFound`.
            match caller.data_mut().stream_mut() {
                Some(stream) => {
                    stream.set_properties.insert(path, PropertyValue::from(value));
                    ret(Status::Ok)
                }
                None => ret(Status::NotFound),
            }
        },
    )?;
    Ok(())
}
