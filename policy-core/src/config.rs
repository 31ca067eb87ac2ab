//! The plugin configuration (DESIGN §6): the same JSON object for the Envoy filter, the
//! JS `Gate` and the `jitgate` command.
//!
//! Parsing is strict: unknown fields, duplicate fields, bad keys and out-of-range
//! values are errors whose message names the field path (`issuers[0].leeway_s`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use crate::json::{parse_strict_with_depth, StrictJsonError, MAX_CONFIG_DEPTH};
use crate::jwks::KeySet;
use crate::policy::{EvaluatorChoice, DEFAULT_ENTRYPOINT};
use crate::request::is_header_name;
use crate::token::Issuer;

/// Default header that carries the approval token.
pub const DEFAULT_TOKEN_HEADER: &str = "x-jit-approval";
/// Default longest access window, seconds (12 hours).
pub const DEFAULT_MAX_TTL_S: u64 = 43_200;
/// Default clock-skew leeway, seconds.
pub const DEFAULT_LEEWAY_S: u64 = 30;
/// Largest leeway a configuration may set, seconds.
pub const MAX_LEEWAY_S: u64 = 300;
/// Default time budget of one policy evaluation, milliseconds.
pub const DEFAULT_MAX_EVAL_MS: u64 = 100;
/// Largest time budget a configuration may set, milliseconds.
pub const MAX_EVAL_MS: u64 = 10_000;

/// Default period between revocation-list (and status-list) fetches, seconds.
pub const DEFAULT_REFRESH_S: u64 = 5;
/// Default period between key-set fetches, seconds.
pub const DEFAULT_JWKS_REFRESH_S: u64 = 300;
/// Default shortest time between two key-set fetches caused by an unknown `kid`, seconds.
pub const DEFAULT_UNKNOWN_KID_REFETCH_S: u64 = 30;
/// Default time a feed fetch may take, milliseconds.
pub const DEFAULT_FEED_TIMEOUT_MS: u64 = 2_000;
/// Default age after which an issuer's revocation knowledge is stale, seconds.
pub const DEFAULT_MAX_STALE_S: u64 = 60;
/// Default path of the signed revocation list on the feed.
pub const DEFAULT_REVOCATIONS_PATH: &str = "/v1/revocations";

/// A configuration that cannot be used. The message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The text is not JSON at all.
    #[error("configuration is not valid JSON: {0}")]
    Syntax(String),
    /// A field is missing, unknown, of the wrong type, or has a bad value.
    #[error("configuration field `{field}`: {message}")]
    Invalid {
        /// The JSON path of the field (`issuers[0].jwks.keys[1].crv`).
        field: String,
        /// What is wrong, lowercase.
        message: String,
    },
}

impl ConfigError {
    /// A stable code: `config_syntax` or `config_invalid`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Syntax(_) => "config_syntax",
            Self::Invalid { .. } => "config_invalid",
        }
    }

    /// The field at fault, when one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Syntax(_) => None,
            Self::Invalid { field, .. } => Some(field),
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Whether denials are enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Denied requests are answered locally (401/403).
    #[default]
    Enforce,
    /// Every request goes through; would-be denials are logged and counted.
    DryRun,
}

impl Mode {
    /// `enforce` or `dry_run`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::DryRun => "dry_run",
        }
    }
}

/// Where the approval token travels.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    /// Header name (default `x-jit-approval`), compared case-insensitively.
    pub header: String,
    /// Text before the token in the header value, such as `Bearer ` (default empty),
    /// compared case-insensitively.
    pub prefix: String,
    /// Keep the token header on requests sent upstream (default `false`: removed).
    pub forward: bool,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            header: DEFAULT_TOKEN_HEADER.into(),
            prefix: String::new(),
            forward: false,
        }
    }
}

