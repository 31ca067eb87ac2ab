//! Signing approval tokens: for tests, the `jitgate token` command and demos.
//!
//! An approval service would do this; jitgate itself only verifies. Keys come in as
//! bytes or JWKs (the core draws no randomness: `jitgate token keygen` does).

use serde_json::{Map, Value};

use crate::jwks::{parse_jwk, Key, KeyMaterial};
use crate::jws::{b64url_decode, b64url_encode, Algorithm};
use crate::token::TOKEN_TYPE;

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
/// `{"alg", "typ", "kid"}` (`typ` one of [`crate::trust::REVOCATIONS_TYPE`],
/// [`crate::trust::STATUS_LIST_TYPE`], [`crate::trust::KEY_SET_TYPE`]).
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

/// A named set of signing keys (kid → key).
pub type Keyring = std::collections::BTreeMap<String, SigningKey>;

/// Turns `iat`, `nbf` and `exp` given as RFC 3339 strings into integer seconds (test
/// files write times readably); integers and other values are left as they are.
pub fn normalize_claim_times(claims: &mut Value) -> Result<(), KeyError> {
    for name in ["iat", "nbf", "exp"] {
        if let Some(Value::String(text)) = claims.get(name) {
            let ns = crate::timefmt::parse_time_ns(text)
                .ok_or_else(|| KeyError(format!("claim `{name}`: `{text}` is not RFC 3339 or integer seconds")))?;
            claims[name] = Value::from(ns.div_euclid(1_000_000_000));
        }
    }
    Ok(())
}

/// Mints the token a test file describes: `null` (no token), `{"raw": "…"}` (used as
/// is), or `{"key": kid, "header": {overrides}?, "claims": {…}}` signed by `keys[kid]`
/// with the standard approval header plus the overrides (a `null` override removes
/// the member).
pub fn mint_spec(spec: &Value, keys: &Keyring) -> Result<Option<String>, KeyError> {
    let obj = match spec {
        Value::Null => return Ok(None),
        Value::Object(obj) => obj,
        _ => {
            return Err(KeyError(
                "a token must be null, {\"raw\"} or {\"key\", \"claims\"}".into(),
            ))
        }
    };
    if let Some(raw) = obj.get("raw") {
        return raw
            .as_str()
            .map(|s| Some(s.to_owned()))
            .ok_or_else(|| KeyError("`raw` must be a string".into()));
    }
    let kid = obj
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| KeyError("`key` must name a key".into()))?;
    let key = keys
        .get(kid)
        .ok_or_else(|| KeyError(format!("no key `{kid}` in `keys`")))?;
    let mut claims = obj
        .get("claims")
        .cloned()
        .ok_or_else(|| KeyError("`claims` is required".into()))?;
    normalize_claim_times(&mut claims)?;
    let mut header = approval_header(key, kid);
    match obj.get("header") {
        None => {}
        Some(Value::Object(overrides)) => {
            for (name, value) in overrides {
                if value.is_null() {
                    header.remove(name);
                } else {
                    header.insert(name.clone(), value.clone());
                }
            }
        }
        Some(_) => return Err(KeyError("`header` must be an object".into())),
    }
    Ok(Some(sign(&header, &claims, key)))
}

/// One case of a decision-vector corpus, its token minted.
#[derive(Debug, Clone)]
pub struct VectorCase {
    /// What the case is about.
    pub name: String,
    /// The decision time, ns since the epoch (`now`: RFC 3339 or integer seconds).
    pub now_ns: i64,
    /// The request as the corpus writes it (`{"method", "path", "headers", "source"}`).
    pub request: Value,
    /// The token to send, if any, minted from the case's `token` spec.
    pub token: Option<String>,
    /// What every host must decide: `allow`, `status`, `reason`, optionally `policy_reason`.
    pub expect: Value,
}

impl VectorCase {
    /// The core request, with the token (if any) in `header`.
    pub fn core_request(&self, header: &str) -> Result<crate::Request, crate::RequestError> {
        let mut request = crate::Request::from_json(self.request.clone())?;
        if let Some(token) = &self.token {
            request.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(header));
            request.headers.push((header.to_owned(), token.clone()));
        }
        Ok(request)
    }

    /// `None` when `got` (`allow`, `status`, `reason`, `policy_reason`) is what the case
    /// expects, else a line saying what differs.
    pub fn mismatch(&self, allow: bool, status: u16, reason: &str, policy_reason: Option<&str>) -> Option<String> {
        let want = &self.expect;
        let same = want.get("allow") == Some(&Value::Bool(allow))
            && want.get("status").and_then(Value::as_u64) == Some(u64::from(status))
            && want.get("reason").and_then(Value::as_str) == Some(reason)
            && want.get("policy_reason").is_none_or(|p| p.as_str() == policy_reason);
        (!same).then(|| {
            format!(
                "{}: want {want}, got allow={allow} status={status} reason={reason}",
                self.name
            )
        })
    }
}

/// A decision-vector corpus — one file, decided alike by every host:
/// `{"config": {…DESIGN §6…}, "keys": [{"kid", "jwk": {private JWK}}], "cases": [{"name",
/// "now", "token": null | {"raw"} | {"key", "header"?, "claims"}, "request", "expect"}]}`.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The plugin configuration every case is decided with.
    pub config: Value,
    /// The signing keys (TEST-ONLY).
    pub keys: Keyring,
    /// The cases, tokens minted.
    pub cases: Vec<VectorCase>,
}

impl Corpus {
    /// Reads a corpus and mints its tokens.
    pub fn from_json(text: &str) -> Result<Self, KeyError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| KeyError(format!("corpus: {e}")))?;
        let mut keys = Keyring::new();
        for entry in doc.get("keys").and_then(Value::as_array).into_iter().flatten() {
            let kid = entry
                .get("kid")
                .and_then(Value::as_str)
                .ok_or_else(|| KeyError("corpus key without `kid`".into()))?;
            let jwk = entry
                .get("jwk")
                .ok_or_else(|| KeyError(format!("corpus key `{kid}` without `jwk`")))?;
            keys.insert(kid.to_owned(), SigningKey::from_jwk(jwk)?);
        }
        let mut cases = Vec::new();
        for case in doc.get("cases").and_then(Value::as_array).into_iter().flatten() {
            let name = case.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let now_ns = match case.get("now") {
                Some(Value::Number(n)) => n.as_i64().and_then(|s| s.checked_mul(1_000_000_000)),
                Some(Value::String(t)) => crate::timefmt::parse_time_ns(t),
                _ => None,
            }
            .ok_or_else(|| KeyError(format!("case `{name}`: `now` is not RFC 3339 or integer seconds")))?;
            let token = mint_spec(case.get("token").unwrap_or(&Value::Null), &keys)
                .map_err(|e| KeyError(format!("case `{name}`: {}", e.0)))?;
            cases.push(VectorCase {
                name,
                now_ns,
                request: case.get("request").cloned().unwrap_or(Value::Null),
                token,
                expect: case.get("expect").cloned().unwrap_or(Value::Null),
            });
        }
        let config = doc
            .get("config")
            .cloned()
            .ok_or_else(|| KeyError("corpus without `config`".into()))?;
        Ok(Self { config, keys, cases })
    }
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
