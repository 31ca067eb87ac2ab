//! The HTTP API: state, identity, strict JSON, and every handler under `/v1`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jitgate_core::unstable::jws::b64url_encode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::clock::Clock;
use crate::db::{self, DecisionRow, RequestRow, Store};
use crate::error::{ApiError, ErrorCode};
use crate::feed::{self, FeedCache, FeedDoc};
use crate::keys::KeySet;
use crate::metrics::{self, label, Metrics};
use crate::policy::{Answers, ApprovalPolicy};
use crate::settings::Settings;

/// The header every response carries in `--dev` mode.
pub const DEV_HEADER: &str = "x-jitgate-dev-mode";
/// Its value.
pub const DEV_WARNING: &str = "INSECURE: identity header taken from anyone (--dev)";

/// The shared state of one service instance.
#[derive(Debug)]
pub struct AppState {
    /// The settings it was started with.
    pub settings: Settings,
    /// The database.
    pub store: Store,
    /// The approval policy.
    pub policy: ApprovalPolicy,
    /// The signing keys (reloaded when the key file changes).
    pub keys: RwLock<KeySet>,
    /// When the key file was last read (its modification time).
    pub keys_modified: RwLock<Option<SystemTime>>,
    /// The clock.
    pub clock: Clock,
    /// The counters.
    pub metrics: Arc<Metrics>,
    /// The webhook queue, when a webhook is configured.
    pub webhooks: Option<crate::webhook::Webhooks>,
    /// The feed documents.
    pub feed: FeedCache,
    /// The secret CSRF tokens derive from.
    pub csrf_secret: [u8; 32],
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database.
    #[error("database `{url}`: {source}")]
    Database {
        /// The URL, password hidden.
        url: String,
        /// What sqlx said.
        source: sqlx::Error,
    },
    /// The key file.
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyFileError),
    /// The policy.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// The TLS settings.
    #[error("tls: {0}")]
    Tls(String),
    /// Listening.
    #[error("listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
}

impl AppState {
    /// Opens the database (running migrations), loads or creates the keys, and
    /// compiles the policy.
    pub async fn open(settings: Settings, clock: Clock) -> Result<Arc<Self>, StartError> {
        let store = Store::connect(&settings.database_url.0)
            .await
            .map_err(|source| StartError::Database {
                url: db::redact(&settings.database_url.0),
                source,
            })?;
        let keys = KeySet::load_or_create(&settings.key_file, clock.now())?;
        let modified = std::fs::metadata(&settings.key_file).and_then(|m| m.modified()).ok();
        let policy = ApprovalPolicy::start(&settings.policy, &settings.policy_data)?;
        let csrf_secret = crate::web::csrf_secret(&keys);
        let metrics = Arc::new(Metrics::default());
        let webhooks = settings
            .webhook
            .clone()
            .map(|w| crate::webhook::Webhooks::start(w, Arc::clone(&metrics)));
        Ok(Arc::new(Self {
            csrf_secret,
            settings,
            store,
            policy,
            keys: RwLock::new(keys),
            keys_modified: RwLock::new(modified),
            clock,
            metrics,
            webhooks,
            feed: FeedCache::default(),
        }))
    }

    /// Re-reads the key file if it changed (after `keys rotate`).
    pub fn reload_keys_if_changed(&self) {
        let modified = std::fs::metadata(&self.settings.key_file)
            .and_then(|m| m.modified())
            .ok();
        let changed = self.keys_modified.read().map(|m| *m != modified).unwrap_or(false);
        if !changed {
            return;
        }
        match KeySet::load(&self.settings.key_file) {
            Ok(set) => {
                if let Ok(mut keys) = self.keys.write() {
                    *keys = set;
                }
                if let Ok(mut m) = self.keys_modified.write() {
                    *m = modified;
                }
                self.feed.invalidate();
                eprintln!("jitgate-approvals: key file reloaded");
            }
            Err(e) => eprintln!("jitgate-approvals: key file changed but cannot be read, keeping the old keys: {e}"),
        }
    }

