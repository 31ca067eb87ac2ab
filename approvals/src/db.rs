//! Storage: one query layer (`sqlx`'s `Any` driver) over SQLite (the default, an
//! embedded file) and PostgreSQL (several replicas), with the same migrations.
//!
//! INVARIANT: every state change is one transaction that starts with [`lock`], which
//! takes the write lock (SQLite) or the `counters` row lock (PostgreSQL) before
//! reading anything, so concurrent changes are serialised and each sees the last
//! committed state. Audit sequence numbers are bumped inside the same transaction:
//! they are gap-free and in commit order.

use std::borrow::Cow;
use std::str::FromStr as _;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyConnection, AnyPool, Executor as _, Row as _};

/// The schema migrations, embedded in the binary.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[(1, "initial", include_str!("../migrations/0001_initial.sql"))];

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// The backend the URL chose.
    pub backend: Backend,
}

/// A database URL whose `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl(pub String);

impl core::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// `url` with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((auth, host)) = rest.split_once('@') {
            if let Some((user, _)) = auth.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_owned()
}

/// A request as stored.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRow {
    /// Its id.
    pub id: String,
    /// Who asked.
    pub requester: String,
    /// The resource.
    pub resource: String,
    /// The role.
    pub role: String,
    /// The actions asked for.
    pub actions: Vec<String>,
    /// How long the grant lasts once issued.
    pub duration_s: i64,
    /// Why.
    pub reason: String,
    /// The ticket, if any.
    pub ticket: Option<String>,
    /// `pending`, `approved`, `denied`, `revoked` or `expired`.
    pub state: String,
    /// Distinct approvals needed.
    pub required_approvals: i64,
    /// When it was asked (Unix seconds).
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
    /// The token id once issued.
    pub jti: Option<String>,
    /// The token once issued (never serialised into listings).
    #[serde(skip)]
    pub token: Option<String>,
    /// When the token was signed.
    pub issued_at: Option<i64>,
    /// Start of the grant.
    pub nbf: Option<i64>,
    /// End of the grant.
    pub exp: Option<i64>,
    /// The token's index in the status lists.
    pub status_idx: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
}

/// One approver's decision.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DecisionRow {
    /// Who decided.
    pub approver: String,
    /// `approve` or `deny`.
    pub decision: String,
    /// Their comment.
    pub comment: Option<String>,
    /// When.
    pub at: i64,
}

/// One audit event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEvent {
    /// Its sequence number (gap-free, in commit order).
    pub seq: i64,
    /// When (Unix seconds).
    pub at: i64,
    /// `requested`, `approved`, `denied`, `issued`, `revoked` or `expired`.
    pub event: String,
    /// Who did it (`system` for expiry).
    pub actor: String,
    /// The request.
    pub request_id: Option<String>,
    /// The token.
    pub jti: Option<String>,
    /// Event details.
    pub detail: Value,
}

const REQUEST_COLUMNS: &str = "id, requester, resource, role, actions, duration_s, reason, ticket, state, \
     required_approvals, created_at, updated_at, jti, token, issued_at, nbf, exp, status_idx, revoked_at, \
     revoked_by, revoke_reason";

