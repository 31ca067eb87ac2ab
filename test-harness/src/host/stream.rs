//! HTTP streams: one request through the filter's callbacks, pauses, local replies, and the work deferred until a callback returns.

use super::*;

impl Host {
    /// Runs one request through the filter and returns what happened to it (see [`Host`] for
    /// the callback order). A trap during the request returns [`Error::Trap`]; once the VM is
    /// dead, requests get the [`FailurePolicy`] outcome without calling the module.
    pub fn request(&mut self, request: EnvoyRequest) -> Result<Outcome, Error> {
        if let Some(at) = request.at_unix_nanos {
            self.store.data_mut().clock.set_unix_nanos(at);
        }
        if self.dead.is_some() {
            return Ok(self.failure_outcome(&request));
        }
        let root = self.root.ok_or(Error::NotConfigured)?;
        let ctx = self.alloc_context_id();
        let now = self.store.data().clock.unix_nanos();
        let stream = StreamState {
            root_id: root,
            request_headers: request.header_map(),
            properties: request.properties.clone(),
            protocol: request.protocol.clone(),
            start_unix_nanos: now,
            ..StreamState::default()
        };
        self.store
            .data_mut()
            .contexts
            .insert(ctx, ContextState::Http(Box::new(stream)));
        let result = self.run_stream(ctx, root, &request);
        self.store.data_mut().contexts.remove(&ctx);
        let outcome = result?;
        self.run_deferred()?;
        Ok(outcome)
    }

    fn failure_outcome(&self, request: &EnvoyRequest) -> Outcome {
        match self.failure_policy {
            FailurePolicy::FailClosed => Outcome::LocalResponse {
                status: 503,
                headers: [(":status", "503")].into_iter().collect(),
                body: Vec::new(),
                details: FAIL_STREAM_DETAILS.into(),
            },
            FailurePolicy::FailOpen => {
                let upstream = request.upstream.clone().unwrap_or_default();
                Outcome::Forwarded {
                    headers: request.header_map(),
                    body: request.body.clone().unwrap_or_default(),
                    response: Response {
                        status: status_of(&upstream.headers),
                        headers: upstream.headers,
                        body: upstream.body,
                    },
                }
            }
        }
    }

    fn run_stream(&mut self, ctx: u32, root: u32, request: &EnvoyRequest) -> Result<Outcome, Error> {
        self.context_create(ctx, root)?;
        match self.stream_phases(ctx, request) {
            Ok(outcome) => {
                self.finish_stream(ctx)?;
                Ok(outcome)
            }
            Err(Error::Stalled { context_id, phase }) => {
                // Nothing will resume the stream; end it as a client that gave up would.
                self.finish_stream(ctx)?;
                Err(Error::Stalled { context_id, phase })
            }
            Err(e) => Err(e),
        }
    }

    fn stream(&mut self, ctx: u32) -> &mut StreamState {
        // INVARIANT: the stream of `ctx` is in `contexts` from `request` until it returns, and
        // the module cannot remove contexts. Were it missing anyway, a detached state absorbs
        // the accesses rather than panicking.
        match self.store.data_mut().contexts.get_mut(&ctx) {
            Some(ContextState::Http(s)) => s,
            _ => &mut self.detached,
        }
    }

    fn stream_callback(
        &mut self,
        name: &'static str,
        func: Option<TypedFunc<(u32, u32, u32), u32>>,
        ctx: u32,
        size: usize,
        end_of_stream: bool,
    ) -> Result<StreamAction, Error> {
        let Some(func) = func else {
            return Ok(StreamAction::Continue);
        };
        let size = len_u32(size);
        let eos = u32::from(end_of_stream);
        let action = self.call(
            name,
            func,
            ctx,
            (ctx, size, eos),
            vec![ctx.into(), size.into(), eos.into()],
        )?;
        Ok(StreamAction::from_u32(action))
    }

