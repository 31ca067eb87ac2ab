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
//! by the memory the entries hold — not only the token text: a token's claims are kept
//! parsed three times over (the approval's claims, and `input.approval` /
//! `input.requester` as regorus values), so each entry is charged an estimate of all
//! of it ([`held_bytes`]); `tests/cache_memory.rs` measures the real figure with a
//! counting allocator and checks the estimate stays above it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use regorus::Value;

use crate::token::Approval;

/// Default number of tokens kept.
pub const DEFAULT_ENTRIES: usize = 1024;
/// Default bound of the memory the cache holds, bytes (estimated per entry, see
/// [`held_bytes`]).
pub const DEFAULT_BYTES: usize = 2 << 20;

/// Charged per entry besides its parts: the approval, the map and queue nodes.
const ENTRY_BYTES: usize = 6_144;
/// Charged per JSON value of the claims, for each of the copies kept.
const VALUE_BYTES: usize = 96;

/// The memory an entry for `token` holds, estimated from its parts: the key twice (map
/// and queue), a fixed part, and per claim value and per byte of claim text.
pub fn held_bytes(token: &str, entry: &Verified) -> usize {
    fn walk(v: &serde_json::Value, values: &mut usize, text: &mut usize) {
        *values += 1;
        match v {
            serde_json::Value::String(s) => *text += s.len(),
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, values, text)),
            serde_json::Value::Object(map) => map.iter().for_each(|(k, i)| {
                *text += k.len();
                walk(i, values, text);
            }),
            _ => {}
        }
    }
    let (mut values, mut text) = (0, 0);
    for (name, value) in &entry.approval.claims {
        text += name.len();
        walk(value, &mut values, &mut text);
    }
    2 * token.len() + ENTRY_BYTES + values.saturating_mul(VALUE_BYTES) + 3 * text
}

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
    map: BTreeMap<Box<str>, (Verified, usize)>,
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
    /// A cache holding at most `max_entries` tokens and about `max_bytes` of memory
    /// ([`held_bytes`] per entry; 0 entries disables caching).
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
        self.map.get(token).map(|(entry, _)| entry)
    }

    /// Forgets every entry (the keys changed: tokens are verified again).
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.bytes = 0;
    }

    /// Number of tokens held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the cache is empty.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keeps `entry` for `token`, evicting the oldest entries to stay in bounds.
    pub fn insert(&mut self, token: &str, entry: Verified) {
        let cost = held_bytes(token, &entry);
        if self.max_entries == 0 || cost > self.max_bytes || self.map.contains_key(token) {
            return;
        }
        while self.map.len() >= self.max_entries || self.bytes + cost > self.max_bytes {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some((_, freed)) = self.map.remove(&oldest) {
                self.bytes = self.bytes.saturating_sub(freed);
            }
        }
        let key: Box<str> = token.into();
        self.bytes += cost;
        self.order.push_back(key.clone());
        self.map.insert(key, (entry, cost));
    }

    /// The memory the entries hold, as charged ([`held_bytes`]).
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.bytes
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
                status: None,
                leeway_s: 0,
                claims: serde_json::Map::new(),
            }),
            approval_value: Value::Null,
            requester_value: Value::Null,
        }
    }

    #[test]
    fn bounded_by_entries_fifo() {
        let mut c = VerifiedCache::new(2, 100_000);
        c.insert("a", entry());
        c.insert("b", entry());
        c.insert("c", entry());
        assert_eq!(c.len(), 2);
        assert!(c.get("a").is_none());
        assert!(c.get("b").is_some() && c.get("c").is_some());
    }

    #[test]
    fn bounded_by_bytes() {
        let one = held_bytes("aaaaaa", &entry());
        assert!(one > 2 * 6, "more than the token text is charged");
        let mut c = VerifiedCache::new(100, one + 5);
        c.insert("aaaaaa", entry());
        c.insert("bbbbbb", entry());
        assert_eq!(c.len(), 1);
        assert!(c.get("bbbbbb").is_some());
        assert_eq!(c.held(), one);
        c.insert("x".repeat(11).as_str(), entry());
        assert!(
            c.get("bbbbbb").is_some(),
            "an oversize token is not cached and evicts nothing"
        );
    }

    #[test]
    fn zero_entries_disables() {
        let mut c = VerifiedCache::new(0, 100_000);
        c.insert("a", entry());
        assert!(c.is_empty());
    }
}
