//! The live-trust feed in Envoy (docs/live-trust.md): fetching each issuer's signed
//! revocation list, status lists and key set with `proxy_http_call`, and sharing what
//! was fetched between the VMs of every worker through proxy-wasm shared data.
//!
//! Envoy runs one VM per worker (and one on the main thread), each with its own root
//! context and its own [`jitgate_core::Gate`]. Every root context ticks every
//! [`TICK_MS`]; per document it keeps two shared-data entries under one key prefix:
//!
//! - `<prefix>.meta` — one short line: version, when the document was last fetched or
//!   confirmed, when the next fetch is due, a fetch lease, the last forced key refetch,
//!   the `ETag`. Written only with compare-and-swap.
//! - `<prefix>.body` — the document the last successful fetch returned.
//!
//! On a tick a root context (1) installs the body when `meta` has a newer version than
//! it installed, or confirms its copy when `meta` says a fetch confirmed it (a 304);
//! (2) when the next fetch is due and nobody holds the lease, takes the lease with a
//! CAS and — only if the CAS won — sends the one request of this period, with
//! `If-None-Match`. The response goes to the root context that sent it: a 200 whose
//! document its own gate accepts is published (body, then `meta` with version + 1),
//! a 304 moves `fetched` forward; anything else releases the lease and counts a
//! failure. So one fetch per period serves every worker, each worker picks a new
//! document up within one tick, and a forged document is refused by every gate
//! (each verifies it; the fetcher does not even publish it).
//!
//! An unknown `kid` (a request denied `token_key_unknown`) asks for an early key-set
//! fetch: at most one per `feed.unknown_kid_refetch_s` across all workers (the time
//! of the last forced fetch is in `meta`); no request waits for it.
//!
//! The period: `refresh_s` (`jwks_refresh_s` for keys), or a longer `Cache-Control:
//! max-age` the feed asks for — but never more than half of `max_stale_s` for
//! revocation and status lists, so a list is confirmed before it goes stale. After a
//! failed fetch the next try is after one second, then doubling up to the period.

use std::collections::BTreeMap;

use jitgate_core::MAX_DOCUMENT_BYTES;
use jitgate_core::{DocumentKind, FeedConfig, FeedError, Gate};

use crate::host::{HostError, Level};
use crate::metrics::CounterIds;
use crate::LOG_PREFIX;

/// How often every root context ticks, milliseconds.
pub const TICK_MS: u64 = 500;
/// Counter: fetches answered 200 whose document was installed.
pub const FETCH_OK: &str = "jitgate.feed.fetch_ok";
/// Counter: fetches answered 304 Not Modified.
pub const FETCH_NOT_MODIFIED: &str = "jitgate.feed.fetch_not_modified";
/// Counter: fetches that failed (no answer, timeout, another status, unusable body).
pub const FETCH_FAILED: &str = "jitgate.feed.fetch_failed";
/// Counter prefix: documents refused, by reason (`jitgate.feed.refused.rollback`).
pub const REFUSED_PREFIX: &str = "jitgate.feed.refused.";
/// Counter: documents installed (by any worker, from a fetch or from shared data).
pub const INSTALLED: &str = "jitgate.feed.installed";
/// Counter: key-set fetches caused by an unknown `kid`.
pub const KID_REFETCH: &str = "jitgate.feed.unknown_kid_refetch";

const SECOND_NS: i64 = 1_000_000_000;

/// The counters the feed increments, for [`crate::metrics::counter_names`].
pub fn counter_names() -> Vec<String> {
    let mut names: Vec<String> = [FETCH_OK, FETCH_NOT_MODIFIED, FETCH_FAILED, INSTALLED, KID_REFETCH]
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    names.extend(
        jitgate_core::FeedErrorCode::ALL
            .iter()
            .map(|c| format!("{REFUSED_PREFIX}{}", c.code())),
    );
    names
}

