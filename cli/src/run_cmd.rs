//! `jitgate run`: one request through the compiled filter in the harness, as Envoy
//! would run it; prints the local response or the request as forwarded upstream.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use jitgate_harness::jitgate::{envoy_request, last_audit};
use jitgate_harness::{FilterModule, Host};

use crate::feed::FeedArgs;
use crate::feed_serve;
use crate::files;
use crate::Failure;

/// Arguments of `jitgate run`.
#[derive(Args)]
pub struct RunArgs {
    /// The filter module (`jitgate_filter.wasm`).
    #[arg(long, value_name = "F.wasm")]
    filter: PathBuf,
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
    /// Request time: RFC 3339 or integer Unix seconds (the host clock is set to it).
    #[arg(long, value_name = "TIME")]
    now: String,
    /// Live-trust documents, served to the filter as its feed cluster's answers.
    #[command(flatten)]
    feed: FeedArgs,
    /// Print the JSON on one line.
    #[arg(long)]
    compact: bool,
}

/// Runs `jitgate run`.
pub fn run(args: RunArgs) -> Result<(), Failure> {
    let config = files::load_config(&args.config, &args.policies)?;
    let token_config = config.token.clone();
    // The filter gets the configuration text as Envoy would pass it.
    let text = if args.policies.is_empty() {
        files::read_text(&args.config)?
    } else {
        let mut value = files::read_json(&args.config)?;
        if let Some(modules) = value
            .pointer_mut("/policy/modules")
            .and_then(serde_json::Value::as_object_mut)
        {
            for (name, source) in &config.policy.modules {
                modules.insert(name.clone(), serde_json::Value::String(source.clone()));
            }
        }
        value.to_string()
    };
    let documents = args.feed.load(&config, &args.config)?;
    feed_serve::check_servable(&documents)?;
    let mut request = files::load_request(&args.request)?;
    let now = files::parse_time(&args.now).map_err(|e| anyhow!("`--now`: {e}"))?;
    let fetched_at = args.feed.fetched_at(now)?;
    if let Some(t) = &args.token {
        jitgate_testkit::place_token(&mut request, &token_config, &files::token_arg(t)?);
    }
    let module = FilterModule::load(&args.filter).map_err(|e| anyhow!("`{}`: {e}", args.filter.display()))?;
    let mut host = Host::new(&module).map_err(|e| anyhow!("`{}`: {e}", args.filter.display()))?;
    let expected = feed_serve::serve(&mut host, &documents)?;
    if !documents.is_empty() {
        feed_serve::set_clock(&mut host, fetched_at);
    }
    host.configure(&text)
        .map_err(|e| anyhow!("`{}`: the filter refused the configuration: {e}", args.config.display()))?;
    let fetches = feed_serve::await_fetches(&mut host, &expected)?;
    let outcome = host
        .request(envoy_request(&request, now))
        .map_err(|e| anyhow!("filter: {e}"))?;
    let mut out = outcome.to_json();
    if let Some(obj) = out.as_object_mut() {
        obj.insert("audit".into(), last_audit(&host).unwrap_or(serde_json::Value::Null));
        if !fetches.is_empty() {
            obj.insert("feed".into(), serde_json::Value::Array(fetches));
        }
    }
    files::print_json(&out, args.compact);
    Ok(())
}
