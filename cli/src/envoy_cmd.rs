//! `jitgate envoy`: a local gate. Renders an Envoy bootstrap around a configuration
//! (listener → jitgate → router → the upstream), starts a real Envoy with the compiled
//! filter, prints the lines to try, and stops Envoy on Ctrl-C.
//!
//! The bootstrap is the shipped one (`deploy/envoy.yaml`) in every setting that decides
//! something: the same path and header hygiene, `FAIL_RELOAD`, the jitgate access-log
//! fields; only addresses, the filter's file and the configuration differ. Envoy's own
//! log is limited to warnings plus the `wasm` logger at info, so what is printed is the
//! audit records, the access lines and what went wrong.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;
use jitgate_core::{Config, IdentitySource};
use serde_json::{json, Value};

use crate::files;
use crate::Failure;

/// The name of the cluster requests are routed to; `--cluster` may not take it.
const UPSTREAM_CLUSTER: &str = "upstream";

/// How long Envoy may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Arguments of `jitgate envoy`.
#[derive(Args)]
pub struct EnvoyArgs {
    /// Plugin configuration (DESIGN §6), JSON.
    #[arg(long, value_name = "C.json")]
    config: PathBuf,
    /// Extra Rego module(s), added to (or replacing by file name) `policy.modules`.
    #[arg(long = "policy", value_name = "FILE.rego")]
    policies: Vec<PathBuf>,
    /// Where allowed requests go: HOST:PORT (an IP address or a DNS name), plain HTTP.
    #[arg(long, value_name = "HOST:PORT")]
    upstream: String,
    /// The gate's listener (an IP address and port).
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:10000")]
    listen: String,
    /// Envoy's admin interface (/stats, /ready); keep it on a loopback address.
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:9901")]
    admin: String,
    /// A cluster a live-trust feed names (`issuers[].feed.cluster`): NAME=HOST:PORT,
    /// plain HTTP (repeat for several).
    #[arg(long = "cluster", value_name = "NAME=HOST:PORT")]
    clusters: Vec<String>,
    /// The compiled filter. Default: `$JITGATE_FILTER`, else `jitgate_filter.wasm` in
    /// the build directory this command was built in, else `target/jitgate_filter.wasm`.
    #[arg(long, value_name = "F.wasm")]
    filter: Option<PathBuf>,
    /// The Envoy binary (1.33 or newer, V8). Default: `$JITGATE_ENVOY`, else the one
    /// `make envoy-setup` installs (`target/envoy-venv/bin/envoy`), else `envoy` on PATH.
    #[arg(long, value_name = "PATH")]
    envoy: Option<PathBuf>,
    /// Envoy worker threads (one jitgate VM each).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    concurrency: u32,
    /// Print the rendered bootstrap (JSON, which Envoy reads as YAML) and exit.
    #[arg(long)]
    print_bootstrap: bool,
}

/// A `HOST:PORT` argument.
struct HostPort {
    host: String,
    port: u16,
}

impl HostPort {
    fn parse(flag: &str, text: &str) -> Result<Self> {
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| anyhow!("`{flag}`: `{text}` is not HOST:PORT"))?;
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| anyhow!("`{flag}`: `{port}` in `{text}` is not a port (1-65535)"))?;
        let name_ok = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if host.parse::<IpAddr>().is_err() && !name_ok {
            bail!("`{flag}`: `{host}` in `{text}` is neither an IP address nor a DNS name");
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }

    /// An Envoy cluster that sends plain HTTP/1.1 to this address.
    fn cluster(&self, name: &str) -> Value {
        let discovery = if self.host.parse::<IpAddr>().is_ok() {
            "STATIC"
        } else {
            "STRICT_DNS"
        };
        json!({
            "name": name,
            "type": discovery,
            "connect_timeout": "1s",
            "load_assignment": {
                "cluster_name": name,
                "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                    "address": self.host, "port_value": self.port
                }}}}]}]
            }
        })
    }
}

fn socket_addr(flag: &str, text: &str) -> Result<SocketAddr> {
    text.parse()
        .map_err(|_| anyhow!("`{flag}`: `{text}` is not IP:PORT (e.g. 127.0.0.1:10000 or [::1]:10000)"))
}

fn envoy_address(addr: SocketAddr) -> Value {
    json!({"socket_address": {"address": addr.ip().to_string(), "port_value": addr.port()}})
}

