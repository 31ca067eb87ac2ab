//! The filter's counters (DESIGN §7), all declared here, defined once per root context
//! and incremented by id.
//!
//! Envoy exports proxy-wasm counters with a `wasmcustom.` prefix
//! (`wasmcustom.jitgate.denied.token_expired`); Istio shows them once the proxy's stats
//! inclusion list names `wasmcustom.jitgate` (see `deploy/istio-wasmplugin.yaml`).

use std::collections::BTreeMap;

use jitgate_core::Reason;

use crate::host::{HostCalls, Level};

/// Every allowed decision.
pub const ALLOWED: &str = "jitgate.allowed";
/// Every denial, enforced or not.
pub const DENIED: &str = "jitgate.denied";
/// Prefix of the per-reason denial counters (`jitgate.denied.token_expired`).
pub const DENIED_PREFIX: &str = "jitgate.denied.";
/// Denials in dry run (the request went through).
pub const DRY_RUN_WOULD_DENY: &str = "jitgate.dry_run.would_deny";
/// Configurations the filter rejected.
pub const CONFIG_ERRORS: &str = "jitgate.config_errors";

/// The names of every counter, in definition order: `jitgate.allowed`,
/// `jitgate.denied`, `jitgate.denied.<code>` for every denial code of the core,
/// `jitgate.dry_run.would_deny`, `jitgate.policy_over_budget`,
/// `jitgate.feed.served_stale`, `jitgate.config_errors`, and the feed's counters
/// ([`crate::feed::counter_names`]).
pub fn counter_names() -> Vec<String> {
    let mut names = vec![ALLOWED.to_owned(), DENIED.to_owned()];
    names.extend(
        Reason::all_codes()
            .filter(|code| *code != Reason::Allowed.code())
            .map(|code| format!("{DENIED_PREFIX}{code}")),
    );
    names.push(DRY_RUN_WOULD_DENY.to_owned());
    names.push(jitgate_core::POLICY_OVER_BUDGET_COUNTER.to_owned());
    names.push(jitgate_core::SERVED_STALE_COUNTER.to_owned());
    names.push(CONFIG_ERRORS.to_owned());
    names.extend(crate::feed::counter_names());
    names
}

/// Counter ids by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterIds {
    ids: BTreeMap<String, u32>,
}

impl CounterIds {
    /// Defines every counter of [`counter_names`]. A counter the host refuses is logged
    /// and left out (incrementing it is then a no-op): metrics never fail a request.
    pub fn define<H: HostCalls>(host: &H) -> Self {
        let mut ids = BTreeMap::new();
        for name in counter_names() {
            match host.define_counter(&name) {
                Ok(id) => {
                    ids.insert(name, id);
                }
                Err(e) => host.log(Level::Warn, &format!("jitgate: counter `{name}` not defined: {e}")),
            }
        }
        Self { ids }
    }

    /// The id of counter `name`, if it is defined.
    pub fn id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// Adds one to counter `name`.
    pub fn increment<H: HostCalls>(&self, host: &H, name: &str) {
        let Some(id) = self.id(name) else {
            return;
        };
        if let Err(e) = host.increment_counter(id) {
            host.log(Level::Warn, &format!("jitgate: counter `{name}` not incremented: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_code_has_a_denial_counter() {
        let names = counter_names();
        for code in Reason::all_codes().filter(|c| *c != "allowed") {
            assert!(names.contains(&format!("jitgate.denied.{code}")), "{code}");
        }
        for name in [
            "jitgate.allowed",
            "jitgate.denied",
            "jitgate.denied.token_missing",
            "jitgate.denied.policy_denied",
            "jitgate.denied.request_invalid",
            "jitgate.denied.internal_error",
            "jitgate.dry_run.would_deny",
            "jitgate.policy_over_budget",
            "jitgate.config_errors",
        ] {
            assert!(names.iter().any(|n| n == name), "{name}");
        }
        assert!(!names.iter().any(|n| n == "jitgate.denied.allowed"));
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }
}
