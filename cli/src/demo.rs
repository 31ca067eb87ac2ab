//! `jitgate demo`: the main job on the embedded default configuration. Mints a demo
//! key and approvals, then decides a handful of requests — allowed, expired, wrong
//! role, revoked, no token, health check — and prints each decision and its audit
//! record.

use anyhow::{anyhow, bail, Result};
use clap::Args;
use jitgate_core::rfc3339_from_ns;
use jitgate_core::{Algorithm, Config, Decision, Request};
#[cfg(feature = "harness")]
use jitgate_harness::jitgate::{envoy_request, last_audit};
#[cfg(feature = "harness")]
use jitgate_harness::{FilterModule, Host as FilterHost, Outcome};
use jitgate_mint::{self as mint, SigningKey};
use serde_json::{json, Value};

use crate::files;
use crate::Failure;

/// The shipped example configuration (seed policy embedded).
const EXAMPLE_CONFIG: &str = include_str!("../../policies/config.example.json");

/// Arguments of `jitgate demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Demo time: RFC 3339 or Unix seconds (default: now).
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Print the audit records as compact JSON lines only.
    #[arg(long)]
    json: bool,
    /// Also run every request through this compiled filter in the harness (as Envoy
    /// would) and show that it decides exactly like the native core.
    #[arg(long, value_name = "F.wasm")]
    filter: Option<std::path::PathBuf>,
}

/// Without the harness there is no filter host: the type has no values.
#[cfg(not(feature = "harness"))]
enum FilterHost {}

