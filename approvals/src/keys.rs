//! The signing keys: an Ed25519 key generated on first start into a file only the
//! owner can read (mode 0600), or supplied; rotation announces the next key before
//! it signs and keeps a retired key published until the last token it signed expired.
//!
//! The key file is JSON: `{"keys": [{"kid", "state": "active"|"next"|"retired",
//! "created_at", "retired_at"?, "jwk": {private JWK}}]}`. A file holding one private
//! JWK (with `kid`) is accepted too: that key is the active one and there is no next.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use jitgate_core::unstable::jws::b64url_encode;
use jitgate_core::Algorithm;
use jitgate_mint::SigningKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// Why the key file could not be read, written or rotated.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing the file failed.
    #[error("key file `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file's content is not a key file.
    #[error("key file `{path}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Others may read the file.
    #[error("key file `{0}` may be read by others (mode {1:o}); `chmod 600` it")]
    Permissions(PathBuf, u32),
    /// A rotation would start signing with a key the gates may not know yet.
    #[error("the next key `{kid}` was announced {age_s} s ago, less than {min_s} s: gates may not have it yet (use --force to rotate anyway)")]
    TooSoon {
        /// The next key.
        kid: String,
        /// How long it has been published.
        age_s: i64,
        /// How long it must be published first.
        min_s: i64,
    },
    /// No random bytes for a new key.
    #[error("no randomness for a new key: {0}")]
    Random(String),
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Signs new tokens and documents.
    Active,
    /// Published, signs nothing yet: the one `keys rotate` promotes.
    Next,
    /// Signs nothing; published until its last token has expired.
    Retired,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredKey {
    kid: String,
    state: KeyState,
    created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired_at: Option<i64>,
    jwk: Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredFile {
    keys: Vec<StoredKey>,
}

/// One key of the set.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    /// Its `kid`.
    pub kid: String,
    /// Where it is in its life.
    pub state: KeyState,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// When it stopped signing (Unix seconds).
    pub retired_at: Option<i64>,
    /// The private key.
    pub key: SigningKey,
}

/// The key set read from the key file.
#[derive(Debug, Clone)]
pub struct KeySet {
    /// Every key, in file order.
    pub keys: Vec<KeyEntry>,
}

/// A new random Ed25519 key and its `kid` (a prefix of the SHA-256 of the public key).
pub fn generate() -> Result<(String, SigningKey), KeyFileError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| KeyFileError::Random(e.to_string()))?;
    let key = SigningKey::from_secret(Algorithm::EdDsa, &seed).map_err(|e| KeyFileError::Random(e.to_string()))?;
    let public = key.public_jwk("");
    let x = public.get("x").and_then(Value::as_str).unwrap_or_default();
    let digest = Sha256::digest(x.as_bytes());
    let kid = format!("ak-{}", b64url_encode(digest.get(..9).unwrap_or_default()));
    Ok((kid, key))
}

impl KeySet {
    /// The key that signs now.
    pub fn active(&self) -> Option<&KeyEntry> {
        self.keys.iter().find(|k| k.state == KeyState::Active)
    }

