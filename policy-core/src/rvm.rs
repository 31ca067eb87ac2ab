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
//! call, so both evaluators see the same builtins. A policy that calls none of them
//! but the clock runs to completion instead, `time.now_ns` answered by a constant
//! (`set_host_await_constants`, a jitgate patch of the vendored regorus): no
//! suspension. Builtin errors are strict, as in the
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
    /// Whether the policy runs to completion, `time.now_ns` answered by a constant
    /// (regorus vendored with `set_host_await_constants`): when it calls none of the
    /// builtins jitgate answers itself. Suspending and resuming the VM at each host call
    /// costs about a tenth of the filter's time per request in V8.
    run_to_completion: bool,
    /// [`NOW_NS`] as a regorus value, made once: the key of the clock's constant answer.
    clock: Value,
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
        // A registered host call's name is a literal of the program: with none of the
        // other names there, only `time.now_ns` can suspend the VM. (A name computed at
        // run time, with `__builtin_host_await`, finds no answer and the evaluation is
        // run again suspendable: see `evaluate`.)
        let run_to_completion = !program.literals.iter().any(|literal| {
            literal
                .as_string()
                .is_ok_and(|name| host_await.iter().any(|(n, _)| *n != NOW_NS && *n == name.as_ref()))
        });
        let mut vm = RegoVM::new();
        vm.load_program(program);
        vm.set_data(data).map_err(|e| e.to_string())?;
        vm.set_execution_mode(mode(run_to_completion));
        vm.set_strict_builtin_errors(true);
        vm.set_max_instructions(usize::MAX);
        Ok(Self {
            vm: RefCell::new(vm),
            run_to_completion,
            clock: Value::from(NOW_NS),
        })
    }

    /// Whether evaluations run to completion (see the field).
    #[cfg(test)]
    pub(crate) fn runs_to_completion(&self) -> bool {
        self.run_to_completion
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
        if self.run_to_completion {
            vm.set_host_await_constants([(self.clock.clone(), Value::from(now_ns))]);
            match vm.execute() {
                Ok(result) => return Ok(result),
                // A host call other than the clock (a name computed at run time): again,
                // suspendable, answering each call.
                Err(VmError::HostAwaitResponseMissing { .. }) => {}
                Err(e) => return Err(failure(e)),
            }
            vm.set_execution_mode(ExecutionMode::Suspendable);
            let outcome = Self::suspendable(&mut vm, now_ns);
            vm.set_execution_mode(ExecutionMode::RunToCompletion);
            return outcome;
        }
        Self::suspendable(&mut vm, now_ns)
    }

    /// One evaluation in suspendable mode: each host call suspends the VM and is answered.
    fn suspendable(vm: &mut RegoVM, now_ns: i64) -> Result<Value, RvmError> {
        let mut step = vm.execute();
        loop {
            if let Err(e) = step {
                return Err(failure(e));
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

fn mode(run_to_completion: bool) -> ExecutionMode {
    if run_to_completion {
        ExecutionMode::RunToCompletion
    } else {
        ExecutionMode::Suspendable
    }
}

fn failure(e: VmError) -> RvmError {
    match e {
        VmError::TimeLimitExceeded { elapsed, limit, .. } => RvmError::OverBudget(elapsed, limit),
        other => RvmError::Failed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const NOW: i64 = 1_795_687_200_000_000_000;

    fn rvm(source: &str) -> RvmPolicy {
        let modules = BTreeMap::from([("p.rego".to_owned(), source.to_owned())]);
        let (engine, _clock) = crate::policy::load_modules(&modules, Value::new_object(), false).unwrap();
        compile(engine)
    }

    fn compile(mut engine: regorus::Engine) -> RvmPolicy {
        let compiled = engine.compile_with_entrypoint(&"data.p.out".into()).unwrap();
        RvmPolicy::compile(&compiled, "data.p.out", Value::new_object()).unwrap()
    }

    fn input(n: usize) -> Value {
        let mut input = Value::new_object();
        let xs = Value::from((0..n).map(|i| Value::from(i as u64)).collect::<Vec<_>>());
        input.as_object_mut().unwrap().insert(Value::from("xs"), xs);
        input
    }

    #[test]
    fn the_clock_alone_runs_to_completion_however_often_it_is_read() {
        let p = rvm("package p\nout := [t | some _ in input.xs; t := time.now_ns()]");
        assert!(p.runs_to_completion());
        let out = p.evaluate(input(300), NOW).unwrap();
        let times = out.as_array().unwrap();
        assert_eq!(times.len(), 300);
        assert!(times.iter().all(|t| *t == Value::from(NOW)));
        // The next evaluation reads its own clock.
        let out = p.evaluate(input(2), NOW + 1).unwrap();
        assert_eq!(out, Value::from(vec![Value::from(NOW + 1), Value::from(NOW + 1)]));
    }

    #[test]
    fn a_builtin_jitgate_answers_keeps_the_vm_suspendable() {
        let p = rvm("package p\nout := [sprintf(\"%d@%d\", [x, time.now_ns()]) | some x in input.xs]");
        assert!(!p.runs_to_completion());
        let out = p.evaluate(input(2), 7).unwrap();
        assert_eq!(out, Value::from(vec![Value::from("0@7"), Value::from("1@7")]));
    }

    #[test]
    fn a_host_call_named_at_run_time_is_answered_by_running_again_suspendable() {
        // A configured policy cannot call `__builtin_host_await` (`load_modules` refuses
        // it): this is the safety net, with an engine built without that check.
        let mut engine = regorus::Engine::new();
        let source =
            "package p\nout := __builtin_host_await([1, input.xs[3]], concat(\".\", [\"numbers\", \"range\"]))";
        engine.add_policy("p.rego".into(), source.into()).unwrap();
        let p = compile(engine);
        assert!(p.runs_to_completion());
        let expected = Value::from(vec![Value::from(1u64), Value::from(2u64), Value::from(3u64)]);
        assert_eq!(p.evaluate(input(4), NOW).unwrap(), expected);
        // And again: the VM is back in run-to-completion mode, and still answers.
        assert_eq!(p.evaluate(input(4), NOW).unwrap(), expected);
    }

    #[test]
    fn a_comprehension_whose_body_fails_to_the_end_is_over_in_run_to_completion() {
        // regorus 0.14.1's run-to-completion VM kept such a comprehension on its stack,
        // and the enclosing body's next failed condition looped back to it forever
        // (vendor/regorus/JITGATE-PATCH.md).
        for (body, expected) in [
            (
                "x := [y | y := input.missing]\n  count(x) == 0\n  input.missing",
                Value::Undefined,
            ),
            (
                "x := [y | input.flag; y := 1]\n  count(x) == 0\n  input.missing",
                Value::Undefined,
            ),
            (
                "x := [y | some y in [1, 2]; y > 5]\n  count(x) == 0\n  input.missing",
                Value::Undefined,
            ),
            (
                "x := {y | some y in [1, 2]; y > 5}\n  count(x) == 0\n  not input.missing",
                Value::from(true),
            ),
            ("x := [y | some y in [1, 7]; y > 5]\n  x == [7]", Value::from(true)),
        ] {
            let p = rvm(&format!("package p\nout if {{\n  {body}\n}}"));
            assert!(p.runs_to_completion(), "{body}");
            assert_eq!(p.evaluate(Value::new_object(), NOW).unwrap(), expected, "{body}");
        }
    }
}
