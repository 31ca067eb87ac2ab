//! The filter's logic over any [`HostCalls`]: configuration (root context) and one request
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

use jitgate_core::{Action, Decision, Fault, Forward, Gate, Reason};

use crate::host::{HostCalls, HostError, Level};
use crate::metrics::{self, CounterIds};
use crate::request::{
    build_request, parse_route_metadata, ConnectionFacts, RequestFault, PEER_CERTIFICATE_DIGEST, PEER_PRINCIPAL,
    REQUEST_PROTOCOL, ROUTE_METADATA, SOURCE_ADDRESS,
};

/// Prefix of every audit line: the rest of the line is one JSON object (DESIGN §7).
pub use jitgate_core::AUDIT_LOG_PREFIX;
/// The header that makes a `test-trap` build abort its VM (test builds only).
#[cfg(feature = "test-trap")]
pub const TEST_TRAP_HEADER: &str = "x-jitgate-test-trap";
/// Filter state of every decision (Envoy: `wasm.jitgate.decision_id`, for the access log).
pub const FILTER_STATE_DECISION_ID: &str = "jitgate.decision_id";
/// Filter state: the decision's reason code.
pub const FILTER_STATE_REASON: &str = "jitgate.reason";
/// Filter state: the verified approval's `jti` (only when one verified).
pub const FILTER_STATE_APPROVAL_ID: &str = "jitgate.approval_id";
/// Filter state: the verified approval's `sub` (only when one verified).
pub const FILTER_STATE_SUBJECT: &str = "jitgate.subject";
/// Filter state: the resource the request was decided for.
pub const FILTER_STATE_RESOURCE: &str = "jitgate.resource";
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

/// State a root context shares with its HTTP contexts (through an `Rc`): the compiled
/// gate and the counter ids (and, without a configuration, what numbers refusals).
#[derive(Debug)]
pub struct Shared {
    gate: Option<Gate>,
    metrics: CounterIds,
    seed: [u8; 16],
    unconfigured_sequence: Cell<u64>,
    kid_unknown: Cell<bool>,
}

impl Shared {
    /// State without a configuration: every request is refused with 500.
    pub fn unconfigured(metrics: CounterIds, seed: [u8; 16]) -> Self {
        Self {
            gate: None,
            metrics,
            seed,
            unconfigured_sequence: Cell::new(0),
            kid_unknown: Cell::new(false),
        }
    }

