//! Live trust (docs/live-trust.md): the signed documents an issuer publishes so that
//! revocations and key rotations reach every gate without a configuration push — the
//! revocation list (`jit-revocations+jwt`), IETF Token Status Lists (`statuslist+jwt`)
//! and the key set (`jwk-set+jwt`).
//!
//! The core stays no-IO: a host fetches a document and hands its text to
//! [`crate::Gate::install_revocations`], [`crate::Gate::install_status_list`] or
//! [`crate::Gate::install_keys`]; after a `304 Not Modified` it calls
//! [`crate::Gate::confirm_current`]. Each document is verified with the rules of
//! approvals (DESIGN §3): the issuer's current keys, the algorithm fixed by the key,
//! an explicit `typ`, no forbidden header parameters, strict JSON and base64url. A
//! document that is older than the one installed, expired, from another issuer or
//! wrong in any way is refused with a [`FeedError`], and the last good one stays.
//!
//! Staleness: an issuer's revocation knowledge is as old as the time since the gate
//! last *confirmed* it (installed it, or was told by a 304 that it is still current),
//! not the document's `iat` — a publisher may serve the same signed list for a long
//! time. A list past its own `exp` is stale whatever the confirmations.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};

use crate::config::{FeedConfig, OnStale};
use crate::jwks::KeySet;
use crate::jws::{self, Algorithm, CompactJws};
use crate::token::{is_type, Approval, Issuer, TokenError, TokenFailure, Verifier, FORBIDDEN_HEADERS};

/// `typ` of a signed revocation list.
pub const REVOCATIONS_TYPE: &str = "jit-revocations+jwt";
/// `typ` of a Token Status List (draft-ietf-oauth-status-list).
pub const STATUS_LIST_TYPE: &str = "statuslist+jwt";
/// `typ` of a signed key set.
pub const KEY_SET_TYPE: &str = "jwk-set+jwt";
/// The largest feed document accepted, in bytes (a list of 100,000 ids is ~5 MB).
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;
/// The largest inflated status list, in bytes (32 Mi entries of one bit).
pub const MAX_STATUS_LIST_BYTES: usize = 4 * 1024 * 1024;

const NANOS: i128 = 1_000_000_000;
const MAX_TIME: u64 = 1 << 53;

/// The three kinds of feed document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// A signed revocation list.
    Revocations,
    /// A Token Status List.
    StatusList,
    /// A key set (signed, or a plain JWKS where `feed.unsigned_jwks` allows it).
    Keys,
}

impl DocumentKind {
    /// `revocations`, `status_list` or `keys` (log lines and metric names).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revocations => "revocations",
            Self::StatusList => "status_list",
            Self::Keys => "keys",
        }
    }

    fn typ(self) -> &'static str {
        match self {
            Self::Revocations => REVOCATIONS_TYPE,
            Self::StatusList => STATUS_LIST_TYPE,
            Self::Keys => KEY_SET_TYPE,
        }
    }
}

impl core::fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a feed document was refused. Each has a stable code (metrics, logs, the JS
/// `JitgateError.code` as `feed_<code>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedErrorCode {
    /// The issuer is not configured, has no `feed`, or the status list is not one of
    /// its `feed.status_lists`.
    NotConfigured,
    /// Longer than [`MAX_DOCUMENT_BYTES`], or a status list inflating past
    /// [`MAX_STATUS_LIST_BYTES`].
    TooLarge,
    /// Bad shape, encoding, JSON, header parameter or claim.
    Malformed,
    /// `typ` missing or not the document's type.
    Type,
    /// `alg` not accepted, or not the algorithm of the key.
    Algorithm,
    /// `kid` is not one of the issuer's current keys.
    KeyUnknown,
    /// The signature does not verify.
    Signature,
    /// `iss` is not the issuer the document was installed for.
    Issuer,
    /// A status list whose `sub` is not the URI it was installed as.
    Subject,
    /// `iat` is in the future.
    NotYetValid,
    /// The document is past its `exp`.
    Expired,
    /// Older than the installed one (lower `seq`, or older `iat`).
    Rollback,
    /// A plain JWKS where `feed.unsigned_jwks` is not `true`.
    Unsigned,
    /// Nothing to confirm: no document of this kind is installed.
    NotInstalled,
}