/// The host calls the feed makes (beyond [`crate::HostCalls`]'s logging and counters).
pub trait FeedHost: crate::HostCalls {
    /// Sends `GET` `headers` to `cluster`; returns the call's token.
    fn dispatch_get(&self, cluster: &str, headers: &[(&str, &str)], timeout_ms: u64) -> Result<u32, HostError>;
    /// The response headers of the call being answered.
    fn call_response_headers(&self) -> Result<Vec<(String, Vec<u8>)>, HostError>;
    /// The response body of the call being answered.
    fn call_response_body(&self, size: usize) -> Result<Vec<u8>, HostError>;
    /// A shared-data value and its CAS token.
    fn shared_get(&self, key: &str) -> Result<(Option<Vec<u8>>, u32), HostError>;
    /// Sets a shared-data value if `cas` still matches (`0`: unconditionally);
    /// `Ok(false)` when another VM changed it first.
    fn shared_set(&self, key: &str, value: &[u8], cas: u32) -> Result<bool, HostError>;
    /// Defines a gauge; returns its id.
    fn define_gauge(&self, name: &str) -> Result<u32, HostError>;
    /// Sets gauge `id`.
    fn set_gauge(&self, id: u32, value: u64) -> Result<(), HostError>;
}

/// The shared `meta` line of one document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Meta {
    version: u64,
    fetched_ns: i64,
    next_ns: i64,
    lease_ns: i64,
    forced_ns: i64,
    failures: u32,
    etag: String,
}

impl Meta {
    fn parse(bytes: &[u8]) -> Option<Self> {
        let text = core::str::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(7, ' ');
        Some(Self {
            version: parts.next()?.parse().ok()?,
            fetched_ns: parts.next()?.parse().ok()?,
            next_ns: parts.next()?.parse().ok()?,
            lease_ns: parts.next()?.parse().ok()?,
            forced_ns: parts.next()?.parse().ok()?,
            failures: parts.next()?.parse().ok()?,
            etag: parts.next().unwrap_or_default().to_owned(),
        })
    }

    fn line(&self) -> String {
        format!(
            "{} {} {} {} {} {} {}",
            self.version, self.fetched_ns, self.next_ns, self.lease_ns, self.forced_ns, self.failures, self.etag
        )
    }
}

/// One document an issuer's feed publishes.
#[derive(Debug, Clone)]
struct Doc {
    issuer: String,
    kind: DocumentKind,
    /// The status list's URI.
    uri: Option<String>,
    path: String,
    key: String,
    feed: FeedConfig,
    // This VM's view.
    installed_version: u64,
    installed_ok: bool,
    confirmed_ns: i64,
}

impl Doc {
    fn period_s(&self, max_age_s: Option<u64>) -> u64 {
        let base = match self.kind {
            DocumentKind::Keys => self.feed.jwks_refresh_s,
            _ => self.feed.refresh_s,
        };
        let wanted = max_age_s.map_or(base, |m| m.max(base));
        match self.kind {
            DocumentKind::Keys => wanted,
            _ => wanted.min((self.feed.max_stale_s / 2).max(1)),
        }
    }

    fn describe(&self) -> String {
        match &self.uri {
            Some(uri) => format!("status list `{uri}` of `{}`", self.issuer),
            None => format!("{} of `{}`", self.kind, self.issuer),
        }
    }
}

/// The gauge ids of one issuer.
#[derive(Debug, Clone, Default)]
struct Gauges {
    issuer: String,
    seq: Option<u32>,
    age: Option<u32>,
    revoked: Option<u32>,
}

/// A root context's feed state.
#[derive(Debug, Default)]
pub struct Feed {
    docs: Vec<Doc>,
    pending: BTreeMap<u32, usize>,
    gauges: Vec<Gauges>,
}

fn shared_key(issuer: &str, what: &str) -> String {
    format!("jitgate.feed|{issuer}|{what}")
}

