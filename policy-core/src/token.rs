//! The JIT approval token (DESIGN §3): strict verification in the order the design
//! fixes, so a token with several faults always gets the same error code.
//!
//! Verification has two stages:
//! - [`Verifier::verify`] — everything that depends only on the token bytes and the
//!   configuration: shape, header, `typ`, `alg`, issuer, `kid`, signature, claims,
//!   audience, window. Its result can be cached per token.
//! - [`Verifier::check_request`] — everything that depends on the request or the
//!   time: time window, resource, revocation, identity, certificate binding. It runs
//!   on every request, cached token or not.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::jwks::KeySet;
use crate::jws::{self, Algorithm, CompactJws, ShapeError};

/// The `typ` every approval token carries (RFC 7515 §4.1.9; compared case-insensitively,
/// with or without an `application/` prefix).
pub const TOKEN_TYPE: &str = "jit-approval+jwt";

/// Header parameters whose presence rejects a token: each would change how the token
/// is processed (`crit`, `b64`, `cty`) or where its key comes from (`jku`, `x5u`, `jwk`).
pub const FORBIDDEN_HEADERS: [&str; 6] = ["crit", "b64", "jku", "x5u", "jwk", "cty"];

/// Times are integer seconds in `0 ≤ t < 2^53`.
const MAX_TIME: u64 = 1 << 53;

const NANOS: i128 = 1_000_000_000;

/// Why a token grants nothing. Each variant has a stable code (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TokenError {
    /// No token in the request.
    Missing,
    /// Bad shape, encoding, JSON, header field, claim type, or `nbf ≥ exp`.
    Malformed,
    /// `typ` missing or not `jit-approval+jwt`.
    Type,
    /// `alg` not supported, or not the algorithm of the key.
    Algorithm,
    /// `kid` not in the issuer's key set.
    KeyUnknown,
    /// The signature does not verify.
    Signature,
    /// `iss` is not a configured issuer.
    Issuer,
    /// `aud` does not contain the issuer's configured audience.
    Audience,
    /// `iat` or `nbf` is beyond `now + leeway`.
    NotYetValid,
    /// `now ≥ exp + leeway`.
    Expired,
    /// `exp - nbf` is longer than the issuer's `max_ttl_s`.
    WindowTooLong,
    /// The approval's `jti` is revoked, or its status-list entry is not `VALID` (0).
    Revoked,
    /// The approval names a status list the gate does not hold, an entry outside it, or
    /// a status mechanism jitgate does not know.
    StatusUnknown,
    /// The gate's revocation knowledge for the approval's issuer is older than
    /// `feed.max_stale_s` (or none has arrived yet), and `feed.on_stale` is `deny`.
    RevocationsStale,
    /// The approval does not name the resource this gate guards.
    ResourceMismatch,
    /// The configured identity is absent or differs from `sub`.
    SubjectMismatch,
    /// The token is bound to a client certificate (`cnf`) the request does not present.
    BindingMismatch,
}

impl TokenError {
    /// Every error, in the order of the codes in DESIGN §3.
    pub const ALL: [TokenError; 17] = [
        Self::Missing,
        Self::Malformed,
        Self::Type,
        Self::Algorithm,
        Self::KeyUnknown,
        Self::Signature,
        Self::Issuer,
        Self::Audience,
        Self::NotYetValid,
        Self::Expired,
        Self::WindowTooLong,
        Self::Revoked,
        Self::StatusUnknown,
        Self::RevocationsStale,
        Self::ResourceMismatch,
        Self::SubjectMismatch,
        Self::BindingMismatch,
    ];

