//! Hosts that decide cases, and what they decided in the terms a case checks.

use jitgate_core::{Action, Decision, Gate, Request};

/// What a host decided, in the terms a case checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Whether the request went upstream.
    pub allow: bool,
    /// The decision's status (in a dry run, the status it would have had).
    pub status: u16,
    /// The reason code.
    pub reason: String,
    /// The policy's reason, if any.
    pub policy_reason: Option<String>,
    /// The request headers sent upstream (lower-case names), when it was forwarded.
    pub upstream: Option<Vec<(String, String)>>,
}

impl Observed {
    /// What the native core decided for `request`: the headers forwarded are the
    /// request's with the decision's changes ([`jitgate_core::Forward::apply_to`]).
    pub fn from_decision(decision: &Decision, request: &Request) -> Self {
        let upstream = match &decision.action {
            Action::Forward(forward) => {
                let mut headers = request.headers.clone();
                forward.apply_to(&mut headers);
                Some(headers.into_iter().map(|(n, v)| (n.to_ascii_lowercase(), v)).collect())
            }
            Action::Respond(_) => None,
        };
        Self {
            allow: decision.allow,
            status: decision.status,
            reason: decision.reason.code().to_owned(),
            policy_reason: decision.policy_reason.clone(),
            upstream,
        }
    }
}

/// A host that decides requests: the native core ([`Native`]), the filter in the
/// harness (`jitgate_harness::Host`), … — so one corpus runs through every host.
pub trait Decider {
    /// What this host decides for `request` at `now_ns` (ns since the epoch); an
    /// error is a fault of the host itself (it could not run the request at all).
    fn decide(&mut self, request: &Request, now_ns: i64) -> Result<Observed, String>;
}

/// The native core as a [`Decider`].
pub struct Native(pub Gate);

impl Decider for Native {
    fn decide(&mut self, request: &Request, now_ns: i64) -> Result<Observed, String> {
        Ok(Observed::from_decision(&self.0.decide(request, now_ns), request))
    }
}
