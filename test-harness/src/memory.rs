//! Bounds-checked access to the module's linear memory from host functions, and allocation in it
//! through the module's own allocator (as Envoy's `WasmBase::allocMemory` does).

use crate::abi::Status;
use crate::state::HostState;
use wasmtime::Caller;

/// Result of a host function: `Ok(status)` is returned to the module, `Err` traps it.
pub(crate) type HostResult = wasmtime::Result<u32>;

/// Copies `len` bytes at `ptr` out of the module's memory; `None` if out of bounds.
pub(crate) fn read(caller: &Caller<'_, HostState>, ptr: u32, len: u32) -> Option<Vec<u8>> {
    let memory = caller.data().memory?;
    let data = memory.data(caller);
    let start = usize::try_from(ptr).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    data.get(start..end).map(<[u8]>::to_vec)
}

/// Writes `bytes` at `ptr`; false if out of bounds.
pub(crate) fn write(caller: &mut Caller<'_, HostState>, ptr: u32, bytes: &[u8]) -> bool {
    let Some(memory) = caller.data().memory else {
        return false;
    };
    let data = memory.data_mut(caller);
    let Ok(start) = usize::try_from(ptr) else {
        return false;
    };
    let Some(end) = start.checked_add(bytes.len()) else {
        return false;
    };
    match data.get_mut(start..end) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}

/// Writes a little-endian `u32` at `ptr`.
pub(crate) fn write_u32(caller: &mut Caller<'_, HostState>, ptr: u32, value: u32) -> bool {
    write(caller, ptr, &value.to_le_bytes())
}

/// Writes a little-endian `u64` at `ptr`.
pub(crate) fn write_u64(caller: &mut Caller<'_, HostState>, ptr: u32, value: u64) -> bool {
    write(caller, ptr, &value.to_le_bytes())
}

/// Allocates `size` bytes with the module's `malloc` / `proxy_on_memory_allocate`. `Ok(None)`
/// when it returns 0 or a block outside memory; `Err` when it traps (the trap propagates).
pub(crate) fn alloc(caller: &mut Caller<'_, HostState>, size: u32) -> wasmtime::Result<Option<u32>> {
    let Some(malloc) = caller.data().malloc.clone() else {
        return Ok(None);
    };
    let ptr = malloc.call(&mut *caller, size)?;
    if ptr == 0 {
        return Ok(None);
    }
    let Some(memory) = caller.data().memory else {
        return Ok(None);
    };
    let in_bounds = u64::from(ptr) + u64::from(size) <= memory.data_size(&*caller) as u64;
    Ok(in_bounds.then_some(ptr))
}

/// Envoy's `copyToPointerSize`: allocates a copy of `bytes` in the module and stores its
/// address at `ptr_ptr` and its length at `size_ptr`. Empty data is not allocated: the module
/// gets a null pointer and length 0. Returns `InvalidMemoryAccess` if allocating or writing fails.
pub(crate) fn copy_out(
    caller: &mut Caller<'_, HostState>,
    bytes: &[u8],
    ptr_ptr: u32,
    size_ptr: u32,
) -> wasmtime::Result<Status> {
    let Ok(size) = u32::try_from(bytes.len()) else {
        return Ok(Status::InvalidMemoryAccess);
    };
    let mut ptr = 0;
    if size > 0 {
        match alloc(caller, size)? {
            Some(p) => ptr = p,
            None => return Ok(Status::InvalidMemoryAccess),
        }
        if !write(caller, ptr, bytes) {
            return Ok(Status::InvalidMemoryAccess);
        }
    }
    if !write_u32(caller, ptr_ptr, ptr) || !write_u32(caller, size_ptr, size) {
        return Ok(Status::InvalidMemoryAccess);
    }
    Ok(Status::Ok)
}