impl Feed {
    /// The documents `gate`'s configuration asks to fetch (none: no feed).
    pub fn new<H: FeedHost>(host: &H, gate: &Gate) -> Self {
        let mut docs = Vec::new();
        let mut gauges = Vec::new();
        let all: Vec<String> = gate.trust_status(0).into_iter().map(|s| s.issuer).collect();
        for (issuer, feed) in gate.feeds() {
            let issuer_index = all.iter().position(|i| *i == issuer).unwrap_or_default();
            let mut push = |kind, uri: Option<String>, path: String, what: String| {
                docs.push(Doc {
                    issuer: issuer.clone(),
                    kind,
                    uri,
                    path,
                    key: shared_key(&issuer, &what),
                    feed: feed.clone(),
                    installed_version: 0,
                    installed_ok: false,
                    confirmed_ns: 0,
                });
            };
            push(
                DocumentKind::Revocations,
                None,
                feed.revocations_path.clone(),
                "revocations".into(),
            );
            for (uri, path) in &feed.status_lists {
                push(
                    DocumentKind::StatusList,
                    Some(uri.clone()),
                    path.clone(),
                    format!("status|{uri}"),
                );
            }
            if let Some(path) = &feed.jwks_path {
                push(DocumentKind::Keys, None, path.clone(), "keys".into());
            }
            let gauge = |name: &str| {
                let name = format!("jitgate.feed.issuer{issuer_index}.{name}");
                match host.define_gauge(&name) {
                    Ok(id) => Some(id),
                    Err(e) => {
                        host.log(Level::Warn, &format!("{LOG_PREFIX}gauge `{name}` not defined: {e}"));
                        None
                    }
                }
            };
            gauges.push(Gauges {
                issuer: issuer.clone(),
                seq: gauge("revocations_seq"),
                age: gauge("revocations_age_s"),
                revoked: gauge("revoked"),
            });
            host.log(
                Level::Info,
                &format!(
                    "{LOG_PREFIX}feed for issuers[{issuer_index}] `{issuer}`: cluster `{}`, every {} s, \
                     stale after {} s (on_stale `{}`)",
                    feed.cluster,
                    feed.refresh_s,
                    feed.max_stale_s,
                    feed.on_stale.as_str()
                ),
            );
        }
        Self {
            docs,
            pending: BTreeMap::new(),
            gauges,
        }
    }

    /// Whether there is anything to fetch (the root context then sets its tick).
    pub fn is_active(&self) -> bool {
        !self.docs.is_empty()
    }

    /// One tick at `now_ns`: pick up what other VMs fetched, and fetch what is due.
    /// `kid_unknown`: a request was denied `token_key_unknown` since the last tick.
    pub fn on_tick<H: FeedHost>(
        &mut self,
        host: &H,
        gate: &Gate,
        metrics: &CounterIds,
        now_ns: i64,
        kid_unknown: bool,
    ) {
        for index in 0..self.docs.len() {
            self.pick_up(host, gate, metrics, index);
            if kid_unknown {
                self.force_key_fetch(host, metrics, index, now_ns);
            }
            self.fetch_if_due(host, metrics, index, now_ns);
        }
        self.update_gauges(host, gate, now_ns);
    }

    /// Installs a newer shared document, or confirms the installed one.
    fn pick_up<H: FeedHost>(&mut self, host: &H, gate: &Gate, metrics: &CounterIds, index: usize) {
        let Some(doc) = self.docs.get(index) else { return };
        let Some((meta, _)) = read_meta(host, &doc.key) else {
            return;
        };
        if meta.version > doc.installed_version {
            let body = match host.shared_get(&format!("{}.body", doc.key)) {
                Ok((Some(body), _)) => body,
                Ok((None, _)) => return,
                Err(e) => {
                    host.log(Level::Warn, &format!("{LOG_PREFIX}reading shared feed data: {e}"));
                    return;
                }
            };
            let result = timed_install(host, gate, doc, &body, meta.fetched_ns);
            let doc_name = doc.describe();
            if let Some(doc) = self.docs.get_mut(index) {
                doc.installed_version = meta.version;
                doc.installed_ok = result.0.is_ok();
                doc.confirmed_ns = meta.fetched_ns;
            }
            report(host, metrics, &doc_name, result);
        } else if meta.fetched_ns > doc.confirmed_ns && doc.installed_ok && doc.kind != DocumentKind::Keys {
            let _ = gate.confirm_current(&doc.issuer, doc.uri.as_deref(), meta.fetched_ns);
            if let Some(doc) = self.docs.get_mut(index) {
                doc.confirmed_ns = meta.fetched_ns;
            }
        }
    }

