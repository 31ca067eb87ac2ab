//! What happened to a request.

use crate::headers::HeaderMap;
use serde::ser::SerializeMap;

/// A response as it left the filter (after `proxy_on_response_headers` / `_body`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Response {
    /// The `:status` header as a number (0 if missing or not a number).
    pub status: u32,
    /// The headers, `:status` included.
    pub headers: HeaderMap,
    /// The body.
    #[serde(serialize_with = "lossy_string")]
    pub body: Vec<u8>,
}

/// The end of one request through the filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The filter let the request through.
    Forwarded {
        /// The request headers as they went upstream.
        headers: HeaderMap,
        /// The request body as it went upstream.
        body: Vec<u8>,
        /// The upstream response after the filter's response phase.
        response: Response,
    },
    /// The filter (or Envoy on its behalf) answered with `proxy_send_local_response`.
    LocalResponse {
        /// The status code.
        status: u32,
        /// The response headers as they left the filter chain: `:status`, the headers the
        /// filter passed, then `content-length` / `content-type` (Envoy's `sendLocalReply`),
        /// after the filter's own `proxy_on_response_headers`.
        headers: HeaderMap,
        /// The body.
        body: Vec<u8>,
        /// The response code details (whitespace replaced by `_`, as Envoy does), e.g.
        /// `wasm_fail_stream` for Envoy's fail-closed reply.
        details: String,
    },
    /// The filter reset the stream (`proxy_close_stream`): the client gets no response.
    Reset {
        /// `wasm_close_stream`.
        details: String,
    },
}

/// Envoy's response code details for the reply it sends when a VM is dead and
/// `failure_policy` is `FAIL_CLOSED` (`Context::failStream`).
pub const FAIL_STREAM_DETAILS: &str = "wasm_fail_stream";

impl Outcome {
    /// The status the client gets: the local response's, or the upstream response's after the
    /// filter; `None` for a reset.
    pub fn status(&self) -> Option<u32> {
        match self {
            Self::Forwarded { response, .. } => Some(response.status),
            Self::LocalResponse { status, .. } => Some(*status),
            Self::Reset { .. } => None,
        }
    }

    /// Whether the request went upstream.
    pub fn is_forwarded(&self) -> bool {
        matches!(self, Self::Forwarded { .. })
    }

    /// Whether the filter answered locally.
    pub fn is_local_response(&self) -> bool {
        matches!(self, Self::LocalResponse { .. })
    }

    /// Whether this is Envoy's fail-closed reply for a dead VM (503, `wasm_fail_stream`).
    pub fn is_fail_closed(&self) -> bool {
        matches!(self, Self::LocalResponse { status: 503, details, .. } if details == FAIL_STREAM_DETAILS)
    }

    /// The headers of [`Self::to_json`]: the forwarded request's, or the local response's.
    pub fn headers(&self) -> Option<&HeaderMap> {
        match self {
            Self::Forwarded { headers, .. } | Self::LocalResponse { headers, .. } => Some(headers),
            Self::Reset { .. } => None,
        }
    }

    /// The first value of a header of [`Self::headers`].
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers().and_then(|h| h.get(name))
    }

    /// The body of [`Self::to_json`]: the forwarded request's, or the local response's.
    pub fn body(&self) -> &[u8] {
        match self {
            Self::Forwarded { body, .. } | Self::LocalResponse { body, .. } => body,
            Self::Reset { .. } => &[],
        }
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(self.body()).into_owned()
    }

    /// The outcome as JSON: `action` (`forwarded` | `local_response` | `reset`), `status`,
    /// `headers` (an object; a repeated name's values joined with `", "`), `body` (text), and
    /// `details` for a local response or reset, `response` (status, headers, body) when
    /// forwarded. For a forwarded request, `headers` and `body` are the request's as sent
    /// upstream and `status` is the upstream response's status after the filter.
    ///
    /// ```
    /// use jitgate_harness::{HeaderMap, Outcome};
    /// let out = Outcome::LocalResponse {
    ///     status: 403,
    ///     headers: [(":status", "403")].into_iter().collect::<HeaderMap>(),
    ///     body: b"no".to_vec(),
    ///     details: "denied".into(),
    /// };
    /// assert_eq!(out.to_json()["action"], "local_response");
    /// assert_eq!(out.to_json()["status"], 403);
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl serde::Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            Self::Forwarded {
                headers,
                body,
                response,
            } => {
                map.serialize_entry("action", "forwarded")?;
                map.serialize_entry("status", &response.status)?;
                map.serialize_entry("headers", headers)?;
                map.serialize_entry("body", &String::from_utf8_lossy(body))?;
                map.serialize_entry("response", response)?;
            }
            Self::LocalResponse {
                status,
                headers,
                body,
                details,
            } => {
                map.serialize_entry("action", "local_response")?;
                map.serialize_entry("status", status)?;
                map.serialize_entry("headers", headers)?;
                map.serialize_entry("body", &String::from_utf8_lossy(body))?;
                map.serialize_entry("details", details)?;
            }
            Self::Reset { details } => {
                map.serialize_entry("action", "reset")?;
                map.serialize_entry("status", &Option::<u32>::None)?;
                map.serialize_entry("headers", &HeaderMap::new())?;
                map.serialize_entry("body", "")?;
                map.serialize_entry("details", details)?;
            }
        }
        map.end()
    }
}

fn lossy_string<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&String::from_utf8_lossy(bytes))
}

/// `:status` as a number, 0 when absent or malformed.
pub(crate) fn status_of(headers: &HeaderMap) -> u32 {
    headers.get(":status").and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}