/// Where the caller's authenticated identity comes from (compared with `sub`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// A request header that only a trusted authentication filter in front sets.
    Header(String),
    /// The mTLS peer's URI SAN.
    PeerPrincipal,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentitySpec {
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerSpec {
    // Required members are `Option`s checked in `from_spec`: a missing one is then an
    // error naming its path, without reading serde's message text.
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    jwks: Option<Value>,
    #[serde(default = "default_max_ttl")]
    max_ttl_s: u64,
    #[serde(default = "default_leeway")]
    leeway_s: u64,
    #[serde(default)]
    feed: Option<FeedSpec>,
}

/// What a gate does with approvals of an issuer whose revocation knowledge is stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnStale {
    /// Deny them `revocations_stale` (401): fail closed (the default).
    #[default]
    Deny,
    /// Keep deciding with the last list, and count it (`jitgate.feed.served_stale`).
    Allow,
}

impl OnStale {
    /// `deny` or `allow`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Allow => "allow",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedSpec {
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    authority: Option<String>,
    #[serde(default = "default_revocations_path")]
    revocations_path: String,
    #[serde(default)]
    status_lists: BTreeMap<String, String>,
    #[serde(default)]
    jwks_path: Option<String>,
    #[serde(default)]
    unsigned_jwks: bool,
    #[serde(default = "default_refresh")]
    refresh_s: u64,
    #[serde(default = "default_jwks_refresh")]
    jwks_refresh_s: u64,
    #[serde(default = "default_unknown_kid_refetch")]
    unknown_kid_refetch_s: u64,
    #[serde(default = "default_feed_timeout")]
    timeout_ms: u64,
    #[serde(default = "default_max_stale")]
    max_stale_s: u64,
    #[serde(default)]
    on_stale: OnStale,
}

fn default_revocations_path() -> String {
    DEFAULT_REVOCATIONS_PATH.into()
}
fn default_refresh() -> u64 {
    DEFAULT_REFRESH_S
}
fn default_jwks_refresh() -> u64 {
    DEFAULT_JWKS_REFRESH_S
}
fn default_unknown_kid_refetch() -> u64 {
    DEFAULT_UNKNOWN_KID_REFETCH_S
}
fn default_feed_timeout() -> u64 {
    DEFAULT_FEED_TIMEOUT_MS
}
fn default_max_stale() -> u64 {
    DEFAULT_MAX_STALE_S
}

/// An issuer's live-trust feed (`issuers[].feed`, docs/live-trust.md): where a host
/// fetches the issuer's signed revocation list, status lists and key set, and how old
/// the gate's knowledge of revocations may get. The core uses `max_stale_s`,
/// `on_stale`, `unsigned_jwks` and the status-list URIs; the fetching fields are for
/// hosts that fetch (the Envoy filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedConfig {
    /// The Envoy cluster the feed is fetched from.
    pub cluster: String,
    /// The `:authority` of feed requests (default: the cluster name).
    pub authority: String,
    /// Path of the signed revocation list.
    pub revocations_path: String,
    /// Status-list URI (the `uri` tokens name) → path on the feed.
    pub status_lists: BTreeMap<String, String>,
    /// Path of the key set (signed, or plain with `unsigned_jwks`); `None`: the keys
    /// stay those of the configuration.
    pub jwks_path: Option<String>,
    /// Accept a plain JWKS (no signature) as the key set.
    pub unsigned_jwks: bool,
    /// Seconds between revocation-list and status-list fetches.
    pub refresh_s: u64,
    /// Seconds between key-set fetches.
    pub jwks_refresh_s: u64,
    /// Shortest time between two key-set fetches caused by an unknown `kid`, seconds.
    pub unknown_kid_refetch_s: u64,
    /// Time one fetch may take, milliseconds.
    pub timeout_ms: u64,
    /// Revocation knowledge older than this (seconds since the gate last confirmed it)
    /// is stale.
    pub max_stale_s: u64,
    /// What stale knowledge means for the issuer's approvals.
    pub on_stale: OnStale,
}

fn check_feed_path(field: String, path: &str) -> Result<(), ConfigError> {
    let ok = path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            field,
            format!("`{path}` is not a request path (it must start with `/`, no spaces or control characters)"),
        ))
    }
}

fn check_range(field: String, value: u64, min: u64, max: u64, unit: &str) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            field,
            format!("{value} is not from {min} to {max} {unit}"),
        ))
    }
}

