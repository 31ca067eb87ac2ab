//! The filter's logic over any [`Host`]: configuration (root context) and one request
//! (HTTP context). `proxy` (wasm32 only) binds it to the proxy-wasm contexts.
//!
//! Per request: read the header map and the properties, take `now` from the host
//! clock, let the core decide, then apply the decision — forward (remove headers, then
//! set headers, keep the response headers for later) or answer locally. One audit
//! line per request at info, prefixed [`AUDIT_LOG_PREFIX`].
//!
//! Failing closed: when the filter cannot read what the decision needs (a host call
//! fails, a header value is not UTF-8, there is no configuration) it answers 400 or
//! 500 itself, with reason `request_invalid` or `internal_error`; when it cannot
//! apply a decision to the request (removing the token or a client's own `x-jit-*`
//! headers fails) it answers 500. In dry run the filter's own refusals also let the
//! request through, once the token and `x-jit-*` headers are removed. When even the
//! local answer cannot be sent, the stream is reset. No path forwards a request the
//! filter could not decide on, except in dry run.

use std::cell::Cell;
use std::rc::Rc;

use jitgate_core::decision::JITGATE_HEADERS;
use jitgate_core::timefmt::rfc3339_from_ns;
use jitgate_core::{Action, AuditRecord, Forward, Gate, Mode};

use crate::host::{Host, HostError, Level};
use crate::metrics::{self, Metrics};
use crate::request::{
    build_request, ConnectionFacts, RequestFault, PEER_CERTIFICATE_DIGEST, PEER_PRINCIPAL, REQUEST_ID,
    REQUEST_PROTOCOL, SOURCE_ADDRESS,
};

/// Prefix of every audit line: the rest of the line is one JSON object (DESIGN §7).
pub const AUDIT_LOG_PREFIX: &str = "jitgate.audit ";
/// Prefix of every other line the filter logs.
pub const LOG_PREFIX: &str = "jitgate: ";

/// What the HTTP context tells the proxy after the request headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Forward the request upstream (already changed as the decision said).
    Continue,
    /// Stop: the request was answered locally (or its stream reset).
    Stop,
}

/// Unique ids for the filter's own refusals (the core numbers its decisions itself).
#[derive(Debug)]
struct IdSource {
    seed: u128,
    sequence: Cell<u64>,
}

impl IdSource {
    fn next(&self) -> String {
        let seq = self.sequence.get().wrapping_add(1);
        self.sequence.set(seq);
        format!("{:032x}", self.seed.wrapping_add(u128::from(seq)))
    }
}

/// State a root context shares with its HTTP contexts (through an `Rc`): the compiled
/// gate, the counter ids, the id source for the filter's own refusals.
#[derive(Debug)]
pub struct Shared {
    gate: Option<Gate>,
    metrics: Metrics,
    ids: IdSource,
}

impl Shared {
    /// State without a configuration: every request is refused with 500.
    pub fn unconfigured(metrics: Metrics, seed: [u8; 16]) -> Self {
        Self {
            gate: None,
            metrics,
            ids: IdSource {
                seed: u128::from_be_bytes(seed),
                sequence: Cell::new(0),
            },
        }
    }

    /// Parses and compiles the plugin configuration (`None` when the host has none).
    /// A bad configuration is logged at error with the message naming the field,
    /// counted in `jitgate.config_errors`, and gives an unconfigured state
    /// ([`Shared::is_configured`] is false; the root context then returns false from
    /// `on_configure`, so Envoy rejects the configuration). `seed` (16 random bytes)
    /// makes decision ids unique across VMs.
    pub fn configure<H: Host>(host: &H, config: Option<&[u8]>, metrics: Metrics, seed: [u8; 16]) -> Self {
        let mut shared = Self::unconfigured(metrics, seed);
        let text = match config.map(core::str::from_utf8) {
            None | Some(Ok("")) => Err(
                "configuration field `configuration`: is empty; set it to the jitgate JSON configuration".to_owned(),
            ),
            Some(Err(_)) => Err("configuration is not UTF-8".to_owned()),
            Some(Ok(text)) => Ok(text),
        };
        match text.and_then(|t| Gate::new(t).map_err(|e| e.to_string())) {
            Ok(mut gate) => {
                gate.set_instance_seed(seed);
                host.log(
                    Level::Info,
                    &format!(
                        "{LOG_PREFIX}configuration accepted (mode `{}`, token header `{}`)",
                        gate.mode().as_str(),
                        gate.token_header()
                    ),
                );
                shared.gate = Some(gate);
            }
            Err(message) => {
                host.log(Level::Error, &format!("{LOG_PREFIX}configuration rejected: {message}"));
                shared.metrics.increment(host, metrics::CONFIG_ERRORS);
            }
        }
        shared
    }

    /// Whether a configuration was accepted.
    pub fn is_configured(&self) -> bool {
        self.gate.is_some()
    }

    /// The compiled gate, when configured.
    pub fn gate(&self) -> Option<&Gate> {
        self.gate.as_ref()
    }

