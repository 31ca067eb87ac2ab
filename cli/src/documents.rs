//! `jitgate token revocations|status-list|key-set sign|inspect`: make and read the
//! live-trust documents an issuer publishes (docs/live-trust.md), for tests and
//! operators.
//!
//! `sign` prints one compact JWS with the header `{alg, typ, kid}` of the key file.
//! Claims come from `--claims FILE` (JSON; `iat`/`exp` may be RFC 3339), overridden by
//! the flags; `iat` defaults to now and `exp` to `iat + --ttl` (default 1 h).
//! `inspect` shows a document WITHOUT verifying it, unless `--config` is given: then
//! a fresh gate of that configuration installs it at `--now`, exactly as a gate would,
//! and the command exits 1 when the gate refuses it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use jitgate_core::unstable::jws::{b64url_decode, CompactJws};
use jitgate_core::{rfc3339_from_ns, rfc3339_from_secs};
use jitgate_core::{KEY_SET_TYPE, MAX_DOCUMENT_BYTES, MAX_STATUS_LIST_BYTES, REVOCATIONS_TYPE, STATUS_LIST_TYPE};
use jitgate_mint::{self as mint, SigningKey};
use serde_json::{json, Map, Value};

use crate::feed::state_json;
use crate::files;
use crate::token::{now_secs, parse_duration};
use crate::Failure;

/// `jitgate token revocations …`.
#[derive(Subcommand)]
pub enum RevocationsCommand {
    /// Sign a revocation list (`typ: jit-revocations+jwt`: `iss`, `iat`, `exp`, `seq`, `revoked`).
    Sign(RevocationsSignArgs),
    /// Show a revocation list's header and claims (verified only with `--config`).
    Inspect(InspectArgs),
}

/// `jitgate token status-list …`.
#[derive(Subcommand)]
pub enum StatusListCommand {
    /// Sign a Token Status List (`typ: statuslist+jwt`, draft-ietf-oauth-status-list).
    Sign(StatusListSignArgs),
    /// Show a status list's claims and its non-VALID entries (verified only with `--config`).
    Inspect(InspectArgs),
}

/// `jitgate token key-set …`.
#[derive(Subcommand)]
pub enum KeySetCommand {
    /// Sign a key set (`typ: jwk-set+jwt`) with a key the gates trust now, to announce a rotation.
    Sign(KeySetSignArgs),
    /// Show a key set's claims and key ids (verified only with `--config`).
    Inspect(InspectArgs),
}

/// What every `sign` takes.
#[derive(Args)]
pub struct CommonSign {
    /// Private JWK of the signing key (one of the issuer's keys).
    #[arg(long, value_name = "KEY.jwk")]
    key: PathBuf,
    /// Claims file (JSON; `iat`/`exp` may be RFC 3339). Flags override it.
    #[arg(long, value_name = "CLAIMS.json")]
    claims: Option<PathBuf>,
    /// `iss`: the issuer, as the gates' configuration names it.
    #[arg(long)]
    iss: Option<String>,
    /// `iat`: RFC 3339 or Unix seconds (default: the claims file's, else now).
    #[arg(long, value_name = "TIME")]
    issued_at: Option<String>,
    /// Validity, `exp - iat`: seconds, or with a unit (`90s`, `15m`, `1h`, `2d`); default 1h
    /// (unless the claims file has `exp`).
    #[arg(long, value_name = "DURATION")]
    ttl: Option<String>,
}

/// Arguments of `jitgate token revocations sign`.
#[derive(Args)]
pub struct RevocationsSignArgs {
    #[command(flatten)]
    common: CommonSign,
    /// `seq`: the list's sequence number; each new list must have a higher one (or the
    /// same one, issued later). Required unless the claims file has it.
    #[arg(long)]
    seq: Option<u64>,
    /// A revoked approval id (`jti`); repeat.
    #[arg(long = "revoked", value_name = "JTI")]
    revoked: Vec<String>,
    /// A file of revoked ids: a JSON array of strings, or one id per line (`#` comments).
    #[arg(long, value_name = "FILE")]
    revoked_file: Option<PathBuf>,
}