impl FeedErrorCode {
    /// The stable code (`rollback`, `signature`, …).
    pub fn code(self) -> &'static str {
        match self {
            Self::NotConfigured => "not_configured",
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::Type => "type",
            Self::Algorithm => "algorithm",
            Self::KeyUnknown => "key_unknown",
            Self::Signature => "signature",
            Self::Issuer => "issuer",
            Self::Subject => "subject",
            Self::NotYetValid => "not_yet_valid",
            Self::Expired => "expired",
            Self::Rollback => "rollback",
            Self::Unsigned => "unsigned",
            Self::NotInstalled => "not_installed",
        }
    }

    /// Every code.
    pub const ALL: [FeedErrorCode; 14] = [
        Self::NotConfigured,
        Self::TooLarge,
        Self::Malformed,
        Self::Type,
        Self::Algorithm,
        Self::KeyUnknown,
        Self::Signature,
        Self::Issuer,
        Self::Subject,
        Self::NotYetValid,
        Self::Expired,
        Self::Rollback,
        Self::Unsigned,
        Self::NotInstalled,
    ];
}

/// A refused feed document: what it was, why, and the detail (for logs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} document refused ({}): {detail}", code.code())]
pub struct FeedError {
    /// The kind of document.
    pub kind: DocumentKind,
    /// Why.
    pub code: FeedErrorCode,
    /// What exactly, lowercase.
    pub detail: String,
}

fn refuse<T>(kind: DocumentKind, code: FeedErrorCode, detail: impl Into<String>) -> Result<T, FeedError> {
    Err(FeedError {
        kind,
        code,
        detail: detail.into(),
    })
}

/// What an install or confirmation left in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedState {
    /// The kind of document.
    pub kind: DocumentKind,
    /// The issuer it belongs to.
    pub issuer: String,
    /// The revocation list's `seq`.
    pub seq: Option<u64>,
    /// The document's `iat` (`None` for a plain JWKS).
    pub issued_at: Option<u64>,
    /// The document's `exp` (`None` for a plain JWKS).
    pub expires: Option<u64>,
    /// Revoked ids, status-list entries, or keys.
    pub entries: usize,
    /// Whether what the gate decides with changed (a new `seq`, other ids, other keys).
    pub changed: bool,
}

/// One issuer's live-trust state, for gauges and tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustStatus {
    /// The issuer.
    pub issuer: String,
    /// `seq` of the installed revocation list.
    pub revocations_seq: Option<u64>,
    /// Seconds since the gate last confirmed its revocation list.
    pub revocations_age_s: Option<u64>,
    /// Ids in the installed revocation list.
    pub revoked: usize,
    /// Status lists held.
    pub status_lists: usize,
    /// Keys trusted now.
    pub keys: usize,
    /// Whether approvals of this issuer are decided with stale knowledge now.
    pub stale: bool,
}

/// The status-list reference of an approval (`status.status_list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRef {
    /// The entry's index within the list.
    pub idx: u64,
    /// The list's URI (its `sub`).
    pub uri: String,
}

#[derive(Debug, Clone)]
struct RevocationList {
    seq: u64,
    issued_at: u64,
    expires: u64,
    ids: HashSet<String>,
    confirmed_ns: i64,
}

#[derive(Debug, Clone)]
struct StatusList {
    bits: u8,
    bytes: Vec<u8>,
    issued_at: u64,
    expires: u64,
    confirmed_ns: i64,
}

impl StatusList {
    fn len(&self) -> u64 {
        (self.bytes.len() as u64).saturating_mul(8) / u64::from(self.bits)
    }

    /// The status of entry `idx` (index 0 in the least significant bits of byte 0).
    fn entry(&self, idx: u64) -> Option<u8> {
        if idx >= self.len() {
            return None;
        }
        let bit = idx.checked_mul(u64::from(self.bits))?;
        let byte = *self.bytes.get(usize::try_from(bit / 8).ok()?)?;
        let mask = u8::MAX >> (8 - self.bits);
        Some((byte >> (bit % 8)) & mask)
    }
}

