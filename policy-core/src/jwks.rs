//! JSON Web Key Sets (RFC 7517): the verification keys of an issuer.
//!
//! Only public signature keys of the two supported kinds are accepted: Ed25519
//! (`kty: OKP`, `crv: Ed25519`) and P-256 (`kty: EC`, `crv: P-256`). Each key fixes its
//! algorithm (given by `alg` or implied by `kty`/`crv`); a token can never choose
//! another one (RFC 8725 §3.1). Anything ambiguous is a configuration error, never a
//! key that is silently skipped.

use serde_json::{Map, Value};

use crate::jws::{b64url_decode, b64url_encode, Algorithm};

/// The public key material of one JWK.
#[derive(Clone, Debug)]
pub enum KeyMaterial {
    /// An Ed25519 public key.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// A P-256 public key.
    P256(p256::ecdsa::VerifyingKey),
}

impl KeyMaterial {
    /// Verifies `signature` over `message` with this key. Any signature that does not
    /// verify, whatever its bytes (wrong length, DER instead of `r || s`, zero,
    /// non-canonical), is `false`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Ed25519(vk) => {
                let Ok(bytes) = <&[u8; 64]>::try_from(signature) else {
                    return false;
                };
                let sig = ed25519_dalek::Signature::from_bytes(bytes);
                vk.verify_strict(message, &sig).is_ok()
            }
            Self::P256(vk) => {
                use p256::ecdsa::signature::Verifier as _;
                if signature.len() != 64 {
                    return false;
                }
                let Ok(sig) = p256::ecdsa::Signature::from_slice(signature) else {
                    return false;
                };
                vk.verify(message, &sig).is_ok()
            }
        }
    }
}

/// One verification key: its id, the only algorithm it may be used with, its material.
#[derive(Clone, Debug)]
pub struct Key {
    /// The `kid` tokens name it by.
    pub kid: String,
    /// The one algorithm this key verifies.
    pub alg: Algorithm,
    /// The public key.
    pub material: KeyMaterial,
}

impl Key {
    /// The public JWK of this key, with `kid`, `alg` and `use: sig`.
    pub fn to_jwk(&self) -> Value {
        let kid = self.kid.as_str();
        match &self.material {
            KeyMaterial::Ed25519(vk) => serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA", "use": "sig",
                "x": b64url_encode(vk.as_bytes()),
            }),
            KeyMaterial::P256(vk) => {
                let point = vk.to_encoded_point(false);
                serde_json::json!({
                    "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
                    "x": point.x().map(|x| b64url_encode(x)).unwrap_or_default(),
                    "y": point.y().map(|y| b64url_encode(y)).unwrap_or_default(),
                })
            }
        }
    }
}

/// The keys of one issuer, looked up by `kid`.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

/// Why a JWK or JWK Set was refused: the JSON path below the set and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwkError {
    /// Where, relative to the JWK Set (`keys[1].crv`).
    pub path: String,
    /// What is wrong, lowercase, user input in backticks.
    pub message: String,
}

impl core::fmt::Display for JwkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "`{}`: {}", self.path, self.message)
    }
}

impl core::error::Error for JwkError {}

fn err(path: String, message: impl Into<String>) -> JwkError {
    JwkError {
        path,
        message: message.into(),
    }
}

/// JWK members this parser knows (RFC 7517 §4, RFC 7518 §6). Others are refused so a
/// typo never goes unnoticed.
const KNOWN_MEMBERS: &[&str] = &[
    "kty", "crv", "kid", "x", "y", "alg", "use", "key_ops", "x5c", "x5t", "x5t#S256", "x5u", "d",
];

