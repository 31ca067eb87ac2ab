//! `jitgate-approvals`: the approval service's command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use jitgate_approvals::keys::KeySet;
use jitgate_approvals::settings::IpNet;
use jitgate_approvals::{Clock, Settings};

#[derive(Parser)]
#[command(
    name = "jitgate-approvals",
    version,
    about = "The jitgate approval service: request, approve and revoke JIT access; issues the tokens and publishes the trust feed the gates enforce"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the service.
    Serve(Box<Serve>),
    /// Manages the signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Promotes the announced next key to active (the old one stays published until its last token expired) and announces a new next key. The running service picks the change up by itself.
    Rotate {
        /// The key file.
        #[arg(long, default_value = "approvals-keys.json")]
        key_file: PathBuf,
        /// How long the next key must have been published first (at least the gates' key set refresh period).
        #[arg(long, default_value_t = 300)]
        min_announce_s: i64,
        /// The longest grant the service issues (retired keys stay published this long, plus 300 s).
        #[arg(long, default_value_t = 43_200)]
        max_ttl_s: i64,
        /// Rotate even if the next key was announced too recently.
        #[arg(long)]
        force: bool,
    },
    /// Prints the public key set.
    Show {
        /// The key file.
        #[arg(long, default_value = "approvals-keys.json")]
        key_file: PathBuf,
    },
}

#[derive(clap::Args)]
struct Serve {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8085")]
    listen: std::net::SocketAddr,
    /// Database URL: sqlite://FILE?mode=rwc (default) or postgres://USER:PASSWORD@HOST/DB.
    #[arg(
        long,
        env = "JITGATE_APPROVALS_DATABASE_URL",
        default_value = "sqlite://approvals.db?mode=rwc",
        hide_env_values = true
    )]
    database_url: String,
    /// The token issuer (`iss`); defaults to --public-url.
    #[arg(long)]
    issuer: Option<String>,
    /// The token audience (`aud`) the gates are configured with.
    #[arg(long, default_value = "jitgate")]
    audience: String,
    /// The URL the gates reach this service at; defaults to http://LISTEN.
    #[arg(long)]
    public_url: Option<String>,
    /// The signing key file: created on first start (mode 0600), or a supplied key file or private JWK.
    #[arg(long, default_value = "approvals-keys.json")]
    key_file: PathBuf,
    /// The header the authenticating proxy puts the caller's identity in.
    #[arg(long, default_value = "x-authenticated-user")]
    identity_header: String,
    /// Addresses or CIDR blocks the identity header is accepted from (repeatable).
    #[arg(long = "trusted-proxy", default_values = ["127.0.0.1/8", "::1"])]
    trusted_proxies: Vec<IpNet>,
    /// DEVELOPMENT ONLY: take the identity header from anyone, unchecked.
    #[arg(long)]
    dev: bool,
    /// The approval policy (Rego, package jitgate.approvals); default: the shipped policies/approvals.rego.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The policy data (JSON, becomes data.approvals_config); default: policies/approvals.data.json.
    #[arg(long)]
    policy_data: Option<PathBuf>,
    /// Cache-Control max-age of the revocation list and status lists.
    #[arg(long, default_value_t = 5)]
    feed_max_age_s: i64,
    /// Cache-Control max-age of the key set.
    #[arg(long, default_value_t = 300)]
    jwks_max_age_s: i64,
    /// The longest grant issued (the gates' max_ttl_s).
    #[arg(long, default_value_t = 43_200)]
    max_ttl_s: i64,
    /// Serve HTTPS with this certificate chain (PEM).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates issued by this CA (PEM).
    #[arg(long, requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// Where the caller's identity comes from: the trusted header, or the verified client certificate (URI SAN, else email SAN).
    #[arg(long, value_parser = ["header", "peer"], default_value = "header")]
    identity_source: String,
    /// POST a JSON notification here on every new request and decision (http:// or https://).
    #[arg(long)]
    webhook_url: Option<String>,
    /// Delivery attempts per notification (retried with exponential backoff from 1 s).
    #[arg(long, default_value_t = 6)]
    webhook_attempts: u32,
}

fn now() -> i64 {
    Clock::system().now()
}

async fn serve(args: Serve) -> Result<(), String> {
    let mut settings = Settings::new(&args.database_url, args.key_file);
    let scheme = if args.tls_cert.is_some() { "https" } else { "http" };
    let public_url = args.public_url.unwrap_or_else(|| format!("{scheme}://{}", args.listen));
    settings.listen = args.listen;
    settings.issuer = args.issuer.unwrap_or_else(|| public_url.clone());
    settings.public_url = public_url;
    settings.audience = args.audience;
    settings.identity_header = args.identity_header.to_ascii_lowercase();
    settings.trusted_proxies = args.trusted_proxies;
    settings.dev = args.dev;
    if let Some(p) = args.policy {
        settings.policy = std::fs::read_to_string(&p).map_err(|e| format!("--policy `{}`: {e}", p.display()))?;
    }
    if let Some(p) = args.policy_data {
        settings.policy_data =
            std::fs::read_to_string(&p).map_err(|e| format!("--policy-data `{}`: {e}", p.display()))?;
    }
    settings.feed_max_age_s = args.feed_max_age_s;
    settings.jwks_max_age_s = args.jwks_max_age_s;
    settings.max_ttl_s = args.max_ttl_s;
    settings.tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(jitgate_approvals::tls::TlsSettings {
            cert,
            key,
            client_ca: args.client_ca,
        }),
        _ => None,
    };
    settings.identity_from_peer = args.identity_source == "peer";
    settings.webhook = args.webhook_url.map(|url| {
        let mut w = jitgate_approvals::webhook::WebhookSettings::new(&url);
        w.attempts = args.webhook_attempts;
        w
    });
    let running = jitgate_approvals::start(settings, Clock::system(), true)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("jitgate-approvals: listening on http://{}", running.addr);
    running.wait().await;
    Ok(())
}

fn keys(command: KeysCommand) -> Result<(), String> {
    match command {
        KeysCommand::Rotate {
            key_file,
            min_announce_s,
            max_ttl_s,
            force,
        } => {
            let mut set = KeySet::load(&key_file).map_err(|e| e.to_string())?;
            let kid = set
                .rotate(now(), min_announce_s, max_ttl_s.saturating_add(300), force)
                .map_err(|e| e.to_string())?;
            set.write(&key_file).map_err(|e| e.to_string())?;
            println!("active key is now `{kid}`");
            Ok(())
        }
        KeysCommand::Show { key_file } => {
            let set = KeySet::load(&key_file).map_err(|e| e.to_string())?;
            println!("{}", set.public_jwks(now(), i64::MAX / 2));
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
            Ok(rt) => rt.block_on(serve(*args)),
            Err(e) => Err(format!("cannot start the runtime: {e}")),
        },
        Command::Keys { command } => keys(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jitgate-approvals: {e}");
            ExitCode::from(2)
        }
    }
}