/// What a gate knows about one issuer beyond its configuration.
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveTrust {
    keys_issued_at: Option<u64>,
    revocations: Option<RevocationList>,
    status_lists: BTreeMap<String, StatusList>,
}

/// Why knowledge last confirmed at `confirmed_ns`, valid until `expires`, is stale at
/// `now_ns`, if it is.
fn staleness(what: &str, confirmed_ns: i64, expires: u64, now_ns: i64, max_stale_s: u64) -> Option<String> {
    let now = i128::from(now_ns);
    if now >= i128::from(expires) * NANOS {
        return Some(format!("the {what} expired (`exp` {expires})"));
    }
    let age = now - i128::from(confirmed_ns);
    (age > i128::from(max_stale_s) * NANOS).then(|| {
        format!(
            "the {what} was last confirmed {} s ago, more than `feed.max_stale_s` ({max_stale_s} s)",
            age / NANOS
        )
    })
}

impl LiveTrust {
    /// Stage-two checks of `approval` against what was installed: `Ok(true)` when it
    /// passes only because `on_stale` is `allow`.
    pub(crate) fn check(
        &self,
        feed: Option<&FeedConfig>,
        approval: &Approval,
        now_ns: i64,
    ) -> Result<bool, TokenFailure> {
        let mut stale: Option<String> = None;
        if let Some(feed) = feed {
            match &self.revocations {
                None => stale = Some("no revocation list from the issuer's feed has been installed".into()),
                Some(list) => {
                    if list.ids.contains(&approval.id) {
                        return Err(TokenFailure::new(
                            TokenError::Revoked,
                            format!(
                                "approval `{}` is revoked (revocation list seq {})",
                                approval.id, list.seq
                            ),
                        ));
                    }
                    stale = staleness(
                        "revocation list",
                        list.confirmed_ns,
                        list.expires,
                        now_ns,
                        feed.max_stale_s,
                    );
                }
            }
        }
        if let Some(status) = &approval.status {
            let Some(list) = self.status_lists.get(&status.uri) else {
                // A list the feed names but that has not arrived yet is knowledge not yet
                // received (stale), not an unknown list.
                let expected = feed.is_some_and(|f| f.status_lists.contains_key(&status.uri));
                if !expected {
                    return Err(TokenFailure::new(
                        TokenError::StatusUnknown,
                        format!("the gate holds no status list `{}`", status.uri),
                    ));
                }
                let why = format!(
                    "status list `{}` from the issuer's feed has not been installed",
                    status.uri
                );
                return match feed.map(|f| f.on_stale) {
                    Some(OnStale::Allow) => Ok(true),
                    _ => Err(TokenFailure::new(TokenError::RevocationsStale, stale.unwrap_or(why))),
                };
            };
            match list.entry(status.idx) {
                None => {
                    return Err(TokenFailure::new(
                        TokenError::StatusUnknown,
                        format!(
                            "entry {} is outside status list `{}` ({} entries)",
                            status.idx,
                            status.uri,
                            list.len()
                        ),
                    ))
                }
                Some(0) => {}
                Some(value) => {
                    return Err(TokenFailure::new(
                        TokenError::Revoked,
                        format!(
                            "status-list entry {} of `{}` is {value:#04x}, not VALID",
                            status.idx, status.uri
                        ),
                    ))
                }
            }
            if let (None, Some(feed)) = (&stale, feed) {
                stale = staleness("status list", list.confirmed_ns, list.expires, now_ns, feed.max_stale_s);
            }
        }
        match (stale, feed.map(|f| f.on_stale)) {
            (Some(_), Some(OnStale::Allow)) => Ok(true),
            (Some(why), _) => Err(TokenFailure::new(TokenError::RevocationsStale, why)),
            (None, _) => Ok(false),
        }
    }
}

/// A verified feed document's claims and times.
struct Verified {
    claims: Map<String, Value>,
    issued_at: u64,
    expires: u64,
}

fn claim_time(kind: DocumentKind, claims: &Map<String, Value>, name: &str) -> Result<u64, FeedError> {
    match claims.get(name) {
        Some(Value::Number(n)) => match n.as_u64() {
            Some(t) if t < MAX_TIME => Ok(t),
            _ => refuse(
                kind,
                FeedErrorCode::Malformed,
                format!("claim `{name}` is not an integer from 0 to 2^53"),
            ),
        },
        Some(_) => refuse(
            kind,
            FeedErrorCode::Malformed,
            format!("claim `{name}` is not an integer"),
        ),
        None => refuse(kind, FeedErrorCode::Malformed, format!("claim `{name}` is missing")),
    }
}