    fn emit(&self, events: &[db::AuditEvent]) {
        for e in events {
            self.metrics
                .inc(metrics::EVENTS, format!("event=\"{}\"", label(&e.event)));
            let line = json!({"type": "audit", "seq": e.seq, "at": e.at, "ts": jitgate_core::rfc3339_from_secs(u64::try_from(e.at).unwrap_or(0)), "event": e.event, "actor": e.actor, "request_id": e.request_id, "jti": e.jti, "detail": e.detail});
            println!("{line}");
            if let Some(w) = &self.webhooks {
                w.notify(e, &self.metrics);
            }
        }
    }

    /// Expires grants past their `exp` and pending requests past the pending TTL: one
    /// transaction, one `expired` event each. Returns how many expired.
    pub async fn sweep(&self) -> Result<usize, sqlx::Error> {
        let now = self.clock.now();
        let pending_before = now.saturating_sub(self.settings.pending_ttl_s);
        let mut conn = self.store.pool().acquire().await?;
        if db::due_for_expiry(&mut conn, now, pending_before).await?.is_empty() {
            return Ok(0);
        }
        drop(conn);
        let mut tx = self.store.begin().await?;
        let due = db::due_for_expiry(&mut tx, now, pending_before).await?;
        let mut events = Vec::new();
        for r in &due {
            db::set_state(&mut tx, &r.id, "expired", now).await?;
            let detail = json!({"previous_state": r.state, "exp": r.exp});
            events.push(
                db::insert_audit(&mut tx, now, "expired", "system", Some(&r.id), r.jti.as_deref(), detail).await?,
            );
        }
        tx.commit().await?;
        self.emit(&events);
        Ok(due.len())
    }
}

// ---------------------------------------------------------------------------
// Identity

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let settings = &state.settings;
        if settings.identity_from_peer {
            return parts
                .extensions
                .get::<crate::tls::PeerIdentity>()
                .and_then(|p| p.0.clone())
                .map(Caller)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthenticated",
                        "the client certificate names no URI or email identity",
                    )
                });
        }
        if !settings.dev {
            let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
            let trusted = peer.is_some_and(|ip| settings.trusted_proxies.iter().any(|n| n.contains(ip)));
            if !trusted {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "untrusted_source",
                    "the identity header is only accepted from the authenticating proxy",
                ));
            }
        }
        let value = parts
            .headers
            .get(settings.identity_header.as_str())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    format!("no `{}` header", settings.identity_header),
                )
            })?
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 256 && !v.chars().any(char::is_control))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    format!(
                        "the `{}` header is empty or not a valid identity",
                        settings.identity_header
                    ),
                )
            })?;
        Ok(Caller(value.to_owned()))
    }
}

// ---------------------------------------------------------------------------
// Strict JSON bodies

/// The largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// Parses a JSON body strictly and names the member at fault: a member the body
/// type does not declare is `unknown_field` (found by `serde_ignored`, not by
/// reading serde's message), a value of the wrong type `invalid_field` (the path
/// from `serde_path_to_error`), bad JSON `invalid_json`. Required members are
/// `Option`s checked with [`required`], so a missing one is `missing_field`.
/// An empty body reads as `{}`.
pub fn parse_body<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    if !body.is_empty() {
        let json = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be `application/json`",
            ));
        }
    }
    if body.len() > MAX_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the body is over 64 KiB",
        ));
    }
    // serde would also read a struct from an array (`[…]`, members by position).
    if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(text) {
            Err(e) => ApiError::field("invalid_json", "body", e.to_string()),
            Ok(_) => ApiError::field("invalid_field", "body", "the body must be a JSON object"),
        });
    }
    let mut unknown: Option<String> = None;
    let de = &mut serde_json::Deserializer::from_slice(text);
    let mut note_unknown = |path: serde_ignored::Path<'_>| {
        unknown.get_or_insert_with(|| path.to_string());
    };
    let tracked = serde_ignored::Deserializer::new(de, &mut note_unknown);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(tracked);
    if let Err(e) = &parsed {
        if e.inner().is_syntax() || e.inner().is_eof() {
            return Err(ApiError::field("invalid_json", "body", e.inner().to_string()));
        }
    }
    if let Some(field) = unknown {
        return Err(ApiError::field(
            "unknown_field",
            field.clone(),
            format!("`{field}` is not a member of this body"),
        ));
    }
    parsed.map_err(|e| {
        let field = match e.path().to_string().as_str() {
            "" | "." => "body".to_owned(),
            path => path.to_owned(),
        };
        ApiError::field("invalid_field", field, e.inner().to_string())
    })
}

