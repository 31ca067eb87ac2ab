//! The WASI preview 1 functions Envoy provides, registered under `wasi_snapshot_preview1` and
//! `wasi_unstable`, with proxy-wasm-cpp-host's behaviour:
//!
//! | function | behaviour |
//! |---|---|
//! | `fd_write` | fd 1 → log at info, fd 2 → log at error (one line per call, trailing newline dropped); other fds `EBADF` |
//! | `fd_read` | `ENOSYS` |
//! | `fd_seek`, `fd_close` | host note, success |
//! | `fd_fdstat_get` | fd 1 and 2: a character device with `FD_WRITE` rights; others `EBADF` |
//! | `environ_sizes_get`, `environ_get` | the host's configured environment (empty by default) |
//! | `args_sizes_get`, `args_get` | no arguments |
//! | `clock_time_get` | realtime and monotonic from the host's clock; other clocks `ENOTSUP` |
//! | `random_get` | deterministic bytes (seeded by the host config); over 64 KiB `EINVAL` |
//! | `proc_exit` | host note and return (the module then usually traps on `unreachable`) |
//! | `path_open` | `ENOENT` |
//! | `fd_prestat_get` | `EBADF` (no preopened directories) |
//! | `fd_prestat_dir_name` | `ENOSYS` |

use super::allowed;
use crate::abi::{LogLevel, MAX_RANDOM_GET_BYTES, WASI_MODULES};
use crate::logs::LogSource;
use crate::memory::{read, write, write_u32, write_u64};
use crate::state::HostState;
use wasmtime::{Caller, Linker};

const ESUCCESS: u32 = 0;
const EBADF: u32 = 8;
const EFAULT: u32 = 21;
const EINVAL: u32 = 28;
const ENOENT: u32 = 44;
const ENOSYS: u32 = 52;
const ENOTSUP: u32 = 58;

type WasiResult = wasmtime::Result<u32>;

fn fd_write(caller: &mut Caller<'_, HostState>, fd: u32, iovs: u32, iovs_len: u32, nwritten: u32) -> u32 {
    let (level, source) = match fd {
        1 => (LogLevel::Info, LogSource::Stdout),
        2 => (LogLevel::Error, LogSource::Stderr),
        _ => return EBADF,
    };
    let mut out = Vec::new();
    for i in 0..iovs_len {
        let Some(at) = i.checked_mul(8).and_then(|o| iovs.checked_add(o)) else {
            return EFAULT;
        };
        let Some(iov) = read(caller, at, 8) else {
            return EFAULT;
        };
        let word = |o: usize| {
            iov.get(o..o + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_le_bytes)
        };
        let (Some(buf), Some(len)) = (word(0), word(4)) else {
            return EFAULT;
        };
        if len > 0 {
            let Some(bytes) = read(caller, buf, len) else {
                return EFAULT;
            };
            out.extend_from_slice(&bytes);
        }
    }
    let written = u32::try_from(out.len()).unwrap_or(u32::MAX);
    if !out.is_empty() {
        if out.last() == Some(&b'\n') {
            out.pop();
        }
        let message = String::from_utf8_lossy(&out).into_owned();
        caller.data_mut().log(level, source, message);
    }
    if !write_u32(caller, nwritten, written) {
        return EFAULT;
    }
    ESUCCESS
}

fn environ_data(state: &HostState) -> Vec<Vec<u8>> {
    state
        .settings
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}\0").into_bytes())
        .collect()
}

