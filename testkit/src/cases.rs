//! The case format: one file type for the shared decision vectors and the
//! `*.scenarios.json` files (see the crate's README), read into typed cases.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jitgate_core::{Request, RequestError, TokenConfig};
use jitgate_mint::SigningKey;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::{Decider, Observed};

/// Signing keys by `kid` (TEST-ONLY keys from a case file).
pub type Keyring = BTreeMap<String, SigningKey>;

/// Why a case file could not be read. The message names the file's field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CaseError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, CaseError> {
    Err(CaseError(message.into()))
}

/// A case file, read: the configuration (with its policy files and issuer keys in),
/// the signing keys and the cases, tokens signed.
#[derive(Debug, Clone)]
pub struct CaseFile {
    /// What the file is about.
    pub description: Option<String>,
    /// The plugin configuration (DESIGN §6) every case is decided with.
    pub config: Value,
    /// Where tokens travel: the configuration's `token` (the core's type and defaults).
    pub token: TokenConfig,
    /// The signing keys (TEST-ONLY).
    pub keys: Keyring,
    /// The cases, in file order.
    pub cases: Vec<Case>,
}

/// One case: a request at a time, with the decision every host must reach.
#[derive(Debug, Clone)]
pub struct Case {
    /// What the case is about (unique names are the runners' test names).
    pub name: String,
    /// The line of the file the case's `name` is on (1-based; 0 when not found).
    pub line: u32,
    /// The decision time, ns since the epoch.
    pub now_ns: i64,
    /// The token to send, if any, signed from the case's `token`.
    pub token: Option<String>,
    /// The request as the file writes it (the core's request JSON, without the token).
    pub request: Value,
    /// What every host must decide.
    pub expect: Expect,
}

/// What a case expects.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Whether the request goes upstream (checked when given).
    #[serde(default)]
    pub allow: Option<bool>,
    /// The decision's HTTP status.
    pub status: u16,
    /// The decision's reason code (DESIGN §5).
    pub reason: String,
    /// The policy's own reason: absent = not checked, `null` = none expected.
    #[serde(default, deserialize_with = "present")]
    pub policy_reason: Option<Option<String>>,
    /// Headers the upstream must receive with these values (the request is forwarded).
    #[serde(default)]
    pub upstream_headers: Option<BTreeMap<String, String>>,
    /// Headers the upstream must not receive.
    #[serde(default)]
    pub absent_upstream_headers: Vec<String>,
}

/// A member given as `null` is `Some(None)`; an absent one (serde's default) `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl Expect {
    /// What differs between `got` and this expectation, one line per difference
    /// (empty when the host decided as expected).
    pub fn mismatches(&self, got: &Observed) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(allow) = self.allow {
            if allow != got.allow {
                out.push(format!("allow: want {allow}, got {}", got.allow));
            }
        }
        if self.status != got.status {
            out.push(format!(
                "status: want {}, got {} ({})",
                self.status, got.status, got.reason
            ));
        }
        if self.reason != got.reason {
            out.push(format!("reason: want `{}`, got `{}`", self.reason, got.reason));
        }
        if let Some(want) = &self.policy_reason {
            if want != &got.policy_reason {
                out.push(format!("policy_reason: want {want:?}, got {:?}", got.policy_reason));
            }
        }
        // Every value the upstream received for a name: a leftover client value beside
        // the one jitgate set is a mismatch, not hidden by the last one.
        let mut upstream: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (name, value) in got.upstream.iter().flatten() {
            upstream
                .entry(name.to_ascii_lowercase())
                .or_default()
                .push(value.as_str());
        }
        if let Some(want) = &self.upstream_headers {
            if got.upstream.is_none() {
                out.push("upstream_headers: the request was not forwarded".into());
            }
            for (name, value) in want {
                let name = name.to_ascii_lowercase();
                match upstream.get(&name).map(Vec::as_slice) {
                    Some([have]) if have == value => {}
                    have => out.push(format!("upstream header `{name}`: want {value:?}, got {have:?}")),
                }
            }
        }
        for name in &self.absent_upstream_headers {
            let name = name.to_ascii_lowercase();
            if let Some(have) = upstream.get(&name) {
                out.push(format!("upstream header `{name}` should be absent, is {have:?}"));
            }
        }
        out
    }
}

