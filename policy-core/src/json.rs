//! Strict JSON: duplicate member names and deep nesting are errors.
//!
//! `serde_json` keeps the last of duplicate members silently; a JOSE verifier must not
//! (RFC 7515 §4, RFC 8725 §3.9), and neither may a configuration, where a second `"x"`
//! in a JWK would make the second key the trusted one while a reviewer reads the first.
//! Token segments and configurations are parsed through a seed that rejects duplicates
//! and counts depth as it goes (the outer object is 1). The seed records what it found
//! beside the parse, never inside serde's error text, and the path of the fault
//! (`issuers[0].jwks.keys[0].x`) is built only when there is one.

use core::cell::RefCell;
use core::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The deepest nesting a token segment may have: each object or array counts one.
pub const MAX_DEPTH: usize = 32;

/// The deepest nesting a configuration may have (serde_json's own recursion limit).
pub const MAX_CONFIG_DEPTH: usize = 128;

/// Why a text is not acceptable JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrictJsonError {
    /// Not valid JSON (or trailing data after the value).
    Syntax(String),
    /// An object has the same member name twice; the path of the repeated member
    /// (`jit.role`, `issuers[0].jwks.keys[0].x`).
    DuplicateMember(String),
    /// Objects and arrays nest deeper than the limit.
    TooDeep(usize),
}

impl fmt::Display for StrictJsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(detail) => write!(f, "not valid JSON: {detail}"),
            Self::DuplicateMember(path) => write!(f, "duplicate member `{path}`"),
            Self::TooDeep(limit) => write!(f, "nested deeper than {limit}"),
        }
    }
}

impl core::error::Error for StrictJsonError {}

/// Parses `bytes` as one JSON value, rejecting duplicate member names and nesting
/// deeper than [`MAX_DEPTH`] (the token rules).
pub fn parse_strict(bytes: &[u8]) -> Result<Value, StrictJsonError> {
    parse_strict_with_depth(bytes, MAX_DEPTH)
}

/// Parses `bytes` as one JSON value, rejecting duplicate member names and nesting
/// deeper than `max_depth`.
pub fn parse_strict_with_depth(bytes: &[u8], max_depth: usize) -> Result<Value, StrictJsonError> {
    let found = Found {
        max_depth,
        fault: RefCell::new(None),
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictSeed {
        found: &found,
        depth: 0,
    }
    .deserialize(&mut de);
    if let Some(fault) = found.fault.into_inner() {
        return Err(fault.into_error(max_depth));
    }
    let value = parsed.map_err(|e| StrictJsonError::Syntax(e.to_string()))?;
    de.end().map_err(|e| StrictJsonError::Syntax(e.to_string()))?;
    Ok(value)
}

/// What the seed found, kept beside the parse.
struct Found {
    max_depth: usize,
    fault: RefCell<Option<Fault>>,
}

enum Fault {
    /// The path segments from the repeated member outwards (innermost first).
    Duplicate(Vec<Segment>),
    TooDeep,
}

enum Segment {
    Member(String),
    Index(usize),
}

impl Fault {
    fn into_error(self, max_depth: usize) -> StrictJsonError {
        match self {
            Self::TooDeep => StrictJsonError::TooDeep(max_depth),
            Self::Duplicate(segments) => {
                let mut path = String::new();
                for segment in segments.iter().rev() {
                    match segment {
                        Segment::Member(name) => {
                            if !path.is_empty() {
                                path.push('.');
                            }
                            path.push_str(name);
                        }
                        Segment::Index(i) => path.push_str(&format!("[{i}]")),
                    }
                }
                StrictJsonError::DuplicateMember(path)
            }
        }
    }
}

impl Found {
    fn fail<E: de::Error>(&self, fault: Fault) -> E {
        *self.fault.borrow_mut() = Some(fault);
        E::custom("strict JSON fault")
    }

    /// A child failed: if it was a duplicate, the path grows by this segment.
    fn through(&self, segment: impl FnOnce() -> Segment) {
        if let Some(Fault::Duplicate(segments)) = self.fault.borrow_mut().as_mut() {
            segments.push(segment());
        }
    }
}

struct StrictSeed<'f> {
    found: &'f Found,
    depth: usize,
}

impl<'f> StrictSeed<'f> {
    fn nested<E: de::Error>(&self) -> Result<StrictSeed<'f>, E> {
        let depth = self.depth + 1;
        if depth > self.found.max_depth {
            return Err(self.found.fail(Fault::TooDeep));
        }
        Ok(StrictSeed {
            found: self.found,
            depth,
        })
    }

    fn child(&self) -> StrictSeed<'f> {
        StrictSeed {
            found: self.found,
            depth: self.depth,
        }
    }
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("not a finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::new();
        loop {
            match seq.next_element_seed(inner.child()) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(e) => {
                    let index = items.len();
                    inner.found.through(|| Segment::Index(index));
                    return Err(e);
                }
            }
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(inner.found.fail(Fault::Duplicate(vec![Segment::Member(name)])));
            }
            match map.next_value_seed(inner.child()) {
                Ok(value) => {
                    members.insert(name, value);
                }
                Err(e) => {
                    inner.found.through(|| Segment::Member(name));
                    return Err(e);
                }
            }
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_json() {
        let v = parse_strict(br#"{"a":[1,{"b":null}],"c":"d"}"#).unwrap();
        assert_eq!(v["a"][1]["b"], Value::Null);
    }

    #[test]
    fn rejects_duplicate_members_at_any_depth() {
        assert_eq!(
            parse_strict(br#"{"alg":"EdDSA","alg":"none"}"#),
            Err(StrictJsonError::DuplicateMember("alg".into()))
        );
        assert_eq!(
            parse_strict(br#"{"jit":{"role":"a","role":"b"}}"#),
            Err(StrictJsonError::DuplicateMember("jit.role".into()))
        );
        assert_eq!(
            parse_strict(br#"{"a":[{},{"k":{"x":1,"x":2}}]}"#),
            Err(StrictJsonError::DuplicateMember("a[1].k.x".into()))
        );
        // Escaped spelling of the same name is still the same name.
        assert!(matches!(
            parse_strict(br#"{"alg":"x","\u0061lg":"y"}"#),
            Err(StrictJsonError::DuplicateMember(_))
        ));
    }

    #[test]
    fn depth_limit_counts_the_outer_object_as_one() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_strict(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse_strict(deep.as_bytes()), Err(StrictJsonError::TooDeep(MAX_DEPTH)));
        // Far deeper than serde_json's own limit: still our error, no stack overflow.
        let very = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(parse_strict(very.as_bytes()), Err(StrictJsonError::TooDeep(MAX_DEPTH)));
    }

    #[test]
    fn rejects_trailing_data_and_syntax_errors() {
        for bad in [&b"{} {}"[..], b"{\"a\":}", b""] {
            assert!(matches!(parse_strict(bad), Err(StrictJsonError::Syntax(_))), "{bad:?}");
        }
    }
}
