#![doc = include_str!("../README.md")]
// Keys and claims come from files and API calls: errors are values, never panics.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![forbid(unsafe_code)]

use serde_json::{Map, Value};

use jitgate_core::unstable::jws::{b64url_decode, b64url_encode};
use jitgate_core::Algorithm;
use jitgate_core::TOKEN_TYPE;
use jitgate_core::{parse_jwk, Key, KeyMaterial};

/// A private key that signs tokens.
#[derive(Clone)]
pub enum SigningKey {
    /// Ed25519 (`EdDSA`).
    Ed25519(ed25519_dalek::SigningKey),
    /// P-256 (`ES256`).
    P256(p256::ecdsa::SigningKey),
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SigningKey({})", self.alg())
    }
}

/// Why a private key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing key: {0}")]
pub struct KeyError(pub String);

impl SigningKey {
    /// A key from 32 secret bytes: the Ed25519 seed or the P-256 scalar.
    pub fn from_secret(alg: Algorithm, secret: &[u8; 32]) -> Result<Self, KeyError> {
        match alg {
            Algorithm::EdDsa => Ok(Self::Ed25519(ed25519_dalek::SigningKey::from_bytes(secret))),
            Algorithm::Es256 => p256::ecdsa::SigningKey::from_slice(secret)
                .map(Self::P256)
                .map_err(|_| KeyError("the P-256 scalar is zero or not below the group order".into())),
        }
    }

    /// A key from a private JWK (with `d`).
    pub fn from_jwk(jwk: &Value) -> Result<Self, KeyError> {
        let obj = jwk
            .as_object()
            .ok_or_else(|| KeyError("a JWK must be an object".into()))?;
        let d = obj
            .get("d")
            .and_then(Value::as_str)
            .and_then(b64url_decode)
            .ok_or_else(|| KeyError("`d` is missing or not base64url".into()))?;
        let secret = <[u8; 32]>::try_from(d.as_slice()).map_err(|_| KeyError("`d` must be 32 bytes".into()))?;
        let mut public = obj.clone();
        public.remove("d");
        let key =
            parse_jwk(&Value::Object(public), "jwk").map_err(|e| KeyError(format!("{}: {}", e.path, e.message)))?;
        let signing = Self::from_secret(key.alg, &secret)?;
        if signing.public_jwk(&key.kid) != key.to_jwk() {
            return Err(KeyError("`d` does not match the public key".into()));
        }
        Ok(signing)
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Algorithm {
        match self {
            Self::Ed25519(_) => Algorithm::EdDsa,
            Self::P256(_) => Algorithm::Es256,
        }
    }

    /// The public key, as the verifier sees it.
    pub fn public_key(&self, kid: &str) -> Key {
        let (alg, material) = match self {
            Self::Ed25519(sk) => (Algorithm::EdDsa, KeyMaterial::Ed25519(sk.verifying_key())),
            Self::P256(sk) => (Algorithm::Es256, KeyMaterial::P256(*sk.verifying_key())),
        };
        Key {
            kid: kid.to_owned(),
            alg,
            material,
        }
    }

    /// The public JWK, with `kid`, `alg` and `use: sig`.
    pub fn public_jwk(&self, kid: &str) -> Value {
        self.public_key(kid).to_jwk()
    }

    /// The private JWK (public members plus `d`). Handle with care.
    pub fn private_jwk(&self, kid: &str) -> Value {
        let mut jwk = self.public_jwk(kid);
        let d = match self {
            Self::Ed25519(sk) => b64url_encode(&sk.to_bytes()),
            Self::P256(sk) => b64url_encode(&sk.to_bytes()),
        };
        if let Some(obj) = jwk.as_object_mut() {
            obj.insert("d".into(), Value::String(d));
        }
        jwk
    }

    /// Signs `message`, returning the JWS signature bytes (64 bytes; `r || s` for ES256).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Ed25519(sk) => {
                use ed25519_dalek::Signer as _;
                sk.sign(message).to_bytes().to_vec()
            }
            Self::P256(sk) => {
                use p256::ecdsa::signature::Signer as _;
                let sig: p256::ecdsa::Signature = sk.sign(message);
                sig.to_bytes().to_vec()
            }
        }
    }
}

