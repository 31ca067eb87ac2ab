//! What tests read back: logs, host calls, metrics, shared data, the clock, the VM's failure.

use super::*;

impl Host {
    /// Every log line captured so far (`proxy_log`, WASI stdout/stderr, host notes).
    pub fn logs(&self) -> &[LogEntry] {
        &self.store.data().logs
    }

    /// Takes the captured log lines, leaving none.
    pub fn take_logs(&mut self) -> Vec<LogEntry> {
        std::mem::take(&mut self.store.data_mut().logs)
    }

    /// The messages of the captured lines, in order.
    pub fn log_messages(&self) -> Vec<&str> {
        self.logs().iter().map(|l| l.message.as_str()).collect()
    }

    /// Every call the host made into the module, in order (allocations excluded).
    pub fn calls(&self) -> &[Call] {
        &self.store.data().calls
    }

    /// The names of [`Self::calls`], in order.
    pub fn call_names(&self) -> Vec<&'static str> {
        self.calls().iter().map(|c| c.name).collect()
    }

    /// Takes the recorded calls, leaving none.
    pub fn take_calls(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.store.data_mut().calls)
    }

    /// The value of the counter or gauge the module defined as `name`.
    pub fn metric(&self, name: &str) -> Option<u64> {
        self.metrics().iter().find_map(|m| match (&m.value, m.name == name) {
            (MetricValue::Number(v), true) => Some(*v),
            _ => None,
        })
    }

    /// The values recorded by the histogram the module defined as `name`.
    pub fn histogram(&self, name: &str) -> Option<&[u64]> {
        self.metrics().iter().find_map(|m| match (&m.value, m.name == name) {
            (MetricValue::Samples(v), true) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// Every metric the module defined, in definition order.
    pub fn metrics(&self) -> &[Metric] {
        self.store.data().metrics.all()
    }

    /// A shared-data value and its CAS token.
    pub fn shared_data(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.store.data().shared_data.get(key.as_bytes()).ok()
    }

    /// Stores a shared-data value, as another VM of the same `vm_id` would.
    pub fn set_shared_data(&mut self, key: &str, value: impl AsRef<[u8]>) {
        self.store.data_mut().shared_data.set(key.as_bytes(), value.as_ref(), 0);
    }

    /// The clocks.
    pub fn clock(&self) -> Clock {
        self.store.data().clock
    }

    /// The wall clock.
    pub fn now(&self) -> SystemTime {
        self.store.data().clock.system_time()
    }

    /// Steps the wall clock (the monotonic clock and ticks are unaffected; see [`Self::advance`]).
    pub fn set_time(&mut self, time: SystemTime) {
        self.store.data_mut().clock.set_system_time(time);
    }

    /// Steps the wall clock to `secs` Unix seconds.
    pub fn set_unix_secs(&mut self, secs: u64) {
        self.store
            .data_mut()
            .clock
            .set_unix_nanos(secs.saturating_mul(1_000_000_000));
    }

    /// Whether a trap killed the VM.
    pub fn is_dead(&self) -> bool {
        self.dead.is_some()
    }

    /// The callback and message of the trap that killed the VM.
    pub fn failure(&self) -> Option<(&str, &str)> {
        self.dead.as_ref().map(|(c, m)| (c.as_str(), m.as_str()))
    }

    /// The id of the configured root context.
    pub fn root_context_id(&self) -> Option<u32> {
        self.root
    }

    /// The ABI version of the module.
    pub fn abi_version(&self) -> AbiVersion {
        self.module.abi_version()
    }

    /// The compiled module, to start more hosts cheaply.
    pub fn module(&self) -> &FilterModule {
        &self.module
    }
}