/// Arguments of `jitgate token status-list sign`.
#[derive(Args)]
pub struct StatusListSignArgs {
    #[command(flatten)]
    common: CommonSign,
    /// `sub`: the list's URI, as tokens name it in `status.status_list.uri`.
    #[arg(long)]
    uri: String,
    /// Bits per entry: 1, 2, 4 or 8.
    #[arg(long, default_value_t = 1)]
    bits: u8,
    /// Entries in the list (every one VALID unless set below).
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// An entry whose status is 1 (INVALID: revoked); repeat.
    #[arg(long = "revoked", value_name = "IDX")]
    revoked: Vec<usize>,
    /// An entry's status, `IDX=VALUE` (such as `7=2`, SUSPENDED); repeat.
    #[arg(long = "status", value_name = "IDX=VALUE", value_parser = parse_status)]
    statuses: Vec<(usize, u8)>,
    /// The `ttl` claim: how long, in seconds, a client may cache the list.
    #[arg(long, value_name = "SECONDS")]
    cache_ttl: Option<u64>,
}

/// Arguments of `jitgate token key-set sign`.
#[derive(Args)]
pub struct KeySetSignArgs {
    #[command(flatten)]
    common: CommonSign,
    /// A JWKS of public keys (`{"keys": [...]}`) to publish.
    #[arg(long, value_name = "JWKS.json")]
    jwks: Option<PathBuf>,
    /// A key to publish: a public JWK, or a private one whose public half is published;
    /// repeat.
    #[arg(long = "add", value_name = "KEY.jwk")]
    add: Vec<PathBuf>,
}

/// Arguments of every `inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// The document, or @FILE (`@-`: standard input).
    document: String,
    /// Verify it too: install it into a fresh gate of this configuration, for the issuer
    /// its `iss` names; exit 1 if the gate refuses it.
    #[arg(long, value_name = "C.json")]
    config: Option<PathBuf>,
    /// When to verify: RFC 3339 or Unix seconds (default: now).
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
}

fn parse_status(text: &str) -> Result<(usize, u8), String> {
    let bad = || format!("`{text}` is not IDX=VALUE (such as 7=1)");
    let (idx, value) = text.split_once('=').ok_or_else(bad)?;
    Ok((idx.parse().map_err(|_| bad())?, value.parse().map_err(|_| bad())?))
}

/// Runs `jitgate token revocations …`.
pub fn revocations(cmd: RevocationsCommand) -> Result<(), Failure> {
    match cmd {
        RevocationsCommand::Sign(a) => sign_revocations(a).map_err(Failure::from),
        RevocationsCommand::Inspect(a) => inspect(a, Kind::Revocations),
    }
}

/// Runs `jitgate token status-list …`.
pub fn status_list(cmd: StatusListCommand) -> Result<(), Failure> {
    match cmd {
        StatusListCommand::Sign(a) => sign_status_list(a).map_err(Failure::from),
        StatusListCommand::Inspect(a) => inspect(a, Kind::StatusList),
    }
}

/// Runs `jitgate token key-set …`.
pub fn key_set(cmd: KeySetCommand) -> Result<(), Failure> {
    match cmd {
        KeySetCommand::Sign(a) => sign_key_set(a).map_err(Failure::from),
        KeySetCommand::Inspect(a) => inspect(a, Kind::Keys),
    }
}

