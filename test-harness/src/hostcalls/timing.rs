//! Time: `proxy_get_current_time_nanoseconds`, `proxy_set_tick_period_milliseconds`.

use super::allowed;
use crate::abi::Status;
use crate::memory::{write_u64, HostResult};
use crate::state::{ret, HostState, Timer};
use wasmtime::{Caller, Linker};

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut caller: Caller<'_, HostState>, ret_ptr: u32| -> HostResult {
            allowed(&caller, "env", "proxy_get_current_time_nanoseconds")?;
            let now = caller.data().clock.unix_nanos();
            if !write_u64(&mut caller, ret_ptr, now) {
                return ret(Status::InvalidMemoryAccess);
            }
            ret(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut caller: Caller<'_, HostState>, period_ms: u32| -> HostResult {
            allowed(&caller, "env", "proxy_set_tick_period_milliseconds")?;
            // Envoy keeps one timer per root context (`Wasm::setTimerPeriod`): a new period
            // restarts it from now, 0 stops it.
            let state = caller.data_mut();
            let root = state.root_id();
            if period_ms == 0 {
                state.timers.remove(&root);
            } else {
                let period_ns = u64::from(period_ms) * 1_000_000;
                let due = state.clock.monotonic_nanos().saturating_add(period_ns);
                state.timers.insert(
                    root,
                    Timer {
                        period_ns,
                        due_monotonic_ns: due,
                    },
                );
            }
            ret(Status::Ok)
        },
    )?;
    Ok(())
}