    /// The stable code used in responses, audit records, metrics and tests.
    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "token_missing",
            Self::Malformed => "token_malformed",
            Self::Type => "token_type",
            Self::Algorithm => "token_algorithm",
            Self::KeyUnknown => "token_key_unknown",
            Self::Signature => "token_signature",
            Self::Issuer => "token_issuer",
            Self::Audience => "token_audience",
            Self::NotYetValid => "token_not_yet_valid",
            Self::Expired => "token_expired",
            Self::WindowTooLong => "token_window_too_long",
            Self::Revoked => "token_revoked",
            Self::StatusUnknown => "token_status_unknown",
            Self::RevocationsStale => "revocations_stale",
            Self::ResourceMismatch => "token_resource_mismatch",
            Self::SubjectMismatch => "token_subject_mismatch",
            Self::BindingMismatch => "token_binding_mismatch",
        }
    }

    /// The error with this code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }
}

impl core::fmt::Display for TokenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.code())
    }
}

impl core::error::Error for TokenError {}

/// A token error with the detail that explains it (for the audit record and tools;
/// never sent to the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFailure {
    /// The stable code.
    pub error: TokenError,
    /// What exactly was wrong, lowercase, no trailing period.
    pub detail: String,
}

impl TokenFailure {
    pub(crate) fn new(error: TokenError, detail: impl Into<String>) -> Self {
        Self {
            error,
            detail: detail.into(),
        }
    }
}

impl core::fmt::Display for TokenFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.error.code(), self.detail)
    }
}

fn fail<T>(error: TokenError, detail: impl Into<String>) -> Result<T, TokenFailure> {
    Err(TokenFailure::new(error, detail))
}

/// One trusted approval service (DESIGN §6 `issuers[]`), validated.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// Exact `iss` value.
    pub issuer: String,
    /// The audience its tokens must name in `aud`.
    pub audience: String,
    /// Its verification keys.
    pub keys: KeySet,
    /// Longest allowed access window `exp - nbf`, in seconds (default 43,200).
    pub max_ttl_s: u64,
    /// Clock skew tolerated on `iat`, `nbf` and `exp`, in seconds (default 30, at most 300).
    pub leeway_s: u64,
    /// Its live-trust feed, if any (`issuers[].feed`).
    pub feed: Option<crate::config::FeedConfig>,
}

/// A token whose signature and static claims verified: the approval it carries.
#[derive(Debug, Clone)]
pub struct Approval {
    /// `jti`: the approval id.
    pub id: String,
    /// `iss`.
    pub issuer: String,
    /// `sub`: the requester.
    pub subject: String,
    /// `kid` of the key that verified it.
    pub kid: String,
    /// The algorithm that verified it.
    pub alg: Algorithm,
    /// `iat`, seconds.
    pub issued_at: u64,
    /// `nbf`, seconds.
    pub not_before: u64,
    /// `exp`, seconds.
    pub expires: u64,
    /// `exp` as RFC 3339 UTC (the `x-jit-expires` header and the audit record).
    pub expires_rfc3339: String,
    /// `jit.resource` as a list (a single string becomes one element).
    pub resources: Vec<String>,
    /// `cnf.x5t#S256`, decoded: the SHA-256 of the client certificate it is bound to.
    pub bound_certificate: Option<[u8; 32]>,
    /// `status.status_list` (draft-ietf-oauth-status-list): the entry of a status list
    /// that says whether the approval still holds.
    pub status: Option<crate::trust::StatusRef>,
    /// The leeway of its issuer, seconds.
    pub leeway_s: u64,
    /// The whole verified payload.
    pub claims: Map<String, Value>,
}

impl Approval {
    /// The `jit` claim object.
    pub fn jit(&self) -> Option<&Map<String, Value>> {
        self.claims.get("jit").and_then(Value::as_object)
    }

    /// A string member of the `jit` claim (`role`, `reason`, `ticket`, `risk`).
    pub fn jit_str(&self, name: &str) -> Option<&str> {
        self.jit().and_then(|j| j.get(name)).and_then(Value::as_str)
    }

    /// `exp` in nanoseconds.
    pub fn expires_ns(&self) -> i128 {
        i128::from(self.expires) * NANOS
    }
}

