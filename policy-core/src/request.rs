//! The request a host hands to [`crate::Gate::decide`]: what the proxy knows about one
//! HTTP request and its connection, already translated from the host's own form.

use serde::Deserialize;
use serde_json::Value;

/// The connection a request came over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// Peer address, `ip:port` (Envoy's `source.address`).
    pub address: Option<String>,
    /// The mTLS peer's URI SAN, such as a SPIFFE id.
    pub principal: Option<String>,
    /// Base64url (unpadded) SHA-256 of the peer's certificate.
    pub certificate_sha256: Option<String>,
}

/// What the matched route says about jitgate (Envoy: the route's
/// `metadata.filter_metadata.jitgate`; the JSON request form: `route`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// The resource this route guards, instead of the configuration's `resource`: the
    /// approval must name it, `input.resource` carries it, the audit record shows it.
    pub resource: Option<String>,
    /// The route needs no approval: the request is allowed without a token or a policy
    /// (the token and client-sent `x-jit-*` headers are still removed).
    pub skip: bool,
}

/// One HTTP request.
///
/// Header names are compared case-insensitively; a name may repeat. Pseudo-headers
/// (`:method`, `:path`, …) are not headers here: they are the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path with query string, as sent (`/orders?id=7`).
    pub path: String,
    /// `:authority`; when `None` the `host` header is used.
    pub host: Option<String>,
    /// `http` or `https`.
    pub scheme: Option<String>,
    /// `HTTP/1.1`, `HTTP/2`, …
    pub protocol: Option<String>,
    /// The request id; when `None` the `x-request-id` header is used.
    pub id: Option<String>,
    /// Headers in arrival order.
    pub headers: Vec<(String, String)>,
    /// The connection.
    pub source: Source,
    /// The matched route's jitgate settings.
    pub route: Route,
}

impl Request {
    /// A request with this method and path and nothing else.
    pub fn new(method: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            path: path.into(),
            ..Self::default()
        }
    }

    /// Adds a header (builder style).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the route's resource (builder style).
    #[must_use]
    pub fn route_resource(mut self, resource: impl Into<String>) -> Self {
        self.route.resource = Some(resource.into());
        self
    }

    /// Sets the peer address (builder style).
    #[must_use]
    pub fn source_address(mut self, address: impl Into<String>) -> Self {
        self.source.address = Some(address.into());
        self
    }

    /// Sets the mTLS peer principal (builder style).
    #[must_use]
    pub fn principal(mut self, principal: impl Into<String>) -> Self {
        self.source.principal = Some(principal.into());
        self
    }

    /// Sets the peer certificate's base64url SHA-256 (builder style).
    #[must_use]
    pub fn certificate_sha256(mut self, digest: impl Into<String>) -> Self {
        self.source.certificate_sha256 = Some(digest.into());
        self
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of header `name` (case-insensitive).
    pub fn first_header(&self, name: &str) -> Option<&str> {
        self.header_values(name).next()
    }

    /// `:authority`, else the `host` header.
    pub fn effective_host(&self) -> Option<&str> {
        self.host.as_deref().or_else(|| self.first_header("host"))
    }

    /// The request id, else the `x-request-id` header.
    pub fn effective_id(&self) -> Option<&str> {
        self.id.as_deref().or_else(|| self.first_header("x-request-id"))
    }

    /// Reads the JSON request form used by the `jitgate` command and the JS package:
    /// `{"method", "path", "headers": {name: value | [values]}, "source": {"address",
    /// "principal", "certificate_sha256"}, "host"?, "scheme"?, "protocol"?, "id"?,
    /// "route"?: {"resource"?, "skip"?}}`.
    /// Unknown fields are errors; the message names the field.
    pub fn from_json(value: Value) -> Result<Self, RequestError> {
        Self::from_spec(serde_path_to_error::deserialize(value))
    }

    /// The same as [`Request::from_json`], reading JSON text directly (no
    /// intermediate [`Value`]: the JS package's per-request path).
    pub fn from_json_str(text: &str) -> Result<Self, RequestError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let request = Self::from_spec(serde_path_to_error::deserialize(&mut de)).map_err(|e| {
            // serde reports a repeated member at its parent object: on this (error)
            // path only, the strict reader names the member itself.
            match crate::json::parse_strict(text.as_bytes()) {
                Err(crate::json::StrictJsonError::DuplicateMember(path)) => RequestError {
                    field: path,
                    message: "appears more than once; give each member once".into(),
                    kind: RequestErrorKind::Shape,
                },
                _ => e,
            }
        })?;
        de.end().map_err(|e| RequestError {
            field: ".".into(),
            message: e.to_string(),
            kind: RequestErrorKind::Shape,
        })?;
        Ok(request)
    }

    fn from_spec(
        spec: Result<RequestSpec, serde_path_to_error::Error<serde_json::Error>>,
    ) -> Result<Self, RequestError> {
        let spec = spec.map_err(|e| RequestError {
            field: e.path().to_string(),
            message: e.inner().to_string(),
            kind: RequestErrorKind::Shape,
        })?;
        let required = |value: Option<String>, field: &str| {
            value.ok_or_else(|| RequestError {
                field: field.into(),
                message: "is required".into(),
                kind: RequestErrorKind::Shape,
            })
        };
        let method = required(spec.method, "method")?;
        let path = required(spec.path, "path")?;
        let mut headers = Vec::new();
        for (name, values) in spec.headers.0 {
            if !is_header_name(&name) {
                return Err(RequestError {
                    field: format!("headers.{name}"),
                    message: "is not a valid header name".into(),
                    kind: RequestErrorKind::Value,
                });
            }
            match values {
                HeaderValues::One(v) => headers.push((name, v)),
                HeaderValues::Many(vs) => headers.extend(vs.into_iter().map(|v| (name.clone(), v))),
            }
        }
        if method.is_empty() {
            return Err(RequestError {
                field: "method".into(),
                message: "must not be empty".into(),
                kind: RequestErrorKind::Value,
            });
        }
        if !path.starts_with('/') && path != "*" {
            return Err(RequestError {
                field: "path".into(),
                message: "must start with `/` (origin form) or be `*`".into(),
                kind: RequestErrorKind::Value,
            });
        }
        if spec.route.resource.as_deref() == Some("") {
            return Err(RequestError {
                field: "route.resource".into(),
                message: "must not be empty (omit it for the configuration's `resource`)".into(),
                kind: RequestErrorKind::Shape,
            });
        }
        Ok(Self {
            route: Route {
                resource: spec.route.resource,
                skip: spec.route.skip,
            },
            method,
            path,
            host: spec.host,
            scheme: spec.scheme,
            protocol: spec.protocol,
            id: spec.id,
            headers,
            source: Source {
                address: spec.source.address,
                principal: spec.source.principal,
                certificate_sha256: spec.source.certificate_sha256,
            },
        })
    }
}