impl KeySet {
    /// Parses a JWK Set `{"keys": [...]}`.
    pub fn from_json(set: &Value) -> Result<Self, JwkError> {
        let Value::Object(obj) = set else {
            return Err(err(String::new(), "must be an object with a `keys` array"));
        };
        if let Some(name) = obj.keys().find(|k| k.as_str() != "keys") {
            return Err(err(name.clone(), "unknown field: a JWK Set has only `keys`"));
        }
        let Some(Value::Array(items)) = obj.get("keys") else {
            return Err(err("keys".into(), "must be an array of JWKs"));
        };
        let mut keys: Vec<Key> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("keys[{i}]");
            let key = parse_jwk(item, &path)?;
            if keys.iter().any(|k| k.kid == key.kid) {
                return Err(err(format!("{path}.kid"), format!("duplicate kid `{}`", key.kid)));
            }
            keys.push(key);
        }
        Ok(Self { keys })
    }

    /// The key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// All keys, in configuration order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Whether the set has no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds a key (used by tools that assemble a set); a duplicate `kid` is refused.
    pub fn push(&mut self, key: Key) -> Result<(), JwkError> {
        if self.get(&key.kid).is_some() {
            return Err(err("kid".into(), format!("duplicate kid `{}`", key.kid)));
        }
        self.keys.push(key);
        Ok(())
    }
}

fn str_member<'a>(obj: &'a Map<String, Value>, name: &str, path: &str) -> Result<Option<&'a str>, JwkError> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(err(format!("{path}.{name}"), "must be a string")),
    }
}

fn required<'a>(obj: &'a Map<String, Value>, name: &str, path: &str) -> Result<&'a str, JwkError> {
    str_member(obj, name, path)?.ok_or_else(|| err(format!("{path}.{name}"), "is required"))
}

fn coordinate(obj: &Map<String, Value>, name: &str, path: &str) -> Result<[u8; 32], JwkError> {
    let text = required(obj, name, path)?;
    let bytes =
        b64url_decode(text).ok_or_else(|| err(format!("{path}.{name}"), "is not canonical unpadded base64url"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        err(
            format!("{path}.{name}"),
            format!("must be 32 bytes, not {}", bytes.len()),
        )
    })
}