    fn stream_phases(&mut self, ctx: u32, request: &EnvoyRequest) -> Result<Outcome, Error> {
        // Request headers.
        let count = self.stream(ctx).request_headers.len();
        self.stream(ctx).request_headers_available = true;
        let f = self.exports.request_headers.clone();
        let action = self.stream_callback("proxy_on_request_headers", f, ctx, count, request.body.is_none())?;
        if let Some(end) = self.settle(ctx, action, Dir::EnvoyRequest, "request headers")? {
            return Ok(end);
        }
        self.stream(ctx).request_headers_available = false;

        // Request body, in one piece.
        if let Some(body) = &request.body {
            let stream = self.stream(ctx);
            stream.request_body = body.clone();
            stream.request_body_available = true;
            let f = self.exports.request_body.clone();
            let action = self.stream_callback("proxy_on_request_body", f, ctx, body.len(), true)?;
            if let Some(end) = self.settle(ctx, action, Dir::EnvoyRequest, "request body")? {
                return Ok(end);
            }
            self.stream(ctx).request_body_available = false;
        }

        // Upstream.
        let stream = self.stream(ctx);
        let forwarded_headers = stream.request_headers.clone();
        let forwarded_body = stream.request_body.clone();
        let upstream = request.upstream.clone().unwrap_or_default();
        let stream = self.stream(ctx);
        stream.response_code = Some(status_of(&upstream.headers));
        stream.response_headers = upstream.headers;
        stream.response_headers_available = true;
        stream.response_started = true;
        let count = stream.response_headers.len();
        let f = self.exports.response_headers.clone();
        let action = self.stream_callback("proxy_on_response_headers", f, ctx, count, upstream.body.is_empty())?;
        if let Some(end) = self.settle(ctx, action, Dir::Response, "response headers")? {
            return Ok(end);
        }
        self.stream(ctx).response_headers_available = false;
        if !upstream.body.is_empty() {
            let len = upstream.body.len();
            let stream = self.stream(ctx);
            stream.response_body = upstream.body;
            stream.response_body_available = true;
            let f = self.exports.response_body.clone();
            let action = self.stream_callback("proxy_on_response_body", f, ctx, len, true)?;
            if let Some(end) = self.settle(ctx, action, Dir::Response, "response body")? {
                return Ok(end);
            }
            self.stream(ctx).response_body_available = false;
        }
        let stream = self.stream(ctx);
        Ok(Outcome::Forwarded {
            headers: forwarded_headers,
            body: forwarded_body,
            response: Response {
                status: status_of(&stream.response_headers),
                headers: stream.response_headers.clone(),
                body: stream.response_body.clone(),
            },
        })
    }

    /// After a stream callback: applies a reset or local reply the module asked for; else, if
    /// the module paused the stream, delivers deferred events one by one until it resumes.
    /// Returns the outcome if the stream ended.
    fn settle(
        &mut self,
        ctx: u32,
        action: StreamAction,
        dir: Dir,
        phase: &'static str,
    ) -> Result<Option<Outcome>, Error> {
        loop {
            let stream = self.stream(ctx);
            if stream.closed {
                let details = stream
                    .response_details
                    .clone()
                    .unwrap_or_else(|| "wasm_close_stream".into());
                return Ok(Some(Outcome::Reset { details }));
            }
            if let Some(reply) = stream.local_reply.take() {
                return self.local_reply(ctx, reply).map(Some);
            }
            let continued = match dir {
                Dir::EnvoyRequest => std::mem::take(&mut stream.continued_request),
                Dir::Response => std::mem::take(&mut stream.continued_response),
            };
            if action == StreamAction::Continue || continued {
                return Ok(None);
            }
            if !self.run_one_deferred()? {
                return Err(Error::Stalled { context_id: ctx, phase });
            }
        }
    }