    /// Makes the key set due now, if no forced fetch happened within
    /// `unknown_kid_refetch_s` (across all VMs).
    fn force_key_fetch<H: FeedHost>(&self, host: &H, metrics: &CounterIds, index: usize, now_ns: i64) {
        let Some(doc) = self.docs.get(index) else { return };
        if doc.kind != DocumentKind::Keys {
            return;
        }
        let period = i64::try_from(doc.feed.unknown_kid_refetch_s).unwrap_or(i64::MAX);
        let forced = update_meta(host, &doc.key, |meta| {
            if now_ns.saturating_sub(meta.forced_ns) < period.saturating_mul(SECOND_NS) {
                return false;
            }
            meta.forced_ns = now_ns;
            meta.next_ns = now_ns;
            true
        });
        if forced {
            metrics.increment(host, KID_REFETCH);
            host.log(
                Level::Info,
                &format!("{LOG_PREFIX}unknown `kid`: fetching the {} early", doc.describe()),
            );
        }
    }

    fn fetch_if_due<H: FeedHost>(&mut self, host: &H, metrics: &CounterIds, index: usize, now_ns: i64) {
        let Some(doc) = self.docs.get(index) else { return };
        let timeout_ms = doc.feed.timeout_ms;
        let lease = i64::try_from(timeout_ms).unwrap_or(60_000).saturating_mul(1_000_000) + SECOND_NS;
        let mut etag = String::new();
        let leased = update_meta(host, &doc.key, |meta| {
            if now_ns < meta.next_ns || now_ns < meta.lease_ns {
                return false;
            }
            meta.lease_ns = now_ns.saturating_add(lease);
            etag.clone_from(&meta.etag);
            true
        });
        if !leased {
            return;
        }
        // Ask for a 304 only when this VM holds the current document.
        let current = read_meta(host, &doc.key).is_some_and(|(m, _)| m.version == doc.installed_version);
        let accept = match doc.kind {
            DocumentKind::Revocations => "application/jit-revocations+jwt",
            DocumentKind::StatusList => "application/statuslist+jwt",
            DocumentKind::Keys => "application/jwk-set+jwt, application/jwk-set+json;q=0.5",
        };
        let mut headers: Vec<(&str, &str)> = vec![
            (":method", "GET"),
            (":path", &doc.path),
            (":authority", &doc.feed.authority),
            ("accept", accept),
            ("user-agent", "jitgate-filter"),
        ];
        if current && doc.installed_ok && !etag.is_empty() {
            headers.push(("if-none-match", &etag));
        }
        match host.dispatch_get(&doc.feed.cluster, &headers, timeout_ms) {
            Ok(token) => {
                self.pending.insert(token, index);
            }
            Err(e) => {
                host.log(
                    Level::Warn,
                    &format!(
                        "{LOG_PREFIX}fetching the {} from cluster `{}` failed: {e}",
                        doc.describe(),
                        doc.feed.cluster
                    ),
                );
                metrics.increment(host, FETCH_FAILED);
                let period = doc.period_s(None);
                failed(host, &doc.key, now_ns, period);
            }
        }
    }

    /// Whether `token` is one of this feed's calls.
    pub fn owns(&self, token: u32) -> bool {
        self.pending.contains_key(&token)
    }