/// Verifies a compact JWS feed document of `kind` for `issuer` at `now_ns`.
fn verify_document(kind: DocumentKind, text: &str, issuer: &Issuer, now_ns: i64) -> Result<Verified, FeedError> {
    let malformed = |detail: String| FeedError {
        kind,
        code: FeedErrorCode::Malformed,
        detail,
    };
    let jws = CompactJws::parse_with_limit(text, MAX_DOCUMENT_BYTES).map_err(|e| malformed(e.to_string()))?;
    let claims = match crate::json::parse_strict(&jws.payload) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(malformed("payload is not a JSON object".into())),
        Err(e) => return Err(malformed(format!("payload is {e}"))),
    };
    let header = &jws.header;
    if let Some(name) = FORBIDDEN_HEADERS.iter().find(|n| header.contains_key(**n)) {
        return Err(malformed(format!("header parameter `{name}` is not allowed")));
    }
    let text_of = |name: &str| match header.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.as_str()),
        Some(_) => Err(malformed(format!("header `{name}` is not a non-empty string"))),
        None => Err(malformed(format!("header `{name}` is missing"))),
    };
    let alg_name = text_of("alg")?;
    let kid = text_of("kid")?;
    match header.get("typ") {
        None => return refuse(kind, FeedErrorCode::Type, "header has no `typ`"),
        Some(Value::String(typ)) if is_type(typ, kind.typ()) => {}
        Some(Value::String(typ)) => {
            return refuse(
                kind,
                FeedErrorCode::Type,
                format!("`typ` is `{typ}`, not `{}`", kind.typ()),
            )
        }
        Some(_) => return Err(malformed("header `typ` is not a string".into())),
    }
    let Some(alg) = Algorithm::from_name(alg_name) else {
        return refuse(
            kind,
            FeedErrorCode::Algorithm,
            format!("algorithm `{alg_name}` is not accepted"),
        );
    };
    match claims.get("iss") {
        Some(Value::String(iss)) if *iss == issuer.issuer => {}
        Some(Value::String(iss)) => {
            return refuse(
                kind,
                FeedErrorCode::Issuer,
                format!("`iss` is `{iss}`, not `{}`", issuer.issuer),
            )
        }
        Some(_) => return Err(malformed("claim `iss` is not a string".into())),
        None => return Err(malformed("claim `iss` is missing".into())),
    }
    let Some(key) = issuer.keys.get(kid) else {
        return refuse(
            kind,
            FeedErrorCode::KeyUnknown,
            format!("no key `{kid}` among the current keys of `{}`", issuer.issuer),
        );
    };
    if key.alg != alg {
        return refuse(
            kind,
            FeedErrorCode::Algorithm,
            format!("key `{kid}` is for `{}`, the document says `{alg}`", key.alg),
        );
    }
    if !key.material.verify(jws.signing_input, &jws.signature) {
        return refuse(
            kind,
            FeedErrorCode::Signature,
            format!("signature does not verify with key `{kid}`"),
        );
    }
    let issued_at = claim_time(kind, &claims, "iat")?;
    let expires = claim_time(kind, &claims, "exp")?;
    if expires <= issued_at {
        return Err(malformed("`exp` is not after `iat`".into()));
    }
    let now = i128::from(now_ns);
    let leeway = i128::from(issuer.leeway_s) * NANOS;
    if i128::from(issued_at) * NANOS > now + leeway {
        return refuse(kind, FeedErrorCode::NotYetValid, "`iat` is in the future");
    }
    if now >= i128::from(expires) * NANOS + leeway {
        return refuse(
            kind,
            FeedErrorCode::Expired,
            format!("the document expired (`exp` {expires})"),
        );
    }
    Ok(Verified {
        claims,
        issued_at,
        expires,
    })
}

