// jitgate guarding a Node HTTP service, with plain node:http (no framework).
//
//   node examples/express-middleware.mjs [CONFIG.json]
//
// starts a demo service on 127.0.0.1:8080 (PORT to change) guarded by the demo
// configuration in policies/config.example.json (its key is TEST-ONLY: the private
// half is deploy/demo-key.private.jwk). Mint a token for it with
// `jitgate token sign` and send it in the `x-jit-approval` header.
//
// `jitgateMiddleware(gate)` has the (req, res, next) shape of Express/Connect
// middleware, so it drops into those as is.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

import { Gate, auditLine } from 'jitgate';

/** What jitgate needs to know about a Node request. */
export function gateRequest(req) {
  const { remoteAddress, remotePort } = req.socket;
  const source = {};
  if (remoteAddress) {
    source.address = remoteAddress.includes(':') ? `[${remoteAddress}]:${remotePort}` : `${remoteAddress}:${remotePort}`;
  }
  // Over mTLS, tokens may be bound to the client certificate (cnf.x5t#S256).
  const cert = typeof req.socket.getPeerCertificate === 'function' ? req.socket.getPeerCertificate() : null;
  if (cert?.raw) source.certificateSha256 = createHash('sha256').update(cert.raw).digest('base64url');
  return {
    method: req.method,
    path: req.url,
    headers: req.headers,
    source,
    scheme: req.socket.encrypted ? 'https' : 'http',
    protocol: `HTTP/${req.httpVersion}`,
  };
}

/**
 * Middleware: decides each request; answers denials itself (401/403 with a JSON
 * body), and on allow rewrites the headers as the decision says, then calls next().
 * `audit(record)` receives every decision's audit record (default: one JSON line
 * on stdout).
 */
export function jitgateMiddleware(gate, { audit = (r) => console.log(auditLine(r)) } = {}) {
  return (req, res, next) => {
    const decision = gate.decide(gateRequest(req));
    audit(decision.audit);
    if (decision.response) {
      const { status, headers, body } = decision.response;
      res.writeHead(status, headers).end(body);
      return;
    }
    const { removeHeaders, addHeaders, responseHeaders } = decision.forward;
    for (const name of removeHeaders) delete req.headers[name];
    Object.assign(req.headers, addHeaders);
    for (const [name, value] of Object.entries(responseHeaders)) res.setHeader(name, value);
    req.jitgate = decision;
    next();
  };
}

/** The demo service: answers with who it sees (the headers jitgate set). */
function upstream(req, res) {
  res.writeHead(200, { 'content-type': 'application/json' }).end(
    JSON.stringify({
      ok: true,
      path: req.url,
      subject: req.headers['x-jit-subject'] ?? null,
      approval: req.headers['x-jit-approval-id'] ?? null,
      expires: req.headers['x-jit-expires'] ?? null,
      tokenForwarded: 'x-jit-approval' in req.headers,
    }),
  );
}

/** An HTTP server: `handler` guarded by a Gate built from `config`. */
export function createServer(config, { handler = upstream, audit } = {}) {
  const gate = new Gate(config);
  const guard = jitgateMiddleware(gate, { audit });
  const server = http.createServer((req, res) => {
    try {
      guard(req, res, () => handler(req, res));
    } catch (e) {
      // A request jitgate cannot read (JitgateError `request_invalid`).
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'bad_request', reason: e.code ?? 'internal' }));
    }
  });
  server.on('close', () => gate.free());
  return server;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const path = process.argv[2] ?? fileURLToPath(new URL('../../policies/config.example.json', import.meta.url));
  const port = Number(process.env.PORT ?? 8080);
  createServer(JSON.parse(readFileSync(path, 'utf8'))).listen(port, '127.0.0.1', () => {
    console.error(`jitgate demo service on http://127.0.0.1:${port} (configuration ${path})`);
  });
}