impl Case {
    /// Runs this case through `host`: what differs from the expectation, one line
    /// each (empty when it decided as expected); an error when the case's request
    /// cannot be read or the host failed.
    pub fn check(&self, host: &mut dyn Decider, token: &TokenConfig) -> Result<Vec<String>, String> {
        let request = self.request(token).map_err(|e| format!("request: {e}"))?;
        let observed = host.decide(&request, self.now_ns)?;
        Ok(self.expect.mismatches(&observed))
    }

    /// The core request, with the token (if any) placed as `token` says: in its header
    /// (replacing any the file wrote), after its prefix.
    pub fn request(&self, token: &TokenConfig) -> Result<Request, RequestError> {
        let mut request = Request::from_json(self.request.clone())?;
        if let Some(value) = &self.token {
            place_token(&mut request, token, value);
        }
        Ok(request)
    }
}

/// Puts `token` into `request` where `config` says it travels: the header's earlier
/// values removed, the prefix before the token.
pub fn place_token(request: &mut Request, config: &TokenConfig, token: &str) {
    request
        .headers
        .retain(|(name, _)| !name.eq_ignore_ascii_case(&config.header));
    request
        .headers
        .push((config.header.to_ascii_lowercase(), format!("{}{token}", config.prefix)));
}

// --- the file format ------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    policy_files: Vec<String>,
    config: Value,
    #[serde(default)]
    keys: Vec<KeySpec>,
    cases: Vec<CaseSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeySpec {
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    jwk: Option<Value>,
    #[serde(default)]
    jwk_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSpec {
    name: String,
    now: Value,
    #[serde(default)]
    token: Option<TokenSpec>,
    request: Value,
    expect: Expect,
}

/// `{"raw"}` or `{"key", "header"?, "claims"}` (a `null` token is `None` above).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenSpec {
    #[serde(default)]
    raw: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    header: Option<Map<String, Value>>,
    #[serde(default)]
    claims: Option<Value>,
}

impl CaseFile {
    /// Reads a case file from text. `policy_files` and `jwk_file` need the file's
    /// directory: use [`CaseFile::load`] for files that name others.
    pub fn from_json(text: &str) -> Result<Self, CaseError> {
        Self::parse(text, None)
    }

    /// Reads the case file at `path`; `policy_files` and `jwk_file` are relative to it.
    pub fn load(path: &Path) -> Result<Self, CaseError> {
        let text = std::fs::read_to_string(path).map_err(|e| CaseError(format!("cannot read: {e}")))?;
        Self::parse(&text, Some(path.parent().unwrap_or(Path::new("."))))
    }

    /// Reads a case file from text whose `policy_files` and `jwk_file` are relative
    /// to `dir` (for files compiled in with `include_str!`).
    pub fn from_json_in(text: &str, dir: &Path) -> Result<Self, CaseError> {
        Self::parse(text, Some(dir))
    }