/// What a request offers for the per-request checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFacts<'a> {
    /// The identity from the configured identity source; `None` when the source is
    /// configured but the request does not carry it.
    pub identity: Option<&'a str>,
    /// Whether an identity source is configured at all.
    pub identity_required: bool,
    /// The identity source gave more than one value (a repeated identity header):
    /// never an identity, whatever the values say.
    pub identity_ambiguous: bool,
    /// The base64url SHA-256 of the client certificate, when the connection has one.
    pub certificate_sha256: Option<&'a str>,
    /// The resource the matched route guards, instead of the configuration's.
    pub route_resource: Option<&'a str>,
}

/// Verifies approval tokens against the configured issuers.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub(crate) issuers: Vec<Issuer>,
    resource: Option<String>,
    revoked: BTreeSet<String>,
    /// What each issuer's feed installed (same order as `issuers`).
    pub(crate) live: Vec<crate::trust::LiveTrust>,
}

impl Verifier {
    /// A verifier for these issuers, the guarded resource (if any) and revoked `jti`s.
    pub fn new(issuers: Vec<Issuer>, resource: Option<String>, revoked: BTreeSet<String>) -> Self {
        let live = vec![crate::trust::LiveTrust::default(); issuers.len()];
        Self {
            issuers,
            resource,
            revoked,
            live,
        }
    }

    /// The configured issuers.
    pub fn issuers(&self) -> &[Issuer] {
        &self.issuers
    }

    /// Stage one: everything that depends only on the token (shape, header, `typ`,
    /// `alg`, issuer, `kid`, key algorithm, signature, claims, audience, window).
    pub fn verify(&self, token: &str) -> Result<Arc<Approval>, TokenFailure> {
        let jws = CompactJws::parse(token).map_err(|e| match e {
            ShapeError::TooLong => TokenFailure::new(TokenError::Malformed, e.to_string()),
            other => TokenFailure::new(TokenError::Malformed, other.to_string()),
        })?;
        let payload = match crate::json::parse_strict(&jws.payload) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return fail(TokenError::Malformed, "payload is not a JSON object"),
            Err(e) => return fail(TokenError::Malformed, format!("payload is {e}")),
        };
        let header = &jws.header;

        // Header fields.
        if let Some(name) = FORBIDDEN_HEADERS.iter().find(|n| header.contains_key(**n)) {
            return fail(
                TokenError::Malformed,
                format!("header parameter `{name}` is not allowed"),
            );
        }
        let alg_name = header_str(header, "alg")?;
        let kid = header_str(header, "kid")?;
        // `typ`.
        match header.get("typ") {
            None => return fail(TokenError::Type, "header has no `typ`"),
            Some(Value::String(typ)) if is_approval_type(typ) => {}
            Some(Value::String(typ)) => {
                return fail(TokenError::Type, format!("`typ` is `{typ}`, not `{TOKEN_TYPE}`"));
            }
            Some(_) => return fail(TokenError::Malformed, "header `typ` is not a string"),
        }
        // `alg` supported at all.
        let Some(alg) = Algorithm::from_name(alg_name) else {
            return fail(TokenError::Algorithm, format!("algorithm `{alg_name}` is not accepted"));
        };
        // Issuer (read before the signature only to choose the keys).
        let iss = match payload.get("iss") {
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return fail(TokenError::Malformed, "claim `iss` is not a string"),
            None => return fail(TokenError::Malformed, "claim `iss` is missing"),
        };
        let Some(issuer) = self.issuers.iter().find(|i| i.issuer == iss) else {
            return fail(TokenError::Issuer, format!("issuer `{iss}` is not trusted"));
        };
        // `kid`.
        let Some(key) = issuer.keys.get(kid) else {
            return fail(TokenError::KeyUnknown, format!("no key `{kid}` for issuer `{iss}`"));
        };
        // Algorithm against the key: the key decides, never the token.
        if key.alg != alg {
            return fail(
                TokenError::Algorithm,
                format!("key `{kid}` is for `{}`, token says `{alg}`", key.alg),
            );
        }
        // Signature.
        if !key.material.verify(jws.signing_input, &jws.signature) {
            return fail(
                TokenError::Signature,
                format!("signature does not verify with key `{kid}`"),
            );
        }

