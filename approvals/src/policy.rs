//! The approval policy (`data.jitgate.approvals`), evaluated with regorus on one
//! worker thread that owns the compiled engine (regorus engines are not `Send`).
//!
//! The default policy and data are the shipped `policies/approvals.rego` and
//! `policies/approvals.data.json`; `--policy` and `--policy-data` replace them.

use std::collections::BTreeMap;

use jitgate_core::regorus::Value as RegoValue;
use jitgate_core::unstable::policy::load_modules;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// The shipped default policy.
pub const DEFAULT_POLICY: &str = include_str!("../../policies/approvals.rego");
/// The shipped default policy data (`data.approvals_config`).
pub const DEFAULT_DATA: &str = include_str!("../../policies/approvals.data.json");

/// What the policy says about one caller and one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    /// `may_request`.
    pub may_request: bool,
    /// `may_approve` (approve or deny).
    pub may_approve: bool,
    /// `may_revoke`.
    pub may_revoke: bool,
    /// `may_audit`.
    pub may_audit: bool,
    /// `required_approvals`: distinct approvers needed.
    pub required_approvals: i64,
    /// `max_duration_s`.
    pub max_duration_s: i64,
    /// `requires_ticket`.
    pub requires_ticket: bool,
}

/// Why the policy could not be loaded or asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The module or data does not compile.
    #[error("approval policy: {0}")]
    Load(String),
    /// Evaluation failed.
    #[error("approval policy evaluation: {0}")]
    Eval(String),
    /// The worker thread is gone.
    #[error("approval policy worker stopped")]
    Stopped,
}

type Job = (Value, i64, oneshot::Sender<Result<Answers, PolicyError>>);

/// A handle to the policy worker; cheap to clone.
#[derive(Debug, Clone)]
pub struct ApprovalPolicy {
    jobs: mpsc::UnboundedSender<Job>,
}

const PREFIX: &str = "data.jitgate.approvals.";

fn rule(engine: &mut jitgate_core::regorus::Engine, name: &str) -> Result<RegoValue, PolicyError> {
    engine
        .eval_rule(format!("{PREFIX}{name}"))
        .map_err(|e| PolicyError::Eval(format!("{name}: {e}")))
}

fn boolean(engine: &mut jitgate_core::regorus::Engine, name: &str) -> Result<bool, PolicyError> {
    Ok(matches!(rule(engine, name)?, RegoValue::Bool(true)))
}

fn integer(engine: &mut jitgate_core::regorus::Engine, name: &str, default: i64) -> Result<i64, PolicyError> {
    match rule(engine, name)? {
        RegoValue::Undefined => Ok(default),
        v => v
            .as_i64()
            .map_err(|_| PolicyError::Eval(format!("{name} must be an integer, got {v}"))),
    }
}

fn answer(engine: &mut jitgate_core::regorus::Engine, input: &Value) -> Result<Answers, PolicyError> {
    let input = RegoValue::from_json_str(&input.to_string()).map_err(|e| PolicyError::Eval(e.to_string()))?;
    engine.set_input(input);
    Ok(Answers {
        may_request: boolean(engine, "may_request")?,
        may_approve: boolean(engine, "may_approve")?,
        may_revoke: boolean(engine, "may_revoke")?,
        may_audit: boolean(engine, "may_audit")?,
        required_approvals: integer(engine, "required_approvals", 1)?.max(1),
        max_duration_s: integer(engine, "max_duration_s", 0)?,
        requires_ticket: boolean(engine, "requires_ticket")?,
    })
}

impl ApprovalPolicy {
    /// Compiles `policy` with `data` (the JSON for `data.approvals_config`), checks it
    /// answers every rule, and starts the worker thread.
    pub fn start(policy: &str, data: &str) -> Result<Self, PolicyError> {
        let data: Value = serde_json::from_str(data).map_err(|e| PolicyError::Load(format!("policy data: {e}")))?;
        let doc = serde_json::json!({ "approvals_config": data }).to_string();
        let modules = BTreeMap::from([("approvals.rego".to_owned(), policy.to_owned())]);
        // The engine is built on the worker thread and never leaves it.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), PolicyError>>();
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name("approval-policy".into())
            .spawn(move || {
                let loaded = RegoValue::from_json_str(&doc)
                    .map_err(|e| PolicyError::Load(e.to_string()))
                    .and_then(|data| load_modules(&modules, data, false).map_err(|e| PolicyError::Load(e.message)));
                let (mut engine, clock) = match loaded {
                    Ok(v) => v,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // Every rule must evaluate now, not at the first request.
                let probe = serde_json::json!({"action": "request", "caller": "", "request": {}});
                if let Err(e) = answer(&mut engine, &probe) {
                    let _ = ready_tx.send(Err(PolicyError::Load(e.to_string())));
                    return;
                }
                let _ = ready_tx.send(Ok(()));
                while let Some((input, now_ns, reply)) = rx.blocking_recv() {
                    clock.set(now_ns);
                    let mut e = engine.clone();
                    let _ = reply.send(answer(&mut e, &input));
                }
            })
            .map_err(|e| PolicyError::Load(format!("cannot start the policy thread: {e}")))?;
        ready_rx.recv().map_err(|_| PolicyError::Stopped)??;
        Ok(Self { jobs })
    }

    /// Asks the policy about `caller` doing `action` on `request` at `now_ns`.
    pub async fn ask(&self, action: &str, caller: &str, request: &Value, now_ns: i64) -> Result<Answers, PolicyError> {
        let input = serde_json::json!({"action": action, "caller": caller, "request": request});
        let (tx, rx) = oneshot::channel();
        self.jobs.send((input, now_ns, tx)).map_err(|_| PolicyError::Stopped)?;
        rx.await.map_err(|_| PolicyError::Stopped)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn default_policy_answers() {
        let policy = ApprovalPolicy::start(DEFAULT_POLICY, DEFAULT_DATA).unwrap();
        let request =
            serde_json::json!({"requester": "alice@example.com", "resource": "test-database", "role": "admin"});
        let a = policy.ask("request", "alice@example.com", &request, 0).await.unwrap();
        assert!(a.may_request && !a.may_approve && a.may_revoke && !a.may_audit);
        assert_eq!(
            (a.required_approvals, a.max_duration_s, a.requires_ticket),
            (2, 1800, true)
        );
        let b = policy.ask("approve", "bob@example.com", &request, 0).await.unwrap();
        assert!(b.may_approve && b.may_audit && !b.may_request);
    }

    #[test]
    fn bad_policy_is_a_load_error() {
        assert!(matches!(
            ApprovalPolicy::start("package x\nallow if {", "{}"),
            Err(PolicyError::Load(_))
        ));
        assert!(matches!(
            ApprovalPolicy::start(DEFAULT_POLICY, "[1"),
            Err(PolicyError::Load(_))
        ));
    }
}