/// Feed documents arrive as HTTP bodies or files: surrounding ASCII whitespace (a
/// trailing newline) is not part of the document.
fn document_text(kind: DocumentKind, text: &str) -> Result<&str, FeedError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return refuse(
            kind,
            FeedErrorCode::TooLarge,
            format!("{} bytes, more than {MAX_DOCUMENT_BYTES}", text.len()),
        );
    }
    Ok(text.trim_matches(|c: char| c.is_ascii_whitespace()))
}

fn parse_revoked(claims: &Map<String, Value>) -> Result<(u64, HashSet<String>), FeedError> {
    let kind = DocumentKind::Revocations;
    let seq = match claims.get("seq") {
        Some(Value::Number(n)) => match n.as_u64() {
            Some(s) if s < MAX_TIME => s,
            _ => {
                return refuse(
                    kind,
                    FeedErrorCode::Malformed,
                    "claim `seq` is not an integer from 0 to 2^53",
                )
            }
        },
        Some(_) => return refuse(kind, FeedErrorCode::Malformed, "claim `seq` is not an integer"),
        None => return refuse(kind, FeedErrorCode::Malformed, "claim `seq` is missing"),
    };
    let Some(Value::Array(items)) = claims.get("revoked") else {
        return refuse(
            kind,
            FeedErrorCode::Malformed,
            "claim `revoked` is missing or not an array",
        );
    };
    let mut ids = HashSet::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(id) if !id.is_empty() => {
                ids.insert(id.clone());
            }
            _ => {
                return refuse(
                    kind,
                    FeedErrorCode::Malformed,
                    format!("`revoked[{i}]` is not a non-empty string"),
                )
            }
        }
    }
    Ok((seq, ids))
}

fn parse_status_list(claims: &Map<String, Value>) -> Result<(u8, Vec<u8>), FeedError> {
    let kind = DocumentKind::StatusList;
    let malformed = |detail: &str| refuse(kind, FeedErrorCode::Malformed, detail);
    if let Some(ttl) = claims.get("ttl") {
        if ttl.as_u64().is_none() {
            return malformed("claim `ttl` is not a non-negative integer");
        }
    }
    let Some(Value::Object(list)) = claims.get("status_list") else {
        return malformed("claim `status_list` is missing or not an object");
    };
    if let Some(name) = list
        .keys()
        .find(|k| !matches!(k.as_str(), "bits" | "lst" | "aggregation_uri"))
    {
        return refuse(
            kind,
            FeedErrorCode::Malformed,
            format!("`status_list.{name}` is not a status-list member (`bits`, `lst`, `aggregation_uri`)"),
        );
    }
    let bits = match list.get("bits").and_then(Value::as_u64) {
        Some(b @ (1 | 2 | 4 | 8)) => b as u8,
        _ => return malformed("`status_list.bits` is not 1, 2, 4 or 8"),
    };
    let Some(compressed) = list.get("lst").and_then(Value::as_str).and_then(jws::b64url_decode) else {
        return malformed("`status_list.lst` is not canonical unpadded base64url");
    };
    let bytes = match miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&compressed, MAX_STATUS_LIST_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if e.status == miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
            return refuse(
                kind,
                FeedErrorCode::TooLarge,
                format!("`status_list.lst` inflates to more than {MAX_STATUS_LIST_BYTES} bytes"),
            )
        }
        Err(e) => {
            return refuse(
                kind,
                FeedErrorCode::Malformed,
                format!("`status_list.lst` is not zlib-compressed data ({:?})", e.status),
            )
        }
    };
    if bytes.is_empty() {
        return malformed("`status_list.lst` holds no entries");
    }
    Ok((bits, bytes))
}

fn parse_plain_jwks(text: &str) -> Result<KeySet, FeedError> {
    let kind = DocumentKind::Keys;
    let value = crate::json::parse_strict(text.as_bytes()).map_err(|e| FeedError {
        kind,
        code: FeedErrorCode::Malformed,
        detail: format!("the JWKS is {e}"),
    })?;
    key_set(&value)
}

fn key_set(value: &Value) -> Result<KeySet, FeedError> {
    let kind = DocumentKind::Keys;
    let keys = KeySet::from_json(value).map_err(|e| FeedError {
        kind,
        code: FeedErrorCode::Malformed,
        detail: if e.path.is_empty() {
            e.message
        } else {
            format!("`{}`: {}", e.path, e.message)
        },
    })?;
    if keys.is_empty() {
        return refuse(
            kind,
            FeedErrorCode::Malformed,
            "the key set has no key: it would trust nothing",
        );
    }
    Ok(keys)
}

