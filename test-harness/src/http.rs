//! What the test sends: requests, upstream responses and answers to `proxy_http_call`.

use crate::headers::HeaderMap;
use crate::properties::{path_bytes, PropertyMap, PropertyValue};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A downstream request, as Envoy's codec hands it to the filter chain.
///
/// The header map starts with the pseudo-headers `:authority`, `:path`, `:method`, `:scheme`
/// (Envoy's order), followed by the other headers in the order given, names lower-cased. A
/// `host` header becomes `:authority`, as Envoy's HTTP/1 codec does. Envoy's connection manager
/// additions (`x-request-id`, `x-forwarded-proto`, …) are not simulated: add them when the
/// filter needs them.
///
/// ```
/// use jitgate_harness::EnvoyRequest;
/// let req = EnvoyRequest::get("/orders?id=7").header("X-Trace", "1").header("host", "db.internal");
/// let names: Vec<_> = req.header_map().iter().map(|(k, _)| k.to_string()).collect();
/// assert_eq!(names, [":authority", ":path", ":method", ":scheme", "x-trace"]);
/// assert_eq!(req.header_map().get(":authority"), Some("db.internal"));
/// ```
#[derive(Clone, Debug)]
pub struct EnvoyRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) authority: String,
    pub(crate) scheme: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) properties: PropertyMap,
    pub(crate) protocol: String,
    pub(crate) at_unix_nanos: Option<u64>,
    pub(crate) upstream: Option<UpstreamResponse>,
}

impl EnvoyRequest {
    /// A request with the given method and path (`:authority` `localhost`, `:scheme` `http`).
    pub fn new(method: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            path: path.into(),
            authority: "localhost".into(),
            scheme: "http".into(),
            headers: Vec::new(),
            body: None,
            properties: PropertyMap::new(),
            protocol: "HTTP/1.1".into(),
            at_unix_nanos: None,
            upstream: None,
        }
    }

    /// A `GET` request.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new("GET", path)
    }

    /// A `POST` request.
    pub fn post(path: impl Into<String>) -> Self {
        Self::new("POST", path)
    }

    /// Adds a header (name lower-cased). `host` and the pseudo-headers `:authority`, `:path`,
    /// `:method`, `:scheme` set those fields instead.
    pub fn header(mut self, name: impl AsRef<str>, value: impl Into<String>) -> Self {
        let name = name.as_ref().to_ascii_lowercase();
        let value = value.into();
        match name.as_str() {
            "host" | ":authority" => self.authority = value,
            ":path" => self.path = value,
            ":method" => self.method = value,
            ":scheme" => self.scheme = value,
            _ => self.headers.push((name, value)),
        }
        self
    }

    /// Sets `:authority`.
    pub fn authority(mut self, authority: impl Into<String>) -> Self {
        self.authority = authority.into();
        self
    }

    /// Sets `:scheme`.
    pub fn scheme(mut self, scheme: impl Into<String>) -> Self {
        self.scheme = scheme.into();
        self
    }

    /// Gives the request a body: the filter then sees `end_of_stream = false` in
    /// `proxy_on_request_headers` and the body in one `proxy_on_request_body` call.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets a property for this request, by dotted name (`"source.address"`,
    /// `"connection.uri_san_peer_certificate"`, …). The module reads it with the path segments
    /// the SDK sends (`["source", "address"]`). It overrides any value the harness derives.
    pub fn property(mut self, name: &str, value: impl Into<PropertyValue>) -> Self {
        self.properties.insert(path_bytes(name), value.into());
        self
    }

    /// Sets a property whose segments themselves contain dots.
    pub fn property_path(mut self, segments: &[&str], value: impl Into<PropertyValue>) -> Self {
        self.properties.insert(segments.join("\0").into_bytes(), value.into());
        self
    }

    /// The protocol reported as `request.protocol` (default `HTTP/1.1`).
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = protocol.into();
        self
    }

    /// Sets the host's wall clock to `time` before the request starts.
    pub fn at(mut self, time: SystemTime) -> Self {
        let nanos = time
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        self.at_unix_nanos = Some(nanos);
        self
    }

    /// Sets the host's wall clock to `secs` Unix seconds before the request starts.
    pub fn at_unix_secs(mut self, secs: u64) -> Self {
        self.at_unix_nanos = Some(secs.saturating_mul(1_000_000_000));
        self
    }

    /// The response the upstream gives if the filter forwards the request (default:
    /// [`UpstreamResponse::default`]).
    pub fn upstream_response(mut self, response: UpstreamResponse) -> Self {
        self.upstream = Some(response);
        self
    }

    /// The header map the filter sees in `proxy_on_request_headers`.
    pub fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.add(":authority", self.authority.as_str());
        map.add(":path", self.path.as_str());
        map.add(":method", self.method.as_str());
        map.add(":scheme", self.scheme.as_str());
        // Envoy's codecs drop a field value's leading and trailing whitespace (RFC 9110
        // §5.5), so the filter never sees it; neither does it here.
        for (k, v) in &self.headers {
            map.add(k, v.trim_matches([' ', '\t']));
        }
        map
    }
}