/// The access-log line of `deploy/envoy.yaml`: each request with jitgate's decision,
/// from the filter state the filter sets.
const ACCESS_LOG_FORMAT: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%\" \
%RESPONSE_CODE% request_id=%REQ(X-REQUEST-ID)% \
jitgate.decision_id=%FILTER_STATE(wasm.jitgate.decision_id:PLAIN)% \
jitgate.reason=%FILTER_STATE(wasm.jitgate.reason:PLAIN)% \
jitgate.approval_id=%FILTER_STATE(wasm.jitgate.approval_id:PLAIN)% \
jitgate.subject=%FILTER_STATE(wasm.jitgate.subject:PLAIN)% \
jitgate.resource=%FILTER_STATE(wasm.jitgate.resource:PLAIN)%\n";

/// What the bootstrap is rendered from.
struct Plan {
    config_text: String,
    listen: SocketAddr,
    admin: SocketAddr,
    upstream: HostPort,
    feed_clusters: Vec<(String, HostPort)>,
    filter: PathBuf,
    concurrency: u32,
}

impl Plan {
    fn bootstrap(&self) -> Value {
        let mut clusters = vec![self.upstream.cluster(UPSTREAM_CLUSTER)];
        clusters.extend(self.feed_clusters.iter().map(|(name, at)| at.cluster(name)));
        json!({
            "admin": {"address": envoy_address(self.admin)},
            "static_resources": {
                "listeners": [{
                    "name": "jitgate",
                    "address": envoy_address(self.listen),
                    "filter_chains": [{"filters": [{
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": self.connection_manager()
                    }]}]
                }],
                "clusters": clusters
            }
        })
    }

    /// The HTTP connection manager: `deploy/envoy.yaml`'s hygiene settings and access
    /// log, one route to the upstream, jitgate then the router.
    fn connection_manager(&self) -> Value {
        let route_config = json!({
            "name": "local",
            "virtual_hosts": [{
                "name": "upstream",
                "domains": ["*"],
                "routes": [{"match": {"prefix": "/"}, "route": {"cluster": UPSTREAM_CLUSTER}}]
            }]
        });
        let access_log = json!([{
            "name": "envoy.access_loggers.stdout",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
                "log_format": {"text_format_source": {"inline_string": ACCESS_LOG_FORMAT}}
            }
        }]);
        let router = json!({
            "name": "envoy.filters.http.router",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}
        });
        json!({
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "jitgate",
            "access_log": access_log,
            "generate_request_id": true,
            "normalize_path": true,
            "merge_slashes": true,
            "path_with_escaped_slashes_action": "UNESCAPE_AND_REDIRECT",
            "common_http_protocol_options": {"headers_with_underscores_action": "REJECT_REQUEST"},
            "route_config": route_config,
            "http_filters": [self.wasm_filter(), router]
        })
    }

    /// jitgate as an Envoy Wasm HTTP filter (V8), failing closed with `FAIL_RELOAD`.
    fn wasm_filter(&self) -> Value {
        let vm_config = json!({
            "vm_id": "jitgate",
            "runtime": "envoy.wasm.runtime.v8",
            "code": {"local": {"filename": self.filter.display().to_string()}}
        });
        json!({
            "name": "jitgate",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                "config": {
                    "name": "jitgate",
                    "root_id": "jitgate",
                    "failure_policy": "FAIL_RELOAD",
                    "reload_config": {"backoff": {"base_interval": "0.1s", "max_interval": "1s"}},
                    "vm_config": vm_config,
                    "configuration": {
                        "@type": "type.googleapis.com/google.protobuf.StringValue",
                        "value": self.config_text
                    }
                }
            }
        })
    }
}

