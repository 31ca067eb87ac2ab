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

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use clap::Args;
use jitgate_core::unstable::jws::b64url_decode;
use jitgate_core::{Config, DocumentKind, FeedConfig, FeedState, Gate};
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
    /// Revocation list, status list or key set.
    pub kind: DocumentKind,
    /// The file it was read from.
    pub path: PathBuf,
    /// The signed document.
    pub text: String,
    /// The configured issuer it is for.
    pub issuer: String,
    /// The status list's URI (status lists only).
    pub uri: Option<String>,
    /// The feed of `issuer` (where `jitgate run` serves the document).
    #[cfg_attr(not(feature = "harness"), allow(dead_code))] // read by `jitgate run`
    pub feed: FeedConfig,
}

impl Document {
    /// The command-line flag the document came in with.
    pub fn flag(&self) -> String {
        match (&self.kind, &self.uri) {
            (DocumentKind::StatusList, Some(uri)) => format!("--status-list {uri}={}", self.path.display()),
            (DocumentKind::Keys, _) => format!("--keys {}", self.path.display()),
            _ => format!("--revocations {}", self.path.display()),
        }
    }

    /// The feed path a filter fetches this document from.
    /// The path its issuer's feed serves it at.
    #[cfg_attr(not(feature = "harness"), allow(dead_code))] // read by `jitgate run`
    pub fn feed_path(&self) -> Option<&str> {
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
