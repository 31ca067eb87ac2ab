//! A bounded cache of verified tokens, so a token's signature is checked once per
//! process.
//!
//! Only the token-only stage ([`crate::token::Verifier::verify`]) is cached, and only
//! its successes; its result depends on nothing but the token bytes and the
//! configuration, which a [`crate::Gate`] never changes. Time, resource, revocation,
//! identity and binding are checked on every request, so a cached token decides
//! exactly like a fresh one.
//!
//! Keys are the token strings themselves: no hash, so no collision can make one
//! token stand for another. Eviction is first-in first-out, bounded by entries and
//! by bytes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use regorus::Value;

use crate::token::Approval;

/// Default number of tokens kept.
pub const DEFAULT_ENTRIES: usize = 1024;
/// Default bytes of token text kept (tokens are at most 8 KiB each).
pub const DEFAULT_BYTES: usize = 1 << 20;

/// A verified token and the parts of the input document built from it.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The approval.
    pub approval: Arc<Approval>,
    /// `input.approval` without `remaining_ns`.
    pub approval_value: Value,
    /// `input.requester`.
    pub requester_value: Value,
}

/// The cache.
#[derive(Debug)]
pub struct VerifiedCache {
    map: BTreeMap<Box<str>, Verified>,
    order: VecDeque<Box<str>>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        Self::new(DEFAULT_ENTRIES, DEFAULT_BYTES)
    }
}

impl VerifiedCache {
    /// A cache holding at most `max_entries` tokens and `max_bytes` of token text
    /// (0 entries disables caching).
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            map: BTreeMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    /// The entry for `token`.
    pub fn get(&self, token: &str) -> Option<&Verified> {
        self.map.get(token)
    }

    /// Number of tokens held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keeps `entry` for `token`, evicting the oldest entries to stay in bounds.
    pub fn insert(&mut self, token: &str, entry: Verified) {
        if self.max_entries == 0 || token.len() > self.max_bytes || self.map.contains_key(token) {
            return;
        }
        while self.map.len() >= self.max_entries || self.bytes + token.len() > self.max_bytes {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.bytes -= oldest.len();
            self.map.remove(&oldest);
        }
        let key: Box<str> = token.into();
        self.bytes += key.len();
        self.order.push_back(key.clone());
        self.map.insert(key, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Verified {
        Verified {
            approval: Arc::new(Approval {
                id: "j".into(),
                issuer: "i".into(),
                subject: "s".into(),
                kid: "k".into(),
                alg: crate::Algorithm::EdDsa,
                issued_at: 0,
                not_before: 0,
                expires: 1,
                expires_rfc3339: String::new(),
                resources: vec![],
                bound_certificate: None,
                leeway_s: 0,
                claims: serde_json::Map::new(),
            }),
            approval_value: Value::Null,
            requester_value: Value::Null,
        }
    }

    #[test]
    fn bounded_by_entries_fifo() {
        let mut c = VerifiedCache::new(2, 1000);
        c.insert("a", entry());
        c.insert("b", entry());
        c.insert("c", entry());
        assert_eq!(c.len(), 2);
        assert!(c.get("a").is_none());
        assert!(c.get("b").is_some() && c.get("c").is_some());
    }

    #[test]
    fn bounded_by_bytes() {
        let mut c = VerifiedCache::new(100, 10);
        c.insert("aaaaaa", entry());
        c.insert("bbbbbb", entry());
        assert_eq!(c.len(), 1);
        assert!(c.get("bbbbbb").is_some());
        c.insert("x".repeat(11).as_str(), entry());
        assert!(
            c.get("bbbbbb").is_some(),
            "an oversize token is not cached and evicts nothing"
        );
    }

    #[test]
    fn zero_entries_disables() {
        let mut c = VerifiedCache::new(0, 1000);
        c.insert("a", entry());
        assert!(c.is_empty());
    }
}