    /// The answer to call `token` (headers, body of `body_size` bytes) at `now_ns`.
    pub fn on_response<H: FeedHost>(
        &mut self,
        host: &H,
        gate: &Gate,
        metrics: &CounterIds,
        token: u32,
        body_size: usize,
        now_ns: i64,
    ) {
        let Some(index) = self.pending.remove(&token) else {
            return;
        };
        let Some(doc) = self.docs.get(index) else { return };
        let headers = host.call_response_headers().unwrap_or_default();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| core::str::from_utf8(v).ok())
                .map(str::to_owned)
        };
        let status = header(":status").unwrap_or_default();
        let max_age = header("cache-control").and_then(|c| max_age(&c));
        let period = doc.period_s(max_age);
        let next = now_ns.saturating_add(i64::try_from(period).unwrap_or(3_600).saturating_mul(SECOND_NS));
        let describe = doc.describe();
        match status.as_str() {
            "304" => {
                metrics.increment(host, FETCH_NOT_MODIFIED);
                update_meta(host, &doc.key, |meta| {
                    meta.fetched_ns = now_ns;
                    meta.next_ns = next;
                    meta.lease_ns = 0;
                    meta.failures = 0;
                    true
                });
                self.pick_up(host, gate, metrics, index);
            }
            "200" if body_size <= MAX_DOCUMENT_BYTES => {
                let body = match host.call_response_body(body_size) {
                    Ok(body) => body,
                    Err(e) => {
                        host.log(Level::Warn, &format!("{LOG_PREFIX}reading the {describe}: {e}"));
                        metrics.increment(host, FETCH_FAILED);
                        failed(host, &doc.key, now_ns, period);
                        return;
                    }
                };
                let result = timed_install(host, gate, doc, &body, now_ns);
                let accepted = result.0.is_ok();
                let etag = header("etag").filter(|e| !e.contains(' ')).unwrap_or_default();
                report(host, metrics, &describe, result);
                if !accepted {
                    metrics.increment(host, FETCH_FAILED);
                    failed(host, &doc.key, now_ns, period);
                    return;
                }
                metrics.increment(host, FETCH_OK);
                let body_key = format!("{}.body", doc.key);
                if let Err(e) = host.shared_set(&body_key, &body, 0) {
                    host.log(Level::Warn, &format!("{LOG_PREFIX}sharing the {describe}: {e}"));
                }
                let mut version = 0;
                update_meta(host, &doc.key, |meta| {
                    meta.version = meta.version.saturating_add(1);
                    meta.fetched_ns = now_ns;
                    meta.next_ns = next;
                    meta.lease_ns = 0;
                    meta.failures = 0;
                    meta.etag.clone_from(&etag);
                    version = meta.version;
                    true
                });
                if let Some(doc) = self.docs.get_mut(index) {
                    doc.installed_version = version;
                    doc.installed_ok = true;
                    doc.confirmed_ns = now_ns;
                }
            }
            other => {
                let why = if other.is_empty() {
                    "no answer (connection failed or timed out)".to_owned()
                } else if other == "200" {
                    format!("a body of {body_size} bytes, more than {MAX_DOCUMENT_BYTES}")
                } else {
                    format!("status {other}")
                };
                host.log(
                    Level::Warn,
                    &format!(
                        "{LOG_PREFIX}fetching the {describe} from cluster `{}`: {why}",
                        doc.feed.cluster
                    ),
                );
                metrics.increment(host, FETCH_FAILED);
                failed(host, &doc.key, now_ns, period);
            }
        }
    }

    fn update_gauges<H: FeedHost>(&self, host: &H, gate: &Gate, now_ns: i64) {
        for status in gate.trust_status(now_ns) {
            let Some(gauges) = self.gauges.iter().find(|g| g.issuer == status.issuer) else {
                continue;
            };
            let set = |id: Option<u32>, value: u64| {
                if let Some(id) = id {
                    let _ = host.set_gauge(id, value);
                }
            };
            set(gauges.seq, status.revocations_seq.unwrap_or(0));
            // No list yet: the age is "forever" (2^62 s), so an alert on age fires.
            set(gauges.age, status.revocations_age_s.unwrap_or(1 << 62));
            set(gauges.revoked, u64::try_from(status.revoked).unwrap_or(u64::MAX));
        }
    }
}

/// An install's result and how long it took on the host clock (ms), for the log.
type Installed = (Result<jitgate_core::FeedState, FeedError>, Option<f64>);

fn timed_install<H: FeedHost>(host: &H, gate: &Gate, doc: &Doc, body: &[u8], now_ns: i64) -> Installed {
    let start = host.now_ns().ok();
    let result = install(gate, doc, body, now_ns);
    let took = match (start, host.now_ns().ok()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e6),
        _ => None,
    };
    (result, took)
}

