//! `--revocations`, `--keys`, `--status-list` of `jitgate eval` and `jitgate run`: live-trust
//! documents (docs/live-trust.md) read from files and installed before deciding.
//!
//! Which issuer a document is for: a status list belongs to the issuer whose
//! `feed.status_lists` names its URI; a revocation list or key set to the configured
//! issuer its (unverified) `iss` names, else — a plain JWKS has no `iss` — to the one
//! issuer that has a `feed`. The core then verifies the document for that issuer as a
//! gate would (a wrong `iss` is refused `issuer`). Key sets are installed first, then
//! revocation lists, then status lists, each in the order given: a key set may bring
//! the key the other documents are signed with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{anyhow, bail, Result};
use clap::Args;
use jitgate_core::jws::b64url_decode;
use jitgate_core::{Config, DocumentKind, FeedConfig, FeedState, Gate};
use jitgate_harness::{Host, HttpCallReply};
use serde_json::{json, Value};

use crate::files;

/// Live-trust documents to install before deciding.
#[derive(Args, Default)]
pub struct FeedArgs {
    /// Signed revocation list (`typ: jit-revocations+jwt`) to install, for the issuer its
    /// `iss` names (repeat for several issuers).
    #[arg(long = "revocations", value_name = "FILE")]
    revocations: Vec<PathBuf>,
    /// Key set to install: a `jwk-set+jwt` signed by a key the configuration trusts, or a
    /// plain JWKS where the issuer's `feed.unsigned_jwks` is true (repeatable).
    #[arg(long = "keys", value_name = "FILE")]
    keys: Vec<PathBuf>,
    /// Token Status List `URI` (a `statuslist+jwt` whose `sub` is URI), read from FILE;
    /// split at the last `=` (repeatable).
    #[arg(long = "status-list", value_name = "URI=FILE", value_parser = parse_status_list_arg)]
    status_lists: Vec<(String, PathBuf)>,
    /// When the documents were fetched: RFC 3339 or integer Unix seconds (default: the
    /// decision time, `--now`). Staleness (`feed.max_stale_s`) counts from here.
    #[arg(long, value_name = "TIME")]
    fetched_at: Option<String>,
}

fn parse_status_list_arg(text: &str) -> Result<(String, PathBuf), String> {
    match text.rsplit_once('=') {
        Some((uri, file)) if !uri.is_empty() && !file.is_empty() => Ok((uri.to_owned(), PathBuf::from(file))),
        _ => Err(format!(
            "`{text}` is not URI=FILE (such as https://approvals.example.com/v1/status-lists/0=list0.jwt)"
        )),
    }
}

/// One document read from a file, with the issuer it is for.
pub struct Document {
    kind: DocumentKind,
    path: PathBuf,
    text: String,
    issuer: String,
    uri: Option<String>,
    /// The feed of `issuer` (where `jitgate run` serves the document).
    feed: FeedConfig,
}

impl Document {
    fn flag(&self) -> String {
        match (&self.kind, &self.uri) {
            (DocumentKind::StatusList, Some(uri)) => format!("--status-list {uri}={}", self.path.display()),
            (DocumentKind::Keys, _) => format!("--keys {}", self.path.display()),
            _ => format!("--revocations {}", self.path.display()),
        }
    }

    /// The feed path a filter fetches this document from.
    fn feed_path(&self) -> Option<&str> {
        match self.kind {
            DocumentKind::Revocations => Some(self.feed.revocations_path.as_str()),
            DocumentKind::Keys => self.feed.jwks_path.as_deref(),
            DocumentKind::StatusList => self
                .uri
                .as_deref()
                .and_then(|uri| self.feed.status_lists.get(uri))
                .map(String::as_str),
        }
    }
}

impl FeedArgs {
    /// Whether any document was given.
    pub fn is_empty(&self) -> bool {
        self.revocations.is_empty() && self.keys.is_empty() && self.status_lists.is_empty()
    }

    /// The time the documents count as fetched at, ns.
    pub fn fetched_at(&self, now_ns: i64) -> Result<i64> {
        match &self.fetched_at {
            Some(t) => files::parse_time(t).map_err(|e| anyhow!("`--fetched-at`: {e}")),
            None => Ok(now_ns),
        }
    }

