//! The trust feed the gates poll: the key set (plain and signed), the revocation list
//! and the Token Status Lists — each a cached document with an `ETag`, so an
//! unchanged document costs a header comparison and a 304.
//!
//! Documents are rebuilt when this replica changed something (revocation, key
//! reload), when the cached copy is older than `refresh_s` (another replica may have
//! changed the database), or when a signed document has used up half its validity.
//! A rebuild whose content is unchanged keeps the old bytes, so the `ETag` stays.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use jitgate_core::unstable::jws::b64url_encode;
use jitgate_mint::SigningKey;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// `typ` of the signed key set: the gate's own constant, so the two cannot drift.
pub const TYP_JWKS: &str = jitgate_core::KEY_SET_TYPE;
/// `typ` of the revocation list.
pub const TYP_REVOCATIONS: &str = jitgate_core::REVOCATIONS_TYPE;
/// `typ` of a Token Status List.
pub const TYP_STATUS_LIST: &str = jitgate_core::STATUS_LIST_TYPE;
/// Entries per status list (1 bit each: 8 KiB before compression).
pub const STATUS_LIST_SIZE: i64 = 65_536;

/// One cached document.
#[derive(Debug, Clone)]
pub struct FeedDoc {
    /// The bytes served (shared: a clone costs a reference count, not a copy).
    pub body: axum::body::Bytes,
    /// Its quoted strong `ETag`.
    pub etag: String,
    /// Its media type.
    pub content_type: &'static str,
    /// When it was built (Unix seconds).
    pub built_at: i64,
    /// When it was signed (Unix seconds); 0 for an unsigned document.
    pub signed_at: i64,
    /// What the content was built from: equal fingerprints mean equal content.
    pub fingerprint: String,
}

/// The feed documents, by name (`jwks`, `jwks.jwt`, `revocations`, `status/<n>`).
#[derive(Debug, Default)]
pub struct FeedCache {
    docs: Mutex<HashMap<String, (u64, FeedDoc)>>,
    generation: AtomicU64,
}

impl FeedCache {
    /// Marks every document stale (this replica changed something).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The cached `name` if still fresh at `now`.
    pub fn fresh(&self, name: &str, now: i64, refresh_s: i64, validity_s: i64) -> Option<FeedDoc> {
        let generation = self.generation.load(Ordering::SeqCst);
        let docs = self.docs.lock().ok()?;
        let (built_gen, doc) = docs.get(name)?;
        let young = now.saturating_sub(doc.built_at) < refresh_s;
        let signed_recently = doc.signed_at == 0 || now.saturating_sub(doc.signed_at) < validity_s / 2;
        (*built_gen == generation && young && signed_recently).then(|| doc.clone())
    }

    /// The cached `name` whatever its age (to reuse unchanged content).
    pub fn previous(&self, name: &str) -> Option<FeedDoc> {
        self.docs.lock().ok()?.get(name).map(|(_, d)| d.clone())
    }

    /// The current generation, to pass to [`FeedCache::store`] (read it before building).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Stores `doc` built at `generation`.
    pub fn store(&self, name: &str, generation: u64, doc: FeedDoc) {
        if let Ok(mut docs) = self.docs.lock() {
            docs.insert(name.to_owned(), (generation, doc));
        }
    }
}

/// A strong `ETag` for `body`.
pub fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", b64url_encode(digest.get(..16).unwrap_or_default()))
}

/// Whether an `If-None-Match` header value matches `etag` (`*`, lists, weak forms).
pub fn if_none_match(header: &str, etag: &str) -> bool {
    let bare = etag.trim_start_matches("W/");
    header
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == bare)
}

/// A compact JWS of `payload` with header `{alg, typ, kid}` (the core's signer of
/// feed documents).
pub fn sign_document(typ: &str, payload: &Value, key: &SigningKey, kid: &str) -> String {
    jitgate_mint::sign_document(typ, payload, key, kid)
}

/// The status list bytes for `revoked` indexes in list `n` (1 bit per entry, index 0
/// in the least significant bit of byte 0), zlib-compressed and base64url-encoded.
pub fn status_list_lst(n: i64, revoked: &[i64]) -> String {
    let size = usize::try_from(STATUS_LIST_SIZE / 8).unwrap_or(8192);
    let mut bytes = vec![0u8; size];
    let base = n.saturating_mul(STATUS_LIST_SIZE);
    for idx in revoked {
        let Ok(offset) = usize::try_from(idx.saturating_sub(base)) else {
            continue;
        };
        if let Some(byte) = bytes.get_mut(offset / 8) {
            *byte |= 1 << (offset % 8);
        }
    }
    b64url_encode(&miniz_oxide::deflate::compress_to_vec_zlib(&bytes, 9))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jitgate_core::unstable::jws::b64url_decode;

    #[test]
    fn status_list_bits_round_trip() {
        let lst = status_list_lst(1, &[STATUS_LIST_SIZE, STATUS_LIST_SIZE + 9, 3]);
        let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&b64url_decode(&lst).unwrap()).unwrap();
        assert_eq!(raw.len(), 8192);
        assert_eq!(raw[0], 0b0000_0001);
        assert_eq!(raw[1], 0b0000_0010);
        assert!(raw[2..].iter().all(|b| *b == 0));
    }

    #[test]
    fn if_none_match_forms() {
        let tag = etag(b"x");
        assert!(if_none_match(&tag, &tag));
        assert!(if_none_match(&format!("\"a\", W/{tag}"), &tag));
        assert!(if_none_match("*", &tag));
        assert!(!if_none_match("\"other\"", &tag));
    }
}