/// `value`, or the `missing_field` error naming `field`.
fn required<T>(value: Option<T>, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::field("missing_field", field, format!("`{field}` is required")))
}

/// `POST /v1/requests`. No `deny_unknown_fields`: [`parse_body`] refuses what
/// the type does not declare, and names it.
#[derive(Debug, Deserialize)]
struct NewRequest {
    resource: Option<String>,
    role: Option<String>,
    actions: Option<Vec<String>>,
    duration_s: Option<i64>,
    reason: Option<String>,
    ticket: Option<String>,
}

/// `POST …/approve` and `…/deny`.
#[derive(Debug, Deserialize)]
struct DecideBody {
    comment: Option<String>,
}

/// `POST /v1/approvals/{jti}/revoke`.
#[derive(Debug, Deserialize)]
struct RevokeBody {
    reason: Option<String>,
}

fn name_field(value: &str, field: &str) -> Result<(), ApiError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "._:/-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            "invalid_field",
            field,
            format!("`{field}` must be 1 to 128 characters of A-Z a-z 0-9 . _ : / - @"),
        ))
    }
}

fn text_field(value: &str, field: &str, max: usize) -> Result<String, ApiError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ApiError::field(
            format_missing(field),
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    if trimmed.len() > max || trimmed.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::field(
            "invalid_field",
            field,
            format!("`{field}` must be at most {max} bytes without control characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

fn format_missing(field: &str) -> &'static str {
    match field {
        "reason" => "reason_required",
        "ticket" => "ticket_required",
        _ => "missing_field",
    }
}

fn random_id(prefix: &str) -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(ApiError::internal)?;
    Ok(format!("{prefix}{}", b64url_encode(&bytes)))
}

// ---------------------------------------------------------------------------
// Views

fn policy_view(r: &RequestRow) -> Value {
    json!({
        "requester": r.requester, "resource": r.resource, "role": r.role, "actions": r.actions,
        "duration_s": r.duration_s, "reason": r.reason, "ticket": r.ticket,
    })
}

fn request_view(r: &RequestRow, decisions: &[DecisionRow]) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    let approvals: Vec<&DecisionRow> = decisions.iter().filter(|d| d.decision == "approve").collect();
    let denials: Vec<&DecisionRow> = decisions.iter().filter(|d| d.decision == "deny").collect();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("approvals".into(), json!(approvals));
        obj.insert("denials".into(), json!(denials));
    }
    v
}

async fn load_view(state: &AppState, id: &str) -> Result<Value, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let r = db::get_request(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("request"))?;
    let d = db::decisions(&mut conn, id).await?;
    Ok(request_view(&r, &d))
}

async fn ask(state: &AppState, action: &str, caller: &str, request: &Value) -> Result<Answers, ApiError> {
    let now_ns = state.clock.now().saturating_mul(1_000_000_000);
    state
        .policy
        .ask(action, caller, request, now_ns)
        .await
        .map_err(ApiError::internal)
}

// ---------------------------------------------------------------------------
// Handlers: requests

