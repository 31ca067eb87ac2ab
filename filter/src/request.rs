//! From Envoy's header map and connection properties to a [`jitgate_core::Request`].
//!
//! Pure functions, no host calls: the filter reads the header map and the properties,
//! and everything here turns them into the request the core decides on.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use core::fmt;
use jitgate_core::{Request, Route, Source};

/// Every Envoy property the filter reads per request (besides [`ROUTE_METADATA`]). Not
/// `request.id`: Envoy's is the `x-request-id` header, which the header map already
/// holds (the core takes the request id from it).
pub const PROPERTIES: [&[&str]; 4] = [
    SOURCE_ADDRESS,
    PEER_PRINCIPAL,
    PEER_CERTIFICATE_DIGEST,
    REQUEST_PROTOCOL,
];
/// `xds.route_metadata.filter_metadata.jitgate`: the matched route's jitgate settings
/// (read raw: the property is not UTF-8).
pub const ROUTE_METADATA: &[&str] = &["xds", "route_metadata", "filter_metadata", "jitgate"];

/// Reads the route's `filter_metadata.jitgate` as Envoy serialises a metadata struct
/// for a Wasm property: the proxy-wasm pair format (`u32` count, then `u32` key and
/// value sizes, then each key and value followed by a NUL), each value in Envoy's
/// encoding of its type — a string as its bytes, a boolean as one byte `0`/`1`, a
/// number as 8 bytes (an IEEE double), a struct or list in a binary form. So:
/// `resource` must be a string (non-empty, printable: a number, boolean or struct is
/// refused), `skip` a boolean, and no other member is allowed (a misspelt `resouce`
/// is an error, never silently ignored). The error names the member.
pub fn parse_route_metadata(bytes: &[u8]) -> Result<Route, String> {
    const AT: &str = "route metadata `filter_metadata.jitgate`";
    let bad = |what: &str| format!("{AT}: {what}");
    let u32_at = |at: usize| -> Option<usize> {
        let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(b)).ok()
    };
    let count = u32_at(0).ok_or_else(|| bad("is not a struct"))?;
    if count > 64 {
        return Err(bad("has more than 64 members"));
    }
    let mut sizes = Vec::with_capacity(count);
    for i in 0..count {
        let at = 4 + i * 8;
        let (Some(k), Some(v)) = (u32_at(at), u32_at(at + 4)) else {
            return Err(bad("is not a struct"));
        };
        sizes.push((k, v));
    }
    let mut offset = 4 + count * 8;
    let mut route = Route::default();
    let mut take = |len: usize| -> Option<&[u8]> {
        let end = offset.checked_add(len)?;
        let item = bytes.get(offset..end)?;
        if bytes.get(end) != Some(&0) {
            return None;
        }
        offset = end + 1;
        Some(item)
    };
    for (k, v) in sizes {
        let (Some(key), Some(value)) = (take(k), take(v)) else {
            return Err(bad("is not a struct"));
        };
        match key {
            b"resource" => {
                let text = core::str::from_utf8(value)
                    .ok()
                    .filter(|t| !t.is_empty() && t.chars().all(|c| !c.is_control()))
                    .ok_or_else(|| bad("`resource` is not a non-empty string"))?;
                route.resource = Some(text.to_owned());
            }
            b"skip" => {
                route.skip = match value {
                    [0] => false,
                    [1] => true,
                    _ => return Err(bad("`skip` is not a boolean")),
                };
            }
            other => {
                return Err(bad(&format!(
                    "`{}` is not a member jitgate knows (`resource`, `skip`)",
                    String::from_utf8_lossy(other)
                )))
            }
        }
    }
    Ok(route)
}

/// `source.address`: the downstream peer, `ip:port`.
pub const SOURCE_ADDRESS: &[&str] = &["source", "address"];
/// `connection.uri_san_peer_certificate`: the mTLS peer's first URI SAN.
pub const PEER_PRINCIPAL: &[&str] = &["connection", "uri_san_peer_certificate"];
/// `connection.sha256_peer_certificate_digest`: hex SHA-256 of the peer certificate.
pub const PEER_CERTIFICATE_DIGEST: &[&str] = &["connection", "sha256_peer_certificate_digest"];
/// `request.protocol`: `HTTP/1.1`, `HTTP/2`, …
pub const REQUEST_PROTOCOL: &[&str] = &["request", "protocol"];