/// The claims every document has: the claims file, `iss`, `iat`, `exp`.
fn base_claims(c: &CommonSign) -> Result<(SigningKey, String, Map<String, Value>)> {
    let (key, kid) = files::load_signing_key(&c.key)?;
    if kid.is_empty() {
        bail!("`--key {}`: the key has no `kid`", c.key.display());
    }
    let mut claims = match &c.claims {
        Some(path) => files::read_json(path)?,
        None => json!({}),
    };
    mint::normalize_claim_times(&mut claims).map_err(|e| anyhow!("`--claims`: {e}"))?;
    let Value::Object(mut obj) = claims else {
        bail!("`--claims`: the claims must be a JSON object");
    };
    if let Some(iss) = &c.iss {
        obj.insert("iss".into(), json!(iss));
    }
    match obj.get("iss") {
        Some(Value::String(s)) if !s.is_empty() => {}
        Some(_) => bail!("claim `iss` must be a non-empty string"),
        None => bail!("`--iss` is required: the issuer, exactly as the gates' configuration names it"),
    }
    let iat = match &c.issued_at {
        Some(t) => files::parse_time(t)
            .map_err(|e| anyhow!("`--issued-at`: {e}"))?
            .div_euclid(1_000_000_000),
        None => match obj.get("iat") {
            Some(v) => v
                .as_i64()
                .filter(|t| *t >= 0)
                .ok_or_else(|| anyhow!("claim `iat` must be integer Unix seconds"))?,
            None => now_secs()?,
        },
    };
    obj.insert("iat".into(), json!(iat));
    if c.ttl.is_some() || !obj.contains_key("exp") {
        let ttl = match &c.ttl {
            Some(t) => parse_duration(t).map_err(|e| anyhow!("`--ttl`: {e}"))?,
            None => 3600,
        };
        if ttl == 0 {
            bail!("`--ttl`: must be longer than 0 s (`exp` must be after `iat`)");
        }
        obj.insert("exp".into(), json!(iat.saturating_add(i64::try_from(ttl)?)));
    }
    Ok((key, kid, obj))
}

fn sign_revocations(a: RevocationsSignArgs) -> Result<()> {
    let (key, kid, mut claims) = base_claims(&a.common)?;
    if let Some(seq) = a.seq {
        claims.insert("seq".into(), json!(seq));
    }
    if !claims.get("seq").is_some_and(Value::is_u64) {
        bail!("`--seq` is required: the list's sequence number, higher than that of the list it replaces");
    }
    let mut revoked: Vec<Value> = match claims.remove("revoked") {
        None => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => bail!("claim `revoked` must be an array of approval ids"),
    };
    revoked.extend(a.revoked.iter().map(|j| json!(j)));
    if let Some(path) = &a.revoked_file {
        revoked.extend(read_ids(path)?.into_iter().map(Value::String));
    }
    for (i, id) in revoked.iter().enumerate() {
        if id.as_str().is_none_or(str::is_empty) {
            bail!("revoked id {i} ({id}) is not a non-empty string");
        }
    }
    claims.insert("revoked".into(), Value::Array(revoked));
    outln!(
        "{}",
        mint::sign_document(REVOCATIONS_TYPE, &Value::Object(claims), &key, &kid)
    );
    Ok(())
}

