//! Strict JSON for token segments: duplicate member names and deep nesting are errors.
//!
//! `serde_json` keeps the last of duplicate members silently; a JOSE verifier must not
//! (RFC 7515 §4, RFC 8725 §3.9), so token headers and payloads are parsed through a
//! seed that rejects duplicates and counts depth as it goes (the outer object is 1).

use core::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The deepest nesting a token segment may have: each object or array counts one.
pub const MAX_DEPTH: usize = 32;

/// Why a segment is not acceptable JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrictJsonError {
    /// Not valid JSON (or trailing data after the value).
    Syntax,
    /// An object has the same member name twice.
    DuplicateMember(String),
    /// Objects and arrays nest deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for StrictJsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax => f.write_str("not valid JSON"),
            Self::DuplicateMember(name) => write!(f, "duplicate member `{name}`"),
            Self::TooDeep => write!(f, "nested deeper than {MAX_DEPTH}"),
        }
    }
}

/// Parses `bytes` as one JSON value, rejecting duplicate member names and nesting
/// deeper than [`MAX_DEPTH`].
pub fn parse_strict(bytes: &[u8]) -> Result<Value, StrictJsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictSeed { depth: 0 }.deserialize(&mut de).map_err(classify)?;
    de.end().map_err(|_| StrictJsonError::Syntax)?;
    Ok(value)
}

// Our seed reports its own faults through `de::Error::custom` with a marker prefix so
// they survive serde_json's error type and can be told apart from syntax errors.
const DUPLICATE_MARK: &str = "\u{0}duplicate:";
const DEPTH_MARK: &str = "\u{0}depth";

fn classify(err: serde_json::Error) -> StrictJsonError {
    let text = err.to_string();
    if let Some(rest) = text.strip_prefix(DUPLICATE_MARK) {
        // serde_json appends " at line L column C"; the name itself is JSON-escaped by us.
        let name = rest.rsplit_once(" at line ").map_or(rest, |(name, _)| name);
        StrictJsonError::DuplicateMember(name.to_owned())
    } else if text.starts_with(DEPTH_MARK) {
        StrictJsonError::TooDeep
    } else {
        StrictJsonError::Syntax
    }
}

struct StrictSeed {
    depth: usize,
}

impl StrictSeed {
    fn nested<E: de::Error>(&self) -> Result<StrictSeed, E> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(E::custom(DEPTH_MARK));
        }
        Ok(StrictSeed { depth })
    }
}

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed {
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
        while let Some(item) = seq.next_element_seed(StrictSeed { depth: inner.depth })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                let shown = serde_json::to_string(&name).unwrap_or_default();
                return Err(de::Error::custom(format_args!("{DUPLICATE_MARK}{shown}")));
            }
            let value = map.next_value_seed(StrictSeed { depth: inner.depth })?;
            members.insert(name, value);
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
            Err(StrictJsonError::DuplicateMember("\"alg\"".into()))
        );
        assert!(matches!(
            parse_strict(br#"{"jit":{"role":"a","role":"b"}}"#),
            Err(StrictJsonError::DuplicateMember(_))
        ));
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
        assert_eq!(parse_strict(deep.as_bytes()), Err(StrictJsonError::TooDeep));
        // Far deeper than serde_json's own limit: still our error, no stack overflow.
        let very = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(parse_strict(very.as_bytes()), Err(StrictJsonError::TooDeep));
    }

    #[test]
    fn rejects_trailing_data_and_syntax_errors() {
        assert_eq!(parse_strict(b"{} {}"), Err(StrictJsonError::Syntax));
        assert_eq!(parse_strict(b"{\"a\":}"), Err(StrictJsonError::Syntax));
        assert_eq!(parse_strict(b""), Err(StrictJsonError::Syntax));
    }
}