        // Required claims and their types.
        let subject = claim_str(&payload, "sub")?;
        let audience = claim_audience(&payload)?;
        let issued_at = claim_time(&payload, "iat")?;
        let not_before = claim_time(&payload, "nbf")?;
        let expires = claim_time(&payload, "exp")?;
        let id = claim_str(&payload, "jti")?;
        let resources = check_jit(&payload)?;
        let bound_certificate = check_cnf(&payload)?;
        let status = check_status(&payload)?;

        // Audience.
        if !audience.iter().any(|a| *a == issuer.audience) {
            return fail(
                TokenError::Audience,
                format!("`aud` does not contain `{}`", issuer.audience),
            );
        }
        // Window.
        if not_before >= expires {
            return fail(TokenError::Malformed, "`nbf` is not before `exp`");
        }
        if expires - not_before > issuer.max_ttl_s {
            return fail(
                TokenError::WindowTooLong,
                format!(
                    "window of {} s is longer than {} s",
                    expires - not_before,
                    issuer.max_ttl_s
                ),
            );
        }

        Ok(Arc::new(Approval {
            id: id.to_owned(),
            issuer: iss.to_owned(),
            subject: subject.to_owned(),
            kid: kid.to_owned(),
            alg,
            issued_at,
            not_before,
            expires,
            expires_rfc3339: crate::timefmt::rfc3339_from_secs(expires),
            resources,
            bound_certificate,
            status,
            leeway_s: issuer.leeway_s,
            claims: payload,
        }))
    }

    /// Stage two: time, resource, revocation (the configuration's `revoked`, then what
    /// the issuer's feed installed: revocation list, status list, staleness), identity
    /// and binding, checked on every request at `now_ns` (nanoseconds since the Unix
    /// epoch). `Ok(true)`: it passed only because the issuer's `feed.on_stale` is
    /// `allow` and its revocation knowledge is stale.
    pub fn check_request(
        &self,
        approval: &Approval,
        now_ns: i64,
        facts: &RequestFacts<'_>,
    ) -> Result<bool, TokenFailure> {
        let now = i128::from(now_ns);
        let leeway = i128::from(approval.leeway_s) * NANOS;
        if i128::from(approval.issued_at) * NANOS > now + leeway {
            return fail(TokenError::NotYetValid, "`iat` is in the future");
        }
        if i128::from(approval.not_before) * NANOS > now + leeway {
            return fail(TokenError::NotYetValid, "access window has not started (`nbf`)");
        }
        if now >= approval.expires_ns() + leeway {
            return fail(TokenError::Expired, "access window has ended (`exp`)");
        }
        if let Some(resource) = facts.route_resource.or(self.resource.as_deref()) {
            if !approval.resources.iter().any(|r| r == resource) {
                return fail(
                    TokenError::ResourceMismatch,
                    format!("approval does not name resource `{resource}`"),
                );
            }
        }
        if self.revoked.contains(&approval.id) {
            return fail(TokenError::Revoked, format!("approval `{}` is revoked", approval.id));
        }
        let stale = match self.issuers.iter().position(|i| i.issuer == approval.issuer) {
            Some(index) => match (self.issuers.get(index), self.live.get(index)) {
                (Some(issuer), Some(live)) => live.check(issuer.feed.as_ref(), approval, now_ns)?,
                _ => return fail(TokenError::Issuer, "issuer is no longer configured"),
            },
            None => return fail(TokenError::Issuer, "issuer is no longer configured"),
        };
        if facts.identity_required {
            if facts.identity_ambiguous {
                return fail(
                    TokenError::SubjectMismatch,
                    "request carries more than one identity header",
                );
            }
            match facts.identity {
                None => return fail(TokenError::SubjectMismatch, "request carries no identity"),
                Some(id) if id != approval.subject => {
                    return fail(TokenError::SubjectMismatch, "identity differs from `sub`");
                }
                Some(_) => {}
            }
        }
        if let Some(bound) = &approval.bound_certificate {
            let presented = facts.certificate_sha256.and_then(jws::b64url_decode);
            if presented.as_deref() != Some(bound.as_slice()) {
                return fail(
                    TokenError::BindingMismatch,
                    "token is bound to another client certificate",
                );
            }
        }
        Ok(stale)
    }
}

