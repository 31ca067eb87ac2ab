//! Scenario files (`*.scenarios.json`): a configuration, signing keys and requests at
//! given times with the decisions expected — run through the compiled filter in the
//! harness (or, without a filter `.wasm`, through the native core).
//!
//! ```json
//! { "description": "…", "policy_files": ["jit.rego"],
//!   "config": { …DESIGN §6, `policy.modules` filled from policy_files… },
//!   "keys": [ { "issuer": "https://approvals.example.com", "jwk": { …TEST-ONLY private JWK… } | "jwk_file": "k.jwk" } ],
//!   "scenarios": [ { "name": "…", "now": "2026-11-26T10:59:00Z",
//!                    "token": null | {"raw": "…"} | {"key": "kid", "header": {…}?, "claims": {…}},
//!                    "request": {"method", "path", "headers", "source"},
//!                    "expect": {"status", "reason", "policy_reason"?, "upstream_headers"?, "absent_upstream_headers"?} } ] }
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, bail, Context as _, Result};
use jitgate_core::mint::{mint_spec, Keyring, SigningKey};
use jitgate_core::{Action, Gate, Request};
use jitgate_harness::jitgate::{envoy_request, last_audit};
use jitgate_harness::{FilterModule, Host, Outcome};
use regex::Regex;
use serde_json::{json, Value};

use crate::files;
use crate::report::{Kind, Status, TestCase};

/// Where scenarios run.
pub enum Engine {
    /// The compiled filter in the wasmtime harness, as Envoy runs it.
    Filter(FilterModule),
    /// The native core (when no filter `.wasm` is available).
    Native,
}

/// What a scenario observed.
struct Observed {
    status: u16,
    reason: String,
    policy_reason: Option<String>,
    /// The request headers sent upstream, when it was forwarded.
    upstream: Option<Vec<(String, String)>>,
}

/// A scenario file, loaded and ready: the configuration with keys and policies in.
pub struct ScenarioFile {
    config: Value,
    keys: Keyring,
    scenarios: Vec<Value>,
    text: String,
}

/// Reads and checks a scenario file. Any fault is a file error naming the field.
pub fn load(path: &Path) -> Result<ScenarioFile> {
    let text = files::read_text(path)?;
    let doc: Value = serde_json::from_str(&text).with_context(|| format!("`{}` is not valid JSON", path.display()))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| anyhow!("`{}`: must be a JSON object", path.display()))?;
    const FIELDS: [&str; 5] = ["description", "policy_files", "config", "keys", "scenarios"];
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        bail!(
            "`{}`: unknown field `{unknown}` (expected one of {})",
            path.display(),
            FIELDS.join(", ")
        );
    }
    let mut config = obj
        .get("config")
        .cloned()
        .ok_or_else(|| anyhow!("`{}`: `config` is required", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    for (i, file) in obj
        .get("policy_files")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = file
            .as_str()
            .ok_or_else(|| anyhow!("`{}`: `policy_files[{i}]` must be a string", path.display()))?;
        let source = std::fs::read_to_string(dir.join(name)).map_err(|e| {
            anyhow!(
                "`{}`: `policy_files[{i}]`: cannot read `{}`: {e}",
                path.display(),
                dir.join(name).display()
            )
        })?;
        let policy = config
            .as_object_mut()
            .ok_or_else(|| anyhow!("`{}`: `config` must be an object", path.display()))?
            .entry("policy")
            .or_insert_with(|| json!({}));
        let modules = policy
            .as_object_mut()
            .ok_or_else(|| anyhow!("`{}`: `config.policy` must be an object", path.display()))?
            .entry("modules")
            .or_insert_with(|| json!({}));
        modules
            .as_object_mut()
            .ok_or_else(|| anyhow!("`{}`: `config.policy.modules` must be an object", path.display()))?
            .insert(
                name.rsplit('/').next().unwrap_or(name).to_owned(),
                Value::String(source),
            );
    }
    let mut keys = Keyring::new();
    for (i, entry) in obj
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("`{}`: `keys[{i}]`", path.display());
        // The private JWK inline (`jwk`) or in a file next to the scenario file (`jwk_file`).
        let from_file;
        let jwk = match (entry.get("jwk"), entry.get("jwk_file").and_then(Value::as_str)) {
            (Some(jwk), None) => jwk,
            (None, Some(file)) => {
                from_file = files::read_json(&dir.join(file)).map_err(|e| anyhow!("{at}: `jwk_file`: {e:#}"))?;
                &from_file
            }
            _ => bail!("{at}: give exactly one of `jwk` or `jwk_file`"),
        };
        let key = SigningKey::from_jwk(jwk).map_err(|e| anyhow!("{at}: {e}"))?;
        let kid = jwk
            .get("kid")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("{at}: the JWK has no `kid`"))?;
        let issuer = entry
            .get("issuer")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("{at}: `issuer` is required"))?;
        let issuers = config
            .get_mut("issuers")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| anyhow!("{at}: `config.issuers` is missing"))?;
        let target = issuers
            .iter_mut()
            .find(|i| i.get("issuer").and_then(Value::as_str) == Some(issuer))
            .ok_or_else(|| anyhow!("{at}: no issuer `{issuer}` in `config.issuers`"))?;
        let set = target
            .as_object_mut()
            .ok_or_else(|| anyhow!("{at}: issuer entry is not an object"))?;
        let jwks = set.entry("jwks").or_insert_with(|| json!({"keys": []}));
        jwks.get_mut("keys")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| anyhow!("{at}: issuer `{issuer}` has no `jwks.keys` array"))?
            .push(key.public_jwk(kid));
        keys.insert(kid.to_owned(), key);
    }
    let scenarios = obj
        .get("scenarios")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| anyhow!("`{}`: `scenarios` must be an array", path.display()))?;
    Ok(ScenarioFile {
        config,
        keys,
        scenarios,
        text,
    })
}