fn same_keys(a: &KeySet, b: &KeySet) -> bool {
    a.keys().len() == b.keys().len()
        && a.keys()
            .iter()
            .zip(b.keys())
            .all(|(x, y)| x.kid == y.kid && x.to_jwk() == y.to_jwk())
}

impl Verifier {
    fn feed_issuer(&self, kind: DocumentKind, issuer: &str) -> Result<(usize, &FeedConfig), FeedError> {
        let Some(index) = self.issuers.iter().position(|i| i.issuer == issuer) else {
            return refuse(
                kind,
                FeedErrorCode::NotConfigured,
                format!("issuer `{issuer}` is not configured"),
            );
        };
        match self.issuers.get(index).and_then(|i| i.feed.as_ref()) {
            Some(feed) => Ok((index, feed)),
            None => refuse(
                kind,
                FeedErrorCode::NotConfigured,
                format!("issuer `{issuer}` has no `feed` in the configuration"),
            ),
        }
    }

    /// Installs a signed revocation list for `issuer` (see [`crate::Gate::install_revocations`]).
    pub fn install_revocations(&mut self, issuer: &str, text: &str, now_ns: i64) -> Result<FeedState, FeedError> {
        let kind = DocumentKind::Revocations;
        let (index, _) = self.feed_issuer(kind, issuer)?;
        let text = document_text(kind, text)?;
        let Some(config) = self.issuers.get(index) else {
            return refuse(kind, FeedErrorCode::NotConfigured, "issuer vanished");
        };
        let doc = verify_document(kind, text, config, now_ns)?;
        let (seq, ids) = parse_revoked(&doc.claims)?;
        let Some(live) = self.live.get_mut(index) else {
            return refuse(kind, FeedErrorCode::NotConfigured, "issuer vanished");
        };
        let changed = match &live.revocations {
            Some(old) if seq < old.seq => {
                return refuse(
                    kind,
                    FeedErrorCode::Rollback,
                    format!("seq {seq} is older than the installed seq {}", old.seq),
                )
            }
            // Replicas behind a load balancer re-sign the same list at different times:
            // the same `seq` and ids, signed earlier, confirms the installed list.
            Some(old) if seq == old.seq && doc.issued_at < old.issued_at && old.ids == ids => {
                let entries = old.ids.len();
                let (issued_at, expires) = (old.issued_at, old.expires);
                if let Some(list) = live.revocations.as_mut() {
                    list.confirmed_ns = list.confirmed_ns.max(now_ns);
                }
                return Ok(FeedState {
                    kind,
                    issuer: issuer.to_owned(),
                    seq: Some(seq),
                    issued_at: Some(issued_at),
                    expires: Some(expires),
                    entries,
                    changed: false,
                });
            }
            Some(old) if seq == old.seq && doc.issued_at < old.issued_at => {
                return refuse(
                    kind,
                    FeedErrorCode::Rollback,
                    format!(
                        "seq {seq} issued at {} is older than the installed one issued at {}",
                        doc.issued_at, old.issued_at
                    ),
                )
            }
            Some(old) => old.seq != seq || old.ids != ids,
            None => true,
        };
        let entries = ids.len();
        live.revocations = Some(RevocationList {
            seq,
            issued_at: doc.issued_at,
            expires: doc.expires,
            ids,
            confirmed_ns: now_ns,
        });
        Ok(FeedState {
            kind,
            issuer: issuer.to_owned(),
            seq: Some(seq),
            issued_at: Some(doc.issued_at),
            expires: Some(doc.expires),
            entries,
            changed,
        })
    }

