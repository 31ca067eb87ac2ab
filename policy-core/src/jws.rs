//! JWS Compact Serialization (RFC 7515 §7.1): splitting, strict base64url, and the two
//! signature algorithms jitgate accepts.
//!
//! This layer knows nothing of approvals: it checks the shape of a compact JWS and
//! verifies a signature with a key whose algorithm is fixed. The approval rules
//! (header fields, claims, times) live in [`crate::token`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use crate::json::{parse_strict, StrictJsonError};

/// The largest token accepted, in bytes (the header value after the prefix).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A signature algorithm jitgate verifies. Nothing else is ever accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Ed25519 (RFC 8037), verified with strict verification.
    EdDsa,
    /// ECDSA on P-256 with SHA-256, signature as IEEE P1363 `r || s` (64 bytes).
    Es256,
}

impl Algorithm {
    /// The JOSE name (`EdDSA`, `ES256`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
        }
    }

    /// The algorithm for an exact, case-sensitive JOSE name; `None` for anything else
    /// (`none`, `HS256`, `eddsa`, …).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(Self::EdDsa),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }
}

impl core::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a compact JWS could not even be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShapeError {
    /// Longer than [`MAX_TOKEN_BYTES`].
    TooLong,
    /// Not exactly three `.`-separated segments.
    Segments,
    /// A segment is not canonical unpadded base64url (names the segment).
    Base64(&'static str),
    /// The header or payload is not acceptable JSON (names the segment).
    Json(&'static str, StrictJsonError),
    /// The header or payload is JSON but not an object (names the segment).
    NotObject(&'static str),
}

impl core::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooLong => write!(f, "token is longer than {MAX_TOKEN_BYTES} bytes"),
            Self::Segments => f.write_str("token does not have exactly three segments"),
            Self::Base64(seg) => write!(f, "{seg} is not canonical unpadded base64url"),
            Self::Json(seg, err) => write!(f, "{seg} is {err}"),
            Self::NotObject(seg) => write!(f, "{seg} is not a JSON object"),
        }
    }
}

impl core::error::Error for ShapeError {}

/// A compact JWS split and decoded, not yet verified.
#[derive(Debug, Clone)]
pub struct CompactJws<'a> {
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`: the bytes that are signed.
    pub signing_input: &'a [u8],
    /// The decoded protected header.
    pub header: serde_json::Map<String, Value>,
    /// The decoded payload bytes (JSON parsing is up to the caller).
    pub payload: Vec<u8>,
    /// The decoded signature bytes.
    pub signature: Vec<u8>,
}

/// Decodes canonical unpadded base64url (RFC 7515 §2): no padding, no whitespace,
/// no non-zero trailing bits.
pub fn b64url_decode(segment: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(segment).ok()
}

/// Encodes unpadded base64url.
pub fn b64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl<'a> CompactJws<'a> {
    /// Splits and decodes `token`. The header must be a JSON object without duplicate
    /// members; the payload is decoded from base64url only.
    pub fn parse(token: &'a str) -> Result<Self, ShapeError> {
        Self::parse_with_limit(token, MAX_TOKEN_BYTES)
    }

    /// [`CompactJws::parse`] with another size limit (feed documents are larger than
    /// tokens).
    pub fn parse_with_limit(token: &'a str, max_bytes: usize) -> Result<Self, ShapeError> {
        if token.len() > max_bytes {
            return Err(ShapeError::TooLong);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(ShapeError::Segments);
        };
        let header_bytes = b64url_decode(h).ok_or(ShapeError::Base64("header"))?;
        let payload = b64url_decode(p).ok_or(ShapeError::Base64("payload"))?;
        let signature = b64url_decode(s).ok_or(ShapeError::Base64("signature"))?;
        let header = match parse_strict(&header_bytes) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(ShapeError::NotObject("header")),
            Err(e) => return Err(ShapeError::Json("header", e)),
        };
        let signing_input = token.as_bytes().get(..h.len() + 1 + p.len()).unwrap_or_default();
        Ok(Self {
            signing_input,
            header,
            payload,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_are_exact() {
        assert_eq!(Algorithm::from_name("EdDSA"), Some(Algorithm::EdDsa));
        assert_eq!(Algorithm::from_name("ES256"), Some(Algorithm::Es256));
        for bad in [
            "none", "None", "NONE", "eddsa", "EDDSA", "es256", "HS256", "RS256", "ES384", "",
        ] {
            assert_eq!(Algorithm::from_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn base64url_must_be_canonical_and_unpadded() {
        assert_eq!(b64url_decode("Zm9v").as_deref(), Some(&b"foo"[..]));
        assert!(b64url_decode("Zm8=").is_none(), "padding");
        assert_eq!(b64url_decode("Zm8").as_deref(), Some(&b"fo"[..]));
        // "Zm9" is "fo" with non-zero trailing bits: not canonical.
        assert!(b64url_decode("Zm9").is_none());
        // "Zh" decodes to 'f' with non-zero trailing bits: not canonical.
        assert!(b64url_decode("Zh").is_none());
        assert!(b64url_decode("Zg").is_some());
        assert!(b64url_decode("Zm 9v").is_none(), "whitespace");
        assert!(b64url_decode("Zm+v").is_none(), "standard alphabet");
    }

    #[test]
    fn shape_errors() {
        assert_eq!(CompactJws::parse("a.b").unwrap_err(), ShapeError::Segments);
        assert_eq!(CompactJws::parse("a.b.c.d").unwrap_err(), ShapeError::Segments);
        assert_eq!(
            CompactJws::parse("e30=.e30.").unwrap_err(),
            ShapeError::Base64("header")
        );
        assert_eq!(
            CompactJws::parse("W10.e30.").unwrap_err(),
            ShapeError::NotObject("header")
        );
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(CompactJws::parse(&long).unwrap_err(), ShapeError::TooLong);
        let ok = CompactJws::parse("e30.Zm9v.").unwrap();
        assert_eq!(ok.signing_input, b"e30.Zm9v");
        assert_eq!(ok.payload, b"foo");
        assert!(ok.signature.is_empty());
    }
}
