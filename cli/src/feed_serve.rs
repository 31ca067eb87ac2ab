//! `jitgate run` with live-trust documents: the filter in the harness fetches them
//! (`proxy_http_call`) as it would from an issuer's feed, and this module answers
//! those calls with the documents read by [`crate::feed`].

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{anyhow, bail, Result};
use jitgate_harness::{Host, HttpCallReply};
use serde_json::{json, Value};

use crate::feed::Document;

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
