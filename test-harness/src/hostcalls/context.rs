//! Contexts and the rest: `proxy_set_effective_context`, `proxy_done`, `proxy_get_status`,
//! `proxy_call_foreign_function`, `pthread_equal`, `emscripten_notify_memory_growth`.

use super::allowed;
use crate::abi::Status;
use crate::memory::{copy_out, read, write_u32, HostResult};
use crate::state::{ret, ContextState, Deferred, HostState};
use wasmtime::{Caller, Linker};

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_set_effective_context",
        |mut caller: Caller<'_, HostState>, context_id: u32| -> HostResult {
            allowed(&caller, "env", "proxy_set_effective_context")?;
            let state = caller.data_mut();
            if !state.contexts.contains_key(&context_id) {
                return ret(Status::BadArgument);
            }
            state.effective = context_id;
            ret(Status::Ok)
        },
    )?;
    linker.func_wrap("env", "proxy_done", |mut caller: Caller<'_, HostState>| -> HostResult {
        allowed(&caller, "env", "proxy_done")?;
        // `WasmBase::done`: only a root context waiting after `proxy_on_done` returned false
        // may finish; its `proxy_on_delete` runs after the current call.
        let state = caller.data_mut();
        let id = state.context_id();
        match state.pending_done.iter().position(|r| *r == id) {
            Some(at) => {
                state.pending_done.remove(at);
                state.deferred.push_back(Deferred::DeleteRoot(id));
                ret(Status::Ok)
            }
            None => ret(Status::NotFound),
        }
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_status",
        |mut caller: Caller<'_, HostState>, code_ptr: u32, msg_ptr: u32, msg_len: u32| -> HostResult {
            allowed(&caller, "env", "proxy_get_status")?;
            let state = caller.data();
            let (code, message) = match state.contexts.get(&state.root_id()) {
                Some(ContextState::Root(root)) => (root.status_code, root.status_message.clone()),
                _ => (0, String::new()),
            };
            if !write_u32(&mut caller, code_ptr, code) {
                return ret(Status::InvalidMemoryAccess);
            }
            ret(copy_out(&mut caller, message.as_bytes(), msg_ptr, msg_len)?)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_call_foreign_function",
        |mut caller: Caller<'_, HostState>,
         name_ptr: u32,
         name_len: u32,
         args_ptr: u32,
         args_len: u32,
         _ret_ptr: u32,
         _ret_len: u32|
         -> HostResult {
            allowed(&caller, "env", "proxy_call_foreign_function")?;
            let (Some(name), Some(_args)) = (read(&caller, name_ptr, name_len), read(&caller, args_ptr, args_len))
            else {
                return ret(Status::InvalidMemoryAccess);
            };
            // Envoy registers a few foreign functions (compress, declare_property, …); the
            // harness none.
            let name = String::from_utf8_lossy(&name).into_owned();
            caller
                .data_mut()
                .host_note(format!("foreign function `{name}` is not provided by the harness"));
            ret(Status::NotFound)
        },
    )?;
    linker.func_wrap(
        "env",
        "pthread_equal",
        |caller: Caller<'_, HostState>, left: u32, right: u32| -> wasmtime::Result<u32> {
            allowed(&caller, "env", "pthread_equal")?;
            Ok(u32::from(left == right))
        },
    )?;
    linker.func_wrap(
        "env",
        "emscripten_notify_memory_growth",
        |caller: Caller<'_, HostState>, _index: u32| -> wasmtime::Result<()> {
            allowed(&caller, "env", "emscripten_notify_memory_growth")?;
            Ok(())
        },
    )?;
    Ok(())
}