    /// Envoy's `sendLocalReply`: builds the reply headers like `Utility::sendLocalReply` and,
    /// if no response has started, passes them through the filter's encoder callbacks; once a
    /// response has started, the reply replaces it directly (`sendDirectLocalReply`).
    fn local_reply(&mut self, ctx: u32, reply: LocalReply) -> Result<Outcome, Error> {
        let mut headers = HeaderMap::new();
        headers.add(":status", reply.status.to_string());
        for (k, v) in &reply.headers {
            headers.add(k, v.as_str());
        }
        if reply.body.is_empty() {
            headers.remove("content-length");
            headers.remove("content-type");
        } else {
            headers.set_in_place("content-length", reply.body.len().to_string());
            if !headers.contains("content-type") {
                headers.add("content-type", "text/plain");
            }
        }
        let stream = self.stream(ctx);
        stream.response_code = Some(reply.status);
        stream.response_details = Some(reply.details.clone());
        stream.request_body_available = false;
        if stream.response_started {
            stream.response_headers = headers.clone();
            stream.response_body = reply.body.clone();
            return Ok(Outcome::LocalResponse {
                status: reply.status,
                headers,
                body: reply.body,
                details: reply.details,
            });
        }
        stream.response_started = true;
        stream.response_headers = headers;
        stream.response_headers_available = true;
        let count = stream.response_headers.len();
        let f = self.exports.response_headers.clone();
        let action = self.stream_callback("proxy_on_response_headers", f, ctx, count, reply.body.is_empty())?;
        if let Some(end) = self.settle(ctx, action, Dir::Response, "local reply headers")? {
            return Ok(end);
        }
        self.stream(ctx).response_headers_available = false;
        if !reply.body.is_empty() {
            let len = reply.body.len();
            let stream = self.stream(ctx);
            stream.response_body = reply.body.clone();
            stream.response_body_available = true;
            let f = self.exports.response_body.clone();
            let action = self.stream_callback("proxy_on_response_body", f, ctx, len, true)?;
            if let Some(end) = self.settle(ctx, action, Dir::Response, "local reply body")? {
                return Ok(end);
            }
            self.stream(ctx).response_body_available = false;
        }
        let stream = self.stream(ctx);
        let status = match status_of(&stream.response_headers) {
            0 => reply.status,
            s => s,
        };
        Ok(Outcome::LocalResponse {
            status,
            headers: stream.response_headers.clone(),
            body: stream.response_body.clone(),
            details: reply.details,
        })
    }

    /// End of a stream: `proxy_on_log` (access-log phase: headers readable, not writable),
    /// then `proxy_on_done` and `proxy_on_delete` (Envoy's `onDestroy`).
    fn finish_stream(&mut self, ctx: u32) -> Result<(), Error> {
        let stream = self.stream(ctx);
        stream.request_headers_available = false;
        stream.request_body_available = false;
        stream.response_headers_available = false;
        stream.response_body_available = false;
        stream.access_log_phase = true;
        if let Some(f) = self.exports.log.clone() {
            self.call("proxy_on_log", f, ctx, ctx, vec![ctx.into()])?;
        }
        self.stream(ctx).access_log_phase = false;
        if let Some(f) = self.exports.done.clone() {
            self.call("proxy_on_done", f, ctx, ctx, vec![ctx.into()])?;
        }
        if let Some(f) = self.exports.delete.clone() {
            self.call("proxy_on_delete", f, ctx, ctx, vec![ctx.into()])?;
        }
        Ok(())
    }

    /// Delivers every deferred event (including those the deliveries cause).
    pub(super) fn run_deferred(&mut self) -> Result<(), Error> {
        while self.run_one_deferred()? {}
        Ok(())
    }

    /// Delivers the oldest deferred event; false if there was none.
    fn run_one_deferred(&mut self) -> Result<bool, Error> {
        let Some(event) = self.store.data_mut().deferred.pop_front() else {
            return Ok(false);
        };
        match event {
            Deferred::HttpCall { call, root_id } => self.deliver_http_call(call, root_id)?,
            Deferred::QueueReady { root_id, token } => {
                let root_alive = self.store.data().contexts.contains_key(&root_id);
                if let (true, Some(f)) = (root_alive, self.exports.queue_ready.clone()) {
                    self.call(
                        "proxy_on_queue_ready",
                        f,
                        root_id,
                        (root_id, token),
                        vec![root_id.into(), token.into()],
                    )?;
                }
            }
            Deferred::DeleteRoot(root) => self.delete_root(root)?,
        }
        Ok(true)
    }
}