    /// Parses and compiles the plugin configuration (`None` when the host has none).
    /// A bad configuration is logged at error with the message naming the field,
    /// counted in `jitgate.config_errors`, and gives an unconfigured state
    /// ([`Shared::is_configured`] is false; the root context then returns false from
    /// `on_configure`, so Envoy rejects the configuration). `seed` (16 random bytes)
    /// makes decision ids unique across VMs.
    pub fn configure<H: HostCalls>(host: &H, config: Option<&[u8]>, metrics: CounterIds, seed: [u8; 16]) -> Self {
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
                        "{LOG_PREFIX}configuration accepted (mode `{}`, token header `{}`; {})",
                        gate.mode().as_str(),
                        gate.token_header(),
                        gate.policy().evaluator()
                    ),
                );
                for warning in gate.warnings() {
                    host.log(Level::Warn, &format!("{LOG_PREFIX}{warning}"));
                }
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
    pub fn metrics(&self) -> &CounterIds {
        &self.metrics
    }

    /// Whether a request was denied `token_key_unknown` since the last call (the feed
    /// then fetches the key set early); clears the flag.
    pub fn take_kid_unknown(&self) -> bool {
        self.kid_unknown.replace(false)
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
    pub fn on_request_headers<H: HostCalls>(&mut self, host: &mut H) -> Verdict {
        let shared = Rc::clone(&self.shared);
        let Some(gate) = shared.gate.as_ref() else {
            return self.refuse_unconfigured(host);
        };
        let now = match host.now_ns() {
            Ok(now) => now,
            Err(e) => {
                return self.apply(
                    host,
                    gate,
                    gate.refuse(Fault::Host, format!("reading the clock: {e}"), 0),
                    None,
                )
            }
        };
        let request = match read_request(host) {
            Ok(request) => request,
            Err((fault, detail)) => return self.apply(host, gate, gate.refuse(fault, detail, now), Some(now)),
        };

        #[cfg(feature = "test-trap")]
        if request.first_header(TEST_TRAP_HEADER).is_some() {
            // Test builds only (feature `test-trap`): a Wasm trap, as a bug would cause.
            std::process::abort();
        }

        let mut decision = gate.decide(&request, now);
        if let Action::Forward(forward) = &mut decision.action {
            // Removing a header the request does not carry changes nothing and costs a
            // host call: only those it carries (the header map was read just now).
            forward
                .remove_headers
                .retain(|name| request.headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(name)));
        }
        if decision.reason == Reason::Token(jitgate_core::TokenError::KeyUnknown) {
            shared.kid_unknown.set(true);
        }
        self.apply(host, gate, decision, Some(now))
    }

    /// Applies a decision of the core: forward (removals, then the headers to set) or
    /// answer locally; then the audit line and the counters. `started` is when deciding
    /// began, for `eval_ns`. A forward that cannot be applied becomes the core's
    /// enforced 500 refusal of the same decision.
    fn apply<H: HostCalls>(
        &mut self,
        host: &mut H,
        gate: &Gate,
        mut decision: Decision,
        started: Option<i64>,
    ) -> Verdict {
        if let Some(start) = started {
            decision.audit.eval_ns = host
                .now_ns()
                .ok()
                .and_then(|end| u64::try_from(end.saturating_sub(start)).ok());
        }
        if let Action::Forward(forward) = &mut decision.action {
            if let Err(e) = apply_forward(host, forward) {
                // The request may still carry the token or a client's own x-jit-*
                // headers: it must not go upstream, whatever the decision was.
                let refused = gate.refuse_decided(decision, format!("applying the decision to the request: {e}"));
                return self.apply(host, gate, refused, None);
            }
            self.response_headers = core::mem::take(&mut forward.response_headers);
        }
        self.emit(host, &decision);
        match &decision.action {
            Action::Forward(_) => Verdict::Continue,
            Action::Respond(response) => {
                send_or_reset(host, response.status, &response.headers, &response.body);
                Verdict::Stop
            }
        }
    }

    /// Without a configuration (Envoy normally refuses such a plugin): the core's
    /// 500 `internal_error` decision, numbered from this filter's seed.
    fn refuse_unconfigured<H: HostCalls>(&mut self, host: &mut H) -> Verdict {
        let now = host.now_ns().unwrap_or(0);
        let sequence = self.shared.unconfigured_sequence.get().wrapping_add(1);
        self.shared.unconfigured_sequence.set(sequence);
        let decision = Decision::unconfigured(&self.shared.seed, sequence, now, "the filter has no configuration");
        self.emit(host, &decision);
        if let Action::Respond(response) = &decision.action {
            send_or_reset(host, response.status, &response.headers, &response.body);
        }
        Verdict::Stop
    }

    /// Adds the response headers an allowing policy asked for. A header the host
    /// refuses is logged and skipped (the request was already allowed).
    pub fn on_response_headers<H: HostCalls>(&mut self, host: &mut H) {
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

    fn emit<H: HostCalls>(&self, host: &mut H, decision: &Decision) {
        // For Envoy's access log: %FILTER_STATE(wasm.jitgate.decision_id:PLAIN)% and so on.
        let approval = decision.approval.as_deref();
        let state = [
            (FILTER_STATE_DECISION_ID, Some(decision.decision_id.as_str())),
            (FILTER_STATE_REASON, Some(decision.reason.code())),
            (FILTER_STATE_APPROVAL_ID, approval.map(|a| a.id.as_str())),
            (FILTER_STATE_SUBJECT, approval.map(|a| a.subject.as_str())),
            (FILTER_STATE_RESOURCE, decision.audit.resource.as_deref()),
        ];
        for (name, value) in state {
            if let Some(value) = value {
                if let Err(e) = host.set_filter_state(name, value) {
                    host.log(Level::Warn, &format!("{LOG_PREFIX}filter state `{name}` not set: {e}"));
                }
            }
        }
        // Formatting the line costs about a tenth of the filter's time per request in
        // Envoy: only when the host will write it (the `wasm` logger at info or below).
        if host.writes(Level::Info) {
            host.log(
                Level::Info,
                &format!("{AUDIT_LOG_PREFIX}{}", decision.audit.to_json_line()),
            );
        }
        if let (Reason::RequestInvalid | Reason::InternalError, Some(detail)) =
            (decision.reason, &decision.audit.detail)
        {
            let level = if decision.reason == Reason::RequestInvalid {
                Level::Warn
            } else {
                Level::Error
            };
            host.log(
                level,
                &format!(
                    "{LOG_PREFIX}request refused with {} `{}` (decision {}): {detail}",
                    decision.status, decision.reason, decision.decision_id
                ),
            );
        }
        for name in decision.counters() {
            self.shared.metrics.increment(host, &name);
        }
    }
}

