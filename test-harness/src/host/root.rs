//! The root context: configuring the plugin (`proxy_on_configure`), shutting it down.

use super::*;

impl Host {
    /// Creates a root context for `plugin_config` (`proxy_on_context_create(root, 0)`,
    /// `proxy_on_vm_start`, `proxy_on_configure` with the configuration as buffer type 7).
    ///
    /// Fails with [`Error::VmStartFailed`] or [`Error::ConfigureFailed`] (carrying the log lines
    /// of the attempt) when the module returns false: Envoy then rejects the configuration and
    /// the host stays as it was. Configuring again creates a new root context, as Envoy does for
    /// a new plugin configuration; the previous one gets `proxy_on_done` / `proxy_on_delete`.
    pub fn configure(&mut self, plugin_config: impl AsRef<[u8]>) -> Result<(), Error> {
        self.alive()?;
        let root = self.alloc_context_id();
        self.store
            .data_mut()
            .contexts
            .insert(root, ContextState::Root(RootState::default()));
        let logs_before = self.store.data().logs.len();
        match self.start_root(root, plugin_config.as_ref(), logs_before) {
            Ok(()) => {
                if let Some(old) = self.root.replace(root) {
                    self.shutdown_root(old)?;
                }
                self.run_deferred()
            }
            Err(e) => {
                let state = self.store.data_mut();
                state.contexts.remove(&root);
                state.timers.remove(&root);
                Err(e)
            }
        }
    }

    fn start_root(&mut self, root: u32, plugin_config: &[u8], logs_before: usize) -> Result<(), Error> {
        self.context_create(root, 0)?;
        let vm_config_len = len_u32(self.store.data().settings.vm_config.len());
        if let Some(f) = self.exports.vm_start.clone() {
            let ok = self.call(
                "proxy_on_vm_start",
                f,
                root,
                (root, vm_config_len),
                vec![root.into(), vm_config_len.into()],
            )?;
            if ok == 0 {
                return Err(Error::VmStartFailed {
                    logs: self.logs_since(logs_before),
                });
            }
        }
        if let Some(f) = self.exports.configure.clone() {
            let len = len_u32(plugin_config.len());
            self.store.data_mut().plugin_config = Some(plugin_config.to_vec());
            let result = self.call(
                "proxy_on_configure",
                f,
                root,
                (root, len),
                vec![root.into(), len.into()],
            );
            self.store.data_mut().plugin_config = None;
            if result? == 0 {
                return Err(Error::ConfigureFailed {
                    logs: self.logs_since(logs_before),
                });
            }
        }
        Ok(())
    }

    fn logs_since(&self, at: usize) -> Vec<LogEntry> {
        self.store.data().logs.get(at..).unwrap_or_default().to_vec()
    }

    /// `WasmBase::startShutdown` for one root context: `proxy_on_done`, and `proxy_on_delete`
    /// if it returned true; otherwise the root waits for the module to call `proxy_done`.
    fn shutdown_root(&mut self, root: u32) -> Result<bool, Error> {
        // Its timer keeps running: a root waiting for `proxy_done` usually finishes in a tick.
        let done = match self.exports.done.clone() {
            Some(f) => self.call("proxy_on_done", f, root, root, vec![root.into()])? != 0,
            None => true,
        };
        if done {
            self.delete_root(root)?;
        } else {
            self.store.data_mut().pending_done.push(root);
        }
        Ok(done)
    }

    pub(super) fn delete_root(&mut self, root: u32) -> Result<(), Error> {
        if let Some(f) = self.exports.delete.clone() {
            self.call("proxy_on_delete", f, root, root, vec![root.into()])?;
        }
        let state = self.store.data_mut();
        state.contexts.remove(&root);
        state.timers.remove(&root);
        Ok(())
    }

    /// Shuts the configured plugin down (`proxy_on_done`, then `proxy_on_delete` unless
    /// `proxy_on_done` returned false, in which case the module must call `proxy_done` later,
    /// e.g. from a tick). Returns whether the root context is gone.
    pub fn shutdown(&mut self) -> Result<bool, Error> {
        self.alive()?;
        let Some(root) = self.root.take() else {
            return Ok(true);
        };
        let done = self.shutdown_root(root)?;
        self.run_deferred()?;
        Ok(done)
    }
}
