//! Properties (`proxy_get_property` / `proxy_set_property`) and their encoding.

use std::collections::BTreeMap;
use std::fmt;

/// A property value encoded as Envoy encodes CEL values for `proxy_get_property`: strings and
/// bytes raw, integers as 8 little-endian bytes, booleans as one byte, timestamps and durations
/// as 8-byte little-endian nanoseconds, maps in the pairs layout.
#[derive(Clone, PartialEq, Eq)]
pub struct PropertyValue(Vec<u8>);

impl PropertyValue {
    /// Raw bytes, passed to the module unchanged.
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// A CEL `int` (8 bytes, little-endian).
    pub fn int(value: i64) -> Self {
        Self(value.to_le_bytes().to_vec())
    }

    /// A CEL `uint` (8 bytes, little-endian).
    pub fn uint(value: u64) -> Self {
        Self(value.to_le_bytes().to_vec())
    }

    /// A CEL `bool` (one byte).
    pub fn boolean(value: bool) -> Self {
        Self(vec![u8::from(value)])
    }

    /// A CEL timestamp, as nanoseconds since the Unix epoch (8 bytes, little-endian).
    pub fn timestamp_nanos(nanos: i64) -> Self {
        Self::int(nanos)
    }

    /// A CEL map of strings, in the pairs layout (see [`crate::pairs`]).
    pub fn string_map<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(crate::pairs::serialize(entries))
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PropertyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(s) => write!(f, "{s:?}"),
            Err(_) => write!(f, "{:?}", self.0),
        }
    }
}

impl From<&str> for PropertyValue {
    fn from(value: &str) -> Self {
        Self(value.as_bytes().to_vec())
    }
}

impl From<String> for PropertyValue {
    fn from(value: String) -> Self {
        Self(value.into_bytes())
    }
}

impl From<&String> for PropertyValue {
    fn from(value: &String) -> Self {
        Self(value.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for PropertyValue {
    fn from(value: Vec<u8>) -> Self {
        Self(value)
    }
}

impl From<&[u8]> for PropertyValue {
    fn from(value: &[u8]) -> Self {
        Self(value.to_vec())
    }
}

impl From<bool> for PropertyValue {
    fn from(value: bool) -> Self {
        Self::boolean(value)
    }
}

impl From<i64> for PropertyValue {
    fn from(value: i64) -> Self {
        Self::int(value)
    }
}

impl From<u64> for PropertyValue {
    fn from(value: u64) -> Self {
        Self::uint(value)
    }
}

/// Converts a dotted property name (`"source.address"`) to the path the SDKs send: the segments
/// joined by NUL bytes (`b"source\0address"`).
///
/// ```
/// assert_eq!(jitgate_harness::properties::path_bytes("source.address"), b"source\0address");
/// ```
pub fn path_bytes(dotted: &str) -> Vec<u8> {
    dotted.replace('.', "\0").into_bytes()
}

/// Properties keyed by NUL-separated path.
pub(crate) type PropertyMap = BTreeMap<Vec<u8>, PropertyValue>;