/// What the connection properties said (each `None` when the host has no value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionFacts {
    /// `source.address`.
    pub address: Option<String>,
    /// `connection.uri_san_peer_certificate`.
    pub principal: Option<String>,
    /// `connection.sha256_peer_certificate_digest`, as Envoy gives it (hex).
    pub certificate_digest_hex: Option<String>,
    /// `request.protocol`.
    pub protocol: Option<String>,
}

/// Why a request could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestFault {
    /// A header value is not UTF-8 (`obs-text`): the policy could not see it faithfully,
    /// so the request is refused (400). Carries the header name, never the value.
    HeaderNotUtf8(String),
    /// A pseudo-header Envoy always sets is missing.
    MissingPseudoHeader(&'static str),
    /// A pseudo-header appears twice.
    DuplicatePseudoHeader(&'static str),
    /// A property value is not UTF-8 (carries the property path).
    PropertyNotUtf8(String),
    /// `connection.sha256_peer_certificate_digest` is not 64 hex digits.
    BadCertificateDigest,
}

impl RequestFault {
    /// Whether the client is at fault (400) rather than the host (500).
    pub fn is_client_error(&self) -> bool {
        matches!(self, Self::HeaderNotUtf8(_))
    }
}

impl fmt::Display for RequestFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HeaderNotUtf8(name) => write!(f, "request header `{name}` is not UTF-8"),
            Self::MissingPseudoHeader(name) => write!(f, "request has no `{name}` pseudo-header"),
            Self::DuplicatePseudoHeader(name) => {
                write!(f, "request has more than one `{name}` pseudo-header")
            }
            Self::PropertyNotUtf8(path) => write!(f, "property `{path}` is not UTF-8"),
            Self::BadCertificateDigest => {
                f.write_str("property `connection.sha256_peer_certificate_digest` is not 64 hex digits")
            }
        }
    }
}