fn install(gate: &Gate, doc: &Doc, body: &[u8], now_ns: i64) -> Result<jitgate_core::FeedState, FeedError> {
    let text = String::from_utf8_lossy(body);
    match doc.kind {
        DocumentKind::Revocations => gate.install_revocations(&doc.issuer, &text, now_ns),
        DocumentKind::StatusList => {
            gate.install_status_list(&doc.issuer, doc.uri.as_deref().unwrap_or_default(), &text, now_ns)
        }
        DocumentKind::Keys => gate.install_keys(&doc.issuer, &text, now_ns),
    }
}

fn report<H: FeedHost>(host: &H, metrics: &CounterIds, describe: &str, installed: Installed) {
    let (result, took) = installed;
    let took = took.map(|ms| format!(" in {ms:.1} ms")).unwrap_or_default();
    match result {
        Ok(state) => {
            metrics.increment(host, INSTALLED);
            if state.changed {
                host.log(
                    Level::Info,
                    &format!(
                        "{LOG_PREFIX}installed the {describe}{}: {} entries{took}",
                        state.seq.map(|s| format!(" seq {s}")).unwrap_or_default(),
                        state.entries
                    ),
                );
            }
        }
        Err(e) => {
            metrics.increment(host, &format!("{REFUSED_PREFIX}{}", e.code.code()));
            host.log(
                Level::Warn,
                &format!("{LOG_PREFIX}refused the {describe}: {e}; the last good one stays"),
            );
        }
    }
}

fn read_meta<H: FeedHost>(host: &H, key: &str) -> Option<(Meta, u32)> {
    match host.shared_get(&format!("{key}.meta")) {
        Ok((Some(bytes), cas)) => Some((Meta::parse(&bytes).unwrap_or_default(), cas)),
        Ok((None, cas)) => Some((Meta::default(), cas)),
        Err(_) => Some((Meta::default(), 0)),
    }
}

/// Read-modify-write of `meta` with CAS (a few tries). `change` returns false to leave
/// it alone. Returns whether this VM's change was written.
fn update_meta<H: FeedHost>(host: &H, key: &str, mut change: impl FnMut(&mut Meta) -> bool) -> bool {
    let meta_key = format!("{key}.meta");
    for _ in 0..4 {
        let (current, cas) = match host.shared_get(&meta_key) {
            Ok((Some(bytes), cas)) => (Meta::parse(&bytes).unwrap_or_default(), cas),
            Ok((None, cas)) => (Meta::default(), cas),
            Err(_) => return false,
        };
        let mut meta = current;
        if !change(&mut meta) {
            return false;
        }
        match host.shared_set(&meta_key, meta.line().as_bytes(), cas) {
            Ok(true) => return true,
            Ok(false) => continue,
            Err(_) => return false,
        }
    }
    false
}

/// A failed fetch: release the lease, try again after 1 s, 2 s, 4 s … up to the period.
fn failed<H: FeedHost>(host: &H, key: &str, now_ns: i64, period_s: u64) {
    update_meta(host, key, |meta| {
        meta.failures = meta.failures.saturating_add(1);
        let backoff = 1u64 << meta.failures.saturating_sub(1).min(12);
        let wait = backoff.min(period_s.max(1));
        meta.next_ns = now_ns.saturating_add(i64::try_from(wait).unwrap_or(1).saturating_mul(SECOND_NS));
        meta.lease_ns = 0;
        true
    });
}

/// `max-age` of a `Cache-Control` value.
fn max_age(value: &str) -> Option<u64> {
    value.split(',').find_map(|d| {
        let (name, v) = d.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| v.trim().parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips() {
        let m = Meta {
            version: 3,
            fetched_ns: 5,
            next_ns: 6,
            lease_ns: 0,
            forced_ns: 9,
            failures: 2,
            etag: "\"abc\"".into(),
        };
        assert_eq!(Meta::parse(m.line().as_bytes()), Some(m));
        assert_eq!(Meta::parse(b"garbage"), None);
    }

    #[test]
    fn cache_control_max_age() {
        assert_eq!(max_age("public, max-age=30"), Some(30));
        assert_eq!(max_age("MAX-AGE = 7"), Some(7));
        assert_eq!(max_age("no-cache"), None);
    }
}