fn request_from_row(row: &sqlx::any::AnyRow) -> Result<RequestRow, sqlx::Error> {
    let actions: String = row.try_get("actions")?;
    Ok(RequestRow {
        id: row.try_get("id")?,
        requester: row.try_get("requester")?,
        resource: row.try_get("resource")?,
        role: row.try_get("role")?,
        actions: serde_json::from_str(&actions).unwrap_or_default(),
        duration_s: row.try_get("duration_s")?,
        reason: row.try_get("reason")?,
        ticket: row.try_get("ticket")?,
        state: row.try_get("state")?,
        required_approvals: row.try_get("required_approvals")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        jti: row.try_get("jti")?,
        token: row.try_get("token")?,
        issued_at: row.try_get("issued_at")?,
        nbf: row.try_get("nbf")?,
        exp: row.try_get("exp")?,
        status_idx: row.try_get("status_idx")?,
        revoked_at: row.try_get("revoked_at")?,
        revoked_by: row.try_get("revoked_by")?,
        revoke_reason: row.try_get("revoke_reason")?,
    })
}

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc`, `sqlite::memory:`,
    /// `postgres://…`) and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(sqlx::Error::Configuration(
                format!(
                    "unsupported database URL `{}`: use sqlite:// or postgres://",
                    redact(url)
                )
                .into(),
            ));
        };
        let options = AnyConnectOptions::from_str(url)?;
        let mut pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 10 })
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            pool = pool.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL for concurrent readers; FULL sync so an acknowledged change
                    // survives a crash; wait for the write lock instead of failing.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect_with(options).await?;
        let store = Self { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), sqlx::Error> {
        let migrations: Vec<Migration> = MIGRATIONS
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    Cow::Borrowed(*sql),
                    false,
                )
            })
            .collect();
        let migrator = Migrator {
            migrations: Cow::Owned(migrations),
            ignore_missing: false,
            locking: true,
            no_tx: false,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// The connection pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a state change: a transaction holding the write lock (see the module
    /// invariant).
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        lock(&mut tx).await?;
        Ok(tx)
    }

    /// Whether the database answers.
    pub async fn ready(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// Takes the write lock for this transaction (see the module invariant).
pub async fn lock(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE counters SET value = value WHERE name = 'events'")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Adds one to counter `name`, returning the new value.
pub async fn bump(conn: &mut AnyConnection, name: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("UPDATE counters SET value = value + 1 WHERE name = $1 RETURNING value")
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    row.try_get(0)
}

/// Counter `name`'s value.
pub async fn counter(conn: &mut AnyConnection, name: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT value FROM counters WHERE name = $1")
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    row.try_get(0)
}

/// Inserts a new pending request.
pub async fn insert_request(conn: &mut AnyConnection, r: &RequestRow) -> Result<(), sqlx::Error> {
    let actions = serde_json::to_string(&r.actions).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT INTO requests (id, requester, resource, role, actions, duration_s, reason, ticket, state, \
         required_approvals, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&r.id)
    .bind(&r.requester)
    .bind(&r.resource)
    .bind(&r.role)
    .bind(actions)
    .bind(r.duration_s)
    .bind(&r.reason)
    .bind(r.ticket.clone())
    .bind(&r.state)
    .bind(r.required_approvals)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The request `id`.
pub async fn get_request(conn: &mut AnyConnection, id: &str) -> Result<Option<RequestRow>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(request_from_row).transpose()
}

/// The request whose token is `jti`.
pub async fn get_request_by_jti(conn: &mut AnyConnection, jti: &str) -> Result<Option<RequestRow>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE jti = $1"))
        .bind(jti)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(request_from_row).transpose()
}

/// Requests in `state` (all when `None`), newest first, at most `limit`.
pub async fn list_requests(
    conn: &mut AnyConnection,
    state: Option<&str>,
    limit: i64,
) -> Result<Vec<RequestRow>, sqlx::Error> {
    let rows = match state {
        Some(state) => {
            sqlx::query(&format!(
                "SELECT {REQUEST_COLUMNS} FROM requests WHERE state = $1 ORDER BY created_at DESC, id LIMIT $2"
            ))
            .bind(state)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?
        }
        None => {
            sqlx::query(&format!(
                "SELECT {REQUEST_COLUMNS} FROM requests ORDER BY created_at DESC, id LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    rows.iter().map(request_from_row).collect()
}

/// The decisions on request `id`, oldest first.
pub async fn decisions(conn: &mut AnyConnection, id: &str) -> Result<Vec<DecisionRow>, sqlx::Error> {
    let rows = sqlx::query("SELECT approver, decision, comment, at FROM decisions WHERE request_id = $1 ORDER BY seq")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(DecisionRow {
                approver: row.try_get("approver")?,
                decision: row.try_get("decision")?,
                comment: row.try_get("comment")?,
                at: row.try_get("at")?,
            })
        })
        .collect()
}

/// Records `approver`'s decision on request `id`; `seq` is its audit event's.
pub async fn insert_decision(
    conn: &mut AnyConnection,
    id: &str,
    approver: &str,
    decision: &str,
    comment: Option<&str>,
    at: i64,
    seq: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO decisions (request_id, approver, decision, comment, at, seq) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(approver)
    .bind(decision)
    .bind(comment.map(str::to_owned))
    .bind(at)
    .bind(seq)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Sets request `id`'s state.
pub async fn set_state(conn: &mut AnyConnection, id: &str, state: &str, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE requests SET state = $1, updated_at = $2 WHERE id = $3")
        .bind(state)
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Stores the issued token of request `id` and marks it approved.
#[allow(clippy::too_many_arguments)]
pub async fn set_issued(
    conn: &mut AnyConnection,
    id: &str,
    jti: &str,
    token: &str,
    iat: i64,
    nbf: i64,
    exp: i64,
    status_idx: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE requests SET state = 'approved', updated_at = $1, jti = $2, token = $3, issued_at = $4, nbf = $5, \
         exp = $6, status_idx = $7 WHERE id = $8",
    )
    .bind(iat)
    .bind(jti)
    .bind(token)
    .bind(iat)
    .bind(nbf)
    .bind(exp)
    .bind(status_idx)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks the grant of request `id` revoked.
pub async fn set_revoked(
    conn: &mut AnyConnection,
    id: &str,
    by: &str,
    reason: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE requests SET state = 'revoked', updated_at = $1, revoked_at = $1, revoked_by = $2, revoke_reason = $3 \
         WHERE id = $4",
    )
    .bind(at)
    .bind(by)
    .bind(reason)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Approved grants whose `exp` has passed, and pending requests created before
/// `pending_before`: the ones the sweeper expires.
pub async fn due_for_expiry(
    conn: &mut AnyConnection,
    now: i64,
    pending_before: i64,
) -> Result<Vec<RequestRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {REQUEST_COLUMNS} FROM requests WHERE (state = 'approved' AND exp <= $1) \
         OR (state = 'pending' AND created_at < $2) ORDER BY id"
    ))
    .bind(now)
    .bind(pending_before)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(request_from_row).collect()
}

/// The `jti`s revoked and not yet expired at `now`, sorted.
pub async fn revoked_jtis(conn: &mut AnyConnection, now: i64) -> Result<Vec<String>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT jti FROM requests WHERE state = 'revoked' AND exp > $1 AND jti IS NOT NULL ORDER BY jti")
            .bind(now)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter().map(|r| r.try_get(0)).collect()
}

/// The status-list indexes in `[from, to)` of revoked grants.
pub async fn revoked_indexes(conn: &mut AnyConnection, from: i64, to: i64) -> Result<Vec<i64>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT status_idx FROM requests WHERE state = 'revoked' AND status_idx >= $1 AND status_idx < $2")
            .bind(from)
            .bind(to)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter().map(|r| r.try_get(0)).collect()
}