/// Runs every scenario of the file at `path` (those whose name matches `select`).
pub fn run(path: &Path, engine: &Engine, select: Option<&Regex>) -> Result<Vec<TestCase>> {
    let file = load(path)?;
    let config_text = file.config.to_string();
    let (header, prefix) = token_place(&file.config);
    let mut target = match engine {
        Engine::Native => Target::Native(Box::new(
            Gate::new(&config_text).map_err(|e| anyhow!("`{}`: config: {e}", path.display()))?,
        )),
        Engine::Filter(module) => {
            let mut host = Host::new(module).map_err(|e| anyhow!("`{}`: {e}", path.display()))?;
            host.configure(&config_text)
                .map_err(|e| anyhow!("`{}`: the filter refused the configuration: {e}", path.display()))?;
            Target::Filter(Box::new(host))
        }
    };
    let mut cases = Vec::new();
    for (i, scenario) in file.scenarios.iter().enumerate() {
        let name = scenario
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("scenarios[{i}]"), str::to_owned);
        if select.is_some_and(|re| !re.is_match(&name)) {
            continue;
        }
        let started = Instant::now();
        let status = match run_one(scenario, &file.keys, &header, &prefix, &mut target) {
            Ok(failures) if failures.is_empty() => Status::Pass,
            Ok(failures) => Status::Fail(failures.join("; ")),
            Err(e) => Status::Error(format!("{e:#}")),
        };
        cases.push(TestCase {
            kind: Kind::Scenario,
            file: path.display().to_string(),
            line: line_of(&file.text, &name),
            suite: path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .trim_end_matches(".json")
                .to_owned(),
            name,
            status,
            duration: started.elapsed(),
        });
    }
    Ok(cases)
}

enum Target {
    Native(Box<Gate>),
    Filter(Box<Host>),
}

fn token_place(config: &Value) -> (String, String) {
    let token = config.get("token");
    let header = token
        .and_then(|t| t.get("header"))
        .and_then(Value::as_str)
        .unwrap_or("x-jit-approval");
    let prefix = token
        .and_then(|t| t.get("prefix"))
        .and_then(Value::as_str)
        .unwrap_or("");
    (header.to_ascii_lowercase(), prefix.to_owned())
}

fn line_of(text: &str, name: &str) -> u32 {
    let needle = format!("\"name\": {}", Value::String(name.to_owned()));
    text.lines()
        .position(|l| l.contains(&needle))
        .map_or(0, |i| u32::try_from(i + 1).unwrap_or(0))
}

fn time_of(v: Option<&Value>) -> Result<i64> {
    match v {
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|s| s.checked_mul(1_000_000_000))
            .ok_or_else(|| anyhow!("`now` is out of range")),
        Some(Value::String(s)) => files::parse_time(s),
        _ => bail!("`now` is required (RFC 3339 or Unix seconds)"),
    }
}