impl FeedSpec {
    fn validate(self, at: &dyn Fn(&str) -> String) -> Result<FeedConfig, ConfigError> {
        let cluster = required(self.cluster, at("feed.cluster"))?;
        if cluster.is_empty() {
            return Err(ConfigError::invalid(at("feed.cluster"), "must not be empty"));
        }
        let authority = match self.authority {
            Some(a) if a.is_empty() || !a.bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(ConfigError::invalid(
                    at("feed.authority"),
                    "must be a host name (non-empty, no spaces or control characters)",
                ))
            }
            Some(a) => a,
            None => cluster.clone(),
        };
        check_feed_path(at("feed.revocations_path"), &self.revocations_path)?;
        if let Some(path) = &self.jwks_path {
            check_feed_path(at("feed.jwks_path"), path)?;
        }
        for (uri, path) in &self.status_lists {
            if uri.is_empty() {
                return Err(ConfigError::invalid(
                    at("feed.status_lists"),
                    "a status-list URI is empty",
                ));
            }
            check_feed_path(at(&format!("feed.status_lists.{uri}")), path)?;
        }
        check_range(at("feed.refresh_s"), self.refresh_s, 1, 3_600, "seconds")?;
        check_range(at("feed.jwks_refresh_s"), self.jwks_refresh_s, 1, 86_400, "seconds")?;
        check_range(
            at("feed.unknown_kid_refetch_s"),
            self.unknown_kid_refetch_s,
            1,
            3_600,
            "seconds",
        )?;
        check_range(at("feed.timeout_ms"), self.timeout_ms, 1, 60_000, "milliseconds")?;
        check_range(at("feed.max_stale_s"), self.max_stale_s, 1, 604_800, "seconds")?;
        if self.max_stale_s < self.refresh_s {
            return Err(ConfigError::invalid(
                at("feed.max_stale_s"),
                format!(
                    "{} is shorter than `refresh_s` ({}): the list would go stale between two fetches",
                    self.max_stale_s, self.refresh_s
                ),
            ));
        }
        Ok(FeedConfig {
            cluster,
            authority,
            revocations_path: self.revocations_path,
            status_lists: self.status_lists,
            jwks_path: self.jwks_path,
            unsigned_jwks: self.unsigned_jwks,
            refresh_s: self.refresh_s,
            jwks_refresh_s: self.jwks_refresh_s,
            unknown_kid_refetch_s: self.unknown_kid_refetch_s,
            timeout_ms: self.timeout_ms,
            max_stale_s: self.max_stale_s,
            on_stale: self.on_stale,
        })
    }
}

fn default_max_ttl() -> u64 {
    DEFAULT_MAX_TTL_S
}

fn default_leeway() -> u64 {
    DEFAULT_LEEWAY_S
}

fn default_max_eval_ms() -> u64 {
    DEFAULT_MAX_EVAL_MS
}

fn default_entrypoint() -> String {
    DEFAULT_ENTRYPOINT.into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    #[serde(default)]
    modules: Option<BTreeMap<String, String>>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default = "default_entrypoint")]
    entrypoint: String,
    #[serde(default)]
    rego_v0: bool,
    #[serde(default = "default_max_eval_ms")]
    max_eval_ms: u64,
    #[serde(default)]
    evaluator: EvaluatorChoice,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigSpec {
    #[serde(default)]
    issuers: Option<Vec<IssuerSpec>>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    token: TokenConfig,
    #[serde(default)]
    identity: Option<IdentitySpec>,
    #[serde(default)]
    policy: Option<PolicySpec>,
    #[serde(default)]
    revoked: Vec<String>,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    decision_header: Option<String>,
}

/// The policy part of a configuration, not yet compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySource {
    /// Module name → Rego source.
    pub modules: BTreeMap<String, String>,
    /// The `data` document (an object).
    pub data: Value,
    /// The rule evaluated per request.
    pub entrypoint: String,
    /// Accept Rego v0 syntax.
    pub rego_v0: bool,
    /// The time budget of one evaluation, milliseconds (`policy.max_eval_ms`).
    pub max_eval_ms: u64,
    /// Which evaluator decides (`policy.evaluator`).
    pub evaluator: EvaluatorChoice,
}

