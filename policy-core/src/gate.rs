//! [`Gate`]: a configuration, compiled once, deciding requests.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use crate::audit::AuditRecord;
use crate::cache::{Verified, VerifiedCache};
use crate::config::FeedConfig;
use crate::config::{Config, ConfigError, IdentitySource, Mode, TokenConfig};
use crate::decision::{
    decision_id, denial_body, Action, Decision, Fault, Forward, LocalResponse, Reason, TokenStatus, APPROVAL_ID_HEADER,
    EXPIRES_HEADER, JITGATE_HEADERS, SUBJECT_HEADER,
};
use crate::extract::extract_token;
use crate::input::{self, InputParts, TokenView};
use crate::policy::{Policy, PolicyOutcome};
use crate::request::Request;
use crate::timefmt::rfc3339_from_ns;
use crate::token::{Approval, RequestFacts, TokenError, TokenFailure, Verifier};
use crate::trust::{DocumentKind, FeedError, FeedErrorCode, FeedState, TrustStatus};

/// The public half of the demo key shipped in `deploy/demo-key.private.jwk` (kid
/// `demo-2026`): its private half is published, so anyone can sign approvals with it.
pub const DEMO_KEY_X: &str = "j9qHmclDqvb44ZYNX3w0MaltCEjRpM0uhe_aAOliegc";

fn configuration_warnings(issuers: &[crate::token::Issuer]) -> Vec<String> {
    let mut warnings = Vec::new();
    for (i, issuer) in issuers.iter().enumerate() {
        for (k, key) in issuer.keys.keys().iter().enumerate() {
            if key.to_jwk().get("x").and_then(serde_json::Value::as_str) == Some(DEMO_KEY_X) {
                warnings.push(format!(
                    "configuration field `issuers[{i}].jwks.keys[{k}]`: trusts the published demo key \
                     (deploy/demo-key.private.jwk): anyone can sign approvals with it; for trying things out only"
                ));
            }
        }
    }
    warnings
}

/// The trace id of the request's `traceparent`, when it has exactly one valid one.
fn request_trace_id(request: &Request) -> Option<String> {
    let mut values = request.header_values("traceparent");
    match (values.next(), values.next()) {
        (Some(one), None) => crate::audit::trace_id(one.trim()).map(str::to_owned),
        _ => None,
    }
}

/// The most header lines a request may have (Envoy's own default limit is 100).
pub const MAX_HEADERS: usize = 1_000;

/// Response headers a policy may not set on a denial (jitgate sets them).
const RESERVED_RESPONSE_HEADERS: [&str; 3] = ["content-type", "content-length", "www-authenticate"];

/// A compiled configuration that decides requests.
///
/// `Gate` does no IO: the caller passes the request and the time. It is cheap to
/// decide with (the policy is compiled once; verified tokens are cached), and it is
/// meant for one thread, like an Envoy worker's root context (it is neither `Send`
/// nor `Sync`).
///
/// ```
/// use jitgate_core::{Gate, Request};
/// let config = r#"{
///   "issuers": [{"issuer": "https://approvals.example.com", "audience": "db-gateway",
///                "jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
///                                   "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}}],
///   "policy": {"modules": {"p.rego": "package access.jit\nallow if input.request.path == \"/healthz\""}}
/// }"#;
/// let gate = Gate::new(config)?;
/// let now_ns = 1_764_151_200_000_000_000;
/// assert!(gate.decide(&Request::new("GET", "/healthz"), now_ns).allow);
/// let denied = gate.decide(&Request::new("GET", "/orders"), now_ns);
/// assert_eq!((denied.status, denied.reason.code()), (401, "token_missing"));
/// # Ok::<(), jitgate_core::ConfigError>(())
/// ```
pub struct Gate {
    // Mutable through `&self`: the feed installs documents between decisions (a Gate is
    // single-threaded; no borrow is held across calls).
    verifier: RefCell<Verifier>,
    policy: Policy,
    resource: Option<String>,
    token: TokenConfig,
    identity: Option<IdentitySource>,
    mode: Mode,
    decision_header: Option<String>,
    cache: RefCell<VerifiedCache>,
    sequence: Cell<u64>,
    seed: [u8; 16],
    warnings: Vec<String>,
}

