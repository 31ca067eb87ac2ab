//! `proxy_log`, `proxy_get_log_level`.

use super::allowed;
use crate::abi::{AbiVersion, LogLevel, Status};
use crate::logs::LogSource;
use crate::memory::{read, write_u32, HostResult};
use crate::state::{ret, HostState};
use wasmtime::{Caller, Linker};

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>, abi: AbiVersion) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_log",
        |mut caller: Caller<'_, HostState>, level: u32, ptr: u32, len: u32| -> HostResult {
            allowed(&caller, "env", "proxy_log")?;
            let Some(level) = LogLevel::from_u32(level) else {
                return ret(Status::BadArgument);
            };
            let Some(bytes) = read(&caller, ptr, len) else {
                return ret(Status::InvalidMemoryAccess);
            };
            let message = String::from_utf8_lossy(&bytes).into_owned();
            caller.data_mut().log(level, LogSource::ProxyLog, message);
            ret(Status::Ok)
        },
    )?;
    if abi == AbiVersion::V0_2_1 {
        linker.func_wrap(
            "env",
            "proxy_get_log_level",
            |mut caller: Caller<'_, HostState>, ret_ptr: u32| -> HostResult {
                allowed(&caller, "env", "proxy_get_log_level")?;
                let level = caller.data().settings.log_level as u32;
                if !write_u32(&mut caller, ret_ptr, level) {
                    return ret(Status::InvalidMemoryAccess);
                }
                ret(Status::Ok)
            },
        )?;
    }
    Ok(())
}