    fn parse(text: &str, dir: Option<&Path>) -> Result<Self, CaseError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let spec: FileSpec = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                CaseError(inner.to_string())
            } else {
                CaseError(format!("`{path}`: {inner}"))
            }
        })?;
        let mut config = spec.config;
        let read = |name: &str, field: &str| -> Result<(PathBuf, String), CaseError> {
            let Some(dir) = dir else {
                return fail(format!(
                    "`{field}`: the file's directory is unknown (read it with CaseFile::load)"
                ));
            };
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .map(|text| (path.clone(), text))
                .map_err(|e| CaseError(format!("`{field}`: cannot read `{}`: {e}", path.display())))
        };
        for (i, name) in spec.policy_files.iter().enumerate() {
            let (_, source) = read(name, &format!("policy_files[{i}]"))?;
            let module = name.rsplit('/').next().unwrap_or(name).to_owned();
            member(&mut config, &["policy", "modules"], "config")?.insert(module, Value::String(source));
        }
        let mut keys = Keyring::new();
        for (i, entry) in spec.keys.into_iter().enumerate() {
            let at = format!("keys[{i}]");
            let jwk = match (entry.jwk, entry.jwk_file) {
                (Some(jwk), None) => jwk,
                (None, Some(file)) => {
                    let (path, text) = read(&file, &format!("{at}.jwk_file"))?;
                    serde_json::from_str(&text)
                        .map_err(|e| CaseError(format!("`{at}.jwk_file`: `{}`: {e}", path.display())))?
                }
                _ => return fail(format!("`{at}`: give exactly one of `jwk` or `jwk_file`")),
            };
            let key = SigningKey::from_jwk(&jwk).map_err(|e| CaseError(format!("`{at}`: {e}")))?;
            let kid = match (entry.kid, jwk.get("kid").and_then(Value::as_str)) {
                (Some(kid), Some(inner)) if kid != inner => {
                    return fail(format!("`{at}.kid`: `{kid}` differs from the JWK's `{inner}`"))
                }
                (Some(kid), _) => kid,
                (None, Some(inner)) => inner.to_owned(),
                (None, None) => return fail(format!("`{at}`: `kid` is required (the JWK has none)")),
            };
            if let Some(issuer) = entry.issuer {
                trust_key(&mut config, &issuer, key.public_jwk(&kid))
                    .map_err(|e| CaseError(format!("`{at}`: {}", e.0)))?;
            }
            if keys.insert(kid.clone(), key).is_some() {
                return fail(format!("`{at}.kid`: `{kid}` is given twice"));
            }
        }
        let token: TokenConfig = match config.get("token") {
            None => TokenConfig::default(),
            Some(value) => serde_path_to_error::deserialize(value.clone())
                .map_err(|e| CaseError(format!("`config.token.{}`: {}", e.path(), e.inner())))?,
        };
        let mut cases = Vec::with_capacity(spec.cases.len());
        for (i, case) in spec.cases.into_iter().enumerate() {
            let at = format!("cases[{i}]");
            let now_ns = time_ns(&case.now)
                .ok_or_else(|| CaseError(format!("`{at}.now`: not RFC 3339 text or integer Unix seconds")))?;
            let token = match case.token {
                None => None,
                Some(spec) => Some(sign(spec, &keys).map_err(|e| CaseError(format!("`{at}.token`: {}", e.0)))?),
            };
            cases.push(Case {
                line: line_of(text, &case.name),
                name: case.name,
                now_ns,
                token,
                request: case.request,
                expect: case.expect,
            });
        }
        Ok(Self {
            description: spec.description,
            config,
            token,
            keys,
            cases,
        })
    }
}

/// The object at `path` inside `root` (created empty where missing).
fn member<'a>(root: &'a mut Value, path: &[&str], name: &str) -> Result<&'a mut Map<String, Value>, CaseError> {
    let mut at = name.to_owned();
    let mut here = root
        .as_object_mut()
        .ok_or_else(|| CaseError(format!("`{at}` must be an object")))?;
    for part in path {
        at = format!("{at}.{part}");
        here = here
            .entry(*part)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .ok_or_else(|| CaseError(format!("`{at}` must be an object")))?;
    }
    Ok(here)
}

/// Adds `jwk` to the `jwks.keys` of the configured issuer `issuer`.
fn trust_key(config: &mut Value, issuer: &str, jwk: Value) -> Result<(), CaseError> {
    let issuers = config
        .get_mut("issuers")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| CaseError("`config.issuers` is missing".into()))?;
    let entry = issuers
        .iter_mut()
        .find(|i| i.get("issuer").and_then(Value::as_str) == Some(issuer))
        .ok_or_else(|| CaseError(format!("no issuer `{issuer}` in `config.issuers`")))?;
    let jwks = member(entry, &["jwks"], "the issuer entry")?;
    jwks.entry("keys")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .ok_or_else(|| CaseError(format!("issuer `{issuer}`: `jwks.keys` must be an array")))?
        .push(jwk);
    Ok(())
}

fn sign(spec: TokenSpec, keys: &Keyring) -> Result<String, CaseError> {
    match spec {
        TokenSpec {
            raw: Some(raw),
            key: None,
            header: None,
            claims: None,
        } => Ok(raw),
        TokenSpec {
            raw: None,
            key: Some(kid),
            header,
            claims: Some(mut claims),
        } => {
            let key = keys
                .get(&kid)
                .ok_or_else(|| CaseError(format!("`key`: no key `{kid}` in `keys`")))?;
            jitgate_mint::normalize_claim_times(&mut claims).map_err(|e| CaseError(e.0))?;
            let mut signed = jitgate_mint::approval_header(key, &kid);
            for (name, value) in header.unwrap_or_default() {
                if value.is_null() {
                    signed.remove(&name);
                } else {
                    signed.insert(name, value);
                }
            }
            Ok(jitgate_mint::sign(&signed, &claims, key))
        }
        _ => fail("give `raw` alone, or `key` and `claims` (with `header` optionally)"),
    }
}

/// RFC 3339 text or integer Unix seconds, as ns since the epoch.
fn time_ns(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().and_then(|s| s.checked_mul(1_000_000_000)),
        Value::String(text) => jitgate_core::parse_time_ns(text),
        _ => None,
    }
}