    /// Reads every document and decides which issuer of `config` (read from
    /// `config_path`) it is for, in install order: key sets, revocation lists, status lists.
    pub fn load(&self, config: &Config, config_path: &Path) -> Result<Vec<Document>> {
        let feeds: Vec<(String, FeedConfig)> = config
            .issuers
            .iter()
            .filter_map(|i| i.feed.clone().map(|f| (i.issuer.clone(), f)))
            .collect();
        if !self.is_empty() && feeds.is_empty() {
            bail!(
                "`{}` gives no issuer a `feed`: live-trust documents (--revocations, --keys, --status-list) \
                 are installed only for issuers with `issuers[].feed`",
                config_path.display()
            );
        }
        let mut out = Vec::new();
        for (kind, path) in self
            .keys
            .iter()
            .map(|p| (DocumentKind::Keys, p))
            .chain(self.revocations.iter().map(|p| (DocumentKind::Revocations, p)))
        {
            let flag = if kind == DocumentKind::Keys {
                "--keys"
            } else {
                "--revocations"
            };
            let text = files::read_text(path).map_err(|e| anyhow!("`{flag}`: {e:#}"))?;
            let (issuer, feed) = by_iss(&feeds, &text, path, config_path)?;
            out.push(Document {
                kind,
                path: path.clone(),
                text,
                issuer,
                uri: None,
                feed,
            });
        }
        for (uri, path) in &self.status_lists {
            let text = files::read_text(path).map_err(|e| anyhow!("`--status-list {uri}=…`: {e:#}"))?;
            let owners: Vec<&(String, FeedConfig)> =
                feeds.iter().filter(|(_, f)| f.status_lists.contains_key(uri)).collect();
            let (issuer, feed) = match owners.as_slice() {
                [] => bail!(
                    "`--status-list {uri}={}`: no issuer's `feed.status_lists` in `{}` names `{uri}`",
                    path.display(),
                    config_path.display()
                ),
                [(issuer, feed)] => (issuer.clone(), feed.clone()),
                several => {
                    let iss = unverified_iss(&text);
                    match several.iter().find(|(i, _)| Some(i.as_str()) == iss.as_deref()) {
                        Some((issuer, feed)) => (issuer.clone(), feed.clone()),
                        None => bail!(
                            "`--status-list {uri}={}`: several issuers list `{uri}` in `feed.status_lists` and the \
                             document's `iss` names none of them",
                            path.display()
                        ),
                    }
                }
            };
            out.push(Document {
                kind: DocumentKind::StatusList,
                path: path.clone(),
                text,
                issuer,
                uri: Some(uri.clone()),
                feed,
            });
        }
        Ok(out)
    }
}

/// The `iss` claim of a compact JWS, unverified (`None` for a plain JWKS or garbage:
/// the core reports what is wrong with it).
fn unverified_iss(text: &str) -> Option<String> {
    let payload = text.trim().split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&b64url_decode(payload)?).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

fn by_iss(feeds: &[(String, FeedConfig)], text: &str, path: &Path, config_path: &Path) -> Result<(String, FeedConfig)> {
    let iss = unverified_iss(text);
    if let Some(found) = feeds.iter().find(|(i, _)| Some(i.as_str()) == iss.as_deref()) {
        return Ok(found.clone());
    }
    match feeds {
        [one] => Ok(one.clone()),
        _ => {
            let names: Vec<&str> = feeds.iter().map(|(i, _)| i.as_str()).collect();
            match iss {
                Some(iss) => bail!(
                    "`{}`: `iss` `{iss}` is none of the issuers with a `feed` in `{}` ({})",
                    path.display(),
                    config_path.display(),
                    names.join(", ")
                ),
                None => bail!(
                    "`{}` has no `iss`, and several issuers in `{}` have a `feed` ({}): cannot tell which it is for",
                    path.display(),
                    config_path.display(),
                    names.join(", ")
                ),
            }
        }
    }
}

/// What one install left in place, as JSON (`jitgate eval`'s `feed` member).
pub fn state_json(state: &FeedState) -> Value {
    json!({
        "kind": state.kind.as_str(),
        "issuer": state.issuer,
        "seq": state.seq,
        "issued_at": state.issued_at,
        "expires": state.expires,
        "entries": state.entries,
        "changed": state.changed,
    })
}

