//! The jitgate filter in this host: translating jitgate's JSON request form into the
//! request Envoy would hand the filter, and reading the filter's audit lines back.
//!
//! `jitgate run`, `jitgate test` (scenarios) and the end-to-end tests all go through
//! here, so they drive the filter the same way.

use std::time::Duration;

use serde_json::Value;

use crate::{EnvoyRequest, Host};

/// Prefix of the filter's audit log lines; the rest of the line is one JSON object.
pub use jitgate_core::AUDIT_LOG_PREFIX;

/// The request Envoy would present for `request` at `now_ns`: pseudo-headers from the
/// method, path and `host` header, the other headers as they are, and the properties
/// the filter reads (`source.address`, `connection.uri_san_peer_certificate`,
/// `connection.sha256_peer_certificate_digest` in Envoy's hex, `request.protocol`); the
/// request's `id` as its `x-request-id` header.
pub fn envoy_request(request: &jitgate_core::Request, now_ns: i64) -> EnvoyRequest {
    let mut out = EnvoyRequest::new(request.method.clone(), request.path.clone());
    if let Some(host) = request.effective_host() {
        out = out.authority(host);
    }
    if let Some(scheme) = &request.scheme {
        out = out.scheme(scheme.clone());
    }
    if let Some(protocol) = &request.protocol {
        out = out.protocol(protocol.clone());
    }
    // Envoy's `request.id` is the `x-request-id` header (the filter reads it there): a
    // request's own `id` is that header, in place of any the headers carry.
    let id = request.id.as_deref();
    for (name, value) in &request.headers {
        let replaced_by_id = id.is_some() && name.eq_ignore_ascii_case("x-request-id");
        if name.eq_ignore_ascii_case("host") || name.starts_with(':') || replaced_by_id {
            continue;
        }
        out = out.header(name, value.clone());
    }
    if let Some(id) = id {
        out = out.header("x-request-id", id.to_owned());
    }
    if let Some(address) = &request.source.address {
        out = out.property("source.address", address.clone());
    }
    if let Some(principal) = &request.source.principal {
        out = out.property("connection.uri_san_peer_certificate", principal.clone());
    }
    if let Some(digest) = request
        .source
        .certificate_sha256
        .as_deref()
        .and_then(jitgate_core::unstable::jws::b64url_decode)
    {
        out = out.property("connection.sha256_peer_certificate_digest", hex::encode(digest));
    }
    if request.route != jitgate_core::Route::default() {
        out = out.property(
            "xds.route_metadata.filter_metadata.jitgate",
            route_metadata_bytes(&request.route),
        );
    }
    let nanos = u64::try_from(now_ns).unwrap_or(0);
    out.at(std::time::UNIX_EPOCH + Duration::from_nanos(nanos))
}

/// The route's `filter_metadata.jitgate` as Envoy hands a metadata struct to a Wasm
/// module (the proxy-wasm pair format; a string as its bytes, a boolean as one byte),
/// the form `jitgate_filter::request::parse_route_metadata` reads.
pub fn route_metadata_bytes(route: &jitgate_core::Route) -> Vec<u8> {
    let mut pairs: Vec<(&str, Vec<u8>)> = Vec::new();
    if let Some(resource) = &route.resource {
        pairs.push(("resource", resource.as_bytes().to_vec()));
    }
    if route.skip {
        pairs.push(("skip", vec![1]));
    }
    crate::pairs::serialize(pairs.iter().map(|(k, v)| (*k, v.as_slice())))
}

/// Every audit record the filter has logged in `host`, oldest first.
pub fn audit_records(host: &Host) -> Vec<Value> {
    host.log_messages()
        .into_iter()
        .filter_map(|m| m.strip_prefix(AUDIT_LOG_PREFIX))
        .filter_map(|json| serde_json::from_str(json).ok())
        .collect()
}

/// The newest audit record in `host`.
pub fn last_audit(host: &Host) -> Option<Value> {
    audit_records(host).pop()
}

/// The filter in this host decides test-kit cases, as Envoy would: the status is the
/// local response's, or the audit record's when the request went upstream (a dry run
/// forwards denials); the reason and policy reason are the audit record's.
impl jitgate_testkit::Decider for Host {
    fn decide(&mut self, request: &jitgate_core::Request, now_ns: i64) -> Result<jitgate_testkit::Observed, String> {
        // Only this request's log lines: a host kept across cases must not hand back
        // an earlier case's audit record.
        self.take_logs();
        let outcome = self
            .request(envoy_request(request, now_ns))
            .map_err(|e| format!("filter: {e}"))?;
        let audit = match audit_records(self).as_slice() {
            [one] => one.clone(),
            [] => return Err("the filter logged no audit record".into()),
            many => {
                return Err(format!(
                    "the filter logged {} audit records for one request",
                    many.len()
                ))
            }
        };
        let status = audit
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .ok_or("the audit record has no `status`")?;
        let upstream = match &outcome {
            crate::Outcome::Forwarded { headers, .. } => Some(
                headers
                    .iter()
                    .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
                    .collect(),
            ),
            crate::Outcome::LocalResponse { status: sent, .. } => {
                if u32::from(status) != *sent {
                    return Err(format!(
                        "local response status {sent} differs from the audit record's {status}"
                    ));
                }
                None
            }
            other => return Err(format!("the filter neither forwarded nor answered: {other:?}")),
        };
        Ok(jitgate_testkit::Observed {
            allow: audit.get("allow") == Some(&Value::Bool(true)),
            status,
            reason: audit
                .get("reason")
                .and_then(Value::as_str)
                .ok_or("the audit record has no `reason`")?
                .to_owned(),
            policy_reason: audit.get("policy_reason").and_then(Value::as_str).map(str::to_owned),
            upstream,
        })
    }
}