/// Checks the `--cluster` arguments against the clusters the configuration's feeds name.
fn feed_clusters(config: &Config, args: &[String]) -> Result<Vec<(String, HostPort)>> {
    let mut given = Vec::new();
    for arg in args {
        let (name, at) = arg
            .split_once('=')
            .ok_or_else(|| anyhow!("`--cluster`: `{arg}` is not NAME=HOST:PORT"))?;
        if name == UPSTREAM_CLUSTER {
            bail!(
                "`--cluster`: `{UPSTREAM_CLUSTER}` is the cluster of `--upstream`; name the feed's cluster otherwise"
            );
        }
        if given.iter().any(|(n, _): &(String, HostPort)| n == name) {
            bail!("`--cluster`: `{name}` is given twice");
        }
        given.push((name.to_owned(), HostPort::parse("--cluster", at)?));
    }
    let named: Vec<(usize, &str)> = config
        .issuers
        .iter()
        .enumerate()
        .filter_map(|(i, issuer)| issuer.feed.as_ref().map(|f| (i, f.cluster.as_str())))
        .collect();
    for (i, cluster) in &named {
        if cluster == &UPSTREAM_CLUSTER {
            bail!(
                "`issuers[{i}].feed.cluster`: `{UPSTREAM_CLUSTER}` is the cluster `jitgate envoy` routes requests to; \
                 name the feed's cluster otherwise"
            );
        }
        if !given.iter().any(|(n, _)| n == cluster) {
            bail!("`issuers[{i}].feed.cluster` is `{cluster}`: give its address with `--cluster {cluster}=HOST:PORT`");
        }
    }
    if let Some((name, _)) = given.iter().find(|(n, _)| !named.iter().any(|(_, c)| c == n)) {
        bail!("`--cluster {name}=…`: no issuer's `feed.cluster` is `{name}`");
    }
    Ok(given)
}

/// The first of `candidates` that is a file.
fn first_file(candidates: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    candidates.into_iter().find(|p| p.is_file())
}

/// The build directory this binary sits in (`target/` for `target/cli/jitgate`).
fn build_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.to_path_buf())
}

fn find_filter(arg: Option<PathBuf>) -> Result<PathBuf> {
    let path = match arg {
        Some(p) => p,
        None => first_file(
            std::env::var_os("JITGATE_FILTER")
                .map(PathBuf::from)
                .into_iter()
                .chain(build_dir().map(|d| d.join("jitgate_filter.wasm")))
                .chain([PathBuf::from("target/jitgate_filter.wasm")]),
        )
        .ok_or_else(|| {
            anyhow!(
                "no compiled filter found: pass `--filter F.wasm` (`make filter` builds target/jitgate_filter.wasm)"
            )
        })?,
    };
    std::fs::canonicalize(&path).with_context(|| format!("`--filter`: cannot read `{}`", path.display()))
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn find_envoy(arg: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = arg {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(anyhow!("`--envoy`: `{}` is not a file", p.display()))
        };
    }
    first_file(
        std::env::var_os("JITGATE_ENVOY")
            .map(PathBuf::from)
            .into_iter()
            .chain(build_dir().map(|d| d.join("envoy-venv/bin/envoy")))
            .chain([PathBuf::from("target/envoy-venv/bin/envoy")])
            .chain(on_path("envoy")),
    )
    .ok_or_else(|| {
        anyhow!("no Envoy found: pass `--envoy PATH`, or run `make envoy-setup` (installs Envoy 1.40 into target/envoy-venv)")
    })
}