fn add_module(linker: &mut Linker<HostState>, module: &'static str) -> wasmtime::Result<()> {
    linker.func_wrap(
        module,
        "fd_write",
        move |mut caller: Caller<'_, HostState>, fd: u32, iovs: u32, len: u32, nwritten: u32| -> WasiResult {
            allowed(&caller, module, "fd_write")?;
            Ok(fd_write(&mut caller, fd, iovs, len, nwritten))
        },
    )?;
    linker.func_wrap(
        module,
        "fd_read",
        move |caller: Caller<'_, HostState>, _fd: u32, _iovs: u32, _len: u32, _nread: u32| -> WasiResult {
            allowed(&caller, module, "fd_read")?;
            Ok(ENOSYS)
        },
    )?;
    linker.func_wrap(
        module,
        "fd_seek",
        move |mut caller: Caller<'_, HostState>, _fd: u32, _offset: i64, _whence: u32, _ret: u32| -> WasiResult {
            allowed(&caller, module, "fd_seek")?;
            caller.data_mut().host_note("wasi_unstable fd_seek");
            Ok(ESUCCESS)
        },
    )?;
    linker.func_wrap(
        module,
        "fd_close",
        move |mut caller: Caller<'_, HostState>, _fd: u32| -> WasiResult {
            allowed(&caller, module, "fd_close")?;
            caller.data_mut().host_note("wasi_unstable fd_close");
            Ok(ESUCCESS)
        },
    )?;
    linker.func_wrap(
        module,
        "fd_fdstat_get",
        move |mut caller: Caller<'_, HostState>, fd: u32, stat: u32| -> WasiResult {
            allowed(&caller, module, "fd_fdstat_get")?;
            if fd != 1 && fd != 2 {
                return Ok(EBADF);
            }
            // Three u64 words: filetype/flags 0, rights_base FD_WRITE (64), inheriting 0.
            let mut bytes = [0u8; 24];
            bytes[8] = 64;
            Ok(if write(&mut caller, stat, &bytes) {
                ESUCCESS
            } else {
                EFAULT
            })
        },
    )?;
    linker.func_wrap(
        module,
        "environ_sizes_get",
        move |mut caller: Caller<'_, HostState>, count_ptr: u32, size_ptr: u32| -> WasiResult {
            allowed(&caller, module, "environ_sizes_get")?;
            let data = environ_data(caller.data());
            let count = u32::try_from(data.len()).unwrap_or(u32::MAX);
            let size = u32::try_from(data.iter().map(Vec::len).sum::<usize>()).unwrap_or(u32::MAX);
            let ok = write_u32(&mut caller, count_ptr, count) && write_u32(&mut caller, size_ptr, size);
            Ok(if ok { ESUCCESS } else { EFAULT })
        },
    )?;
    linker.func_wrap(
        module,
        "environ_get",
        move |mut caller: Caller<'_, HostState>, array_ptr: u32, buf_ptr: u32| -> WasiResult {
            allowed(&caller, module, "environ_get")?;
            let mut array = array_ptr;
            let mut buf = buf_ptr;
            for entry in environ_data(caller.data()) {
                let Ok(len) = u32::try_from(entry.len()) else {
                    return Ok(EFAULT);
                };
                if !write_u32(&mut caller, array, buf) || !write(&mut caller, buf, &entry) {
                    return Ok(EFAULT);
                }
                array = array.wrapping_add(4);
                buf = buf.wrapping_add(len);
            }
            Ok(ESUCCESS)
        },
    )?;
    linker.func_wrap(
        module,
        "args_sizes_get",
        move |mut caller: Caller<'_, HostState>, argc_ptr: u32, size_ptr: u32| -> WasiResult {
            allowed(&caller, module, "args_sizes_get")?;
            let ok = write_u32(&mut caller, argc_ptr, 0) && write_u32(&mut caller, size_ptr, 0);
            Ok(if ok { ESUCCESS } else { EFAULT })
        },
    )?;
    linker.func_wrap(
        module,
        "args_get",
        move |caller: Caller<'_, HostState>, _argv: u32, _buf: u32| -> WasiResult {
            allowed(&caller, module, "args_get")?;
            Ok(ESUCCESS)
        },
    )?;
    linker.func_wrap(
        module,
        "clock_time_get",
        move |mut caller: Caller<'_, HostState>, clock: u32, _precision: u64, ret_ptr: u32| -> WasiResult {
            allowed(&caller, module, "clock_time_get")?;
            let now = match clock {
                0 => caller.data().clock.unix_nanos(),
                1 => caller.data().clock.monotonic_nanos(),
                _ => return Ok(ENOTSUP),
            };
            Ok(if write_u64(&mut caller, ret_ptr, now) {
                ESUCCESS
            } else {
                EFAULT
            })
        },
    )?;
    linker.func_wrap(
        module,
        "random_get",
        move |mut caller: Caller<'_, HostState>, buf: u32, len: u32| -> WasiResult {
            allowed(&caller, module, "random_get")?;
            if len > MAX_RANDOM_GET_BYTES {
                return Ok(EINVAL);
            }
            let mut bytes = Vec::with_capacity(len as usize + 8);
            while bytes.len() < len as usize {
                let word = caller.data_mut().next_random();
                bytes.extend_from_slice(&word.to_le_bytes());
            }
            bytes.truncate(len as usize);
            Ok(if write(&mut caller, buf, &bytes) {
                ESUCCESS
            } else {
                EFAULT
            })
        },
    )?;
    linker.func_wrap(
        module,
        "proc_exit",
        move |mut caller: Caller<'_, HostState>, code: u32| -> wasmtime::Result<()> {
            allowed(&caller, module, "proc_exit")?;
            let state = caller.data_mut();
            state.proc_exit = Some(code);
            state.host_note(format!("wasi_unstable proc_exit({code})"));
            Ok(())
        },
    )?;
    linker.func_wrap(
        module,
        "path_open",
        move |caller: Caller<'_, HostState>,
              _fd: u32,
              _dirflags: u32,
              _path: u32,
              _path_len: u32,
              _oflags: u32,
              _rights_base: i64,
              _rights_inheriting: i64,
              _fdflags: u32,
              _ret_fd: u32|
              -> WasiResult {
            allowed(&caller, module, "path_open")?;
            Ok(ENOENT)
        },
    )?;
    linker.func_wrap(
        module,
        "fd_prestat_get",
        move |caller: Caller<'_, HostState>, _fd: u32, _ret: u32| -> WasiResult {
            allowed(&caller, module, "fd_prestat_get")?;
            Ok(EBADF)
        },
    )?;
    linker.func_wrap(
        module,
        "fd_prestat_dir_name",
        move |caller: Caller<'_, HostState>, _fd: u32, _path: u32, _len: u32| -> WasiResult {
            allowed(&caller, module, "fd_prestat_dir_name")?;
            Ok(ENOSYS)
        },
    )?;
    Ok(())
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    for module in WASI_MODULES {
        add_module(linker, module)?;
    }
    Ok(())
}