    /// The counter ids.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// Why the filter refuses a request before or instead of the core's decision.
#[derive(Debug)]
struct Refusal {
    /// The client is at fault (400 `request_invalid`), else the host (500 `internal_error`).
    client: bool,
    detail: String,
}

impl Refusal {
    fn internal(detail: impl Into<String>) -> Self {
        Self {
            client: false,
            detail: detail.into(),
        }
    }

    fn status(&self) -> u16 {
        if self.client {
            400
        } else {
            500
        }
    }

    fn reason(&self) -> &'static str {
        if self.client {
            metrics::REQUEST_INVALID
        } else {
            metrics::INTERNAL_ERROR
        }
    }
}

impl From<RequestFault> for Refusal {
    fn from(fault: RequestFault) -> Self {
        Self {
            client: fault.is_client_error(),
            detail: fault.to_string(),
        }
    }
}

/// One HTTP request's filter.
#[derive(Debug)]
pub struct Filter {
    shared: Rc<Shared>,
    response_headers: Vec<(String, String)>,
}

impl Filter {
    /// A filter for one request, sharing the root context's state.
    pub fn new(shared: Rc<Shared>) -> Self {
        Self {
            shared,
            response_headers: Vec::new(),
        }
    }

    /// Decides the request and applies the decision (see the module docs).
    pub fn on_request_headers<H: Host>(&mut self, host: &mut H) -> Verdict {
        let shared = Rc::clone(&self.shared);
        let Some(gate) = shared.gate.as_ref() else {
            return self.refuse(host, None, Refusal::internal("the filter has no configuration"), None);
        };
        let now = match host.now_ns() {
            Ok(now) => now,
            Err(e) => {
                return self.refuse(
                    host,
                    Some(gate),
                    Refusal::internal(format!("reading the clock: {e}")),
                    None,
                )
            }
        };
        let request = match read_request(host) {
            Ok(request) => request,
            Err(refusal) => return self.refuse(host, Some(gate), refusal, Some(now)),
        };

        let decision = gate.decide(&request, now);
        let counters = decision.counters();
        let mut audit = decision.audit;
        audit.eval_ns = host
            .now_ns()
            .ok()
            .and_then(|end| u64::try_from(end.saturating_sub(now)).ok());

        match decision.action {
            Action::Forward(forward) => {
                if let Err(e) = apply_forward(host, &forward) {
                    // The request may still carry the token or a client's own x-jit-*
                    // headers: it must not go upstream, whatever the decision was.
                    let refusal = Refusal::internal(format!("applying the decision to the request: {e}"));
                    audit.allow = false;
                    audit.enforced = true;
                    audit.status = refusal.status();
                    audit.reason = refusal.reason();
                    audit.detail = Some(refusal.detail.clone());
                    self.emit(host, &audit, &[metrics::DENIED, &denied(refusal.reason())]);
                    log_refusal(host, &refusal, &audit.decision_id);
                    send_or_reset(host, &refusal_response(&refusal, &audit.decision_id));
                    return Verdict::Stop;
                }
                self.emit(host, &audit, &counters);
                self.response_headers = forward.response_headers;
                Verdict::Continue
            }
            Action::Respond(response) => {
                self.emit(host, &audit, &counters);
                send_or_reset(
                    host,
                    &LocalAnswer {
                        status: response.status,
                        headers: response.headers,
                        body: response.body,
                    },
                );
                Verdict::Stop
            }
        }
    }

    /// Adds the response headers an allowing policy asked for. A header the host
    /// refuses is logged and skipped (the request was already allowed).
    pub fn on_response_headers<H: Host>(&mut self, host: &mut H) {
        for (name, value) in core::mem::take(&mut self.response_headers) {
            if let Err(e) = host.add_response_header(&name, &value) {
                host.log(
                    Level::Warn,
                    &format!("{LOG_PREFIX}response header `{name}` not added: {e}"),
                );
            }
        }
    }

    /// The response headers kept for [`Filter::on_response_headers`].
    pub fn pending_response_headers(&self) -> &[(String, String)] {
        &self.response_headers
    }

    fn refuse<H: Host>(
        &mut self,
        host: &mut H,
        gate: Option<&Gate>,
        mut refusal: Refusal,
        now: Option<i64>,
    ) -> Verdict {
        let decision_id = self.shared.ids.next();
        let dry_run = gate.is_some_and(|g| g.mode() == Mode::DryRun);
        let mut enforced = !dry_run;
        if let (true, Some(gate)) = (dry_run, gate) {
            // Dry run lets the request through, but never with the token or a client's
            // own x-jit-* headers.
            if let Err(e) = strip(host, gate) {
                refusal = Refusal::internal(format!(
                    "{}; then removing the token and x-jit-* headers: {e}",
                    refusal.detail
                ));
                enforced = true;
            }
        }
        let audit = AuditRecord {
            ts: now.map(rfc3339_from_ns).unwrap_or_default(),
            decision_id,
            mode: gate.map_or(Mode::Enforce, Gate::mode).as_str(),
            allow: false,
            enforced,
            status: refusal.status(),
            reason: refusal.reason(),
            policy_reason: None,
            subject: None,
            approval_id: None,
            issuer: None,
            kid: None,
            resource: None,
            method: String::new(),
            path: String::new(),
            source: None,
            identity: None,
            expires: None,
            eval_ns: None,
            request_id: None,
            token_present: false,
            detail: Some(refusal.detail.clone()),
        };
        let counters = counters_of(&audit);
        self.emit(host, &audit, &counters);
        log_refusal(host, &refusal, &audit.decision_id);
        if !enforced {
            return Verdict::Continue;
        }
        send_or_reset(host, &refusal_response(&refusal, &audit.decision_id));
        Verdict::Stop
    }