    /// The public JWKS the gates trust: the active and next keys, and retired keys
    /// until `retired_at + retain_s` has passed.
    pub fn public_jwks(&self, now: i64, retain_s: i64) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter(|k| match k.state {
                KeyState::Active | KeyState::Next => true,
                KeyState::Retired => k.retired_at.is_some_and(|t| t.saturating_add(retain_s) > now),
            })
            .map(|k| k.key.public_jwk(&k.kid))
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// Reads the key file at `path`, or creates it (mode 0600) with a new active key
    /// and a new next key when it does not exist.
    pub fn load_or_create(path: &Path, now: i64) -> Result<Self, KeyFileError> {
        match std::fs::metadata(path) {
            Ok(_) => Self::load(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (kid, key) = generate()?;
                let (next_kid, next) = generate()?;
                let set = KeySet {
                    keys: vec![
                        KeyEntry {
                            kid,
                            state: KeyState::Active,
                            created_at: now,
                            retired_at: None,
                            key,
                        },
                        KeyEntry {
                            kid: next_kid,
                            state: KeyState::Next,
                            created_at: now,
                            retired_at: None,
                            key: next,
                        },
                    ],
                };
                set.write(path)?;
                Ok(set)
            }
            Err(source) => Err(KeyFileError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Reads the key file at `path`; refuses a file that others may read.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        };
        let invalid = |message: String| KeyFileError::Invalid {
            path: path.to_owned(),
            message,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyFileError::Permissions(path.to_owned(), mode));
            }
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let stored: StoredFile = if doc.get("keys").is_some() {
            serde_json::from_value(doc).map_err(|e| invalid(e.to_string()))?
        } else {
            // A single private JWK, supplied by the operator.
            let kid = doc
                .get("kid")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("a supplied JWK needs a `kid`".into()))?
                .to_owned();
            StoredFile {
                keys: vec![StoredKey {
                    kid,
                    state: KeyState::Active,
                    created_at: 0,
                    retired_at: None,
                    jwk: doc,
                }],
            }
        };
        let mut keys = Vec::new();
        for (i, k) in stored.keys.into_iter().enumerate() {
            let key = SigningKey::from_jwk(&k.jwk).map_err(|e| invalid(format!("keys[{i}]: {e}")))?;
            keys.push(KeyEntry {
                kid: k.kid,
                state: k.state,
                created_at: k.created_at,
                retired_at: k.retired_at,
                key,
            });
        }
        let set = KeySet { keys };
        if set.keys.iter().filter(|k| k.state == KeyState::Active).count() != 1 {
            return Err(invalid("exactly one key must be `active`".into()));
        }
        Ok(set)
    }

    /// Writes the set to `path` atomically (a 0600 temporary file renamed over it).
    pub fn write(&self, path: &Path) -> Result<(), KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        };
        let stored = StoredFile {
            keys: self
                .keys
                .iter()
                .map(|k| StoredKey {
                    kid: k.kid.clone(),
                    state: k.state,
                    created_at: k.created_at,
                    retired_at: k.retired_at,
                    jwk: k.key.private_jwk(&k.kid),
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&stored).map_err(|e| KeyFileError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let _ = std::fs::remove_file(&tmp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.write_all(b"\n").map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }

    /// Rotates: the next key becomes active (it must have been published for at
    /// least `min_announce_s`, unless `force`), the active key retires, and a new next
    /// key is made. Keys retired more than `retain_s` ago are dropped. Returns the new
    /// active `kid`.
    pub fn rotate(
        &mut self,
        now: i64,
        min_announce_s: i64,
        retain_s: i64,
        force: bool,
    ) -> Result<String, KeyFileError> {
        let next_index = match self.keys.iter().position(|k| k.state == KeyState::Next) {
            Some(i) => i,
            None => {
                // No next key (a supplied single key): announce one now, promote later.
                let (kid, key) = generate()?;
                self.keys.push(KeyEntry {
                    kid,
                    state: KeyState::Next,
                    created_at: now,
                    retired_at: None,
                    key,
                });
                self.keys.len() - 1
            }
        };
        let Some(next) = self.keys.get(next_index) else {
            return Err(KeyFileError::Random("no next key".into()));
        };
        let age_s = now.saturating_sub(next.created_at);
        if age_s < min_announce_s && !force {
            return Err(KeyFileError::TooSoon {
                kid: next.kid.clone(),
                age_s,
                min_s: min_announce_s,
            });
        }
        for k in &mut self.keys {
            if k.state == KeyState::Active {
                k.state = KeyState::Retired;
                k.retired_at = Some(now);
            }
        }
        let kid = match self.keys.get_mut(next_index) {
            Some(k) => {
                k.state = KeyState::Active;
                k.kid.clone()
            }
            None => return Err(KeyFileError::Random("no next key".into())),
        };
        self.keys
            .retain(|k| k.state != KeyState::Retired || k.retired_at.is_some_and(|t| t.saturating_add(retain_s) > now));
        let (next_kid, next_key) = generate()?;
        self.keys.push(KeyEntry {
            kid: next_kid,
            state: KeyState::Next,
            created_at: now,
            retired_at: None,
            key: next_key,
        });
        Ok(kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_is_0600_and_rotation_keeps_old_key_published() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        let set = KeySet::load_or_create(&path, 1000).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let first = set.active().unwrap().kid.clone();
        assert_eq!(set.public_jwks(1000, 100)["keys"].as_array().unwrap().len(), 2);
        let mut set = KeySet::load(&path).unwrap();
        assert!(matches!(
            set.rotate(1010, 300, 100, false),
            Err(KeyFileError::TooSoon { .. })
        ));
        let second = set.rotate(2000, 300, 100, false).unwrap();
        assert_ne!(first, second);
        set.write(&path).unwrap();
        let set = KeySet::load(&path).unwrap();
        assert_eq!(set.active().unwrap().kid, second);
        let kids = |jwks: Value| -> Vec<String> {
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect()
        };
        assert!(kids(set.public_jwks(2050, 100)).contains(&first));
        assert!(!kids(set.public_jwks(2100, 100)).contains(&first));
        assert_eq!(kids(set.public_jwks(2100, 100)).len(), 2);
    }

    #[test]
    fn refuses_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        KeySet::load_or_create(&path, 0).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(KeySet::load(&path), Err(KeyFileError::Permissions(..))));
        }
    }
}