/// The response an upstream gives to a forwarded request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamResponse {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Default for UpstreamResponse {
    /// `200` with `content-length: 0` and no body.
    fn default() -> Self {
        Self::new(200).header("content-length", "0")
    }
}

impl UpstreamResponse {
    /// A response with the given status and no other header.
    pub fn new(status: u16) -> Self {
        let mut headers = HeaderMap::new();
        headers.add(":status", status.to_string());
        Self {
            headers,
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl AsRef<str>, value: impl Into<String>) -> Self {
        self.headers.add(name, value);
        self
    }

    /// Sets the body (add `content-length` yourself if the filter should see one).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// A `proxy_http_call` the module made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCall {
    /// The token returned to the module.
    pub token: u32,
    /// The context that made the call (after `proxy_set_effective_context`).
    pub context_id: u32,
    /// The upstream cluster name.
    pub cluster: String,
    /// Request headers (must include `:method`, `:path`, `:authority`, else Envoy refuses the
    /// call with `BadArgument`).
    pub headers: HeaderMap,
    /// Request body.
    pub body: Vec<u8>,
    /// Request trailers.
    pub trailers: HeaderMap,
    /// Timeout the module asked for.
    pub timeout: Duration,
}

/// How a scripted upstream answers a `proxy_http_call`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpCallReply {
    /// A response: `proxy_on_http_call_response` gets its header count, body size and trailer
    /// count, and the module reads them as `HttpCallResponseHeaders` / `HttpCallResponseBody` /
    /// `HttpCallResponseTrailers`.
    Response {
        /// Headers, `:status` first.
        headers: HeaderMap,
        /// Body.
        body: Vec<u8>,
        /// Trailers.
        trailers: HeaderMap,
    },
    /// The call failed (reset, no healthy upstream connection): like Envoy's
    /// `onHttpCallFailure`, `proxy_on_http_call_response(token, 0, 0, 0)` with nothing to read.
    Failure,
    /// The call timed out: Envoy's router answers the async client with a local `504`, body
    /// `upstream request timeout`.
    Timeout,
}

impl HttpCallReply {
    /// A response with the given status.
    pub fn status(status: u16) -> Self {
        let mut headers = HeaderMap::new();
        headers.add(":status", status.to_string());
        Self::Response {
            headers,
            body: Vec::new(),
            trailers: HeaderMap::new(),
        }
    }

    /// Adds a response header (no effect on `Failure` / `Timeout`).
    pub fn header(mut self, name: impl AsRef<str>, value: impl Into<String>) -> Self {
        if let Self::Response { headers, .. } = &mut self {
            headers.add(name, value);
        }
        self
    }

    /// Sets the response body (no effect on `Failure` / `Timeout`).
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        if let Self::Response { body, .. } = &mut self {
            *body = bytes.into();
        }
        self
    }

    /// Adds a response trailer (no effect on `Failure` / `Timeout`).
    pub fn trailer(mut self, name: impl AsRef<str>, value: impl Into<String>) -> Self {
        if let Self::Response { trailers, .. } = &mut self {
            trailers.add(name, value);
        }
        self
    }

    /// The reply as the module will see it (`Timeout` becomes Envoy's 504).
    pub(crate) fn into_parts(self) -> Option<(HeaderMap, Vec<u8>, HeaderMap)> {
        match self {
            Self::Response {
                headers,
                body,
                trailers,
            } => Some((headers, body, trailers)),
            Self::Failure => None,
            Self::Timeout => {
                let body = b"upstream request timeout".to_vec();
                let mut headers = HeaderMap::new();
                headers.add(":status", "504");
                headers.add("content-length", body.len().to_string());
                headers.add("content-type", "text/plain");
                Some((headers, body, HeaderMap::new()))
            }
        }
    }
}

/// A scripted upstream cluster: answers each `proxy_http_call` made to it.
pub type Responder = Box<dyn FnMut(&HttpCall) -> HttpCallReply + Send>;
