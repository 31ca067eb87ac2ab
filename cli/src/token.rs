//! `jitgate token keygen|sign|verify|inspect`: test and operations helpers.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand, ValueEnum};
use jitgate_core::unstable::jws::{b64url_decode, CompactJws};
use jitgate_core::{rfc3339_from_ns, rfc3339_from_secs};
use jitgate_core::{Algorithm, RequestFacts};
use jitgate_mint::{self as mint, SigningKey};
use serde_json::{json, Map, Value};

use crate::documents;
use crate::files;
use crate::Failure;

/// The `jitgate token` subcommands.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Generate a signing key: prints the private JWK, the public JWK and a JWKS.
    Keygen(KeygenArgs),
    /// Sign an approval token.
    Sign(Box<SignArgs>),
    /// Verify a token against a configuration, without running the policy.
    Verify(VerifyArgs),
    /// Show a token's header and claims WITHOUT verifying anything.
    Inspect(InspectArgs),
    /// Signed revocation lists (live trust): sign, inspect.
    #[command(subcommand)]
    Revocations(documents::RevocationsCommand),
    /// Token Status Lists (live trust): sign, inspect.
    #[command(subcommand)]
    StatusList(documents::StatusListCommand),
    /// Signed key sets (live trust: key rotation): sign, inspect.
    #[command(subcommand)]
    KeySet(documents::KeySetCommand),
}

#[derive(Clone, Copy, ValueEnum)]
enum AlgArg {
    #[value(name = "EdDSA")]
    EdDsa,
    #[value(name = "ES256")]
    Es256,
}

/// Arguments of `jitgate token keygen`.
#[derive(Args)]
pub struct KeygenArgs {
    /// Signature algorithm.
    #[arg(long, value_enum, default_value = "EdDSA")]
    alg: AlgArg,
    /// Key id.
    #[arg(long, default_value = "k1")]
    kid: String,
    /// Write the private JWK to this file (mode 0600) instead of printing it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Arguments of `jitgate token sign`.
#[derive(Args)]
pub struct SignArgs {
    /// Private JWK of the signing key.
    #[arg(long, value_name = "KEY.jwk")]
    key: PathBuf,
    /// Claims file (JSON; `iat`/`nbf`/`exp` may be RFC 3339). Flags below override it.
    #[arg(long, value_name = "CLAIMS.json")]
    claims: Option<PathBuf>,
    /// `iss`.
    #[arg(long)]
    iss: Option<String>,
    /// `sub`: the requester.
    #[arg(long)]
    sub: Option<String>,
    /// `aud`.
    #[arg(long)]
    aud: Option<String>,
    /// `jit.resource` (repeat for several).
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// `jit.role`.
    #[arg(long)]
    role: Option<String>,
    /// `jit.actions` (repeat).
    #[arg(long = "action")]
    actions: Vec<String>,
    /// `jit.approvers` (repeat).
    #[arg(long = "approver")]
    approvers: Vec<String>,
    /// `jit.reason`.
    #[arg(long)]
    reason: Option<String>,
    /// `jit.ticket`.
    #[arg(long)]
    ticket: Option<String>,
    /// `jit.risk`.
    #[arg(long)]
    risk: Option<String>,
    /// `jti` (default: random).
    #[arg(long)]
    jti: Option<String>,
    /// Start of the window (`nbf`, and `iat`): RFC 3339 or Unix seconds (default: now).
    #[arg(long, value_name = "TIME")]
    not_before: Option<String>,
    /// Length of the window: seconds, or with a unit (`90s`, `15m`, `1h`).
    #[arg(long, value_name = "DURATION")]
    ttl: Option<String>,
}

/// Arguments of `jitgate token verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// Plugin configuration (its issuers, resource and revocation list are used).
    #[arg(long, value_name = "C.json")]
    config: PathBuf,
    /// The token, or @FILE.
    #[arg(long, value_name = "T")]
    token: String,
    /// Verification time: RFC 3339 or Unix seconds (default: now).
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// The caller's identity, when the configuration has an identity source.
    #[arg(long)]
    identity: Option<String>,
    /// Base64url SHA-256 of the client certificate, for `cnf`-bound tokens.
    #[arg(long, value_name = "DIGEST")]
    cert_sha256: Option<String>,
}

/// Arguments of `jitgate token inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// The token, or @FILE.
    token: String,
}