/// Ids from a file: a JSON array of strings, or one per line (blank lines and `#`
/// comments skipped).
fn read_ids(path: &Path) -> Result<Vec<String>> {
    let text = files::read_text(path).map_err(|e| anyhow!("`--revoked-file`: {e:#}"))?;
    if text.trim_start().starts_with('[') {
        let ids: Vec<String> = serde_json::from_str(&text)
            .map_err(|e| anyhow!("`--revoked-file {}`: not a JSON array of strings: {e}", path.display()))?;
        return Ok(ids);
    }
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

fn sign_status_list(a: StatusListSignArgs) -> Result<()> {
    let (key, kid, mut claims) = base_claims(&a.common)?;
    if a.uri.is_empty() {
        bail!("`--uri` must not be empty");
    }
    if !matches!(a.bits, 1 | 2 | 4 | 8) {
        bail!("`--bits {}`: must be 1, 2, 4 or 8", a.bits);
    }
    if a.size == 0 {
        bail!("`--size`: a status list needs at least one entry");
    }
    let max_entries = MAX_STATUS_LIST_BYTES.saturating_mul(8) / usize::from(a.bits);
    if a.size > max_entries {
        bail!(
            "`--size {}`: more than the {max_entries} entries of {} bits a gate inflates",
            a.size,
            a.bits
        );
    }
    let mut statuses = vec![0u8; a.size];
    let set = |statuses: &mut Vec<u8>, flag: &str, idx: usize, value: u8| -> Result<()> {
        if u16::from(value) >= 1 << a.bits {
            bail!("`{flag}`: status {value} does not fit in {} bits", a.bits);
        }
        match statuses.get_mut(idx) {
            Some(entry) => {
                *entry = value;
                Ok(())
            }
            None => bail!("`{flag}`: entry {idx} is outside the list (`--size {}`)", a.size),
        }
    };
    for idx in &a.revoked {
        set(&mut statuses, &format!("--revoked {idx}"), *idx, 1)?;
    }
    for (idx, value) in &a.statuses {
        set(&mut statuses, &format!("--status {idx}={value}"), *idx, *value)?;
    }
    let lst =
        mint::status_list_lst(a.bits, &statuses).ok_or_else(|| anyhow!("`--bits {}`: cannot pack the list", a.bits))?;
    claims.insert("sub".into(), json!(a.uri));
    if let Some(ttl) = a.cache_ttl {
        claims.insert("ttl".into(), json!(ttl));
    }
    claims.insert("status_list".into(), json!({"bits": a.bits, "lst": lst}));
    outln!(
        "{}",
        mint::sign_document(STATUS_LIST_TYPE, &Value::Object(claims), &key, &kid)
    );
    Ok(())
}

fn sign_key_set(a: KeySetSignArgs) -> Result<()> {
    let (key, kid, mut claims) = base_claims(&a.common)?;
    let mut keys: Vec<Value> = match &a.jwks {
        Some(path) => {
            let set = files::read_json(path)?;
            match set.get("keys") {
                Some(Value::Array(keys)) => keys.clone(),
                _ => bail!("`--jwks {}`: not a JWKS (`{{\"keys\": [...]}}`)", path.display()),
            }
        }
        None => match claims.remove("keys") {
            Some(Value::Array(keys)) => keys,
            None => Vec::new(),
            Some(_) => bail!("claim `keys` must be an array of JWKs"),
        },
    };
    for path in &a.add {
        let jwk = files::read_json(path)?;
        if jwk.get("d").is_some() {
            let (private, kid) = files::load_signing_key(path)?;
            if kid.is_empty() {
                bail!("`--add {}`: the key has no `kid`", path.display());
            }
            keys.push(private.public_jwk(&kid));
        } else {
            keys.push(jwk);
        }
    }
    if keys.is_empty() {
        bail!("no keys: give `--jwks JWKS.json` or `--add KEY.jwk` (a key set with no key trusts nothing)");
    }
    for (i, k) in keys.iter().enumerate() {
        if k.get("d").is_some() {
            bail!("key {i} of the set has a private part (`d`): publish public keys only");
        }
    }
    let set = json!({ "keys": keys });
    jitgate_core::KeySet::from_json(&set).map_err(|e| anyhow!("the key set: `{}`: {}", e.path, e.message))?;
    claims.insert("keys".into(), set["keys"].clone());
    outln!(
        "{}",
        mint::sign_document(KEY_SET_TYPE, &Value::Object(claims), &key, &kid)
    );
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Revocations,
    StatusList,
    Keys,
}

fn inspect(a: InspectArgs, kind: Kind) -> Result<(), Failure> {
    let text = files::token_arg(&a.document)?;
    let malformed = |why: String| Failure::negative(format!("malformed document: {why}"));
    let plain_jwks = kind == Kind::Keys && text.starts_with('{');
    let (header, claims, signature_bytes) = if plain_jwks {
        let set: Value = serde_json::from_str(&text).map_err(|e| malformed(format!("not JSON: {e}")))?;
        (Value::Null, set, 0)
    } else {
        let parsed = CompactJws::parse_with_limit(&text, MAX_DOCUMENT_BYTES).map_err(|e| malformed(e.to_string()))?;
        let claims: Value =
            serde_json::from_slice(&parsed.payload).map_err(|e| malformed(format!("the payload is not JSON: {e}")))?;
        (Value::Object(parsed.header), claims, parsed.signature.len())
    };
    let mut times = Map::new();
    for name in ["iat", "exp"] {
        if let Some(t) = claims.get(name).and_then(Value::as_u64) {
            times.insert(name.into(), json!(rfc3339_from_secs(t)));
        }
    }
    let summary = match kind {
        Kind::Revocations => json!({
            "seq": claims.get("seq"),
            "revoked": claims.get("revoked").and_then(Value::as_array).map(Vec::len),
        }),
        Kind::StatusList => status_list_summary(&claims),
        Kind::Keys => json!({
            "kids": claims.get("keys").and_then(Value::as_array).map(|keys| {
                keys.iter().map(|k| k.get("kid").cloned().unwrap_or(Value::Null)).collect::<Vec<_>>()
            }),
        }),
    };
    let mut out = json!({
        "header": header,
        "claims": claims,
        "times": times,
        "summary": summary,
        "signature_bytes": signature_bytes,
    });
    let Some(config_path) = &a.config else {
        out["warning"] = json!("UNVERIFIED: nothing here has been checked; add `--config C.json` to verify");
        files::print_json(&out, false);
        return Ok(());
    };
    let now = match &a.now {
        Some(t) => files::parse_time(t).map_err(|e| Failure::usage(format!("`--now`: {e}")))?,
        None => now_secs().map_err(Failure::from)?.saturating_mul(1_000_000_000),
    };
    let config = files::load_config(config_path, &[])?;
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            // A plain JWKS names no issuer: the one issuer with a feed.
            let feeds: Vec<&str> = config
                .issuers
                .iter()
                .filter(|i| i.feed.is_some())
                .map(|i| i.issuer.as_str())
                .collect();
            match feeds.as_slice() {
                [one] => Some((*one).to_owned()),
                _ => None,
            }
        })
        .ok_or_else(|| Failure::negative("the document names no `iss`: cannot tell which issuer to verify it for"))?;
    let gate = files::gate(config, config_path)?;
    let result = match kind {
        Kind::Revocations => gate.install_revocations(&issuer, &text, now),
        Kind::Keys => gate.install_keys(&issuer, &text, now),
        Kind::StatusList => {
            let uri = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
            gate.install_status_list(&issuer, uri, &text, now)
        }
    };
    let verified = match &result {
        Ok(state) => json!({"accepted": true, "state": state_json(state), "checked_at": rfc3339_from_ns(now)}),
        Err(e) => json!({
            "accepted": false, "issuer": issuer, "code": e.code.code(), "detail": e.detail,
            "checked_at": rfc3339_from_ns(now),
        }),
    };
    out["verified"] = verified;
    files::print_json(&out, false);
    match result {
        Ok(_) => Ok(()),
        Err(e) => Err(Failure::negative(format!("`{}`: the gate refuses it: {e}", a.document))),
    }
}