/// Appends an audit event, returning it with its sequence number.
pub async fn insert_audit(
    conn: &mut AnyConnection,
    at: i64,
    event: &str,
    actor: &str,
    request_id: Option<&str>,
    jti: Option<&str>,
    detail: Value,
) -> Result<AuditEvent, sqlx::Error> {
    let seq = bump(conn, "events").await?;
    sqlx::query(
        "INSERT INTO audit (seq, at, event, actor, request_id, jti, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(seq)
    .bind(at)
    .bind(event)
    .bind(actor)
    .bind(request_id.map(str::to_owned))
    .bind(jti.map(str::to_owned))
    .bind(detail.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(AuditEvent {
        seq,
        at,
        event: event.to_owned(),
        actor: actor.to_owned(),
        request_id: request_id.map(str::to_owned),
        jti: jti.map(str::to_owned),
        detail,
    })
}

/// Audit events after `since` (a sequence number), oldest first, at most `limit`.
pub async fn audit_since(conn: &mut AnyConnection, since: i64, limit: i64) -> Result<Vec<AuditEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, at, event, actor, request_id, jti, detail FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(since)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let detail: String = row.try_get("detail")?;
            Ok(AuditEvent {
                seq: row.try_get("seq")?,
                at: row.try_get("at")?,
                event: row.try_get("event")?,
                actor: row.try_get("actor")?,
                request_id: row.try_get("request_id")?,
                jti: row.try_get("jti")?,
                detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(
            format!("{:?}", DbUrl("postgres://u:pw@h/d".into())),
            "postgres://u:***@h/d"
        );
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