    /// Installs the Token Status List `uri` for `issuer` (see [`crate::Gate::install_status_list`]).
    pub fn install_status_list(
        &mut self,
        issuer: &str,
        uri: &str,
        text: &str,
        now_ns: i64,
    ) -> Result<FeedState, FeedError> {
        let kind = DocumentKind::StatusList;
        let (index, feed) = self.feed_issuer(kind, issuer)?;
        if !feed.status_lists.contains_key(uri) {
            return refuse(
                kind,
                FeedErrorCode::NotConfigured,
                format!("status list `{uri}` is not in `feed.status_lists` of `{issuer}`"),
            );
        }
        let text = document_text(kind, text)?;
        let Some(config) = self.issuers.get(index) else {
            return refuse(kind, FeedErrorCode::NotConfigured, "issuer vanished");
        };
        let doc = verify_document(kind, text, config, now_ns)?;
        match doc.claims.get("sub") {
            Some(Value::String(sub)) if sub == uri => {}
            Some(Value::String(sub)) => {
                return refuse(kind, FeedErrorCode::Subject, format!("`sub` is `{sub}`, not `{uri}`"))
            }
            _ => return refuse(kind, FeedErrorCode::Malformed, "claim `sub` is missing or not a string"),
        }
        let (bits, bytes) = parse_status_list(&doc.claims)?;
        let Some(live) = self.live.get_mut(index) else {
            return refuse(kind, FeedErrorCode::NotConfigured, "issuer vanished");
        };
        let changed = match live.status_lists.get(uri) {
            Some(old) if doc.issued_at < old.issued_at => {
                return refuse(
                    kind,
                    FeedErrorCode::Rollback,
                    format!(
                        "issued at {}, older than the installed list issued at {}",
                        doc.issued_at, old.issued_at
                    ),
                )
            }
            Some(old) => old.bits != bits || old.bytes != bytes,
            None => true,
        };
        let list = StatusList {
            bits,
            bytes,
            issued_at: doc.issued_at,
            expires: doc.expires,
            confirmed_ns: now_ns,
        };
        let entries = usize::try_from(list.len()).unwrap_or(usize::MAX);
        live.status_lists.insert(uri.to_owned(), list);
        Ok(FeedState {
            kind,
            issuer: issuer.to_owned(),
            seq: None,
            issued_at: Some(doc.issued_at),
            expires: Some(doc.expires),
            entries,
            changed,
        })
    }

    /// Installs a key set for `issuer` (see [`crate::Gate::install_keys`]).
    pub fn install_keys(&mut self, issuer: &str, text: &str, now_ns: i64) -> Result<FeedState, FeedError> {
        let kind = DocumentKind::Keys;
        let (index, feed) = self.feed_issuer(kind, issuer)?;
        let unsigned_allowed = feed.unsigned_jwks;
        let text = document_text(kind, text)?;
        let Some(config) = self.issuers.get(index) else {
            return refuse(kind, FeedErrorCode::NotConfigured, "issuer vanished");
        };
        let (keys, issued_at, expires) = if text.starts_with('{') {
            if !unsigned_allowed {
                return refuse(
                    kind,
                    FeedErrorCode::Unsigned,
                    "a plain JWKS is accepted only with `feed.unsigned_jwks: true`",
                );
            }
            (parse_plain_jwks(text)?, None, None)
        } else {
            let doc = verify_document(kind, text, config, now_ns)?;
            let mut set = doc.claims;
            for claim in ["iss", "iat", "exp"] {
                set.remove(claim);
            }
            (key_set(&Value::Object(set))?, Some(doc.issued_at), Some(doc.expires))
        };
        let Some(live) = self.live.get(index) else {
            return refuse(kind, FeedErrorCode::NotConfigured, "issuer vanished");
        };
        if let (Some(new), Some(old)) = (issued_at, live.keys_issued_at) {
            if new < old {
                return refuse(
                    kind,
                    FeedErrorCode::Rollback,
                    format!("issued at {new}, older than the installed key set issued at {old}"),
                );
            }
        }
        let changed = !same_keys(&config.keys, &keys);
        let entries = keys.keys().len();
        if let Some(config) = self.issuers.get_mut(index) {
            config.keys = keys;
        }
        if let (Some(live), Some(at)) = (self.live.get_mut(index), issued_at) {
            live.keys_issued_at = Some(at);
        }
        Ok(FeedState {
            kind,
            issuer: issuer.to_owned(),
            seq: None,
            issued_at,
            expires,
            entries,
            changed,
        })
    }