/// Parses one public JWK at `path` (used in messages).
pub fn parse_jwk(value: &Value, path: &str) -> Result<Key, JwkError> {
    let Value::Object(obj) = value else {
        return Err(err(path.into(), "must be a JWK object"));
    };
    if let Some(name) = obj.keys().find(|k| !KNOWN_MEMBERS.contains(&k.as_str())) {
        return Err(err(format!("{path}.{name}"), "unknown JWK member"));
    }
    if obj.contains_key("d") {
        return Err(err(
            format!("{path}.d"),
            "is private key material: configure only the public key",
        ));
    }
    let kty = required(obj, "kty", path)?;
    let crv = str_member(obj, "crv", path)?;
    let kid = required(obj, "kid", path)?;
    if kid.is_empty() {
        return Err(err(format!("{path}.kid"), "must not be empty"));
    }
    if let Some(usage) = str_member(obj, "use", path)? {
        if usage != "sig" {
            return Err(err(
                format!("{path}.use"),
                format!("is `{usage}`: only `sig` keys verify tokens"),
            ));
        }
    }
    match obj.get("key_ops") {
        None => {}
        Some(Value::Array(ops)) if ops.iter().any(|o| o == "verify") => {}
        Some(_) => {
            return Err(err(
                format!("{path}.key_ops"),
                "must be an array that contains `verify`",
            ));
        }
    }
    let (implied, material) = match (kty, crv) {
        ("OKP", Some("Ed25519")) => {
            if obj.contains_key("y") {
                return Err(err(format!("{path}.y"), "an OKP key has no `y`"));
            }
            let x = coordinate(obj, "x", path)?;
            let vk = ed25519_dalek::VerifyingKey::from_bytes(&x)
                .map_err(|_| err(format!("{path}.x"), "is not a valid Ed25519 public key"))?;
            if vk.is_weak() {
                return Err(err(format!("{path}.x"), "is a weak (small-order) Ed25519 key"));
            }
            (Algorithm::EdDsa, KeyMaterial::Ed25519(vk))
        }
        ("EC", Some("P-256")) => {
            let x = coordinate(obj, "x", path)?;
            let y = coordinate(obj, "y", path)?;
            let point = p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
            let vk = p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                .map_err(|_| err(format!("{path}.x"), "`x`/`y` is not a point on P-256"))?;
            (Algorithm::Es256, KeyMaterial::P256(vk))
        }
        ("OKP" | "EC", Some(other)) => {
            return Err(err(
                format!("{path}.crv"),
                format!("curve `{other}` is not supported (Ed25519 or P-256)"),
            ));
        }
        ("OKP" | "EC", None) => return Err(err(format!("{path}.crv"), "is required")),
        (other, _) => {
            return Err(err(
                format!("{path}.kty"),
                format!("key type `{other}` is not supported (`OKP` Ed25519 or `EC` P-256)"),
            ));
        }
    };
    if let Some(alg) = str_member(obj, "alg", path)? {
        if Algorithm::from_name(alg) != Some(implied) {
            return Err(err(
                format!("{path}.alg"),
                format!(
                    "`{alg}` does not match a {kty} {} key (expected `{implied}`)",
                    crv.unwrap_or_default()
                ),
            ));
        }
    }
    Ok(Key {
        kid: kid.to_owned(),
        alg: implied,
        material,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    #[test]
    fn accepts_ed25519_with_and_without_alg() {
        let set = KeySet::from_json(&json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": ED_X, "alg": "EdDSA", "use": "sig"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "b", "x": ED_X}
        ]}))
        .unwrap();
        assert_eq!(set.get("a").unwrap().alg, Algorithm::EdDsa);
        assert_eq!(set.get("b").unwrap().alg, Algorithm::EdDsa);
        assert!(set.get("c").is_none());
    }

    fn refused(key: Value) -> JwkError {
        KeySet::from_json(&json!({"keys": [key]})).unwrap_err()
    }

    #[test]
    fn refuses_disagreeing_or_unsupported_keys() {
        let e = refused(json!({"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": ED_X, "alg": "ES256"}));
        assert_eq!(e.path, "keys[0].alg");
        let e = refused(json!({"kty": "EC", "crv": "Ed25519", "kid": "a", "x": ED_X}));
        assert_eq!(e.path, "keys[0].crv");
        let e = refused(json!({"kty": "RSA", "kid": "a", "n": "AQAB", "e": "AQAB"}));
        assert_eq!(e.path, "keys[0].e");
        let e = refused(json!({"kty": "RSA", "kid": "a"}));
        assert_eq!(e.path, "keys[0].kty");
        assert!(e.message.contains("`RSA`"));
        let e = refused(json!({"kty": "oct", "kid": "a", "alg": "HS256"}));
        assert_eq!(e.path, "keys[0].kty");
        let e = refused(json!({"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": ED_X, "use": "enc"}));
        assert_eq!(e.path, "keys[0].use");
        let e = refused(json!({"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": ED_X, "key_ops": ["encrypt"]}));
        assert_eq!(e.path, "keys[0].key_ops");
        let e = refused(json!({"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": ED_X, "d": ED_X}));
        assert_eq!(e.path, "keys[0].d");
        let e = refused(json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X}));
        assert_eq!(e.path, "keys[0].kid");
        let e = refused(json!({"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": "AAAA"}));
        assert_eq!(e.path, "keys[0].x");
        let e = refused(json!({"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": ED_X, "extra": 1}));
        assert_eq!(e.path, "keys[0].extra");
    }

    #[test]
    fn refuses_duplicate_kid() {
        let e = KeySet::from_json(&json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": ED_X},
            {"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": ED_X}
        ]}))
        .unwrap_err();
        assert_eq!(e.path, "keys[1].kid");
        assert!(e.message.contains("duplicate"));
    }

    #[test]
    fn refuses_p256_point_off_curve() {
        let e = refused(json!({"kty": "EC", "crv": "P-256", "kid": "a",
            "x": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "y": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}));
        assert_eq!(e.path, "keys[0].x");
    }

    #[test]
    fn refuses_weak_ed25519_key() {
        // The identity point (small order) encodes as 0x01 followed by zeros.
        let mut x = [0u8; 32];
        x[0] = 1;
        let e = refused(json!({"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": crate::jws::b64url_encode(&x)}));
        assert_eq!(e.path, "keys[0].x");
    }
}