/// The standard approval header for `key` and `kid`: `{"alg", "typ", "kid"}`.
pub fn approval_header(key: &SigningKey, kid: &str) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("alg".into(), key.alg().as_str().into());
    header.insert("typ".into(), TOKEN_TYPE.into());
    header.insert("kid".into(), kid.into());
    header
}

/// Signs exactly these header and payload bytes (tests use this to build tokens
/// with duplicate members or odd encodings).
pub fn sign_raw(header_json: &[u8], payload_json: &[u8], key: &SigningKey) -> String {
    let signing_input = format!("{}.{}", b64url_encode(header_json), b64url_encode(payload_json));
    let signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64url_encode(&signature))
}

/// Signs `claims` under `header` as a compact JWS.
pub fn sign(header: &Map<String, Value>, claims: &Value, key: &SigningKey) -> String {
    let header = Value::Object(header.clone()).to_string();
    sign_raw(header.as_bytes(), claims.to_string().as_bytes(), key)
}

/// Signs an approval with the standard header for `kid`.
pub fn mint(claims: &Value, key: &SigningKey, kid: &str) -> String {
    sign(&approval_header(key, kid), claims, key)
}

/// Signs a live-trust feed document (docs/live-trust.md): `payload` under the header
/// `{"alg", "typ", "kid"}` (`typ` one of [`jitgate_core::REVOCATIONS_TYPE`],
/// [`jitgate_core::STATUS_LIST_TYPE`], [`jitgate_core::KEY_SET_TYPE`]).
pub fn sign_document(typ: &str, payload: &Value, key: &SigningKey, kid: &str) -> String {
    let mut header = Map::new();
    header.insert("alg".into(), key.alg().as_str().into());
    header.insert("typ".into(), typ.into());
    header.insert("kid".into(), kid.into());
    sign(&header, payload, key)
}

/// The `lst` of a Token Status List: `statuses` (one per entry, each below `2^bits`)
/// packed `bits` per entry (index 0 in the least significant bits of byte 0),
/// zlib-compressed, base64url-encoded. `None` when `bits` is not 1, 2, 4 or 8 or a
/// status does not fit.
pub fn status_list_lst(bits: u8, statuses: &[u8]) -> Option<String> {
    if !matches!(bits, 1 | 2 | 4 | 8) || statuses.iter().any(|s| u16::from(*s) >= 1 << bits) {
        return None;
    }
    let per_byte = usize::from(8 / bits);
    let mut bytes = vec![0u8; statuses.len().div_ceil(per_byte)];
    for (i, status) in statuses.iter().enumerate() {
        let byte = bytes.get_mut(i / per_byte)?;
        *byte |= status << ((i % per_byte) * usize::from(bits));
    }
    Some(b64url_encode(&miniz_oxide::deflate::compress_to_vec_zlib(&bytes, 9)))
}

/// Turns `iat`, `nbf` and `exp` given as RFC 3339 text into integer seconds (claims
/// files and test files write times readably); other values are left as they are.
pub fn normalize_claim_times(claims: &mut Value) -> Result<(), KeyError> {
    for name in ["iat", "nbf", "exp"] {
        if let Some(Value::String(text)) = claims.get(name) {
            let ns = jitgate_core::parse_time_ns(text)
                .ok_or_else(|| KeyError(format!("claim `{name}`: `{text}` is not RFC 3339 or integer seconds")))?;
            if let Some(slot) = claims.get_mut(name) {
                *slot = Value::from(ns.div_euclid(1_000_000_000));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwk_round_trip_and_mismatch() {
        for alg in [Algorithm::EdDsa, Algorithm::Es256] {
            let key = SigningKey::from_secret(alg, &[7; 32]).unwrap();
            let back = SigningKey::from_jwk(&key.private_jwk("k")).unwrap();
            assert_eq!(back.public_jwk("k"), key.public_jwk("k"));
            let other = SigningKey::from_secret(alg, &[8; 32]).unwrap();
            let mut jwk = key.private_jwk("k");
            jwk["d"] = other.private_jwk("k")["d"].clone();
            assert!(SigningKey::from_jwk(&jwk).is_err());
        }
    }
}