/// Runs a `jitgate token` subcommand.
pub fn run(cmd: TokenCommand) -> Result<(), Failure> {
    match cmd {
        TokenCommand::Keygen(a) => keygen(a).map_err(Failure::from),
        TokenCommand::Sign(a) => sign(*a).map_err(Failure::from),
        TokenCommand::Verify(a) => verify(a),
        TokenCommand::Inspect(a) => inspect(a),
        TokenCommand::Revocations(c) => documents::revocations(c),
        TokenCommand::StatusList(c) => documents::status_list(c),
        TokenCommand::KeySet(c) => documents::key_set(c),
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|e| anyhow!("no randomness: {e}"))?;
    Ok(bytes)
}

fn keygen(a: KeygenArgs) -> Result<()> {
    let alg = match a.alg {
        AlgArg::EdDsa => Algorithm::EdDsa,
        AlgArg::Es256 => Algorithm::Es256,
    };
    // A P-256 scalar of all-random bytes is valid except with negligible probability; retry then.
    let key = loop {
        if let Ok(k) = SigningKey::from_secret(alg, &random_bytes::<32>()?) {
            break k;
        }
    };
    let private = key.private_jwk(&a.kid);
    let public = key.public_jwk(&a.kid);
    let mut out = json!({"public_jwk": public, "jwks": {"keys": [public]}});
    match &a.out {
        Some(path) => {
            write_private(path, &serde_json::to_string_pretty(&private)?)?;
            out["private_jwk_file"] = json!(path.display().to_string());
        }
        None => out["private_jwk"] = private,
    }
    files::print_json(&out, false);
    Ok(())
}

fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| anyhow!("cannot create `{}`: {e}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// Parses a duration into whole seconds: bare seconds (`90`) or humantime's form
/// with the units `s`, `m`, `h`, `d` (`90s`, `15m`, `1h 30m`, `2d`). humantime's
/// other units are refused: `M` would be months and `y` years, far past any
/// approval's lifetime, and one letter's case must not decide that.
pub(crate) fn parse_duration(text: &str) -> Result<u64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| anyhow!("`{text}` is too long"));
    }
    if let Some(unit) = text
        .split(|c: char| !c.is_ascii_alphabetic())
        .find(|unit| !unit.is_empty() && !matches!(*unit, "s" | "m" | "h" | "d"))
    {
        bail!("`{text}`: unknown unit `{unit}` (s, m, h, d)");
    }
    let duration =
        humantime::parse_duration(text).map_err(|e| anyhow!("`{text}` is not a duration (90s, 15m, 1h): {e}"))?;
    if duration.subsec_nanos() != 0 {
        bail!("`{text}`: give whole seconds");
    }
    Ok(duration.as_secs())
}

pub(crate) fn now_secs() -> Result<i64> {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    Ok(i64::try_from(d.as_secs())?)
}

fn sign(a: SignArgs) -> Result<()> {
    let (key, kid) = files::load_signing_key(&a.key)?;
    if kid.is_empty() {
        bail!("`{}`: the key has no `kid`", a.key.display());
    }
    let mut claims = match &a.claims {
        Some(path) => files::read_json(path)?,
        None => json!({}),
    };
    let obj = claims
        .as_object_mut()
        .ok_or_else(|| anyhow!("claims must be a JSON object"))?;
    let mut set = |name: &str, v: Option<String>| {
        if let Some(v) = v {
            obj.insert(name.into(), Value::String(v));
        }
    };
    set("iss", a.iss);
    set("sub", a.sub);
    set("aud", a.aud);
    set("jti", a.jti);
    if !obj.contains_key("jti") {
        let id = hex::encode(random_bytes::<12>()?);
        obj.insert("jti".into(), Value::String(format!("appr-{id}")));
    }
    let start = match &a.not_before {
        Some(t) => files::parse_time(t)?.div_euclid(1_000_000_000),
        None => obj.get("nbf").and_then(Value::as_i64).map_or_else(now_secs, Ok)?,
    };
    if a.not_before.is_some() || !obj.contains_key("nbf") {
        obj.insert("nbf".into(), json!(start));
    }
    if !obj.contains_key("iat") || a.not_before.is_some() {
        obj.insert("iat".into(), json!(start));
    }
    if let Some(ttl) = &a.ttl {
        obj.insert("exp".into(), json!(start + i64::try_from(parse_duration(ttl)?)?));
    } else if !obj.contains_key("exp") {
        obj.insert("exp".into(), json!(start + 3600));
    }
    let jit = obj.entry("jit").or_insert_with(|| json!({}));
    let jit = jit
        .as_object_mut()
        .ok_or_else(|| anyhow!("claim `jit` must be an object"))?;
    match a.resources.as_slice() {
        [] => {}
        [one] => {
            jit.insert("resource".into(), json!(one));
        }
        many => {
            jit.insert("resource".into(), json!(many));
        }
    }
    let mut put = |name: &str, v: Option<String>| {
        if let Some(v) = v {
            jit.insert(name.into(), Value::String(v));
        }
    };
    put("role", a.role);
    put("reason", a.reason);
    put("ticket", a.ticket);
    put("risk", a.risk);
    if !a.actions.is_empty() {
        jit.insert("actions".into(), json!(a.actions));
    }
    if !a.approvers.is_empty() {
        jit.insert("approvers".into(), json!(a.approvers));
    }
    mint::normalize_claim_times(&mut claims).map_err(|e| anyhow!("{e}"))?;
    outln!("{}", mint::mint(&claims, &key, &kid));
    Ok(())
}

