//! Shared data and shared queues: `proxy_get_shared_data`, `proxy_set_shared_data`,
//! `proxy_register_shared_queue`, `proxy_resolve_shared_queue`, `proxy_enqueue_shared_queue`,
//! `proxy_dequeue_shared_queue`.

use super::allowed;
use crate::abi::Status;
use crate::memory::{copy_out, read, write_u32, HostResult};
use crate::state::{ret, Deferred, HostState};
use wasmtime::{Caller, Linker};

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut caller: Caller<'_, HostState>,
         key_ptr: u32,
         key_len: u32,
         ret_ptr: u32,
         ret_len: u32,
         cas_ptr: u32|
         -> HostResult {
            allowed(&caller, "env", "proxy_get_shared_data")?;
            let Some(key) = read(&caller, key_ptr, key_len) else {
                return ret(Status::InvalidMemoryAccess);
            };
            let (value, cas) = match caller.data().shared_data.get(&key) {
                Ok(found) => found,
                Err(status) => return ret(status),
            };
            let status = copy_out(&mut caller, &value, ret_ptr, ret_len)?;
            if status != Status::Ok {
                return ret(status);
            }
            if !write_u32(&mut caller, cas_ptr, cas) {
                return ret(Status::InvalidMemoryAccess);
            }
            ret(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_shared_data",
        |mut caller: Caller<'_, HostState>,
         key_ptr: u32,
         key_len: u32,
         value_ptr: u32,
         value_len: u32,
         cas: u32|
         -> HostResult {
            allowed(&caller, "env", "proxy_set_shared_data")?;
            let (Some(key), Some(value)) = (read(&caller, key_ptr, key_len), read(&caller, value_ptr, value_len))
            else {
                return ret(Status::InvalidMemoryAccess);
            };
            ret(caller.data_mut().shared_data.set(&key, &value, cas))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_register_shared_queue",
        |mut caller: Caller<'_, HostState>, name_ptr: u32, name_len: u32, id_ptr: u32| -> HostResult {
            allowed(&caller, "env", "proxy_register_shared_queue")?;
            let Some(name) = read(&caller, name_ptr, name_len) else {
                return ret(Status::InvalidMemoryAccess);
            };
            let state = caller.data_mut();
            let root = state.root_id();
            let token = state.queues.register(&name, root);
            if !write_u32(&mut caller, id_ptr, token) {
                return ret(Status::InvalidMemoryAccess);
            }
            ret(Status::Ok)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_resolve_shared_queue",
        |mut caller: Caller<'_, HostState>,
         vm_id_ptr: u32,
         vm_id_len: u32,
         name_ptr: u32,
         name_len: u32,
         id_ptr: u32|
         -> HostResult {
            allowed(&caller, "env", "proxy_resolve_shared_queue")?;
            let (Some(vm_id), Some(name)) = (read(&caller, vm_id_ptr, vm_id_len), read(&caller, name_ptr, name_len))
            else {
                return ret(Status::InvalidMemoryAccess);
            };
            let state = caller.data();
            // Only this VM's queues exist here; an empty vm id means this VM.
            if !vm_id.is_empty() && vm_id != state.settings.vm_id.as_bytes() {
                return ret(Status::NotFound);
            }
            match state.queues.resolve(&name) {
                Ok(token) => {
                    if !write_u32(&mut caller, id_ptr, token) {
                        return ret(Status::InvalidMemoryAccess);
                    }
                    ret(Status::Ok)
                }
                Err(status) => ret(status),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_enqueue_shared_queue",
        |mut caller: Caller<'_, HostState>, token: u32, ptr: u32, len: u32| -> HostResult {
            allowed(&caller, "env", "proxy_enqueue_shared_queue")?;
            let Some(value) = read(&caller, ptr, len) else {
                return ret(Status::InvalidMemoryAccess);
            };
            let state = caller.data_mut();
            match state.queues.enqueue(token, &value) {
                Ok(root_id) => {
                    state.deferred.push_back(Deferred::QueueReady { root_id, token });
                    ret(Status::Ok)
                }
                Err(status) => ret(status),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_dequeue_shared_queue",
        |mut caller: Caller<'_, HostState>, token: u32, ret_ptr: u32, ret_len: u32| -> HostResult {
            allowed(&caller, "env", "proxy_dequeue_shared_queue")?;
            match caller.data_mut().queues.dequeue(token) {
                Ok(value) => ret(copy_out(&mut caller, &value, ret_ptr, ret_len)?),
                Err(status) => ret(status),
            }
        },
    )?;
    Ok(())
}