/// A request document that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("request field `{field}`: {message}")]
pub struct RequestError {
    /// The field at fault (`headers.x-a`, `source.address`, `.` for the whole document).
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// Whether the document's shape is wrong (a programming error in the host) or a
    /// value in it is one the gate cannot accept (something a client sent).
    pub kind: RequestErrorKind,
}

/// What kind of fault a [`RequestError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestErrorKind {
    /// The document is not the request form: a missing, unknown, repeated or
    /// mistyped member, or not JSON. The host's (or embedder's) bug: it throws.
    Shape,
    /// A value a client can send that the gate cannot read (an absolute-form or empty
    /// path, an empty method, an invalid header name): hosts deny the request with
    /// 400 `request_invalid` ([`crate::Gate::refuse`] with [`crate::Fault::Request`]).
    Value,
}

/// RFC 9110 `token` characters.
pub(crate) fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestSpec {
    // Required members are `Option`s checked in `from_spec`: a missing one is an error
    // naming it, without reading serde's message text.
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    scheme: Option<String>,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    headers: HeadersSpec,
    #[serde(default)]
    source: SourceSpec,
    #[serde(default)]
    route: RouteSpec,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    skip: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SourceSpec {
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    principal: Option<String>,
    #[serde(default)]
    certificate_sha256: Option<String>,
}

/// The `headers` object, sorted by name (as a JSON value's members are, so text and
/// value give the same order), a name given twice refused: JSON readers disagree on
/// which copy of a repeated member wins, so neither may (repeated values are an
/// array).
#[derive(Default)]
struct HeadersSpec(std::collections::BTreeMap<String, HeaderValues>);

impl<'de> Deserialize<'de> for HeadersSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = HeadersSpec;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("an object of header name → value or [values]")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<HeadersSpec, A::Error> {
                let mut out = std::collections::BTreeMap::new();
                while let Some((name, values)) = map.next_entry::<String, HeaderValues>()? {
                    if out.contains_key(&name) {
                        return Err(serde::de::Error::custom(format_args!(
                            "header `{name}` is given twice; give repeated values as an array"
                        )));
                    }
                    out.insert(name, values);
                }
                Ok(HeadersSpec(out))
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum HeaderValues {
    One(String),
    Many(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_json_form() {
        let r = Request::from_json(json!({
            "method": "GET", "path": "/a?b=1",
            "headers": {"Host": "db.internal", "x-multi": ["1", "2"], "X-Request-Id": "rid"},
            "source": {"address": "10.0.0.7:1", "principal": "spiffe://x"}
        }))
        .unwrap();
        assert_eq!(r.effective_host(), Some("db.internal"));
        assert_eq!(r.effective_id(), Some("rid"));
        assert_eq!(r.header_values("X-MULTI").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(r.source.principal.as_deref(), Some("spiffe://x"));
    }

    #[test]
    fn reads_json_text_like_a_json_value() {
        let text = r#"{"method": "GET", "path": "/a", "headers": {"x-multi": ["1", "2"]}, "source": {"address": "10.0.0.7:1"}}"#;
        let from_text = Request::from_json_str(text).unwrap();
        assert_eq!(
            from_text,
            Request::from_json(serde_json::from_str(text).unwrap()).unwrap()
        );
        let e = Request::from_json_str(r#"{"method": "GET", "path": "/", "source": {"adress": "x"}}"#).unwrap_err();
        assert_eq!(e.field, "source.adress");
        // Text-only errors: a repeated member and trailing characters.
        let e = Request::from_json_str(r#"{"method": "GET", "path": "/", "method": "PUT"}"#).unwrap_err();
        assert_eq!((e.field.as_str(), e.kind), ("method", RequestErrorKind::Shape), "{e}");
        let e = Request::from_json_str(r#"{"method": "GET", "path": "/", "source": {"address": "a", "address": "b"}}"#)
            .unwrap_err();
        assert_eq!(e.field, "source.address", "{e}");
        let e = Request::from_json_str(r#"{"method": "GET", "path": "/"} {}"#).unwrap_err();
        assert_eq!(e.field, ".");
        assert!(Request::from_json_str(r#"{"method": "GET", "path": "/"}  "#).is_ok());
    }

    #[test]
    fn names_the_bad_field() {
        let e = Request::from_json(json!({"method": "GET", "path": "/", "source": {"adress": "x"}})).unwrap_err();
        assert_eq!(e.field, "source.adress");
        let e = Request::from_json(json!({"method": "GET"})).unwrap_err();
        assert_eq!((e.field.as_str(), e.message.as_str()), ("path", "is required"), "{e}");
        let e = Request::from_json(json!({"path": "/"})).unwrap_err();
        assert_eq!(e.field, "method", "{e}");
        // A header named twice in the JSON decides nothing: an error, not last-wins.
        let e = Request::from_json_str(
            r#"{"method": "GET", "path": "/", "headers": {"x-user": "alice", "x-user": "mallory"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.field, "headers.x-user", "{e}");
        // Differently cased names are one header given twice over: both values kept,
        // sorted by name (text and value alike), for the gate's rules on repeated headers.
        let r = Request::from_json(json!({"method": "GET", "path": "/", "headers": {"x-user": "b", "X-User": "a"}}))
            .unwrap();
        let text = r#"{"method": "GET", "path": "/", "headers": {"x-user": "b", "X-User": "a"}}"#;
        assert_eq!(
            Request::from_json_str(text).unwrap().headers,
            r.headers,
            "text and value: one order"
        );
        assert_eq!(
            r.headers,
            [
                ("X-User".to_owned(), "a".to_owned()),
                ("x-user".to_owned(), "b".to_owned())
            ]
        );
        let e = Request::from_json(json!({"method": "GET", "path": "/", "headers": {"a": 1}})).unwrap_err();
        assert!(e.field.starts_with("headers"), "{e}");
        let e = Request::from_json(json!({"method": "GET", "path": "x"})).unwrap_err();
        assert_eq!(e.field, "path");
        let e = Request::from_json(json!({"method": "GET", "path": "/", "headers": {"bad name": "v"}})).unwrap_err();
        assert_eq!(e.field, "headers.bad name");
    }
}
