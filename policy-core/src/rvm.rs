//! Evaluation on regorus's RVM (`policy.evaluator`; the default `auto` uses it wherever
//! the policy compiles for it): the policy compiled once to register-machine bytecode,
//! run per request on one reused VM (`make bench` prints its ratio to the interpreter).
//! regorus is vendored with one fix to the RVM's compiler (`x := <undefined>` fails the
//! body: `vendor/regorus/JITGATE-PATCH.md`); `tests/evaluators.rs` proves both evaluators
//! decide every case of every corpus alike.
//!
//! Every builtin jitgate evaluates itself — the injected `time.now_ns`, the checked
//! builtins, `object.subset`, `regex.template_match`, the refused `rand.intn`
//! (`crate::builtins`) — is registered as a *host-await* builtin: the VM suspends at the
//! call and this module answers it with the very function the interpreter's extensions
//! call, so both evaluators see the same builtins. Builtin errors are strict, as in the
//! interpreter; the VM's instruction cap is lifted, so the time budget
//! (`policy.max_eval_ms`) bounds both alike.

use core::cell::RefCell;

use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::vm::{ExecutionMode, ExecutionState, SuspendReason, VmError};
use regorus::rvm::RegoVM;
use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{CompiledPolicy, Value};

/// The host-await name of the injected clock.
const NOW_NS: &str = "time.now_ns";

/// How an evaluation on the VM went wrong.
#[derive(Debug)]
pub(crate) enum RvmError {
    /// Past the time budget: elapsed and limit.
    OverBudget(core::time::Duration, core::time::Duration),
    /// Any other failure, as text.
    Failed(String),
}

/// A policy compiled for the RVM, with the VM that runs it.
pub(crate) struct RvmPolicy {
    vm: RefCell<RegoVM>,
}

impl RvmPolicy {
    /// Compiles `policy` for `entrypoint`, with `data`. An error says why the RVM cannot
    /// run this policy (the interpreter then does).
    pub(crate) fn compile(policy: &CompiledPolicy, entrypoint: &str, data: Value) -> Result<Self, String> {
        let host_await: Vec<(&str, usize)> = core::iter::once((NOW_NS, 0))
            .chain(crate::builtins::overridden().map(|(name, arity)| (name, usize::from(arity))))
            .collect();
        let program = Compiler::compile_from_policy_with_host_await(policy, &[entrypoint], &host_await)
            .map_err(|e| e.to_string())?;
        let mut vm = RegoVM::new();
        vm.load_program(program);
        vm.set_data(data).map_err(|e| e.to_string())?;
        vm.set_execution_mode(ExecutionMode::Suspendable);
        vm.set_strict_builtin_errors(true);
        vm.set_max_instructions(usize::MAX);
        Ok(Self { vm: RefCell::new(vm) })
    }

    /// Sets the time budget of each evaluation.
    pub(crate) fn set_eval_budget(&mut self, config: ExecutionTimerConfig) {
        self.vm.get_mut().set_execution_timer_config(Some(config));
    }

    /// Evaluates the entrypoint for `input`, `time.now_ns()` being `now_ns`.
    pub(crate) fn evaluate(&self, input: Value, now_ns: i64) -> Result<Value, RvmError> {
        let mut vm = self
            .vm
            .try_borrow_mut()
            .map_err(|_| RvmError::Failed("policy evaluation re-entered".into()))?;
        vm.set_input(input);
        let mut step = vm.execute();
        loop {
            if let Err(e) = step {
                return Err(match e {
                    VmError::TimeLimitExceeded { elapsed, limit, .. } => RvmError::OverBudget(elapsed, limit),
                    other => RvmError::Failed(other.to_string()),
                });
            }
            let (name, args) = match vm.execution_state() {
                ExecutionState::Completed { result } => return Ok(result.clone()),
                ExecutionState::Suspended {
                    reason:
                        SuspendReason::HostAwait {
                            identifier, argument, ..
                        },
                    ..
                } => (identifier.clone(), argument.clone()),
                other => return Err(RvmError::Failed(format!("policy evaluation stopped: {other:?}"))),
            };
            let answer = match (name.as_string().map(|s| s.as_ref()), args) {
                (Ok(NOW_NS), _) => Ok(Value::from(now_ns)),
                (Ok(builtin), Value::Array(args)) => crate::builtins::call(builtin, args.to_vec()),
                _ => Err(anyhow::anyhow!("policy evaluation: a host call without a builtin name")),
            };
            step = match answer {
                Ok(value) => vm.resume(Some(value)),
                Err(e) => return Err(RvmError::Failed(e.to_string())),
            };
        }
    }
}