impl core::fmt::Debug for Gate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Gate")
            .field("policy", &self.policy)
            .field("resource", &self.resource)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Gate {
    /// Parses, validates and compiles a configuration (DESIGN §6) from JSON text.
    pub fn new(config: &str) -> Result<Self, ConfigError> {
        Self::from_config(Config::from_json_str(config)?)
    }

    /// Compiles an already parsed configuration.
    pub fn from_config(config: Config) -> Result<Self, ConfigError> {
        let Config {
            issuers,
            resource,
            token,
            identity,
            policy,
            revoked,
            mode,
            decision_header,
        } = config;
        let warnings = configuration_warnings(&issuers);
        let data = regorus::Value::from(policy.data);
        let mut compiled = Policy::compile_for(
            &policy.modules,
            data,
            &policy.entrypoint,
            policy.rego_v0,
            policy.evaluator,
        )
        .map_err(|e| ConfigError::invalid(e.field, e.message))?;
        compiled.set_eval_budget(core::time::Duration::from_millis(policy.max_eval_ms));
        Ok(Self {
            verifier: RefCell::new(Verifier::new(issuers, resource.clone(), revoked)),
            policy: compiled,
            resource,
            token,
            identity,
            mode,
            decision_header,
            cache: RefCell::new(VerifiedCache::default()),
            sequence: Cell::new(0),
            seed: [0; 16],
            warnings,
        })
    }

    /// What a host should warn about when it loads this configuration (one line each,
    /// naming the field), such as trusting the published demo key. Empty when all is well.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Sets the seed that makes decision ids unique across processes (hosts pass 16
    /// random bytes; the core itself reads no randomness). Without it, ids are unique
    /// within this `Gate` only.
    pub fn set_instance_seed(&mut self, seed: [u8; 16]) {
        self.seed = seed;
    }

    /// Replaces the verified-token cache with one of these bounds (0 disables it).
    pub fn set_cache_bounds(&mut self, max_entries: usize, max_bytes: usize) {
        self.cache = RefCell::new(VerifiedCache::new(max_entries, max_bytes));
    }

    /// What the verified-token cache charges for `token`'s entry, if it holds one
    /// (for tests and monitoring: see [`crate::cache::held_bytes`]).
    pub fn cached_bytes_estimate(&self, token: &str) -> Option<usize> {
        let cache = self.cache.try_borrow().ok()?;
        cache.get(token).map(|entry| crate::cache::held_bytes(token, entry))
    }

    /// The mode (`enforce` or `dry_run`).
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The token header name (lower case).
    pub fn token_header(&self) -> &str {
        &self.token.header
    }

    /// The compiled policy (for tools that run Rego unit tests against it).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Verifies a token without running the policy: the approval, or why it grants
    /// nothing at `now_ns` for a request with these facts.
    pub fn verify(&self, token: &str, now_ns: i64, facts: &RequestFacts<'_>) -> Result<Arc<Approval>, TokenFailure> {
        let verifier = self.verifier()?;
        let verified = self.verify_cached(&verifier, token)?;
        verifier.check_request(&verified.approval, now_ns, facts)?;
        Ok(verified.approval)
    }

    fn verifier(&self) -> Result<std::cell::Ref<'_, Verifier>, TokenFailure> {
        self.verifier
            .try_borrow()
            .map_err(|_| TokenFailure::new(TokenError::Malformed, "the trust state is being updated"))
    }

    /// Installs `issuer`'s signed revocation list (`typ: jit-revocations+jwt`, claims
    /// `iss`, `iat`, `exp`, `seq`, `revoked`) fetched at `now_ns`. A list with a lower
    /// `seq` than the installed one (or the same `seq`, issued earlier), expired, from
    /// another issuer, or failing any check is refused and the installed one stays.
    pub fn install_revocations(&self, issuer: &str, text: &str, now_ns: i64) -> Result<FeedState, FeedError> {
        self.with_verifier(DocumentKind::Revocations, |v| {
            v.install_revocations(issuer, text, now_ns)
        })
    }

    /// Installs `issuer`'s Token Status List `uri` (`typ: statuslist+jwt`, `sub` equal to
    /// `uri`, one of the issuer's `feed.status_lists`) fetched at `now_ns`; refused like
    /// a revocation list (rollback by `iat`).
    pub fn install_status_list(
        &self,
        issuer: &str,
        uri: &str,
        text: &str,
        now_ns: i64,
    ) -> Result<FeedState, FeedError> {
        self.with_verifier(DocumentKind::StatusList, |v| {
            v.install_status_list(issuer, uri, text, now_ns)
        })
    }

    /// Installs `issuer`'s key set: a `jwk-set+jwt` signed by one of the keys trusted
    /// now (so a rotation is announced by a key the gate already trusts), or a plain
    /// JWKS where `feed.unsigned_jwks` is `true`. The new set replaces the keys; tokens
    /// already verified are verified again.
    pub fn install_keys(&self, issuer: &str, text: &str, now_ns: i64) -> Result<FeedState, FeedError> {
        let state = self.with_verifier(DocumentKind::Keys, |v| v.install_keys(issuer, text, now_ns))?;
        if state.changed {
            if let Ok(mut cache) = self.cache.try_borrow_mut() {
                cache.clear();
            }
        }
        Ok(state)
    }

    /// Marks `issuer`'s installed revocation list (`uri: None`) or status list `uri` as
    /// still current at `now_ns`, after the feed answered `304 Not Modified`.
    pub fn confirm_current(&self, issuer: &str, uri: Option<&str>, now_ns: i64) -> Result<FeedState, FeedError> {
        let kind = if uri.is_some() {
            DocumentKind::StatusList
        } else {
            DocumentKind::Revocations
        };
        self.with_verifier(kind, |v| v.confirm_current(issuer, uri, now_ns))
    }

    /// Every issuer's live-trust state at `now_ns` (seq, age, staleness), for gauges.
    pub fn trust_status(&self, now_ns: i64) -> Vec<TrustStatus> {
        self.verifier
            .try_borrow()
            .map(|v| v.trust_status(now_ns))
            .unwrap_or_default()
    }

    /// The issuers that have a `feed`, each with it (in configuration order).
    pub fn feeds(&self) -> Vec<(String, FeedConfig)> {
        self.verifier
            .try_borrow()
            .map(|v| {
                v.issuers()
                    .iter()
                    .filter_map(|i| i.feed.clone().map(|f| (i.issuer.clone(), f)))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn with_verifier(
        &self,
        kind: DocumentKind,
        f: impl FnOnce(&mut Verifier) -> Result<FeedState, FeedError>,
    ) -> Result<FeedState, FeedError> {
        match self.verifier.try_borrow_mut() {
            Ok(mut verifier) => f(&mut verifier),
            Err(_) => Err(FeedError {
                kind,
                code: FeedErrorCode::NotConfigured,
                detail: "the trust state is in use (install between decisions)".into(),
            }),
        }
    }

    fn verify_cached(&self, verifier: &Verifier, token: &str) -> Result<Verified, TokenFailure> {
        if let Some(hit) = self.cache.try_borrow().ok().and_then(|c| c.get(token).cloned()) {
            return Ok(hit);
        }
        let approval = verifier.verify(token)?;
        let verified = Verified {
            approval_value: input::approval_value(&approval),
            requester_value: input::requester_value(&approval),
            approval,
        };
        if let Ok(mut cache) = self.cache.try_borrow_mut() {
            cache.insert(token, verified.clone());
        }
        Ok(verified)
    }

    /// The caller's identity from the configured source, and whether the source was
    /// ambiguous. A repeated identity header is never an identity (the authn filter in
    /// front must overwrite the header, not append to it): `(None, true)`.
    fn identity<'r>(&self, request: &'r Request) -> (Option<&'r str>, bool) {
        match &self.identity {
            None => (None, false),
            Some(IdentitySource::Header(name)) => {
                let mut values = request.header_values(name);
                match (values.next(), values.next()) {
                    (Some(one), None) => (Some(one), false),
                    (None, _) => (None, false),
                    (Some(_), Some(_)) => (None, true),
                }
            }
            Some(IdentitySource::PeerPrincipal) => (request.source.principal.as_deref(), false),
        }
    }

    fn next_decision_id(&self, now_ns: i64) -> String {
        let seq = self.sequence.get().wrapping_add(1);
        self.sequence.set(seq);
        decision_id(&self.seed, seq, now_ns)
    }

    /// A denial for a request the host could not read ([`Fault::Request`], 400
    /// `request_invalid`) or could not handle ([`Fault::Host`], 500 `internal_error`):
    /// no policy runs. `detail` goes to the audit record only. In dry run the request
    /// goes through, but never with the token or a client's own `x-jit-*` headers.
    pub fn refuse(&self, fault: Fault, detail: impl Into<String>, now_ns: i64) -> Decision {
        let decision_id = self.next_decision_id(now_ns);
        let (status, reason) = fault.status_and_reason();
        let enforced = self.mode == Mode::Enforce;
        let action = if enforced {
            Action::Respond(self.local_response(status, reason, None, &decision_id, &PolicyOutcome::Undefined))
        } else {
            let mut strip = Forward::default();
            strip.remove_headers.push(self.token.header.clone());
            strip
                .remove_headers
                .extend(JITGATE_HEADERS.iter().map(|h| (*h).to_owned()));
            self.add_decision_header(&mut strip, &decision_id);
            Action::Forward(strip)
        };
        let audit = AuditRecord::refusal(
            rfc3339_from_ns(now_ns),
            decision_id.clone(),
            self.mode.as_str(),
            enforced,
            status,
            reason.code(),
            self.resource.clone(),
            detail.into(),
        );
        Decision::without_approval(false, enforced, status, reason, decision_id, action, audit)
    }

    /// `decision` could not be applied to the request (a header could not be removed
    /// or set): the request must not go upstream, whatever was decided. The same
    /// decision (id, approval, audit fields) becomes an enforced 500 `internal_error`.
    pub fn refuse_decided(&self, decision: Decision, detail: impl Into<String>) -> Decision {
        let (status, reason) = Fault::Host.status_and_reason();
        let Decision {
            decision_id,
            token,
            approval,
            mut audit,
            over_budget,
            trust_stale,
            ..
        } = decision;
        audit.allow = false;
        audit.enforced = true;
        audit.status = status;
        audit.reason = reason.code();
        audit.detail = Some(detail.into());
        let action =
            Action::Respond(self.local_response(status, reason, None, &decision_id, &PolicyOutcome::Undefined));
        Decision {
            allow: false,
            enforced: true,
            status,
            reason,
            policy_reason: None,
            decision_id,
            token,
            approval,
            action,
            audit,
            over_budget,
            trust_stale,
        }
    }

    /// Decides `request` at `now_ns` (nanoseconds since the Unix epoch). Never
    /// panics: every failure is a denial with a reason code.
    ///
    /// The steps: the request's identity and resource; the token, extracted, verified
    /// (cached) and checked for this request ([`Gate::check_token`]); the input
    /// document and the policy; the verdict ([`Verdict::of`]); what the host does
    /// (forward or answer); the audit record ([`Gate::audit_record`]).
    pub fn decide(&self, request: &Request, now_ns: i64) -> Decision {
        if request.headers.len() > MAX_HEADERS {
            return self.refuse(
                Fault::Request,
                format!("request has {} headers, more than {MAX_HEADERS}", request.headers.len()),
                now_ns,
            );
        }
        if request.route.skip {
            return self.skip(request, now_ns);
        }
        let decision_id = self.next_decision_id(now_ns);
        let (identity, identity_ambiguous) = self.identity(request);
        let resource = request.route.resource.as_deref().or(self.resource.as_deref());
        let facts = RequestFacts {
            identity,
            identity_required: self.identity.is_some(),
            identity_ambiguous,
            certificate_sha256: request.source.certificate_sha256.as_deref(),
            route_resource: request.route.resource.as_deref(),
        };
        let (token, verified, trust_stale) = self.check_token(request, now_ns, &facts);

        let input = input::build(&InputParts {
            now_ns,
            resource,
            request,
            token_header: &self.token.header,
            identity,
            token: token_view(&token, verified.as_ref()),
        });
        let outcome = self.policy.evaluate(input, now_ns);
        let verdict = Verdict::of(&outcome, &token);

        let enforced = self.mode == Mode::Enforce;
        let approval = verified.map(|v| v.approval);
        let action = if verdict.allow || !enforced {
            let mut fwd = self.forward(request, verdict.allow, approval.as_deref(), &outcome);
            self.add_decision_header(&mut fwd, &decision_id);
            Action::Forward(fwd)
        } else {
            Action::Respond(self.local_response(
                verdict.status,
                verdict.reason,
                verdict.policy_reason.as_deref(),
                &decision_id,
                &outcome,
            ))
        };
        let audit = self.audit_record(AuditParts {
            now_ns,
            decision_id: &decision_id,
            verdict: &verdict,
            enforced,
            approval: approval.as_deref(),
            token: &token,
            resource,
            identity,
            request,
        });
        Decision {
            allow: verdict.allow,
            enforced,
            status: verdict.status,
            reason: verdict.reason,
            policy_reason: verdict.policy_reason,
            decision_id,
            token,
            approval,
            action,
            audit,
            over_budget: matches!(outcome, PolicyOutcome::OverBudget(_)),
            trust_stale,
        }
    }

    /// The token of `request`: extracted, verified (through the cache), and checked
    /// for this request (window, revocation, identity, binding). Also whether a
    /// live-trust feed behind the check was stale (and `on_stale: allow` let it pass).
    fn check_token(
        &self,
        request: &Request,
        now_ns: i64,
        facts: &RequestFacts<'_>,
    ) -> (TokenStatus, Option<Verified>, bool) {
        let mut trust_stale = false;
        let checked: Result<Option<Verified>, TokenFailure> = extract_token(request, &self.token).and_then(|t| {
            let Some(token) = t else { return Ok(None) };
            let verifier = self.verifier()?;
            let verified = self.verify_cached(&verifier, token)?;
            trust_stale = verifier.check_request(&verified.approval, now_ns, facts)?;
            Ok(Some(verified))
        });
        match checked {
            Ok(None) => (TokenStatus::Missing, None, trust_stale),
            Ok(Some(v)) => (TokenStatus::Valid, Some(v), trust_stale),
            Err(failure) => (TokenStatus::Failed(failure), None, trust_stale),
        }
    }

    /// The audit record of a decision (DESIGN §7).
    fn audit_record(&self, p: AuditParts<'_>) -> AuditRecord {
        let approval = p.approval;
        let detail = match (p.token, &p.verdict.policy_detail) {
            (TokenStatus::Failed(f), None) => Some(f.to_string()),
            (TokenStatus::Failed(f), Some(d)) => Some(format!("{f}; policy_error: {d}")),
            (_, d) => d.as_ref().map(|d| format!("policy_error: {d}")),
        };
        AuditRecord {
            ts: rfc3339_from_ns(p.now_ns),
            decision_id: p.decision_id.to_owned(),
            mode: self.mode.as_str(),
            allow: p.verdict.allow,
            enforced: p.enforced,
            status: p.verdict.status,
            reason: p.verdict.reason.code(),
            policy_reason: p.verdict.policy_reason.clone(),
            subject: approval.map(|a| a.subject.clone()),
            approval_id: approval.map(|a| a.id.clone()),
            issuer: approval.map(|a| a.issuer.clone()),
            kid: approval.map(|a| a.kid.clone()),
            resource: p.resource.map(str::to_owned),
            method: p.request.method.clone(),
            path: p.request.path.clone(),
            source: p.request.source.address.clone(),
            identity: p.identity.map(str::to_owned),
            expires: approval.map(|a| a.expires_rfc3339.clone()),
            eval_ns: None,
            request_id: p.request.effective_id().map(str::to_owned),
            trace_id: request_trace_id(p.request),
            token_present: !matches!(p.token, TokenStatus::Missing),
            detail,
        }
    }

    /// A route that needs no approval (`route.skip`): allowed with no token check and no
    /// policy; the token and client-sent `x-jit-*` headers are still removed.
    fn skip(&self, request: &Request, now_ns: i64) -> Decision {
        let decision_id = self.next_decision_id(now_ns);
        let mut fwd = self.forward(request, false, None, &PolicyOutcome::Undefined);
        self.add_decision_header(&mut fwd, &decision_id);
        let action = Action::Forward(fwd);
        let token_present = request.first_header(&self.token.header).is_some();
        let mut audit = AuditRecord::refusal(
            rfc3339_from_ns(now_ns),
            decision_id.clone(),
            self.mode.as_str(),
            self.mode == Mode::Enforce,
            200,
            Reason::Allowed.code(),
            request.route.resource.clone().or_else(|| self.resource.clone()),
            "the route needs no approval (route metadata `skip: true`)".into(),
        );
        audit.allow = true;
        audit.method.clone_from(&request.method);
        audit.path.clone_from(&request.path);
        audit.source.clone_from(&request.source.address);
        audit.request_id = request.effective_id().map(str::to_owned);
        audit.trace_id = request_trace_id(request);
        audit.token_present = token_present;
        let enforced = self.mode == Mode::Enforce;
        Decision::without_approval(true, enforced, 200, Reason::Allowed, decision_id, action, audit)
    }

    /// The decision id on the response, when `decision_header` is configured.
    fn add_decision_header(&self, fwd: &mut Forward, decision_id: &str) {
        if let Some(name) = &self.decision_header {
            fwd.response_headers.push((name.clone(), decision_id.to_owned()));
        }
    }

    fn forward(&self, request: &Request, allow: bool, approval: Option<&Approval>, outcome: &PolicyOutcome) -> Forward {
        let mut fwd = Forward::default();
        if !self.token.forward {
            fwd.remove_headers.push(self.token.header.clone());
        }
        // A client never gets to set the headers that say an approval allowed it, nor
        // a spelling an upstream could take for one (`x_jit_subject`, `X-Jit_Expires`).
        fwd.remove_headers
            .extend(JITGATE_HEADERS.iter().map(|h| (*h).to_owned()));
        for (name, _) in &request.headers {
            if !name.contains('_') {
                continue;
            }
            let lower = name.to_ascii_lowercase();
            let dashed = lower.replace('_', "-");
            let ours =
                JITGATE_HEADERS.contains(&dashed.as_str()) || (!self.token.forward && dashed == self.token.header);
            if ours && !fwd.remove_headers.contains(&lower) {
                fwd.remove_headers.push(lower);
            }
        }
        if !allow {
            return fwd;
        }
        if let PolicyOutcome::Allow {
            headers,
            response_headers,
            ..
        } = outcome
        {
            fwd.add_headers.extend(
                headers
                    .iter()
                    .filter(|(n, _)| !JITGATE_HEADERS.contains(&n.as_str()) && *n != self.token.header)
                    .cloned(),
            );
            fwd.response_headers.extend(response_headers.iter().cloned());
        }
        if let Some(a) = approval {
            fwd.add_headers.push((APPROVAL_ID_HEADER.into(), a.id.clone()));
            fwd.add_headers.push((SUBJECT_HEADER.into(), a.subject.clone()));
            fwd.add_headers.push((EXPIRES_HEADER.into(), a.expires_rfc3339.clone()));
        }
        fwd
    }

    fn local_response(
        &self,
        status: u16,
        reason: Reason,
        policy_reason: Option<&str>,
        decision_id: &str,
        outcome: &PolicyOutcome,
    ) -> LocalResponse {
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        if status == 401 {
            headers.push((
                "www-authenticate".into(),
                format!("JIT-Approval error=\"{}\"", reason.code()),
            ));
        }
        if let PolicyOutcome::Deny { headers: extra, .. } = outcome {
            headers.extend(
                extra
                    .iter()
                    .filter(|(n, _)| !RESERVED_RESPONSE_HEADERS.contains(&n.as_str()))
                    .cloned(),
            );
        }
        if let Some(name) = &self.decision_header {
            headers.push((name.clone(), decision_id.to_owned()));
        }
        let body = denial_body(reason, policy_reason, decision_id);
        LocalResponse { status, headers, body }
    }
}

/// What the token and the policy decided together, before the host applies it.
struct Verdict {
    allow: bool,
    status: u16,
    reason: Reason,
    policy_reason: Option<String>,
    /// The policy's error, when it failed or ran over its budget.
    policy_detail: Option<String>,
}

impl Verdict {
    /// The decision rule (DESIGN §5): the policy allows (200), or denies with its own
    /// status (403 by default); a policy that is undefined or fails denies. When the
    /// token is missing or failed, every denial is 401 with the token's code: the
    /// client must present a (better) approval.
    fn of(outcome: &PolicyOutcome, token: &TokenStatus) -> Self {
        let (reason, status, policy_reason, policy_detail) = match outcome {
            PolicyOutcome::Allow { reason, .. } => {
                return Self {
                    allow: true,
                    status: 200,
                    reason: Reason::Allowed,
                    policy_reason: reason.clone(),
                    policy_detail: None,
                }
            }
            PolicyOutcome::Deny { reason, status, .. } => (Reason::PolicyDenied, *status, reason.clone(), None),
            PolicyOutcome::Undefined => (Reason::PolicyUndefined, None, None, None),
            PolicyOutcome::Error(e) | PolicyOutcome::OverBudget(e) => {
                (Reason::PolicyError, None, None, Some(e.clone()))
            }
        };
        let (status, reason) = match token {
            TokenStatus::Missing => (401, Reason::Token(TokenError::Missing)),
            TokenStatus::Failed(f) => (401, Reason::Token(f.error)),
            TokenStatus::Valid => (status.unwrap_or(403), reason),
        };
        Self {
            allow: false,
            status,
            reason,
            policy_reason,
            policy_detail,
        }
    }
}

/// What the audit record is made from.
struct AuditParts<'a> {
    now_ns: i64,
    decision_id: &'a str,
    verdict: &'a Verdict,
    enforced: bool,
    approval: Option<&'a Approval>,
    token: &'a TokenStatus,
    resource: Option<&'a str>,
    identity: Option<&'a str>,
    request: &'a Request,
}

/// The token as the input document reports it.
fn token_view<'a>(token: &TokenStatus, verified: Option<&'a Verified>) -> TokenView<'a> {
    match (token, verified) {
        (TokenStatus::Valid, Some(v)) => TokenView::Valid {
            approval: &v.approval,
            approval_value: &v.approval_value,
            requester_value: &v.requester_value,
        },
        (TokenStatus::Failed(f), _) => TokenView::Failed(f.error),
        _ => TokenView::Missing,
    }
}