/// The entries of a status list that are not VALID (0), from its claims, unverified.
fn status_list_summary(claims: &Value) -> Value {
    const SHOWN: usize = 1000;
    let list = claims.get("status_list");
    let bits = list.and_then(|l| l.get("bits")).and_then(Value::as_u64);
    let bytes = list
        .and_then(|l| l.get("lst"))
        .and_then(Value::as_str)
        .and_then(b64url_decode)
        .map(|z| miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&z, MAX_STATUS_LIST_BYTES));
    let (Some(bits @ (1 | 2 | 4 | 8)), Some(bytes)) = (bits, bytes) else {
        return json!({"error": "`status_list.bits` is not 1, 2, 4 or 8, or `status_list.lst` is not base64url"});
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => return json!({"error": format!("`status_list.lst` does not inflate ({:?})", e.status)}),
    };
    let bits = bits as usize; // 1, 2, 4 or 8
    let per_byte = 8 / bits;
    let mask = (1u16 << bits) - 1;
    let mut counts: BTreeMap<u16, usize> = BTreeMap::new();
    let mut shown = Vec::new();
    for (i, byte) in bytes.iter().enumerate() {
        for slot in 0..per_byte {
            let value = (u16::from(*byte) >> (slot * bits)) & mask;
            if value != 0 {
                *counts.entry(value).or_default() += 1;
                if shown.len() < SHOWN {
                    shown.push(json!({"idx": i * per_byte + slot, "status": value}));
                }
            }
        }
    }
    let by_status: Map<String, Value> = counts
        .iter()
        .map(|(status, n)| (format!("{status:#04x}"), json!(n)))
        .collect();
    json!({
        "bits": bits,
        "entries": bytes.len() * per_byte,
        "not_valid": counts.values().sum::<usize>(),
        "by_status": by_status,
        "not_valid_entries": shown,
    })
}