async fn create_request(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: NewRequest = parse_body(&headers, &body)?;
    let resource = required(body.resource, "resource")?;
    let role = required(body.role, "role")?;
    let duration_s = required(body.duration_s, "duration_s")?;
    let reason = required(body.reason, "reason")?;
    name_field(&resource, "resource")?;
    name_field(&role, "role")?;
    let actions = body.actions.unwrap_or_default();
    if actions.len() > 32 {
        return Err(ApiError::field("invalid_field", "actions", "at most 32 actions"));
    }
    for (i, a) in actions.iter().enumerate() {
        name_field(a, &format!("actions[{i}]"))?;
    }
    let reason = text_field(&reason, "reason", 1024)?;
    let ticket = body
        .ticket
        .as_deref()
        .map(|t| text_field(t, "ticket", 128))
        .transpose()?;
    if duration_s < 1 {
        return Err(ApiError::field(
            "invalid_field",
            "duration_s",
            "`duration_s` must be a positive integer",
        ));
    }
    let now = state.clock.now();
    let mut row = RequestRow {
        id: random_id("req_")?,
        requester: caller.clone(),
        resource,
        role,
        actions,
        duration_s,
        reason,
        ticket,
        state: "pending".into(),
        required_approvals: 1,
        created_at: now,
        updated_at: now,
        jti: None,
        token: None,
        issued_at: None,
        nbf: None,
        exp: None,
        status_idx: None,
        revoked_at: None,
        revoked_by: None,
        revoke_reason: None,
    };
    let answers = ask(&state, "request", &caller, &policy_view(&row)).await?;
    if !answers.may_request {
        return Err(ApiError::forbidden(
            "request_not_allowed",
            format!(
                "the policy does not let `{caller}` request `{}` as `{}`",
                row.resource, row.role
            ),
        ));
    }
    let max = answers.max_duration_s.min(state.settings.max_ttl_s);
    if row.duration_s > max {
        return Err(ApiError::field(
            "duration_too_long",
            "duration_s",
            format!("`duration_s` is over the maximum of {max} s for this resource and role"),
        ));
    }
    if answers.requires_ticket && row.ticket.is_none() {
        return Err(ApiError::field(
            "ticket_required",
            "ticket",
            "this resource and role need a `ticket`",
        ));
    }
    row.required_approvals = answers.required_approvals;
    let mut tx = state.store.begin().await?;
    db::insert_request(&mut tx, &row).await?;
    let detail = json!({"resource": row.resource, "role": row.role, "actions": row.actions, "duration_s": row.duration_s, "reason": row.reason, "ticket": row.ticket, "required_approvals": row.required_approvals});
    let event = db::insert_audit(&mut tx, now, "requested", &caller, Some(&row.id), None, detail).await?;
    tx.commit().await?;
    state.emit(&[event]);
    Ok((StatusCode::CREATED, Json(request_view(&row, &[]))).into_response())
}

const STATES: &[&str] = &["pending", "approved", "denied", "revoked", "expired"];

fn strict_query(query: &HashMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    match query.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::field(
            "unknown_parameter",
            k.clone(),
            format!("unknown query parameter `{k}`"),
        )),
        None => Ok(()),
    }
}

fn int_param(query: &HashMap<String, String>, name: &str, default: i64, min: i64, max: i64) -> Result<i64, ApiError> {
    match query.get(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                ApiError::field(
                    "invalid_field",
                    name,
                    format!("`{name}` must be an integer in {min}..={max}"),
                )
            }),
    }
}

async fn list_requests(
    State(state): State<Arc<AppState>>,
    Caller(_caller): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    strict_query(&query, &["state", "limit"])?;
    let filter = match query.get("state") {
        None => None,
        Some(s) if STATES.contains(&s.as_str()) => Some(s.as_str()),
        Some(_) => {
            return Err(ApiError::field(
                "invalid_field",
                "state",
                format!("`state` must be one of {}", STATES.join(", ")),
            ))
        }
    };
    let limit = int_param(&query, "limit", 100, 1, 1000)?;
    let mut conn = state.store.pool().acquire().await?;
    let rows = db::list_requests(&mut conn, filter, limit).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let d = db::decisions(&mut conn, &r.id).await?;
        out.push(request_view(r, &d));
    }
    Ok(Json(json!({ "requests": out })).into_response())
}

async fn get_request(
    State(state): State<Arc<AppState>>,
    Caller(_caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(load_view(&state, &id).await?).into_response())
}

