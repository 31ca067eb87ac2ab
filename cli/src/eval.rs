//! `jitgate eval`: one decision from the native core.

use std::path::PathBuf;

use clap::Args;

use crate::feed::{self, FeedArgs};
use crate::files;
use crate::Failure;

/// Arguments of `jitgate eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// Plugin configuration (DESIGN §6), JSON.
    #[arg(long, value_name = "C.json")]
    config: PathBuf,
    /// Extra Rego module(s), added to (or replacing by file name) `policy.modules`.
    #[arg(long = "policy", value_name = "FILE.rego")]
    policies: Vec<PathBuf>,
    /// The request: {"method", "path", "headers": {name: value}, "source": {...}}.
    #[arg(long, value_name = "R.json")]
    request: PathBuf,
    /// Token (or @FILE) to place, behind the configured prefix, in the configured header.
    #[arg(long, value_name = "T")]
    token: Option<String>,
    /// Decision time: RFC 3339 or integer Unix seconds.
    #[arg(long, value_name = "TIME")]
    now: String,
    /// Live-trust documents installed before deciding.
    #[command(flatten)]
    feed: FeedArgs,
    /// Print the JSON on one line.
    #[arg(long)]
    compact: bool,
}

/// Runs `jitgate eval`.
pub fn run(args: EvalArgs) -> Result<(), Failure> {
    let config = files::load_config(&args.config, &args.policies)?;
    let token_config = config.token.clone();
    let documents = args.feed.load(&config, &args.config)?;
    let gate = files::gate(config, &args.config)?;
    let request = files::load_request_or_refusal(&args.request)?;
    let now = files::parse_time(&args.now).map_err(|e| anyhow::anyhow!("`--now`: {e}"))?;
    let installed = feed::install(&gate, &documents, args.feed.fetched_at(now)?)?;
    let started = std::time::Instant::now();
    let mut decision = match request {
        Ok(mut request) => {
            if let Some(t) = &args.token {
                jitgate_testkit::place_token(&mut request, &token_config, &files::token_arg(t)?);
            }
            gate.decide(&request, now)
        }
        Err(detail) => gate.refuse(jitgate_core::Fault::Request, detail, now),
    };
    decision.audit.eval_ns = u64::try_from(started.elapsed().as_nanos()).ok();
    let mut out = serde_json::to_value(decision.view(jitgate_core::TimeUnit::Seconds))
        .map_err(|e| anyhow::anyhow!("could not write the decision: {e}"))?;
    if let (false, Some(obj)) = (installed.is_empty(), out.as_object_mut()) {
        obj.insert("feed".into(), serde_json::Value::Array(installed));
    }
    files::print_json(&out, args.compact);
    Ok(())
}
