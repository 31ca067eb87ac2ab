// Live trust with `fetch`: polls an issuer's feed (docs/live-trust.md) and installs
// what it finds into a jitgate `Gate`, so revocations and key rotations reach this
// process within one refresh period, and its decisions fail closed (`revocations_stale`)
// when the feed has been unreachable for longer than `feed.max_stale_s`.
//
// The same module runs in Node (>= 20) and in browsers: it needs only `fetch`,
// `AbortSignal.timeout` and timers, and imports nothing (pass it your `Gate`).
//
//   const poller = new FeedPoller(gate, {
//     issuer: config.issuers[0],                    // the issuer entry, with its `feed`
//     baseUrl: 'https://approvals.example.com',     // where the feed's paths are served
//   });
//   await poller.pollOnce();                        // before serving: the first lists
//   poller.start();                                 // then every `feed.refresh_s`
//
// Each document is fetched with `If-None-Match: <the ETag of the copy installed>`; a
// 200 is installed (`installKeys`, `installRevocations`, `installStatusList`), a 304
// confirms the installed copy (`confirmCurrent`), so an unchanged list costs a header.
// A refused document (`JitgateError` `feed_*`: forged, replayed, expired…) leaves the
// last good one in place; a failed fetch changes nothing, and staleness does the rest.
//
// In a browser the feed must allow the page's origin (CORS, with `ETag` in
// `Access-Control-Expose-Headers`); `cache: 'no-store'` keeps the browser's HTTP cache
// from answering the conditional requests itself. `examples/node-feed.mjs` runs it in
// a Node service.

/** One document of the feed: what to fetch and how to hand it to the gate. */
function documentsOf(issuer) {
  const feed = issuer.feed ?? {};
  const docs = [];
  // Keys first: the other documents may be signed by a key the new set brings.
  if (feed.jwks_path) docs.push({ kind: 'keys', path: feed.jwks_path, every: feed.jwks_refresh_s ?? 300 });
  docs.push({ kind: 'revocations', path: feed.revocations_path ?? '/v1/revocations', every: feed.refresh_s ?? 5 });
  for (const [uri, path] of Object.entries(feed.status_lists ?? {})) {
    docs.push({ kind: 'status_list', uri, path, every: feed.refresh_s ?? 5 });
  }
  return docs;
}

export class FeedPoller {
  #gate;
  #issuer;
  #base;
  #fetch;
  #timeoutMs;
  #onEvent;
  #now;
  #docs;
  #timer = null;
  #running = null;

  /**
   * @param {import('jitgate').Gate} gate the gate to install into
   * @param {object} options
   * @param {{ issuer: string, feed?: object }} options.issuer the configuration's issuer entry
   * @param {string} options.baseUrl where the feed's paths are served: an origin, or an origin and
   *   a path prefix (`feed.cluster` and `feed.authority` are Envoy's concern)
   * @param {typeof fetch} [options.fetch] a `fetch` (default: the global one)
   * @param {(event: object) => void} [options.onEvent] every fetch's outcome (log or count it)
   * @param {() => number} [options.now] the clock, epoch ms (default `Date.now`)
   */
  constructor(gate, { issuer, baseUrl, fetch: fetchFn, onEvent, now }) {
    if (typeof issuer?.issuer !== 'string') throw new TypeError('`issuer` must be the configuration\'s issuer entry');
    this.#gate = gate;
    this.#issuer = issuer;
    this.#base = new URL(baseUrl);
    this.#fetch = fetchFn ?? ((...args) => globalThis.fetch(...args)); // the global one, at call time
    this.#timeoutMs = issuer.feed?.timeout_ms ?? 2000;
    this.#onEvent = onEvent ?? (() => {});
    this.#now = now ?? Date.now;
    this.#docs = documentsOf(issuer).map((d) => ({ ...d, etag: null, due: 0 }));
  }

  /** Fetches every document that is due (all of them the first time, or with `all`). */
  async pollOnce({ all = false } = {}) {
    const now = this.#now();
    const events = [];
    for (const doc of this.#docs) {
      if (!all && doc.due > now) continue;
      doc.due = now + doc.every * 1000;
      events.push(await this.#poll(doc));
    }
    return events;
  }

  async #poll(doc) {
    // The feed's paths under `baseUrl` (which may carry a path prefix of its own).
    const url = new URL(this.#base.href.replace(/\/+$/, '') + doc.path);
    const event = { kind: doc.kind, uri: doc.uri, url: url.href };
    const headers = doc.etag ? { 'if-none-match': doc.etag } : {};
    const issuer = this.#issuer.issuer;
    try {
      const fetchFn = this.#fetch; // called unbound: `window.fetch` refuses another `this`
      const response = await fetchFn(url, {
        headers,
        cache: 'no-store',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      event.status = response.status;
      const at = { now: this.#now() };
      if (!response.ok) {
        // Read the (empty) body to its end: an unread body holds the connection (Node's
        // fetch) and counts as an aborted request (browsers).
        await response.arrayBuffer().catch(() => {});
      }
      if (response.status === 304 && doc.etag) {
        // Unchanged: the installed copy is current now (the key set has no staleness).
        if (doc.kind !== 'keys') event.state = this.#gate.confirmCurrent(issuer, doc.uri, at);
      } else if (response.ok) {
        const text = await response.text();
        if (doc.kind === 'keys') event.state = this.#gate.installKeys(issuer, text, at);
        else if (doc.kind === 'revocations') event.state = this.#gate.installRevocations(issuer, text, at);
        else event.state = this.#gate.installStatusList(issuer, doc.uri, text, at);
        // Only an installed copy's ETag: a refused document is fetched whole next time.
        doc.etag = response.headers.get('etag');
      } else {
        event.error = `HTTP ${response.status}`;
      }
    } catch (e) {
      // A refusal (`feed_rollback`, `feed_signature`, …) or a network failure: the last
      // good document stays installed.
      event.error = e?.code ?? e?.name ?? 'error';
      event.message = e?.message ?? String(e);
    }
    this.#onEvent(event);
    return event;
  }

  /** Polls every `feed.refresh_s` (key set every `feed.jwks_refresh_s`) until `stop()`. */
  start() {
    if (this.#timer !== null) return this;
    const period = Math.min(...this.#docs.map((d) => d.every)) * 1000;
    const tick = () => {
      // One poll at a time: a slow feed never piles requests up.
      if (this.#running === null) {
        this.#running = this.pollOnce().finally(() => {
          this.#running = null;
        });
      }
    };
    this.#timer = setInterval(tick, period);
    this.#timer.unref?.(); // Node: polling alone does not keep the process alive
    tick();
    return this;
  }

  /** Stops polling; resolves when the poll in flight (if any) is done. */
  async stop() {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }
}