/// A configuration that parsed and validated, everything but the policy compiled.
#[derive(Debug, Clone)]
pub struct Config {
    /// Trusted approval services.
    pub issuers: Vec<Issuer>,
    /// The resource this gate guards; approvals must name it.
    pub resource: Option<String>,
    /// Where the token travels.
    pub token: TokenConfig,
    /// Where the caller's identity comes from, if anywhere.
    pub identity: Option<IdentitySource>,
    /// The policy.
    pub policy: PolicySource,
    /// Revoked approval ids (`jti`).
    pub revoked: BTreeSet<String>,
    /// Enforce or dry run.
    pub mode: Mode,
    /// A response header that carries the decision id on every answer (off by default).
    pub decision_header: Option<String>,
}

impl Config {
    /// Parses and validates a configuration from JSON text.
    ///
    /// A member that appears twice anywhere in the text (a second `"x"` in a JWK, a
    /// module name twice, a repeated `policy.data` member) is an error naming its
    /// path: JSON parsers disagree on which copy wins, so neither may.
    pub fn from_json_str(text: &str) -> Result<Self, ConfigError> {
        let value = parse_strict_with_depth(text.as_bytes(), MAX_CONFIG_DEPTH).map_err(|e| match e {
            StrictJsonError::Syntax(detail) => ConfigError::Syntax(detail),
            StrictJsonError::DuplicateMember(path) => {
                ConfigError::invalid(path, "appears more than once; give each member once")
            }
            StrictJsonError::TooDeep(limit) => ConfigError::Syntax(format!("nested deeper than {limit}")),
        })?;
        Self::from_json(value)
    }

    /// Parses and validates a configuration from a JSON value.
    pub fn from_json(value: Value) -> Result<Self, ConfigError> {
        let spec: ConfigSpec = serde_path_to_error::deserialize(value).map_err(path_error)?;
        Self::from_spec(spec)
    }

