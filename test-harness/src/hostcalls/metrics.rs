//! `proxy_define_metric`, `proxy_increment_metric`, `proxy_record_metric`, `proxy_get_metric`
//! (semantics in [`crate::metrics`]).

use super::allowed;
use crate::abi::Status;
use crate::memory::{read, write_u32, write_u64, HostResult};
use crate::state::{ret, HostState};
use wasmtime::{Caller, Linker};

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut caller: Caller<'_, HostState>, kind: u32, name_ptr: u32, name_len: u32, id_ptr: u32| -> HostResult {
            allowed(&caller, "env", "proxy_define_metric")?;
            let Some(name) = read(&caller, name_ptr, name_len) else {
                return ret(Status::InvalidMemoryAccess);
            };
            let name = String::from_utf8_lossy(&name).into_owned();
            match caller.data_mut().metrics.define(kind, &name) {
                Ok(id) => {
                    if !write_u32(&mut caller, id_ptr, id) {
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
        "proxy_increment_metric",
        |mut caller: Caller<'_, HostState>, id: u32, offset: i64| -> HostResult {
            allowed(&caller, "env", "proxy_increment_metric")?;
            ret(caller.data_mut().metrics.increment(id, offset))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_record_metric",
        |mut caller: Caller<'_, HostState>, id: u32, value: u64| -> HostResult {
            allowed(&caller, "env", "proxy_record_metric")?;
            ret(caller.data_mut().metrics.record(id, value))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_metric",
        |mut caller: Caller<'_, HostState>, id: u32, ret_ptr: u32| -> HostResult {
            allowed(&caller, "env", "proxy_get_metric")?;
            match caller.data_mut().metrics.get(id) {
                Ok(value) => {
                    if !write_u64(&mut caller, ret_ptr, value) {
                        return ret(Status::InvalidMemoryAccess);
                    }
                    ret(Status::Ok)
                }
                Err(status) => ret(status),
            }
        },
    )?;
    Ok(())
}