    fn emit<H: Host, S: AsRef<str>>(&self, host: &H, audit: &AuditRecord, counters: &[S]) {
        host.log(Level::Info, &format!("{AUDIT_LOG_PREFIX}{}", audit.to_json_line()));
        for name in counters {
            self.shared.metrics.increment(host, name.as_ref());
        }
    }
}

/// The counters of a refusal, named as `Decision::counters` names a decision's.
fn counters_of(audit: &AuditRecord) -> Vec<String> {
    if audit.allow {
        return vec![metrics::ALLOWED.to_owned()];
    }
    let mut names = vec![metrics::DENIED.to_owned(), denied(audit.reason)];
    if !audit.enforced {
        names.push(metrics::DRY_RUN_WOULD_DENY.to_owned());
    }
    names
}

fn denied(reason: &str) -> String {
    format!("{}{reason}", metrics::DENIED_PREFIX)
}

fn log_refusal<H: Host>(host: &H, refusal: &Refusal, decision_id: &str) {
    let level = if refusal.client { Level::Warn } else { Level::Error };
    host.log(
        level,
        &format!(
            "{LOG_PREFIX}request refused with {} `{}` (decision {decision_id}): {}",
            refusal.status(),
            refusal.reason(),
            refusal.detail
        ),
    );
}

/// Reads the header map and the properties into a request.
fn read_request<H: Host>(host: &H) -> Result<jitgate_core::Request, Refusal> {
    let headers = host
        .request_headers()
        .map_err(|e| Refusal::internal(format!("reading the request headers: {e}")))?;
    let facts = ConnectionFacts {
        address: property(host, SOURCE_ADDRESS)?,
        principal: property(host, PEER_PRINCIPAL)?,
        certificate_digest_hex: property(host, PEER_CERTIFICATE_DIGEST)?,
        request_id: property(host, REQUEST_ID)?,
        protocol: property(host, REQUEST_PROTOCOL)?,
    };
    Ok(build_request(headers, facts)?)
}

fn property<H: Host>(host: &H, path: &[&str]) -> Result<Option<String>, Refusal> {
    match host.property(path) {
        Ok(None) => Ok(None),
        Ok(Some(bytes)) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| RequestFault::PropertyNotUtf8(path.join(".")).into()),
        Err(e) => Err(Refusal::internal(format!("reading property `{}`: {e}", path.join(".")))),
    }
}

/// Applies a forward decision: removals first, then the headers to set.
fn apply_forward<H: Host>(host: &mut H, forward: &Forward) -> Result<(), HostError> {
    for name in &forward.remove_headers {
        host.remove_request_header(name)?;
    }
    for (name, value) in &forward.add_headers {
        host.set_request_header(name, value)?;
    }
    Ok(())
}

/// Removes the token header and the x-jit-* headers (dry-run pass-through of a refusal).
fn strip<H: Host>(host: &mut H, gate: &Gate) -> Result<(), HostError> {
    host.remove_request_header(gate.token_header())?;
    for name in JITGATE_HEADERS {
        host.remove_request_header(name)?;
    }
    Ok(())
}

struct LocalAnswer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn refusal_response(refusal: &Refusal, decision_id: &str) -> LocalAnswer {
    // Both values are ASCII `[a-z0-9_]` (a reason code and a hex id): no escaping needed.
    LocalAnswer {
        status: refusal.status(),
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: format!(
            "{{\"error\":\"access_denied\",\"reason\":\"{}\",\"decision_id\":\"{decision_id}\"}}",
            refusal.reason()
        ),
    }
}

/// Sends a local answer; if the host refuses, resets the stream so the request can
/// never continue upstream.
fn send_or_reset<H: Host>(host: &mut H, answer: &LocalAnswer) {
    let Err(e) = host.send_response(answer.status, &answer.headers, &answer.body) else {
        return;
    };
    host.log(
        Level::Critical,
        &format!(
            "{LOG_PREFIX}local response {} not sent ({e}); resetting the stream",
            answer.status
        ),
    );
    if let Err(e) = host.reset_request() {
        host.log(
            Level::Critical,
            &format!("{LOG_PREFIX}stream not reset ({e}); the request stays paused"),
        );
    }
}