fn is_approval_type(typ: &str) -> bool {
    is_type(typ, TOKEN_TYPE)
}

/// Whether header `typ` names the media type `expected` (RFC 7515 §4.1.9: compared
/// case-insensitively, with or without the `application/` prefix). Approvals and the
/// live-trust documents share this rule.
pub(crate) fn is_type(typ: &str, expected: &str) -> bool {
    let lower = typ.to_ascii_lowercase();
    lower == expected || lower.strip_prefix("application/") == Some(expected)
}

fn header_str<'a>(header: &'a Map<String, Value>, name: &str) -> Result<&'a str, TokenFailure> {
    match header.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => fail(TokenError::Malformed, format!("header `{name}` is empty")),
        Some(_) => fail(TokenError::Malformed, format!("header `{name}` is not a string")),
        None => fail(TokenError::Malformed, format!("header `{name}` is missing")),
    }
}

fn claim_str<'a>(claims: &'a Map<String, Value>, name: &str) -> Result<&'a str, TokenFailure> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => fail(TokenError::Malformed, format!("claim `{name}` is empty")),
        Some(_) => fail(TokenError::Malformed, format!("claim `{name}` is not a string")),
        None => fail(TokenError::Malformed, format!("claim `{name}` is missing")),
    }
}

fn claim_time(claims: &Map<String, Value>, name: &str) -> Result<u64, TokenFailure> {
    let Some(value) = claims.get(name) else {
        return fail(TokenError::Malformed, format!("claim `{name}` is missing"));
    };
    match value {
        // Only integers written as integers: `1.0`, `1e9`, strings are malformed.
        Value::Number(n) if n.is_u64() => match n.as_u64() {
            Some(t) if t < MAX_TIME => Ok(t),
            _ => fail(TokenError::Malformed, format!("claim `{name}` is out of range")),
        },
        Value::Number(n) if n.is_i64() => fail(TokenError::Malformed, format!("claim `{name}` is negative")),
        _ => fail(TokenError::Malformed, format!("claim `{name}` is not an integer")),
    }
}

fn claim_audience(claims: &Map<String, Value>) -> Result<Vec<&str>, TokenFailure> {
    match claims.get("aud") {
        Some(Value::String(s)) => Ok(vec![s.as_str()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| TokenFailure::new(TokenError::Malformed, "claim `aud` has a non-string member"))
            })
            .collect(),
        Some(_) => fail(
            TokenError::Malformed,
            "claim `aud` is not a string or a non-empty array of strings",
        ),
        None => fail(TokenError::Malformed, "claim `aud` is missing"),
    }
}