    fn from_spec(spec: ConfigSpec) -> Result<Self, ConfigError> {
        let issuer_specs = required(spec.issuers, "issuers")?;
        let policy = required(spec.policy, "policy")?;
        if issuer_specs.is_empty() {
            return Err(ConfigError::invalid("issuers", "at least one issuer is required"));
        }
        let mut issuers: Vec<Issuer> = Vec::with_capacity(issuer_specs.len());
        for (i, s) in issuer_specs.into_iter().enumerate() {
            let at = |field: &str| format!("issuers[{i}].{field}");
            let issuer = required(s.issuer, at("issuer"))?;
            let audience = required(s.audience, at("audience"))?;
            let jwks = required(s.jwks, at("jwks"))?;
            if issuer.is_empty() {
                return Err(ConfigError::invalid(at("issuer"), "must not be empty"));
            }
            if issuers.iter().any(|other| other.issuer == issuer) {
                return Err(ConfigError::invalid(
                    at("issuer"),
                    format!("issuer `{}` is listed twice", issuer),
                ));
            }
            if audience.is_empty() {
                return Err(ConfigError::invalid(at("audience"), "must not be empty"));
            }
            if s.max_ttl_s == 0 {
                return Err(ConfigError::invalid(at("max_ttl_s"), "must be at least 1"));
            }
            if s.leeway_s > MAX_LEEWAY_S {
                return Err(ConfigError::invalid(
                    at("leeway_s"),
                    format!("{} is over the maximum of {MAX_LEEWAY_S} seconds", s.leeway_s),
                ));
            }
            let keys = KeySet::from_json(&jwks).map_err(|e| {
                let field = if e.path.is_empty() {
                    at("jwks")
                } else {
                    at(&format!("jwks.{}", e.path))
                };
                ConfigError::invalid(field, e.message)
            })?;
            if keys.is_empty() {
                return Err(ConfigError::invalid(at("jwks.keys"), "at least one key is required"));
            }
            let feed = s.feed.map(|f| f.validate(&at)).transpose()?;
            issuers.push(Issuer {
                issuer,
                audience,
                keys,
                max_ttl_s: s.max_ttl_s,
                leeway_s: s.leeway_s,
                feed,
            });
        }
        if spec.resource.as_deref() == Some("") {
            return Err(ConfigError::invalid(
                "resource",
                "must not be empty (omit it to accept any resource)",
            ));
        }
        let mut token = spec.token;
        if !is_header_name(&token.header) {
            return Err(ConfigError::invalid(
                "token.header",
                format!("`{}` is not a valid header name", token.header),
            ));
        }
        token.header = token.header.to_ascii_lowercase();
        let identity = match spec.identity {
            None => None,
            Some(IdentitySpec {
                header: Some(h),
                source: None,
            }) => {
                if !is_header_name(&h) {
                    return Err(ConfigError::invalid(
                        "identity.header",
                        format!("`{h}` is not a valid header name"),
                    ));
                }
                if h.eq_ignore_ascii_case(&token.header) {
                    return Err(ConfigError::invalid("identity.header", "must not be the token header"));
                }
                Some(IdentitySource::Header(h.to_ascii_lowercase()))
            }
            Some(IdentitySpec {
                header: None,
                source: Some(s),
            }) if s == "peer_principal" => Some(IdentitySource::PeerPrincipal),
            Some(IdentitySpec {
                header: None,
                source: Some(s),
            }) => {
                return Err(ConfigError::invalid(
                    "identity.source",
                    format!("`{s}` is not a known source (`peer_principal`)"),
                ));
            }
            Some(_) => {
                return Err(ConfigError::invalid(
                    "identity",
                    "give exactly one of `header` or `source`",
                ));
            }
        };
        let data = match policy.data {
            None => Value::Object(serde_json::Map::new()),
            Some(v @ Value::Object(_)) => v,
            Some(_) => return Err(ConfigError::invalid("policy.data", "must be an object")),
        };
        let modules = required(policy.modules, "policy.modules")?;
        if modules.is_empty() {
            return Err(ConfigError::invalid(
                "policy.modules",
                "at least one module is required",
            ));
        }
        if !(1..=MAX_EVAL_MS).contains(&policy.max_eval_ms) {
            return Err(ConfigError::invalid(
                "policy.max_eval_ms",
                format!("{} is not from 1 to {MAX_EVAL_MS} milliseconds", policy.max_eval_ms),
            ));
        }
        let decision_header = match spec.decision_header {
            None => None,
            Some(h) if !is_header_name(&h) => {
                return Err(ConfigError::invalid(
                    "decision_header",
                    format!("`{h}` is not a valid header name"),
                ))
            }
            Some(h) => {
                let lower = h.to_ascii_lowercase();
                let taken = ["content-type", "content-length", "www-authenticate", "set-cookie"]
                    .contains(&lower.as_str())
                    || lower == token.header
                    || lower.starts_with("x-jit-");
                if taken {
                    return Err(ConfigError::invalid(
                        "decision_header",
                        format!("`{h}` is a header jitgate or HTTP already uses; pick another (e.g. `x-jitgate-decision-id`)"),
                    ));
                }
                Some(lower)
            }
        };
        if let Some(r) = spec.revoked.iter().position(String::is_empty) {
            return Err(ConfigError::invalid(format!("revoked[{r}]"), "must not be empty"));
        }
        Ok(Self {
            issuers,
            resource: spec.resource,
            token,
            identity,
            policy: PolicySource {
                modules,
                data,
                entrypoint: policy.entrypoint,
                rego_v0: policy.rego_v0,
                max_eval_ms: policy.max_eval_ms,
                evaluator: policy.evaluator,
            },
            revoked: spec.revoked.into_iter().collect(),
            mode: spec.mode,
            decision_header,
        })
    }
}

/// `value`, or the error that the required member `field` is missing.
fn required<T>(value: Option<T>, field: impl Into<String>) -> Result<T, ConfigError> {
    value.ok_or_else(|| ConfigError::invalid(field, "is required"))
}

fn path_error(e: serde_path_to_error::Error<serde_json::Error>) -> ConfigError {
    let inner = e.inner();
    if inner.is_syntax() || inner.is_eof() {
        return ConfigError::Syntax(inner.to_string());
    }
    // The path ends at the offending member (an unknown one included); required
    // members are checked in `from_spec`, and duplicates by the strict parser, so
    // serde's text is shown as it is, never read.
    let field = match e.path().to_string().as_str() {
        "" | "." => ".".to_owned(),
        path => path.to_owned(),
    };
    ConfigError::Invalid {
        field,
        message: inner.to_string(),
    }
}