/// Builds the request from the header map (pseudo-headers included) and the facts.
///
/// `:method`, `:path`, `:authority` and `:scheme` become the request's fields; other
/// pseudo-headers (`:protocol`) are dropped; every other header is kept, in order. A
/// `CONNECT` request may lack `:path` (its path is then empty). Empty property values
/// count as absent. The certificate digest is converted from hex to unpadded base64url.
pub fn build_request(headers: Vec<(String, Vec<u8>)>, facts: ConnectionFacts) -> Result<Request, RequestFault> {
    let mut method = None;
    let mut path = None;
    let mut authority = None;
    let mut scheme = None;
    let mut plain = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let Ok(value) = String::from_utf8(value) else {
            return Err(RequestFault::HeaderNotUtf8(name));
        };
        let slot = match name.as_str() {
            ":method" => Some((&mut method, ":method")),
            ":path" => Some((&mut path, ":path")),
            ":authority" => Some((&mut authority, ":authority")),
            ":scheme" => Some((&mut scheme, ":scheme")),
            _ => None,
        };
        match slot {
            Some((slot, label)) => {
                if slot.replace(value).is_some() {
                    return Err(RequestFault::DuplicatePseudoHeader(label));
                }
            }
            None if name.starts_with(':') => {}
            None => plain.push((name, value)),
        }
    }
    let method = method.ok_or(RequestFault::MissingPseudoHeader(":method"))?;
    let path = match path {
        Some(p) => p,
        None if method.eq_ignore_ascii_case("CONNECT") => String::new(),
        None => return Err(RequestFault::MissingPseudoHeader(":path")),
    };
    let certificate_sha256 = match non_empty(facts.certificate_digest_hex) {
        Some(hex) => Some(hex_to_base64url(&hex).ok_or(RequestFault::BadCertificateDigest)?),
        None => None,
    };
    Ok(Request {
        method,
        path,
        host: authority,
        scheme,
        protocol: non_empty(facts.protocol),
        // Envoy's `request.id` is the `x-request-id` header: the core reads it there.
        id: None,
        headers: plain,
        source: Source {
            address: non_empty(facts.address),
            principal: non_empty(facts.principal),
            certificate_sha256,
        },
        route: Route::default(),
    })
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// Converts a hex SHA-256 digest (64 hex digits, either case, as Envoy's
/// `connection.sha256_peer_certificate_digest`) to unpadded base64url, the form of a
/// token's `cnf.x5t#S256`. `None` for anything else.
///
/// ```
/// use jitgate_filter::request::hex_to_base64url;
/// let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// assert_eq!(hex_to_base64url(hex).as_deref(), Some("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"));
/// assert_eq!(hex_to_base64url("e3b0"), None);
/// ```
pub fn hex_to_base64url(hex: &str) -> Option<String> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex, &mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &str, value: &str) -> (String, Vec<u8>) {
        (name.to_owned(), value.as_bytes().to_vec())
    }

    fn envoy_headers() -> Vec<(String, Vec<u8>)> {
        vec![
            h(":authority", "db.internal"),
            h(":path", "/orders?id=7"),
            h(":method", "GET"),
            h(":scheme", "https"),
            h("user-agent", "curl/8"),
            h("x-jit-approval", "a.b.c"),
            h("x-forwarded-for", "10.0.0.1"),
            h("x-forwarded-for", "10.0.0.2"),
            h("x-request-id", "rid-1"),
        ]
    }

    #[test]
    fn pseudo_headers_become_fields_and_the_rest_stay_in_order() {
        let r = build_request(envoy_headers(), ConnectionFacts::default()).unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/orders?id=7");
        assert_eq!(r.host.as_deref(), Some("db.internal"));
        assert_eq!(r.scheme.as_deref(), Some("https"));
        let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "user-agent",
                "x-jit-approval",
                "x-forwarded-for",
                "x-forwarded-for",
                "x-request-id"
            ]
        );
        assert_eq!(
            r.header_values("x-forwarded-for").collect::<Vec<_>>(),
            ["10.0.0.1", "10.0.0.2"]
        );
        // The id comes from the header (Envoy's `request.id` is that header).
        assert_eq!(r.id, None);
        assert_eq!(r.effective_id(), Some("rid-1"));
        assert_eq!(r.source, Source::default());
    }

    #[test]
    fn properties_fill_the_source_and_the_request() {
        let facts = ConnectionFacts {
            address: Some("10.0.0.7:51234".into()),
            principal: Some("spiffe://cluster.local/ns/a/sa/b".into()),
            certificate_digest_hex: Some("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855".into()),
            protocol: Some("HTTP/2".into()),
        };
        let r = build_request(envoy_headers(), facts).unwrap();
        assert_eq!(r.source.address.as_deref(), Some("10.0.0.7:51234"));
        assert_eq!(r.source.principal.as_deref(), Some("spiffe://cluster.local/ns/a/sa/b"));
        assert_eq!(
            r.source.certificate_sha256.as_deref(),
            Some("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU")
        );
        assert_eq!(r.protocol.as_deref(), Some("HTTP/2"));
    }

    #[test]
    fn empty_properties_are_absent() {
        let facts = ConnectionFacts {
            address: Some(String::new()),
            principal: Some(String::new()),
            certificate_digest_hex: Some(String::new()),
            protocol: Some(String::new()),
        };
        let r = build_request(envoy_headers(), facts).unwrap();
        assert_eq!(r.source, Source::default());
        assert_eq!((r.id, r.protocol), (None, None));
    }

    #[test]
    fn other_pseudo_headers_are_dropped() {
        let mut headers = envoy_headers();
        headers.push(h(":protocol", "websocket"));
        let r = build_request(headers, ConnectionFacts::default()).unwrap();
        assert!(r.headers.iter().all(|(n, _)| !n.starts_with(':')));
    }

    #[test]
    fn a_non_utf8_value_is_a_client_error_naming_the_header_only() {
        let mut headers = envoy_headers();
        headers.push(("x-legacy".into(), vec![b'c', b'a', b'f', 0xe9]));
        let e = build_request(headers, ConnectionFacts::default()).unwrap_err();
        assert_eq!(e, RequestFault::HeaderNotUtf8("x-legacy".into()));
        assert!(e.is_client_error());
        assert_eq!(e.to_string(), "request header `x-legacy` is not UTF-8");
    }

    #[test]
    fn missing_or_repeated_pseudo_headers_are_host_errors() {
        let without =
            |name: &str| -> Vec<(String, Vec<u8>)> { envoy_headers().into_iter().filter(|(n, _)| n != name).collect() };
        let e = build_request(without(":method"), ConnectionFacts::default()).unwrap_err();
        assert_eq!(e, RequestFault::MissingPseudoHeader(":method"));
        assert!(!e.is_client_error());
        assert_eq!(
            build_request(without(":path"), ConnectionFacts::default()).unwrap_err(),
            RequestFault::MissingPseudoHeader(":path")
        );
        let mut twice = envoy_headers();
        twice.push(h(":path", "/admin"));
        assert_eq!(
            build_request(twice, ConnectionFacts::default()).unwrap_err(),
            RequestFault::DuplicatePseudoHeader(":path")
        );
        // `:authority` and `:scheme` are optional.
        let r = build_request(without(":authority"), ConnectionFacts::default()).unwrap();
        assert_eq!(r.host, None);
    }

    #[test]
    fn connect_may_lack_a_path() {
        let headers = vec![h(":method", "CONNECT"), h(":authority", "db.internal:5432")];
        let r = build_request(headers, ConnectionFacts::default()).unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("CONNECT", ""));
    }

    #[test]
    fn a_malformed_digest_is_refused() {
        for bad in [
            "e3b0",
            "e3:b0:c4:42:98:fc:1c:14:9a:fb:f4:c8:99:6f:b9:24:27:ae:41:e4:64:9b:93:4c:a4:95:99:1b:78:52:b8:55",
            "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85é",
        ] {
            assert_eq!(hex_to_base64url(bad), None, "{bad}");
            let facts = ConnectionFacts {
                certificate_digest_hex: Some(bad.into()),
                ..ConnectionFacts::default()
            };
            assert_eq!(
                build_request(envoy_headers(), facts).unwrap_err(),
                RequestFault::BadCertificateDigest
            );
        }
    }

    /// The bytes Envoy 1.40 returned for `filter_metadata: {jitgate: {resource:
    /// billing-db, n: 7, skip: true}}` (recorded from a real Envoy).
    const ENVOY_STRUCT: &[u8] = &[
        3, 0, 0, 0, 8, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 114, 101, 115, 111, 117,
        114, 99, 101, 0, 98, 105, 108, 108, 105, 110, 103, 45, 100, 98, 0, 110, 0, 0, 0, 0, 0, 0, 0, 28, 64, 0, 115,
        107, 105, 112, 0, 1, 0,
    ];

    fn pairs(items: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = (items.len() as u32).to_le_bytes().to_vec();
        for (k, v) in items {
            out.extend((k.len() as u32).to_le_bytes());
            out.extend((v.len() as u32).to_le_bytes());
        }
        for (k, v) in items {
            out.extend(*k);
            out.push(0);
            out.extend(*v);
            out.push(0);
        }
        out
    }

    #[test]
    fn route_metadata_as_envoy_serialises_it() {
        // The recorded struct has an unknown member `n`: refused, naming it.
        let e = parse_route_metadata(ENVOY_STRUCT).unwrap_err();
        assert!(e.contains("`n` is not a member"), "{e}");
        let ok = pairs(&[(b"resource", b"billing-db"), (b"skip", &[1])]);
        assert_eq!(
            parse_route_metadata(&ok).unwrap(),
            Route {
                resource: Some("billing-db".into()),
                skip: true
            }
        );
        assert_eq!(parse_route_metadata(&pairs(&[])).unwrap(), Route::default());
        let number = 7f64.to_le_bytes();
        for (bytes, want) in [
            (pairs(&[(b"resource", &number)]), "`resource` is not a non-empty string"),
            (pairs(&[(b"resource", &[1])]), "`resource` is not a non-empty string"),
            (pairs(&[(b"resource", b"")]), "`resource` is not a non-empty string"),
            (pairs(&[(b"skip", b"true")]), "`skip` is not a boolean"),
            (pairs(&[(b"resouce", b"x")]), "`resouce` is not a member"),
            (b"\x01\x00".to_vec(), "is not a struct"),
            (ok[..ok.len() - 1].to_vec(), "is not a struct"),
        ] {
            let e = parse_route_metadata(&bytes).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
        // Never a panic on any prefix or a flipped byte.
        for n in 0..ENVOY_STRUCT.len() {
            let _ = parse_route_metadata(&ENVOY_STRUCT[..n]);
            let mut flipped = ENVOY_STRUCT.to_vec();
            flipped[n] ^= 0xff;
            let _ = parse_route_metadata(&flipped);
        }
    }

    #[test]
    fn hex_digest_round_trips_through_base64url() {
        let bytes: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(37)).collect();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let b64 = hex_to_base64url(&hex).unwrap();
        assert_eq!(b64.len(), 43);
        assert!(!b64.contains('='));
        assert_eq!(URL_SAFE_NO_PAD.decode(&b64).unwrap(), bytes);
        assert_eq!(hex_to_base64url(&hex.to_uppercase()), Some(b64));
    }
}