async fn decide(
    state: Arc<AppState>,
    caller: String,
    id: String,
    approve: bool,
    body: DecideBody,
) -> Result<Response, ApiError> {
    let comment = body
        .comment
        .as_deref()
        .map(|c| text_field(c, "comment", 1024))
        .transpose()?;
    let kind = if approve { "approve" } else { "deny" };
    let row = {
        let mut conn = state.store.pool().acquire().await?;
        db::get_request(&mut conn, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("request"))?
    };
    if row.requester == caller {
        return Err(ApiError::forbidden(
            "self_approval",
            "the requester cannot approve or deny their own request",
        ));
    }
    let answers = ask(&state, kind, &caller, &policy_view(&row)).await?;
    if !answers.may_approve {
        return Err(ApiError::forbidden(
            "approver_not_allowed",
            format!(
                "the policy does not let `{caller}` decide on `{}` as `{}`",
                row.resource, row.role
            ),
        ));
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let row = db::get_request(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("request"))?;
    let decisions = db::decisions(&mut tx, &id).await?;
    if let Some(previous) = decisions.iter().find(|d| d.approver == caller) {
        drop(tx);
        if previous.decision == kind {
            // Idempotent: the same decision again changes nothing.
            return Ok(Json(load_view(&state, &id).await?).into_response());
        }
        return Err(ApiError::conflict(
            "already_decided",
            format!("`{caller}` already chose `{}` on this request", previous.decision),
        ));
    }
    if row.state != "pending" {
        return Err(ApiError::conflict(
            "request_not_pending",
            format!("the request is `{}`, not pending", row.state),
        ));
    }
    let detail = json!({"comment": comment});
    let event = if approve { "approved" } else { "denied" };
    let decided = db::insert_audit(&mut tx, now, event, &caller, Some(&id), None, detail).await?;
    db::insert_decision(&mut tx, &id, &caller, kind, comment.as_deref(), now, decided.seq).await?;
    let mut events = vec![decided];
    if !approve {
        db::set_state(&mut tx, &id, "denied", now).await?;
    } else {
        let approvers: Vec<String> = decisions
            .iter()
            .filter(|d| d.decision == "approve")
            .map(|d| d.approver.clone())
            .chain(std::iter::once(caller.clone()))
            .collect();
        if i64::try_from(approvers.len()).unwrap_or(i64::MAX) >= row.required_approvals {
            let idx = db::bump(&mut tx, "status_idx").await?;
            let jti = random_id("jit_")?;
            let exp = now.saturating_add(row.duration_s);
            let list = idx / feed::STATUS_LIST_SIZE;
            // The token names its entry within list `list` (draft-ietf-oauth-status-list
            // §6.1: `idx` indexes the list `uri` names), not the service-wide counter.
            let entry = idx % feed::STATUS_LIST_SIZE;
            let mut jit = json!({
                "resource": row.resource, "role": row.role, "actions": row.actions, "reason": row.reason,
                "approvers": approvers, "request_id": row.id,
            });
            if let (Some(ticket), Some(obj)) = (&row.ticket, jit.as_object_mut()) {
                obj.insert("ticket".into(), ticket.clone().into());
            }
            let claims = json!({
                "iss": state.settings.issuer, "sub": row.requester, "aud": state.settings.audience,
                "iat": now, "nbf": now, "exp": exp, "jti": jti, "jit": jit,
                "status": {"status_list": {"idx": entry, "uri": status_list_uri(&state.settings, list)}},
            });
            let (kid, token) = {
                let keys = state.keys.read().map_err(|_| ApiError::internal("key lock poisoned"))?;
                let active = keys.active().ok_or_else(|| ApiError::internal("no active key"))?;
                (
                    active.kid.clone(),
                    jitgate_mint::mint(&claims, &active.key, &active.kid),
                )
            };
            db::set_issued(&mut tx, &id, &jti, &token, now, now, exp, idx).await?;
            let detail = json!({"kid": kid, "nbf": now, "exp": exp, "approvers": approvers, "status_idx": idx});
            events.push(db::insert_audit(&mut tx, now, "issued", "system", Some(&id), Some(&jti), detail).await?);
        }
    }
    tx.commit().await?;
    state.emit(&events);
    Ok(Json(load_view(&state, &id).await?).into_response())
}

/// The URI of status list `n`, as tokens name it.
pub fn status_list_uri(settings: &Settings, n: i64) -> String {
    format!("{}/v1/status-lists/{n}", settings.public_url.trim_end_matches('/'))
}

async fn approve(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = parse_body(&headers, &body)?;
    decide(state, caller, id, true, body).await
}

async fn deny(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = parse_body(&headers, &body)?;
    decide(state, caller, id, false, body).await
}

async fn get_token(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let r = db::get_request(&mut conn, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("request"))?;
    if r.requester != caller {
        return Err(ApiError::forbidden(
            "not_requester",
            "only the requester may fetch the token",
        ));
    }
    match (r.state.as_str(), &r.token) {
        ("approved", Some(_)) if r.exp.is_some_and(|exp| exp <= state.clock.now()) => {
            Err(ApiError::conflict("no_active_grant", "the grant has expired"))
        }
        ("approved", Some(token)) => {
            let mut response = Json(json!({"token": token, "jti": r.jti, "nbf": r.nbf, "exp": r.exp})).into_response();
            // A bearer credential: no cache may keep it.
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        ("pending", _) => Err(ApiError::conflict("not_issued", "the request is still pending")),
        (s, _) => Err(ApiError::conflict(
            "no_active_grant",
            format!("the request is `{s}`: no active grant"),
        )),
    }
}

async fn revoke(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Path(jti): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: RevokeBody = parse_body(&headers, &body)?;
    let reason = text_field(&required(body.reason, "reason")?, "reason", 1024)?;
    let row = {
        let mut conn = state.store.pool().acquire().await?;
        db::get_request_by_jti(&mut conn, &jti)
            .await?
            .ok_or_else(|| ApiError::not_found("approval"))?
    };
    let answers = ask(&state, "revoke", &caller, &policy_view(&row)).await?;
    if !answers.may_revoke {
        return Err(ApiError::forbidden(
            "revoke_not_allowed",
            format!("the policy does not let `{caller}` revoke this grant"),
        ));
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let row = db::get_request_by_jti(&mut tx, &jti)
        .await?
        .ok_or_else(|| ApiError::not_found("approval"))?;
    match row.state.as_str() {
        "revoked" => {
            drop(tx);
            return Ok(Json(load_view(&state, &row.id).await?).into_response());
        }
        "approved" => {}
        other => {
            return Err(ApiError::conflict(
                "grant_not_active",
                format!("the grant is `{other}`, not active"),
            ))
        }
    }
    db::set_revoked(&mut tx, &row.id, &caller, &reason, now).await?;
    let seq = db::bump(&mut tx, "revocations").await?;
    let detail = json!({"reason": reason, "revocations_seq": seq, "status_idx": row.status_idx});
    let event = db::insert_audit(&mut tx, now, "revoked", &caller, Some(&row.id), Some(&jti), detail).await?;
    tx.commit().await?;
    state.feed.invalidate();
    state.emit(&[event]);
    Ok(Json(load_view(&state, &row.id).await?).into_response())
}

async fn audit(
    State(state): State<Arc<AppState>>,
    Caller(caller): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    strict_query(&query, &["since", "limit"])?;
    let since = int_param(&query, "since", 0, 0, i64::MAX)?;
    let limit = int_param(&query, "limit", 1000, 1, 10_000)?;
    let answers = ask(&state, "audit", &caller, &json!({})).await?;
    if !answers.may_audit {
        return Err(ApiError::forbidden(
            "audit_not_allowed",
            format!("the policy does not let `{caller}` read the audit trail"),
        ));
    }
    let mut conn = state.store.pool().acquire().await?;
    let events = db::audit_since(&mut conn, since, limit).await?;
    let next = events.last().map_or(since, |e| e.seq);
    Ok(Json(json!({"events": events, "next": next})).into_response())
}

// ---------------------------------------------------------------------------
// The trust feed

fn feed_response(state: &AppState, name: &str, doc: &FeedDoc, max_age: i64, headers: &HeaderMap) -> Response {
    let cache = format!("public, max-age={max_age}");
    let not_modified = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| feed::if_none_match(v, &doc.etag));
    let doc_label = name.split('/').next().unwrap_or(name);
    let mut response = if not_modified {
        state
            .metrics
            .inc(metrics::FEED_RESPONSES, format!("doc=\"{doc_label}\",status=\"304\""));
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        state
            .metrics
            .inc(metrics::FEED_RESPONSES, format!("doc=\"{doc_label}\",status=\"200\""));
        let mut r = doc.body.clone().into_response();
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(doc.content_type));
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&doc.etag) {
        h.insert(ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&cache) {
        h.insert(CACHE_CONTROL, v);
    }
    response
}

/// Builds (or reuses) document `name`: `content` gives the fingerprint and the
/// payload or body; `sign` turns it into the served bytes at `now`.
async fn cached_doc<F, Fut>(
    state: &AppState,
    name: &str,
    content_type: &'static str,
    signed: bool,
    build: F,
) -> Result<FeedDoc, ApiError>
where
    F: FnOnce(i64) -> Fut,
    Fut: std::future::Future<Output = Result<(String, Value), ApiError>>,
{
    let now = state.clock.now();
    let validity = state.settings.document_validity_s;
    if let Some(doc) = state.feed.fresh(name, now, 1, validity) {
        return Ok(doc);
    }
    let generation = state.feed.generation();
    let (fingerprint, payload) = build(now).await?;
    if let Some(prev) = state.feed.previous(name) {
        let still_valid = prev.signed_at == 0 || now.saturating_sub(prev.signed_at) < validity / 2;
        if prev.fingerprint == fingerprint && still_valid {
            let doc = FeedDoc { built_at: now, ..prev };
            state.feed.store(name, generation, doc.clone());
            return Ok(doc);
        }
    }
    let (body, signed_at) = if signed {
        let typ = match content_type {
            "application/jwk-set+jwt" => feed::TYP_JWKS,
            "application/jit-revocations+jwt" => feed::TYP_REVOCATIONS,
            _ => feed::TYP_STATUS_LIST,
        };
        let mut payload = payload;
        if let Some(obj) = payload.as_object_mut() {
            obj.insert("iss".into(), state.settings.issuer.clone().into());
            obj.insert("iat".into(), now.into());
            obj.insert("exp".into(), now.saturating_add(validity).into());
        }
        let keys = state.keys.read().map_err(|_| ApiError::internal("key lock poisoned"))?;
        let active = keys.active().ok_or_else(|| ApiError::internal("no active key"))?;
        (feed::sign_document(typ, &payload, &active.key, &active.kid), now)
    } else {
        (payload.to_string(), 0)
    };
    state.metrics.inc(
        metrics::FEED_SIGNED,
        format!("doc=\"{}\"", name.split('/').next().unwrap_or(name)),
    );
    let doc = FeedDoc {
        etag: feed::etag(body.as_bytes()),
        body: body.into(),
        content_type,
        built_at: now,
        signed_at,
        fingerprint,
    };
    state.feed.store(name, generation, doc.clone());
    Ok(doc)
}

fn public_jwks(state: &AppState, now: i64) -> Result<Value, ApiError> {
    let keys = state.keys.read().map_err(|_| ApiError::internal("key lock poisoned"))?;
    Ok(keys.public_jwks(now, state.settings.key_retain_s()))
}

async fn jwks(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let doc = cached_doc(&state, "jwks", "application/jwk-set+json", false, |now| {
        let jwks = public_jwks(&state, now);
        async move {
            let jwks = jwks?;
            Ok((jwks.to_string(), jwks))
        }
    })
    .await?;
    Ok(feed_response(
        &state,
        "jwks",
        &doc,
        state.settings.jwks_max_age_s,
        &headers,
    ))
}

async fn jwks_signed(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let doc = cached_doc(&state, "jwks.jwt", "application/jwk-set+jwt", true, |now| {
        let jwks = public_jwks(&state, now);
        async move {
            let jwks = jwks?;
            Ok((jwks.to_string(), jwks))
        }
    })
    .await?;
    Ok(feed_response(
        &state,
        "jwks.jwt",
        &doc,
        state.settings.jwks_max_age_s,
        &headers,
    ))
}

async fn revocations(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let doc = cached_doc(
        &state,
        "revocations",
        "application/jit-revocations+jwt",
        true,
        |now| async move {
            let mut conn = store.pool().acquire().await?;
            let seq = db::counter(&mut conn, "revocations").await?;
            let revoked = db::revoked_jtis(&mut conn, now).await?;
            let fingerprint = format!("{seq}:{}", feed::etag(revoked.join(",").as_bytes()));
            Ok((fingerprint, json!({"seq": seq, "revoked": revoked})))
        },
    )
    .await?;
    Ok(feed_response(
        &state,
        "revocations",
        &doc,
        state.settings.feed_max_age_s,
        &headers,
    ))
}

async fn status_list(
    State(state): State<Arc<AppState>>,
    Path(n): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let n: i64 = n
        .parse()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::not_found("status list"))?;
    let store = state.store.clone();
    let uri = status_list_uri(&state.settings, n);
    let ttl = state.settings.feed_max_age_s;
    let name = format!("status/{n}");
    let doc = cached_doc(&state, &name, "application/statuslist+jwt", true, |_now| async move {
        let mut conn = store.pool().acquire().await?;
        // A list no token has reached yet does not exist (checked only on rebuilds:
        // the lists a cached document stands for exist).
        let last = db::counter(&mut conn, "status_idx").await?.max(0);
        if n > last / feed::STATUS_LIST_SIZE {
            return Err(ApiError::not_found("status list"));
        }
        let from = n.saturating_mul(feed::STATUS_LIST_SIZE);
        let mut revoked = db::revoked_indexes(&mut conn, from, from.saturating_add(feed::STATUS_LIST_SIZE)).await?;
        revoked.sort_unstable();
        let fingerprint = format!("{revoked:?}");
        let lst = feed::status_list_lst(n, &revoked);
        Ok((
            fingerprint,
            json!({"sub": uri, "ttl": ttl, "status_list": {"bits": 1, "lst": lst}}),
        ))
    })
    .await?;
    Ok(feed_response(
        &state,
        &name,
        &doc,
        state.settings.feed_max_age_s,
        &headers,
    ))
}

// ---------------------------------------------------------------------------
// Operations

async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.store.ready().await {
        Json(json!({"status": "ready"})).into_response()
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database does not answer",
        )
        .into_response()
    }
}