    /// Marks the installed revocation list (`uri: None`) or status list `uri` of
    /// `issuer` as current at `now_ns` (see [`crate::Gate::confirm_current`]).
    pub fn confirm_current(&mut self, issuer: &str, uri: Option<&str>, now_ns: i64) -> Result<FeedState, FeedError> {
        let kind = if uri.is_some() {
            DocumentKind::StatusList
        } else {
            DocumentKind::Revocations
        };
        let (index, _) = self.feed_issuer(kind, issuer)?;
        let Some(live) = self.live.get_mut(index) else {
            return refuse(kind, FeedErrorCode::NotConfigured, "issuer vanished");
        };
        let state = |seq, issued_at, expires, entries| FeedState {
            kind,
            issuer: issuer.to_owned(),
            seq,
            issued_at: Some(issued_at),
            expires: Some(expires),
            entries,
            changed: false,
        };
        match uri {
            None => match live.revocations.as_mut() {
                Some(list) => {
                    list.confirmed_ns = list.confirmed_ns.max(now_ns);
                    Ok(state(Some(list.seq), list.issued_at, list.expires, list.ids.len()))
                }
                None => refuse(kind, FeedErrorCode::NotInstalled, "no revocation list is installed"),
            },
            Some(uri) => match live.status_lists.get_mut(uri) {
                Some(list) => {
                    list.confirmed_ns = list.confirmed_ns.max(now_ns);
                    let entries = usize::try_from(list.len()).unwrap_or(usize::MAX);
                    Ok(state(None, list.issued_at, list.expires, entries))
                }
                None => refuse(
                    kind,
                    FeedErrorCode::NotInstalled,
                    format!("status list `{uri}` is not installed"),
                ),
            },
        }
    }

    /// Every issuer's live-trust state at `now_ns`.
    pub fn trust_status(&self, now_ns: i64) -> Vec<TrustStatus> {
        self.issuers
            .iter()
            .zip(&self.live)
            .map(|(issuer, live)| {
                let list = live.revocations.as_ref();
                let stale = issuer.feed.as_ref().is_some_and(|feed| match list {
                    None => true,
                    Some(l) => staleness("", l.confirmed_ns, l.expires, now_ns, feed.max_stale_s).is_some(),
                });
                TrustStatus {
                    issuer: issuer.issuer.clone(),
                    revocations_seq: list.map(|l| l.seq),
                    revocations_age_s: list.map(|l| {
                        u64::try_from((i128::from(now_ns) - i128::from(l.confirmed_ns)).max(0) / NANOS)
                            .unwrap_or(u64::MAX)
                    }),
                    revoked: list.map_or(0, |l| l.ids.len()),
                    status_lists: live.status_lists.len(),
                    keys: issuer.keys.keys().len(),
                    stale,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(bits: u8, bytes: Vec<u8>) -> StatusList {
        StatusList {
            bits,
            bytes,
            issued_at: 0,
            expires: 1,
            confirmed_ns: 0,
        }
    }

    #[test]
    fn entries_at_every_width() {
        // draft-ietf-oauth-status-list §4.1 examples: index 0 in the low bits of byte 0.
        let one = list(1, vec![0b1011_1001, 0b0000_0001]);
        let got: Vec<u8> = (0..16).filter_map(|i| one.entry(i)).collect();
        assert_eq!(got, [1, 0, 0, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(one.entry(16), None);
        let two = list(2, vec![0b1100_1001, 0b0100_0100]);
        let got: Vec<u8> = (0..8).filter_map(|i| two.entry(i)).collect();
        assert_eq!(got, [1, 2, 0, 3, 0, 1, 0, 1]);
        let four = list(4, vec![0x21, 0xf0]);
        let got: Vec<u8> = (0..4).filter_map(|i| four.entry(i)).collect();
        assert_eq!(got, [1, 2, 0, 15]);
        let eight = list(8, vec![0, 7, 255]);
        assert_eq!(
            (eight.entry(1), eight.entry(2), eight.entry(3)),
            (Some(7), Some(255), None)
        );
        assert_eq!(eight.entry(u64::MAX), None);
    }

    #[test]
    fn codes_are_distinct() {
        let codes: HashSet<&str> = FeedErrorCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes.len(), FeedErrorCode::ALL.len());
    }
}
