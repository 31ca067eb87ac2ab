//! Time and outgoing calls: the simulated clock, timers (`proxy_on_tick`), and `proxy_http_call` responses.

use super::*;

impl Host {
    pub(super) fn deliver_http_call(&mut self, call: HttpCall, root_id: u32) -> Result<(), Error> {
        let state = self.store.data_mut();
        let reply = match state.upstreams.get_mut(&call.cluster) {
            Some(responder) => responder(&call),
            None => HttpCallReply::Failure,
        };
        // Envoy keeps the call on the root context: without it, nobody hears the answer.
        if !state.contexts.contains_key(&root_id) {
            return Ok(());
        }
        let Some(f) = self.exports.http_call_response.clone() else {
            return Ok(());
        };
        let (headers, body, trailers) = match reply.into_parts() {
            Some((h, b, t)) => {
                let counts = (len_u32(h.len()), len_u32(b.len()), len_u32(t.len()));
                state.call_response = Some(ActiveCallResponse {
                    headers: h,
                    body: b,
                    trailers: t,
                });
                counts
            }
            None => (0, 0, 0),
        };
        let token = call.token;
        let result = self.call(
            "proxy_on_http_call_response",
            f,
            root_id,
            (root_id, token, headers, body, trailers),
            vec![
                root_id.into(),
                token.into(),
                headers.into(),
                body.into(),
                trailers.into(),
            ],
        );
        self.store.data_mut().call_response = None;
        result
    }

    /// Moves both clocks forward by `by`, firing every tick that falls due on the way (the
    /// clock reads the tick's due time during `proxy_on_tick`). With a dead VM the clock still
    /// moves, and the call returns [`Error::VmDead`].
    pub fn advance(&mut self, by: Duration) -> Result<(), Error> {
        let by_ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let target = self.store.data().clock.monotonic_nanos().saturating_add(by_ns);
        loop {
            if self.dead.is_some() {
                break;
            }
            let next = self
                .store
                .data()
                .timers
                .iter()
                .filter(|(_, t)| t.due_monotonic_ns <= target)
                .min_by_key(|(_, t)| t.due_monotonic_ns)
                .map(|(root, t)| (*root, *t));
            let Some((root, timer)) = next else {
                break;
            };
            self.fire_tick(root, timer)?;
        }
        let state = self.store.data_mut();
        let rest = target.saturating_sub(state.clock.monotonic_nanos());
        state.clock.advance(Duration::from_nanos(rest));
        self.alive()
    }

    /// Moves the clocks to the next due tick and fires it. Returns false (and leaves the clock
    /// alone) when no tick period is set.
    pub fn tick(&mut self) -> Result<bool, Error> {
        self.alive()?;
        let next = self
            .store
            .data()
            .timers
            .iter()
            .min_by_key(|(_, t)| t.due_monotonic_ns)
            .map(|(root, t)| (*root, *t));
        let Some((root, timer)) = next else {
            return Ok(false);
        };
        self.fire_tick(root, timer)?;
        Ok(true)
    }

    fn fire_tick(&mut self, root: u32, timer: Timer) -> Result<(), Error> {
        let state = self.store.data_mut();
        let wait = timer.due_monotonic_ns.saturating_sub(state.clock.monotonic_nanos());
        state.clock.advance(Duration::from_nanos(wait));
        // Re-arm first: a period set during the tick replaces this one (`Wasm::tickHandler`).
        state.timers.insert(
            root,
            Timer {
                period_ns: timer.period_ns,
                due_monotonic_ns: timer.due_monotonic_ns.saturating_add(timer.period_ns),
            },
        );
        if !state.contexts.contains_key(&root) {
            state.timers.remove(&root);
            return Ok(());
        }
        if let Some(f) = self.exports.tick.clone() {
            self.call("proxy_on_tick", f, root, root, vec![root.into()])?;
        }
        self.run_deferred()
    }

    /// Registers a scripted upstream cluster for `proxy_http_call`. Calls to clusters that are
    /// not registered fail with `BadArgument`, as calls to unknown clusters do in Envoy.
    ///
    /// ```no_run
    /// # let mut host: jitgate_harness::Host = unimplemented!();
    /// use jitgate_harness::HttpCallReply;
    /// host.upstream("auth", |call| {
    ///     assert_eq!(call.headers.get(":path"), Some("/check"));
    ///     HttpCallReply::status(200).header("x-auth", "ok").body("granted")
    /// });
    /// ```
    pub fn upstream<F>(&mut self, cluster: impl Into<String>, responder: F)
    where
        F: FnMut(&HttpCall) -> HttpCallReply + Send + 'static,
    {
        self.store
            .data_mut()
            .upstreams
            .insert(cluster.into(), Box::new(responder));
    }

    /// Every `proxy_http_call` the module made, in order.
    pub fn http_calls(&self) -> &[HttpCall] {
        &self.store.data().http_calls
    }
}