async fn metrics_page(State(state): State<Arc<AppState>>) -> Response {
    let mut r = state.metrics.render().into_response();
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

async fn fallback() -> ApiError {
    ApiError::not_found("endpoint")
}

async fn count_and_mark(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let code = response.extensions().get::<ErrorCode>().map_or("", |c| c.0);
    state.metrics.inc(
        metrics::HTTP_RESPONSES,
        format!("status=\"{}\",code=\"{}\"", response.status().as_u16(), label(code)),
    );
    if state.settings.dev {
        response
            .headers_mut()
            .insert(DEV_HEADER, HeaderValue::from_static(DEV_WARNING));
    }
    response
}

/// The service's routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/requests", post(create_request).get(list_requests))
        .route("/v1/requests/{id}", get(get_request))
        .route("/v1/requests/{id}/approve", post(approve))
        .route("/v1/requests/{id}/deny", post(deny))
        .route("/v1/requests/{id}/token", get(get_token))
        .route("/v1/approvals/{jti}/revoke", post(revoke))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/v1/jwks", get(jwks_signed))
        .route("/v1/revocations", get(revocations))
        .route("/v1/status-lists/{n}", get(status_list))
        .route("/v1/audit", get(audit))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_page))
        .route("/", get(crate::web::page))
        .route("/app.js", get(crate::web::script))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            crate::web::csrf_guard,
        ))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&state), count_and_mark))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
        parse_body(&headers, &Bytes::from(text.to_owned()))
    }

    fn refusal<T: DeserializeOwned + std::fmt::Debug>(text: &str) -> (&'static str, String) {
        let e = parse::<T>(text).unwrap_err();
        (e.code, e.field.unwrap_or_default())
    }

    #[test]
    fn each_kind_of_bad_body_has_its_code_and_member() {
        let field = |c: &'static str, f: &str| (c, f.to_owned());
        assert_eq!(refusal::<RevokeBody>("{\"reason\": "), field("invalid_json", "body"));
        assert_eq!(refusal::<RevokeBody>("[1]"), field("invalid_field", "body"));
        assert_eq!(refusal::<RevokeBody>("hello"), field("invalid_json", "body"));
        assert_eq!(
            refusal::<RevokeBody>("{\"reason\": 3}"),
            field("invalid_field", "reason")
        );
        assert_eq!(
            refusal::<RevokeBody>("{\"reason\": \"x\", \"why\": 1}"),
            field("unknown_field", "why")
        );
        // An unknown member is named even when it comes first and holds an object.
        assert_eq!(
            refusal::<NewRequest>("{\"extra\": {\"a\": 1}, \"resource\": \"db\"}"),
            field("unknown_field", "extra")
        );
        let body: NewRequest = parse("{\"role\": \"r\"}").unwrap();
        let e = required(body.resource, "resource").unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), ("missing_field", Some("resource")));
        // An empty body is `{}`.
        let body: DecideBody = parse_body(&HeaderMap::new(), &Bytes::new()).unwrap();
        assert!(body.comment.is_none());
    }
}