/// Asks the admin interface whether Envoy is ready (`GET /ready` → 200).
fn ready(admin: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&admin, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream
        .write_all(b"GET /ready HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// Removes the working directory and stops Envoy, whatever way the command ends.
struct Running {
    child: Child,
    dir: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Asks Envoy to shut down (SIGTERM: it drains and flushes its access log).
fn terminate(child: &Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
    }
}

/// Shell-quotes `s` for the printed curl lines.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn print_try_lines(config: &Config, plan: &Plan) {
    let gate = match plan.listen.ip() {
        ip if ip.is_unspecified() => format!("http://127.0.0.1:{}", plan.listen.port()),
        _ => format!("http://{}", plan.listen),
    };
    let mut sign = String::from("jitgate token sign --key KEY.private.jwk");
    if let Some(issuer) = config.issuers.first() {
        sign += &format!(" --iss {} --aud {}", quoted(&issuer.issuer), quoted(&issuer.audience));
    }
    sign += " --sub you@example.com";
    if let Some(resource) = &config.resource {
        sign += &format!(" --resource {}", quoted(resource));
    }
    sign += " --role ROLE --ttl 15m";
    let token_header = format!("{}: {}$TOKEN", config.token.header, config.token.prefix);
    let mut with_token = format!("curl -i {gate}/ -H \"{token_header}\"");
    match &config.identity {
        Some(IdentitySource::Header(name)) => with_token += &format!(" -H '{name}: you@example.com'"),
        Some(IdentitySource::PeerPrincipal) => outln!(
            "jitgate envoy: warning: `identity` is `peer_principal`, but this listener is plain HTTP (no client \
             certificate): every token is refused with token_subject_mismatch"
        ),
        None => {}
    }
    outln!("Try:");
    outln!("  curl -i {gate}/                  # no approval: 401 token_missing");
    outln!("  TOKEN=$({sign})");
    outln!("  {with_token}");
    outln!("  curl -s 'http://{}/stats?filter=wasmcustom.jitgate'", plan.admin);
    outln!("Audit records (`jitgate.audit {{…}}`) and access lines follow. Ctrl-C stops Envoy.");
}

/// Runs `jitgate envoy`.
pub fn run(args: EnvoyArgs) -> Result<(), Failure> {
    let (config, config_text) = files::load_config_text(&args.config, &args.policies)?;
    // Compiles the policy too, so a bad module is named here rather than in Envoy's log.
    let gate = files::gate(config.clone(), &args.config)?;
    drop(gate);
    let plan = Plan {
        config_text,
        listen: socket_addr("--listen", &args.listen)?,
        admin: socket_addr("--admin", &args.admin)?,
        upstream: HostPort::parse("--upstream", &args.upstream)?,
        feed_clusters: feed_clusters(&config, &args.clusters)?,
        filter: find_filter(args.filter)?,
        concurrency: args.concurrency,
    };
    if plan.listen == plan.admin {
        return Err(Failure::usage("`--listen` and `--admin` are the same address"));
    }
    let bootstrap = serde_json::to_string_pretty(&plan.bootstrap()).map_err(anyhow::Error::from)?;
    if args.print_bootstrap {
        outln!("{bootstrap}");
        return Ok(());
    }
    let envoy = find_envoy(args.envoy)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .map_err(|e| anyhow!("cannot handle Ctrl-C: {e}"))?;
    }

    let dir = std::env::temp_dir().join(format!("jitgate-envoy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let bootstrap_path = dir.join("envoy.json");
    std::fs::write(&bootstrap_path, &bootstrap)
        .with_context(|| format!("cannot write `{}`", bootstrap_path.display()))?;
    let child = Command::new(&envoy)
        .arg("-c")
        .arg(&bootstrap_path)
        .args(["--concurrency", &plan.concurrency.to_string()])
        .args(["--log-level", "warning", "--component-log-level", "wasm:info"])
        .arg("--disable-hot-restart")
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start `{}`", envoy.display()))?;
    let mut running = Running { child, dir };
    let pid = running.child.id();

    let started = Instant::now();
    while !ready(plan.admin) {
        if let Some(status) = running.child.try_wait().map_err(anyhow::Error::from)? {
            return Err(Failure::usage(format!(
                "Envoy (`{}`) exited ({status}) before it was ready: its log is above",
                envoy.display()
            )));
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        if started.elapsed() > READY_TIMEOUT {
            return Err(Failure::usage(format!(
                "Envoy was not ready within {} s (admin {}): its log is above",
                READY_TIMEOUT.as_secs(),
                plan.admin
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    outln!(
        "jitgate envoy: Envoy is up (pid {pid}, {} worker(s), filter {}): {} -> jitgate -> {}:{}",
        plan.concurrency,
        plan.filter.display(),
        plan.listen,
        plan.upstream.host,
        plan.upstream.port
    );
    outln!("  admin http://{}, bootstrap {}", plan.admin, bootstrap_path.display());
    print_try_lines(&config, &plan);

    // Ctrl-C in a terminal reaches Envoy too (same process group), which then shuts down
    // by itself; a SIGINT/SIGTERM sent to this process alone stops Envoy here.
    let mut stop_seen: Option<Instant> = None;
    loop {
        if let Some(status) = running.child.try_wait().map_err(anyhow::Error::from)? {
            if stop_seen.is_some() {
                outln!("jitgate envoy: stopped");
                return Ok(());
            }
            return Err(Failure::usage(format!("Envoy exited ({status})")));
        }
        if stop.load(Ordering::SeqCst) {
            match stop_seen {
                None => {
                    stop_seen = Some(Instant::now());
                    terminate(&running.child);
                }
                Some(first) if first.elapsed() > Duration::from_secs(5) => {
                    let _ = running.child.kill();
                }
                Some(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