/// Installs `docs` into `gate` at `at_ns`; the summary of each, or an error naming the
/// file and why the gate refused it.
pub fn install(gate: &Gate, docs: &[Document], at_ns: i64) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for doc in docs {
        let result = match (doc.kind, &doc.uri) {
            (DocumentKind::Keys, _) => gate.install_keys(&doc.issuer, &doc.text, at_ns),
            (DocumentKind::StatusList, Some(uri)) => gate.install_status_list(&doc.issuer, uri, &doc.text, at_ns),
            _ => gate.install_revocations(&doc.issuer, &doc.text, at_ns),
        };
        let state = result.map_err(|e| anyhow!("`{}` (for `{}`): {e}", doc.flag(), doc.issuer))?;
        let mut summary = state_json(&state);
        summary["file"] = json!(doc.path.display().to_string());
        if let Some(uri) = &doc.uri {
            summary["uri"] = json!(uri);
        }
        out.push(summary);
    }
    Ok(out)
}

/// How many ticks `jitgate run` gives the filter to fetch the documents.
const MAX_TICKS: usize = 20;

/// `jitgate run`: whether the filter can be served every document — each needs a path
/// in its issuer's feed, and one document per path (checked before the filter loads).
pub fn check_servable(docs: &[Document]) -> Result<()> {
    let mut seen: Vec<(&str, &str, &str)> = Vec::new();
    for doc in docs {
        let Some(path) = doc.feed_path() else {
            bail!(
                "`{}`: the feed of `{}` has no `jwks_path`, so the filter never fetches a key set",
                doc.flag(),
                doc.issuer
            );
        };
        let at = (doc.feed.cluster.as_str(), doc.feed.authority.as_str(), path);
        if seen.contains(&at) {
            bail!(
                "`{}`: another document is already served at `{path}` of cluster `{}`",
                doc.flag(),
                doc.feed.cluster
            );
        }
        seen.push(at);
    }
    Ok(())
}

/// `jitgate run`: registers the feed clusters in `host` so the filter's own fetches
/// (`proxy_http_call` to `feed.cluster`, the paths of `feed`) are answered with the
/// documents; returns what to check with [`await_fetches`].
pub fn serve(host: &mut Host, docs: &[Document]) -> Result<Vec<(String, String, String)>> {
    check_servable(docs)?;
    // cluster → [(authority, path, body)]
    let mut clusters: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    let mut expected = Vec::new();
    for doc in docs {
        let Some(path) = doc.feed_path() else {
            continue; // checked above
        };
        let served = clusters.entry(doc.feed.cluster.clone()).or_default();
        served.push((doc.feed.authority.clone(), path.to_owned(), doc.text.clone()));
        expected.push((doc.feed.cluster.clone(), path.to_owned(), doc.flag()));
    }
    for (cluster, served) in clusters {
        host.upstream(cluster, move |call| {
            let path = call.headers.get(":path").unwrap_or_default();
            let authority = call.headers.get(":authority").unwrap_or_default();
            let hit = served
                .iter()
                .find(|(a, p, _)| p == path && a == authority)
                .or_else(|| served.iter().find(|(_, p, _)| p == path));
            match hit {
                Some((_, _, body)) => HttpCallReply::status(200)
                    .header("cache-control", "max-age=5")
                    .body(body.clone().into_bytes()),
                None => HttpCallReply::status(404).body("not found"),
            }
        });
    }
    Ok(expected)
}

/// Sets the host's clock to `at_ns`, then ticks the filter (at most [`MAX_TICKS`] times)
/// until it has fetched every expected document. A document it never fetched is an error.
pub fn await_fetches(host: &mut Host, expected: &[(String, String, String)]) -> Result<Vec<Value>> {
    let fetched = |host: &Host, cluster: &str, path: &str| {
        host.http_calls()
            .iter()
            .filter(|c| c.cluster == cluster && c.headers.get(":path") == Some(path))
            .count()
    };
    let mut ticks = 0;
    while ticks < MAX_TICKS
        && expected
            .iter()
            .any(|(cluster, path, _)| fetched(host, cluster, path) == 0)
    {
        if !host.tick().map_err(|e| anyhow!("filter: {e}"))? {
            break;
        }
        ticks += 1;
    }
    let mut out = Vec::new();
    for (cluster, path, flag) in expected {
        let n = fetched(host, cluster, path);
        if n == 0 {
            bail!(
                "`{flag}`: the filter did not fetch `{path}` from cluster `{cluster}` (after {ticks} ticks): \
                 this filter build may not fetch live-trust feeds"
            );
        }
        out.push(json!({"file": flag, "cluster": cluster, "path": path, "fetches": n}));
    }
    Ok(out)
}

/// Steps the host's wall clock to `at_ns`.
pub fn set_clock(host: &mut Host, at_ns: i64) {
    host.set_time(UNIX_EPOCH + Duration::from_nanos(u64::try_from(at_ns).unwrap_or(0)));
}