/// Reads the header map and the properties into a request, or why it cannot be read.
fn read_request<H: HostCalls>(host: &H) -> Result<jitgate_core::Request, (Fault, String)> {
    let headers = host
        .request_headers()
        .map_err(|e| (Fault::Host, format!("reading the request headers: {e}")))?;
    let facts = ConnectionFacts {
        address: property(host, SOURCE_ADDRESS)?,
        principal: property(host, PEER_PRINCIPAL)?,
        certificate_digest_hex: property(host, PEER_CERTIFICATE_DIGEST)?,
        protocol: property(host, REQUEST_PROTOCOL)?,
    };
    let mut request = build_request(headers, facts).map_err(|fault| {
        let kind = if fault.is_client_error() {
            Fault::Request
        } else {
            Fault::Host
        };
        (kind, fault.to_string())
    })?;
    // The matched route's settings: an operator's configuration, so a value jitgate
    // cannot use is a 500 naming it, never a silent fallback to the plugin's resource.
    match host.property(ROUTE_METADATA) {
        Ok(None) => {}
        Ok(Some(bytes)) => request.route = parse_route_metadata(&bytes).map_err(|e| (Fault::Host, e))?,
        Err(e) => {
            return Err((
                Fault::Host,
                format!("reading property `{}`: {e}", ROUTE_METADATA.join(".")),
            ))
        }
    }
    Ok(request)
}

fn property<H: HostCalls>(host: &H, path: &[&str]) -> Result<Option<String>, (Fault, String)> {
    match host.property(path) {
        Ok(None) => Ok(None),
        Ok(Some(bytes)) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| (Fault::Host, RequestFault::PropertyNotUtf8(path.join(".")).to_string())),
        Err(e) => Err((Fault::Host, format!("reading property `{}`: {e}", path.join(".")))),
    }
}

/// Applies a forward decision: removals first, then the headers to set.
fn apply_forward<H: HostCalls>(host: &mut H, forward: &Forward) -> Result<(), HostError> {
    for name in &forward.remove_headers {
        host.remove_request_header(name)?;
    }
    for (name, value) in &forward.add_headers {
        host.set_request_header(name, value)?;
    }
    Ok(())
}

/// Sends a local answer; if the host refuses, resets the stream so the request can
/// never continue upstream.
fn send_or_reset<H: HostCalls>(host: &mut H, status: u16, headers: &[(String, String)], body: &str) {
    let Err(e) = host.send_response(status, headers, body) else {
        return;
    };
    host.log(
        Level::Critical,
        &format!("{LOG_PREFIX}local response {status} not sent ({e}); resetting the stream"),
    );
    if let Err(e) = host.reset_request() {
        host.log(
            Level::Critical,
            &format!("{LOG_PREFIX}stream not reset ({e}); the request stays paused"),
        );
    }
}
