//! The VM: starting it, calling into it, its liveness, and context ids (proxy-wasm-cpp-host's `WasmBase`).

use super::*;

impl Host {
    /// `WasmBase::startVm`: a WASI reactor's `_initialize` (then `main`, if exported), else a
    /// command's `_start`, with host calls restricted.
    pub(super) fn start_vm(&mut self) -> Result<(), Error> {
        self.store.data_mut().restricted = true;
        let result = if let Some(f) = self.exports.initialize.clone() {
            self.call("_initialize", f, 0, (), Vec::new())
                .and_then(|()| match self.exports.main.clone() {
                    Some(main) => self.call("main", main, 0, (0, 0), vec![0, 0]).map(drop),
                    None => Ok(()),
                })
        } else if let Some(f) = self.exports.start.clone() {
            self.call("_start", f, 0, (), Vec::new())
        } else {
            Ok(())
        };
        self.store.data_mut().restricted = false;
        result
    }

    pub(super) fn alive(&self) -> Result<(), Error> {
        match &self.dead {
            Some((callback, message)) => Err(Error::VmDead {
                callback: callback.clone(),
                message: message.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Calls into the module with `context_id` as the current context; a failure kills the VM.
    pub(super) fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &'static str,
        func: TypedFunc<P, R>,
        context_id: u32,
        params: P,
        args: Vec<u64>,
    ) -> Result<R, Error> {
        self.alive()?;
        let state = self.store.data_mut();
        state.current = context_id;
        state.effective = 0;
        state.calls.push(Call { name, context_id, args });
        let logs_before = state.logs.len();
        let result = func.call(&mut self.store, params);
        let state = self.store.data_mut();
        state.effective = 0;
        match result {
            Ok(r) => Ok(r),
            Err(err) => {
                let backtrace = err.downcast_ref::<wasmtime::WasmBacktrace>().map(|b| b.to_string());
                let mut message = match err.downcast_ref::<wasmtime::Trap>() {
                    Some(trap) => trap.to_string(),
                    None => err.root_cause().to_string(),
                };
                if let Some(code) = state.proc_exit {
                    message.push_str(&format!(" (after proc_exit({code}))"));
                }
                let logs = state.logs.get(logs_before..).unwrap_or_default().to_vec();
                self.dead = Some((name.to_string(), message.clone()));
                Err(Error::Trap {
                    callback: name.to_string(),
                    message,
                    backtrace,
                    logs,
                })
            }
        }
    }

    pub(super) fn alloc_context_id(&mut self) -> u32 {
        let id = self.next_context_id;
        self.next_context_id = self.next_context_id.wrapping_add(1).max(1);
        id
    }

    pub(super) fn context_create(&mut self, id: u32, parent: u32) -> Result<(), Error> {
        match self.exports.context_create.clone() {
            Some(f) => self.call(
                "proxy_on_context_create",
                f,
                id,
                (id, parent),
                vec![id.into(), parent.into()],
            ),
            None => Ok(()),
        }
    }
}