fn line_of(text: &str, name: &str) -> u32 {
    let needle = format!("\"name\": {}", Value::String(name.to_owned()));
    text.lines()
        .position(|l| l.contains(&needle))
        .map_or(0, |i| u32::try_from(i + 1).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
      "config": {"issuers": [{"issuer": "i", "audience": "a"}], "token": {"header": "Authorization", "prefix": "Bearer "}},
      "keys": [{"issuer": "i", "jwk": JWK}],
      "cases": [
        {"name": "one", "now": 1700000000, "token": {"key": "k1", "claims": {"exp": "2023-11-14T23:13:20Z"}},
         "request": {"method": "GET", "path": "/"},
         "expect": {"status": 200, "reason": "allowed", "policy_reason": null}}
      ]
    }"#;

    fn sample() -> String {
        let key = SigningKey::from_secret(jitgate_core::Algorithm::EdDsa, &[7; 32]).unwrap();
        SAMPLE.replace("JWK", &key.private_jwk("k1").to_string())
    }

    #[test]
    fn reads_keys_into_the_issuer_and_places_the_token() {
        let file = CaseFile::from_json(&sample()).unwrap();
        assert_eq!(file.config["issuers"][0]["jwks"]["keys"][0]["kid"], "k1");
        assert!(file.config["issuers"][0]["jwks"]["keys"][0].get("d").is_none());
        let case = &file.cases[0];
        assert_eq!((case.now_ns, case.line), (1_700_000_000_000_000_000, 5));
        assert_eq!(case.expect.policy_reason, Some(None));
        let request = case.request(&file.token).unwrap();
        let (name, value) = request.headers.last().unwrap();
        assert_eq!(name, "authorization");
        assert!(value.starts_with("Bearer ey"), "{value}");
        let payload = value.split('.').nth(1).unwrap();
        let claims = jitgate_core::unstable::jws::b64url_decode(payload).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&claims).unwrap()["exp"], 1_700_003_600);
    }

    #[test]
    fn errors_name_the_field() {
        let text = sample();
        for (from, to, want) in [
            ("\"status\": 200", "\"status\": \"200\"", "`cases[0].expect.status`"),
            (
                "\"reason\": \"allowed\"",
                "\"reason\": \"allowed\", \"statuss\": 1",
                "`cases[0].expect.statuss`: unknown field `statuss`",
            ),
            ("\"now\": 1700000000", "\"now\": true", "`cases[0].now`"),
            (
                "\"key\": \"k1\"",
                "\"key\": \"k2\"",
                "`cases[0].token`: `key`: no key `k2`",
            ),
            ("\"cases\"", "\"scenarios\"", "unknown field `scenarios`"),
            (
                "{\"issuer\": \"i\", \"jwk\"",
                "{\"issuer\": \"j\", \"jwk\"",
                "`keys[0]`: no issuer `j`",
            ),
        ] {
            let err = CaseFile::from_json(&text.replacen(from, to, 1)).unwrap_err().0;
            assert!(err.contains(want), "{from} → {to}: {err}");
        }
    }

    #[test]
    fn mismatches_say_what_differs() {
        let expect = Expect {
            allow: Some(true),
            status: 200,
            reason: "allowed".into(),
            policy_reason: Some(None),
            upstream_headers: Some(BTreeMap::from([("X-Jit-Subject".into(), "alice".into())])),
            absent_upstream_headers: vec!["x-jit-approval".into()],
        };
        let mut got = Observed {
            allow: true,
            status: 200,
            reason: "allowed".into(),
            policy_reason: None,
            upstream: Some(vec![("x-jit-subject".into(), "alice".into())]),
        };
        assert!(expect.mismatches(&got).is_empty());
        // A client's own value left beside the one jitgate set is not hidden.
        got.upstream = Some(vec![
            ("x-jit-subject".into(), "mallory".into()),
            ("X-Jit-Subject".into(), "alice".into()),
        ]);
        assert_eq!(expect.mismatches(&got).len(), 1, "{:?}", expect.mismatches(&got));
        got.policy_reason = Some("because".into());
        got.upstream = Some(vec![("x-jit-approval".into(), "t".into())]);
        let lines = expect.mismatches(&got);
        assert_eq!(lines.len(), 3, "{lines:?}");
        got.upstream = None;
        got.allow = false;
        assert!(expect.mismatches(&got).iter().any(|l| l.contains("not forwarded")));
        assert!(expect.mismatches(&got).iter().any(|l| l.starts_with("allow:")));
    }
}