struct Step {
    what: &'static str,
    request: Request,
    at_ns: i64,
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<(), Failure> {
    demo(args).map_err(Failure::from)
}

fn demo(args: DemoArgs) -> Result<()> {
    let now = match &args.now {
        Some(t) => files::parse_time(t)?,
        None => {
            let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
            i64::try_from(d.as_secs())? * 1_000_000_000
        }
    };
    let now_s = now.div_euclid(1_000_000_000);

    // 1. A fresh demo key for the approval service.
    let mut secret = [0u8; 32];
    getrandom::getrandom(&mut secret).map_err(|e| anyhow!("no randomness: {e}"))?;
    let key = SigningKey::from_secret(Algorithm::EdDsa, &secret).map_err(|e| anyhow!("{e}"))?;
    let kid = "demo-k1";

    // 2. The embedded example configuration, trusting the demo key, with one revoked approval.
    let mut config: Value = serde_json::from_str(EXAMPLE_CONFIG)?;
    config["issuers"][0]["jwks"] = json!({"keys": [key.public_jwk(kid)]});
    config["revoked"] = json!(["appr-revoked-7"]);
    let issuer = config["issuers"][0]["issuer"].clone();
    let audience = config["issuers"][0]["audience"].clone();
    let config_text = config.to_string();
    let gate = files::gate(
        Config::from_json(config).map_err(|e| anyhow!("embedded configuration: {e}"))?,
        "embedded".as_ref(),
    )?;
    let mut host = match &args.filter {
        Some(path) => Some(load_filter(path, &config_text)?),
        None => None,
    };

    // 3. Approvals as an approval service would sign them.
    let approval = |sub: &str, role: &str, jti: &str| {
        mint::mint(
            &json!({
                "iss": issuer, "sub": sub, "aud": audience,
                "iat": now_s - 300, "nbf": now_s - 300, "exp": now_s + 3600, "jti": jti,
                "jit": {"resource": "test-database", "role": role, "reason": "INC-4711 investigate slow orders",
                        "ticket": "INC-4711", "approvers": ["bob@example.com"]}
            }),
            &key,
            kid,
        )
    };
    let alice = approval("alice@example.com", "developer", "appr-1001");
    let carol = approval("carol@example.com", "analyst", "appr-1002");
    let revoked = approval("dave@example.com", "developer", "appr-revoked-7");
    let get = |path: &str| {
        Request::new("GET", path)
            .header("host", "db.internal")
            .source_address("10.0.0.7:51234")
    };
    let steps = [
        Step {
            what: "alice, developer, inside her approved window",
            request: get("/orders?id=7").header("x-jit-approval", alice.clone()),
            at_ns: now,
        },
        Step {
            what: "alice again, two hours later: the approval has ended",
            request: get("/orders?id=7").header("x-jit-approval", alice),
            at_ns: now + 7200 * 1_000_000_000,
        },
        Step {
            what: "carol, approved as analyst, not developer",
            request: get("/orders").header("x-jit-approval", carol),
            at_ns: now,
        },
        Step {
            what: "dave, whose approval was revoked",
            request: get("/orders").header("x-jit-approval", revoked),
            at_ns: now,
        },
        Step {
            what: "no approval at all",
            request: get("/orders"),
            at_ns: now,
        },
        Step {
            what: "health check, no approval needed",
            request: get("/healthz"),
            at_ns: now,
        },
    ];

    if !args.json {
        outln!(
            "jitgate demo — embedded policy `policies/jit.rego`, demo key `{kid}` (fresh), time {}",
            rfc3339_from_ns(now)
        );
        match &args.filter {
            Some(path) => {
                outln!(
                    "each request decided by the Envoy filter `{}` in the proxy-wasm host, and by the native core",
                    path.display()
                );
                outln!(
                    "(the host's clock is simulated and stands still during a request: the filter's `eval_ns` reads 0)"
                )
            }
            None => {
                outln!("each request decided by the native core (pass --filter F.wasm to run the Envoy filter too)")
            }
        }
        outln!();
    }
    for step in &steps {
        let started = std::time::Instant::now();
        let mut d = gate.decide(&step.request, step.at_ns);
        d.audit.eval_ns = u64::try_from(started.elapsed().as_nanos()).ok();
        let filtered = match host.as_mut() {
            Some(host) => Some(through_filter(host, step)?),
            None => None,
        };
        match &filtered {
            Some((outcome, audit)) => {
                let same = audit.get("reason").and_then(Value::as_str) == Some(d.reason.code())
                    && audit.get("status").and_then(Value::as_u64) == Some(u64::from(d.status));
                if !same {
                    bail!(
                        "the filter and the native core disagree on `{}`: filter {audit}, native {}",
                        step.what,
                        d.audit.to_json_line()
                    );
                }
                if args.json {
                    outln!("{audit}");
                } else {
                    print_step(step, &d, Some(outcome), audit);
                }
            }
            None if args.json => outln!("{}", d.audit.to_json_line()),
            None => print_step(step, &d, None, &d.audit.to_json()),
        }
    }
    Ok(())
}

/// The filter at `path` in the harness, configured with `config`.
#[cfg(feature = "harness")]
fn load_filter(path: &std::path::Path, config: &str) -> Result<FilterHost> {
    let module = FilterModule::load(path).map_err(|e| anyhow!("`{}`: {e}", path.display()))?;
    let mut host = FilterHost::new(&module).map_err(|e| anyhow!("`{}`: {e}", path.display()))?;
    host.configure(config)
        .map_err(|e| anyhow!("the filter refused the demo configuration: {e}"))?;
    Ok(host)
}

#[cfg(not(feature = "harness"))]
fn load_filter(_: &std::path::Path, _: &str) -> Result<FilterHost> {
    bail!("`--filter`: this jitgate is built without the harness (cargo feature `harness`)")
}

#[cfg(not(feature = "harness"))]
fn through_filter(host: &mut FilterHost, _: &Step) -> Result<(String, Value)> {
    match *host {}
}

/// The step through the filter: what Envoy does with the request, and the filter's
/// audit record.
#[cfg(feature = "harness")]
fn through_filter(host: &mut FilterHost, step: &Step) -> Result<(String, Value)> {
    let outcome = host
        .request(envoy_request(&step.request, step.at_ns))
        .map_err(|e| anyhow!("filter: {e}"))?;
    let audit = last_audit(host).ok_or_else(|| anyhow!("the filter logged no audit record"))?;
    let what = match &outcome {
        Outcome::Forwarded { headers, .. } => {
            let jit: Vec<String> = headers
                .iter()
                .filter(|(n, _)| n.starts_with("x-jit-"))
                .map(|(n, v)| format!("{n}: {v}"))
                .collect();
            if jit.is_empty() {
                "forwarded upstream".to_owned()
            } else {
                format!("forwarded upstream with {}", jit.join(", "))
            }
        }
        Outcome::LocalResponse { status, body, .. } => {
            format!("local response {status} {}", String::from_utf8_lossy(body))
        }
        other => format!("{other:?}"),
    };
    Ok((what, audit))
}

fn print_step(step: &Step, d: &Decision, envoy: Option<&String>, audit: &Value) {
    let verdict = if d.allow { "ALLOW" } else { "DENY " };
    outln!(
        "{verdict} {} {:<24} {} {}   — {}",
        d.status,
        d.reason.code(),
        step.request.method,
        step.request.path,
        step.what
    );
    if let Some(what) = envoy {
        outln!("      envoy: {what}");
    }
    outln!("      audit: {audit}");
}
