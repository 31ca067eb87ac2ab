// A Node service guarded by jitgate with live trust: revocations and key rotations
// arrive from the approval service's feed while it runs, with no restart.
//
//   node examples/node-feed.mjs CONFIG.json FEED_URL
//
// CONFIG.json is the gate configuration; every issuer with a `feed` is polled at
// FEED_URL (such as http://127.0.0.1:8081 for `jitgate-approvals serve --dev`) with
// `fetch`, ETags and 304s (examples/feed-poller.mjs). The service listens on
// 127.0.0.1:8080 (PORT to change) and answers `GET /trust` with `gate.trustStatus()`.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

import { Gate } from 'jitgate';

import { jitgateMiddleware } from './express-middleware.mjs';
import { FeedPoller } from './feed-poller.mjs';

/**
 * A gate for `config` and a poller per issuer with a feed, each polled once before
 * this resolves (so the first request already has the lists).
 */
export async function liveGate(config, feedUrl, { fetch, onEvent, now } = {}) {
  const gate = new Gate(config);
  const pollers = config.issuers
    .filter((issuer) => issuer.feed)
    .map((issuer) => new FeedPoller(gate, { issuer, baseUrl: feedUrl, fetch, onEvent, now }));
  await Promise.all(pollers.map((p) => p.pollOnce()));
  return {
    gate,
    pollers,
    start: () => pollers.forEach((p) => p.start()),
    stop: async () => {
      await Promise.all(pollers.map((p) => p.stop()));
      gate.free();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [configPath, feedUrl] = process.argv.slice(2);
  if (!configPath || !feedUrl) {
    console.error('usage: node examples/node-feed.mjs CONFIG.json FEED_URL');
    process.exit(2);
  }
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  const onEvent = (e) => {
    if (e.error) console.error(`jitgate feed: ${e.kind} ${e.url}: ${e.error}${e.message ? `: ${e.message}` : ''}`);
    else if (e.state?.changed) console.error(`jitgate feed: installed ${e.kind} ${JSON.stringify(e.state)}`);
  };
  const live = await liveGate(config, feedUrl, { onEvent });
  live.start();
  const guard = jitgateMiddleware(live.gate);
  const port = Number(process.env.PORT ?? 8080);
  http
    .createServer((req, res) => {
      if (req.url === '/trust') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(live.gate.trustStatus()));
        return;
      }
      guard(req, res, () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello ${req.headers['x-jit-subject']}\n`));
    })
    .listen(port, '127.0.0.1', () => console.error(`jitgate service on http://127.0.0.1:${port}, feed ${feedUrl}`));
  // The poller timers are unref'd; the server keeps the process alive.
}