fn string_list(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Checks the `jit` claim; returns `jit.resource` as a list.
fn check_jit(claims: &Map<String, Value>) -> Result<Vec<String>, TokenFailure> {
    let jit = match claims.get("jit") {
        Some(Value::Object(jit)) => jit,
        Some(_) => return fail(TokenError::Malformed, "claim `jit` is not an object"),
        None => return fail(TokenError::Malformed, "claim `jit` is missing"),
    };
    let resources = match jit.get("resource") {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(v @ Value::Array(items)) if !items.is_empty() => match string_list(v) {
            Some(list) if list.iter().all(|s| !s.is_empty()) => list,
            _ => {
                return fail(
                    TokenError::Malformed,
                    "`jit.resource` has a member that is not a non-empty string",
                )
            }
        },
        Some(_) => {
            return fail(
                TokenError::Malformed,
                "`jit.resource` is not a string or a non-empty array of strings",
            )
        }
        None => return fail(TokenError::Malformed, "`jit.resource` is missing"),
    };
    for name in ["role", "reason", "ticket", "risk"] {
        if jit.get(name).is_some_and(|v| !v.is_string()) {
            return fail(TokenError::Malformed, format!("`jit.{name}` is not a string"));
        }
    }
    for name in ["actions", "approvers"] {
        if jit.get(name).is_some_and(|v| string_list(v).is_none()) {
            return fail(
                TokenError::Malformed,
                format!("`jit.{name}` is not an array of strings"),
            );
        }
    }
    Ok(resources)
}

/// Checks the optional `cnf` claim (RFC 8705): when present it must bind the token to
/// a certificate thumbprint; a confirmation method jitgate cannot honour is malformed.
fn check_cnf(claims: &Map<String, Value>) -> Result<Option<[u8; 32]>, TokenFailure> {
    let Some(cnf) = claims.get("cnf") else {
        return Ok(None);
    };
    let Some(cnf) = cnf.as_object() else {
        return fail(TokenError::Malformed, "claim `cnf` is not an object");
    };
    let Some(thumb) = cnf.get("x5t#S256") else {
        return fail(TokenError::Malformed, "claim `cnf` has no `x5t#S256`");
    };
    let bytes = thumb.as_str().and_then(jws::b64url_decode);
    match bytes.as_deref().map(<[u8; 32]>::try_from) {
        Some(Ok(digest)) => Ok(Some(digest)),
        _ => fail(
            TokenError::Malformed,
            "`cnf.x5t#S256` is not a base64url SHA-256 digest",
        ),
    }
}

/// Checks the optional `status` claim (draft-ietf-oauth-status-list §6.1): when present
/// it must reference an entry of a status list; another status mechanism is one the gate
/// cannot check, so the approval's status is unknown.
fn check_status(claims: &Map<String, Value>) -> Result<Option<crate::trust::StatusRef>, TokenFailure> {
    let Some(status) = claims.get("status") else {
        return Ok(None);
    };
    let Some(status) = status.as_object() else {
        return fail(TokenError::Malformed, "claim `status` is not an object");
    };
    let Some(list) = status.get("status_list") else {
        return fail(
            TokenError::StatusUnknown,
            "claim `status` has no `status_list`, the only status mechanism jitgate checks",
        );
    };
    let Some(list) = list.as_object() else {
        return fail(TokenError::Malformed, "`status.status_list` is not an object");
    };
    let idx = match list.get("idx") {
        Some(Value::Number(n)) => match n.as_u64() {
            Some(i) if i < MAX_TIME => i,
            _ => {
                return fail(
                    TokenError::Malformed,
                    "`status.status_list.idx` is not an integer from 0 to 2^53",
                )
            }
        },
        _ => {
            return fail(
                TokenError::Malformed,
                "`status.status_list.idx` is missing or not an integer",
            )
        }
    };
    let uri = match list.get("uri") {
        Some(Value::String(u)) if !u.is_empty() => u.clone(),
        _ => {
            return fail(
                TokenError::Malformed,
                "`status.status_list.uri` is missing or not a non-empty string",
            )
        }
    };
    Ok(Some(crate::trust::StatusRef { idx, uri }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_distinct() {
        let codes: BTreeSet<&str> = TokenError::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes.len(), TokenError::ALL.len());
        for e in TokenError::ALL {
            assert_eq!(TokenError::from_code(e.code()), Some(e));
        }
    }

    #[test]
    fn typ_accepts_case_and_application_prefix_only() {
        for ok in [
            "jit-approval+jwt",
            "JIT-Approval+JWT",
            "application/jit-approval+jwt",
            "Application/JIT-APPROVAL+jwt",
        ] {
            assert!(is_approval_type(ok), "{ok}");
        }
        for bad in [
            "JWT",
            "jwt",
            "at+jwt",
            "jit-approval",
            "application/jwt",
            "xapplication/jit-approval+jwt",
            " jit-approval+jwt",
        ] {
            assert!(!is_approval_type(bad), "{bad}");
        }
    }
}
