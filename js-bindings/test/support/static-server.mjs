// A tiny static file server on 127.0.0.1 for the browser test: serves `root`, plus
// in-memory `routes` (path → [content type, body]; the object may change while it
// runs), each with a strong ETag and a 304 for a matching `If-None-Match`. `hits`
// records every request to a route: `{ path, status }`.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
};

export async function serveStatic(root, routes = {}) {
  const base = normalize(root + sep);
  const hits = [];
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (routes[path]) {
      const [type, body] = routes[path];
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      const notModified = req.headers['if-none-match'] === etag;
      hits.push({ path, status: notModified ? 304 : 200 });
      const headers = { etag, 'cache-control': 'no-store' };
      if (notModified) res.writeHead(304, headers).end();
      else res.writeHead(200, { ...headers, 'content-type': type }).end(body);
      return;
    }
    const file = normalize(join(root, path));
    let stat = null;
    try {
      stat = file.startsWith(base) ? statSync(file) : null;
    } catch {
      stat = null;
    }
    if (!stat?.isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': stat.size,
      'cache-control': 'no-store',
    });
    createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, hits, url: `http://127.0.0.1:${server.address().port}` };
}