fn verify(a: VerifyArgs) -> Result<(), Failure> {
    let config = files::load_config(&a.config, &[])?;
    let gate = files::gate(config, &a.config)?;
    let token = files::token_arg(&a.token)?;
    let now = match &a.now {
        Some(t) => files::parse_time(t)?,
        None => now_secs().map_err(Failure::from)?.saturating_mul(1_000_000_000),
    };
    let facts = RequestFacts {
        identity: a.identity.as_deref(),
        identity_required: a.identity.is_some(),
        identity_ambiguous: false,
        certificate_sha256: a.cert_sha256.as_deref(),
        // `verify` checks the configured resource: there is no route.
        route_resource: None,
    };
    match gate.verify(&token, now, &facts) {
        Ok(approval) => {
            files::print_json(
                &json!({
                    "valid": true,
                    "approval": {
                        "id": approval.id, "issuer": approval.issuer, "subject": approval.subject,
                        "kid": approval.kid, "alg": approval.alg.as_str(), "resources": approval.resources,
                        "not_before": rfc3339_from_secs(approval.not_before),
                        "expires": rfc3339_from_secs(approval.expires),
                        "remaining_s": (approval.expires_ns() - i128::from(now)) / 1_000_000_000,
                        "claims": approval.claims,
                    },
                    "checked_at": rfc3339_from_ns(now),
                }),
                false,
            );
            Ok(())
        }
        Err(f) => {
            files::print_json(
                &json!({"valid": false, "code": f.error.code(), "detail": f.detail}),
                false,
            );
            Err(Failure::negative(""))
        }
    }
}

fn decode_segment(segment: &str) -> Option<Value> {
    serde_json::from_slice(&b64url_decode(segment)?).ok()
}

fn inspect(a: InspectArgs) -> Result<(), Failure> {
    let token = files::token_arg(&a.token)?;
    let parsed = CompactJws::parse(&token).map_err(|e| Failure::negative(format!("token_malformed: {e}")))?;
    let claims = decode_segment(token.split('.').nth(1).unwrap_or_default())
        .ok_or_else(|| Failure::negative("token_malformed: payload is not JSON"))?;
    let mut times = Map::new();
    for name in ["iat", "nbf", "exp"] {
        if let Some(t) = claims.get(name).and_then(Value::as_u64) {
            times.insert(name.into(), json!(rfc3339_from_secs(t)));
        }
    }
    files::print_json(
        &json!({
            "warning": "UNVERIFIED: nothing here has been checked; use `jitgate token verify`",
            "header": parsed.header,
            "claims": claims,
            "times": times,
            "signature_bytes": parsed.signature.len(),
        }),
        false,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_in_seconds_or_humantime_form() {
        for (text, secs) in [("90", 90), ("90s", 90), ("15m", 900), ("1h 30m", 5400), ("2d", 172_800)] {
            assert_eq!(parse_duration(text).ok(), Some(secs), "{text}");
        }
        for bad in [
            "",
            "1.5s",
            "1500ms",
            "soon",
            "-5",
            "99999999999999999999999",
            "15M",
            "1y",
            "2w",
            "3min",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