fn run_one(scenario: &Value, keys: &Keyring, header: &str, prefix: &str, target: &mut Target) -> Result<Vec<String>> {
    let now = time_of(scenario.get("now"))?;
    let mut request = Request::from_json(
        scenario
            .get("request")
            .cloned()
            .unwrap_or_else(|| json!({"method": "GET", "path": "/"})),
    )
    .map_err(|e| anyhow!("{e}"))?;
    if let Some(token) =
        mint_spec(scenario.get("token").unwrap_or(&Value::Null), keys).map_err(|e| anyhow!("token: {e}"))?
    {
        request.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(header));
        request.headers.push((header.to_owned(), format!("{prefix}{token}")));
    }
    let observed = match target {
        Target::Native(gate) => native(gate, &request, now),
        Target::Filter(host) => filter(host, &request, now)?,
    };
    Ok(compare(scenario.get("expect").unwrap_or(&Value::Null), &observed))
}

fn native(gate: &Gate, request: &Request, now: i64) -> Observed {
    let d = gate.decide(request, now);
    let upstream = match &d.action {
        Action::Forward(f) => {
            let mut headers: Vec<(String, String)> = request
                .headers
                .iter()
                .filter(|(n, _)| !f.remove_headers.iter().any(|r| r.eq_ignore_ascii_case(n)))
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect();
            for (n, v) in &f.add_headers {
                headers.retain(|(h, _)| h != n);
                headers.push((n.clone(), v.clone()));
            }
            Some(headers)
        }
        Action::Respond(_) => None,
    };
    Observed {
        status: d.status,
        reason: d.reason.code().to_owned(),
        policy_reason: d.policy_reason,
        upstream,
    }
}

fn filter(host: &mut Host, request: &Request, now: i64) -> Result<Observed> {
    let outcome = host
        .request(envoy_request(request, now))
        .map_err(|e| anyhow!("filter: {e}"))?;
    let audit = last_audit(host).ok_or_else(|| anyhow!("the filter logged no audit record"))?;
    let upstream = match &outcome {
        Outcome::Forwarded { headers, .. } => Some(
            headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
                .collect(),
        ),
        _ => None,
    };
    // The decision's status: the local response's, or the audit's (dry run forwards denials).
    let status = audit
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(0);
    if let Outcome::LocalResponse { status: sent, .. } = &outcome {
        if u32::from(status) != *sent {
            bail!("local response status {sent} differs from the audit record's {status}");
        }
    }
    Ok(Observed {
        status,
        reason: audit
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        policy_reason: audit.get("policy_reason").and_then(Value::as_str).map(str::to_owned),
        upstream,
    })
}

fn compare(expect: &Value, got: &Observed) -> Vec<String> {
    let mut failures = Vec::new();
    if let Some(status) = expect.get("status").and_then(Value::as_u64) {
        if status != u64::from(got.status) {
            failures.push(format!("status: want {status}, got {} ({})", got.status, got.reason));
        }
    }
    if let Some(reason) = expect.get("reason").and_then(Value::as_str) {
        if reason != got.reason {
            failures.push(format!("reason: want `{reason}`, got `{}`", got.reason));
        }
    }
    if let Some(want) = expect.get("policy_reason") {
        let want = want.as_str();
        if want != got.policy_reason.as_deref() {
            failures.push(format!("policy_reason: want {want:?}, got {:?}", got.policy_reason));
        }
    }
    let upstream: BTreeMap<&str, &str> = got
        .upstream
        .iter()
        .flatten()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    if let Some(want) = expect.get("upstream_headers").and_then(Value::as_object) {
        if got.upstream.is_none() {
            failures.push("upstream_headers: the request was not forwarded".into());
        }
        for (name, value) in want {
            let name = name.to_ascii_lowercase();
            match (upstream.get(name.as_str()), value.as_str()) {
                (Some(have), Some(want)) if have == &want => {}
                (have, want) => failures.push(format!("upstream header `{name}`: want {want:?}, got {have:?}")),
            }
        }
    }
    for name in expect
        .get("absent_upstream_headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = name.as_str().unwrap_or_default().to_ascii_lowercase();
        if let Some(have) = upstream.get(name.as_str()) {
            failures.push(format!("upstream header `{name}` should be absent, is `{have}`"));
        }
    }
    failures
}
