"""A real Envoy running jitgate, for the end-to-end tests, the demo and the benchmark.

Standard library only (the venv adds pytest for the tests). Everything listens on
loopback, on ports the kernel picks; every wait is bounded.

- `Upstream`: an HTTP server that answers every request 200 with a JSON echo of what
  it received (method, path, headers as a list of [name, value]), and remembers it.
- `Envoy`: renders a bootstrap with deploy/render.py (the shipped envoy.yaml, with
  another configuration, `.wasm`, ports or mTLS certificates), starts
  target/envoy-venv/bin/envoy on it, waits for the admin /ready, reads its log (the
  `jitgate.audit {…}` lines) and its /stats, and stops it.
- `Approvals`: a signing key from `jitgate token keygen` in a temporary directory, and
  tokens from `jitgate token sign`, relative to the wall clock (Envoy reads the real time).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))
import render  # noqa: E402  (deploy/render.py)

ENVOY = Path(os.environ.get("JITGATE_ENVOY", ROOT / "target" / "envoy-venv" / "bin" / "envoy"))
JITGATE = Path(os.environ.get("JITGATE_BIN", ROOT / "target" / "cli" / "jitgate"))
FILTER = Path(os.environ.get("JITGATE_FILTER", ROOT / "target" / "jitgate_filter.wasm"))
TRAP_FILTER = Path(os.environ.get("JITGATE_TRAP_FILTER", ROOT / "target" / "jitgate_filter_trap.wasm"))
EXAMPLE_CONFIG = ROOT / "policies" / "config.example.json"

ISSUER = "https://approvals.example.com"
AUDIENCE = "db-gateway"
RESOURCE = "test-database"
TIMEOUT = 10.0  # seconds, for any one HTTP exchange

AUDIT_RE = re.compile(r"jitgate\.audit (\{.*\})\s*$")


def envoy_version() -> str:
    out = subprocess.run([str(ENVOY), "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    m = re.search(r"version: [0-9a-f]+/([0-9.]+)/", out)
    return m.group(1) if m else "?"


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when the Python process that started it dies
    (Linux PR_SET_PDEATHSIG), so no Envoy outlives a killed test run."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


_HANDED_OUT: set[int] = set()
_PORT_LOCK = threading.Lock()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A loopback TCP port nothing listens on, never the same one twice in this process.

    Asking the kernel for port 0 and closing the socket is not enough: the kernel may
    give the same port again (two Envoys, or an Envoy's listener and its admin, then
    clash), and the port sits in the ephemeral range, where any outgoing connection
    may take it before Envoy binds it. So the port comes from below that range, is
    checked free by binding it, and is remembered."""
    import random

    low, _ = _ephemeral_range()
    first, last = (10000, low - 1) if low > 11000 else (low, 65535)
    with _PORT_LOCK:
        for _ in range(1000):
            port = random.randint(first, last)
            if port in _HANDED_OUT:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no free loopback port found in 1000 tries")


# --- the upstream --------------------------------------------------------------------


class _EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _echo(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = {"method": self.command, "path": self.path,
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
                "body": body.decode("utf-8", "replace")}
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.seen.append(seen)  # type: ignore[attr-defined]
            index = len(self.server.seen) - 1  # type: ignore[attr-defined]
        out = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        # Which request this is in Upstream.seen (HEAD answers have no body to read).
        self.send_header("x-echo-index", str(index))
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _echo

    def log_message(self, *args):  # quiet
        pass


class Upstream:
    """The echo server on 127.0.0.1 (a thread); `seen` lists what reached it."""

    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
        self.server.daemon_threads = True
        self.server.seen = []  # type: ignore[attr-defined]
        self.server.lock = threading.Lock()  # type: ignore[attr-defined]
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    @property
    def seen(self) -> list[dict]:
        return self.server.seen  # type: ignore[attr-defined]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- HTTP client -----------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def upstream_headers(self) -> dict[str, list[str]]:
        """For a 200 from the echo upstream: the headers it received, name -> values."""
        out: dict[str, list[str]] = {}
        for k, v in self.json()["headers"]:
            out.setdefault(k, []).append(v)
        return out


class _Utf8Request:
    """Sends the request line as UTF-8, so a test can put raw non-ASCII bytes in a path
    (http.client would refuse them)."""

    def _encode_request(self, request: str) -> bytes:
        return request.encode("utf-8")


class _HTTP(_Utf8Request, http.client.HTTPConnection):
    pass


class _HTTPS(_Utf8Request, http.client.HTTPSConnection):
    pass


def request(port: int, method: str, path: str, headers: list[tuple[str, str]] | dict | None = None,
            body: bytes | None = None, tls: ssl.SSLContext | None = None, timeout: float = TIMEOUT) -> Response:
    """One request on a new connection (so each may land on either worker)."""
    if tls is not None:
        conn = _HTTPS("127.0.0.1", port, timeout=timeout, context=tls)
    else:
        conn = _HTTP("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if not any(k.lower() == "host" for k, _ in items):
            items.insert(0, ("host", "db.internal"))
        for k, v in items:
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("content-length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return Response(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


# --- Envoy -----------------------------------------------------------------------------


def add_cluster(text: str, name: str, port: int) -> str:
    """`text` (a rendered bootstrap) with one more STATIC cluster `name` on 127.0.0.1:`port`."""
    assert "  clusters:\n" in text
    return text.replace("  clusters:\n", f"""  clusters:
  - name: {name}
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: {name}
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address:
                address: 127.0.0.1
                port_value: {port}
""", 1)



@dataclass
class Envoy:
    """One Envoy process running jitgate with `config` (a dict, DESIGN §6)."""

    config: dict
    workdir: Path
    upstream_port: int
    wasm: Path = FILTER
    upstream_host: str = "127.0.0.1"
    listen_address: str = "127.0.0.1"
    failure_policy: str = "FAIL_RELOAD"
    concurrency: int = 2
    tls: dict | None = None  # {"cert", "key", "ca"}: file paths
    name: str = "envoy"
    # Fetch the module over HTTP (`vm_config.code.remote`) from 127.0.0.1:PORT with this
    # sha256, instead of reading `wasm` (Envoy then starts before the module loads).
    remote_wasm: tuple[int, str] | None = None
    # More STATIC clusters on 127.0.0.1, name -> port (the live-trust feed's `cluster`).
    clusters: dict[str, int] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def bootstrap_path(self) -> Path:
        return self.workdir / f"{self.name}.yaml"

    def render(self) -> str:
        tls = self.tls or {}
        text = render.envoy_yaml(self.config, [f"e2e ({self.name})"], render.Bootstrap(
            wasm_path=str(Path(self.wasm).resolve()), listen_address=self.listen_address, listen_port=self.port,
            admin_port=self.admin_port, upstream_host=self.upstream_host, upstream_port=self.upstream_port,
            failure_policy=self.failure_policy,
            tls_cert=tls.get("cert"), tls_key=tls.get("key"), tls_ca=tls.get("ca"),
        ))
        if self.remote_wasm:
            text = self._remote(text, *self.remote_wasm)
        for name, port in self.clusters.items():
            text = add_cluster(text, name, port)
        return text

    def _remote(self, text: str, port: int, sha256: str) -> str:
        local = f"                  code:\n                    local:\n                      filename: {Path(self.wasm).resolve()}\n"
        assert local in text
        text = text.replace(local, f"""                  code:
                    remote:
                      http_uri:
                        uri: http://127.0.0.1:{port}/jitgate_filter.wasm
                        cluster: wasm_source
                        timeout: 5s
                      sha256: {sha256}
                      retry_policy:
                        num_retries: 0
""")
        return add_cluster(text, "wasm_source", port)

    def spawn(self) -> "Envoy":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.bootstrap_path.write_text(self.render(), encoding="utf-8")
        if self.log_path.exists():
            self.log_path.unlink()
        self.proc = subprocess.Popen(
            [str(ENVOY), "-c", str(self.bootstrap_path), "--concurrency", str(self.concurrency),
             "--disable-hot-restart", "--log-path", str(self.log_path),
             "--log-level", "warning", "--component-log-level", "wasm:info",
             "--file-flush-interval-msec", "50"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=die_with_parent,
        )
        return self

    def start(self, timeout: float = 60.0) -> "Envoy":
        self.spawn()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0, rebinds: int = 2) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                # Another process took one of our ports between picking and binding:
                # pick new ones and start again (nothing has used the old ones yet).
                if rebinds > 0 and "Address already in use" in self.log_tail():
                    self.port, self.admin_port = free_port(), free_port()
                    self.spawn()
                    return self.wait_ready(max(deadline - time.monotonic(), 1.0), rebinds - 1)
                raise RuntimeError(f"{self.name}: Envoy exited ({self.proc.returncode}) before it was ready:\n{self.log_tail()}")
            try:
                r = request(self.admin_port, "GET", "/ready", timeout=2)
                if r.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name}: Envoy not ready after {timeout}s:\n{self.log_tail()}")

    def wait_exit(self, timeout: float = 60.0) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # --- what it says

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-n:])

    def audits(self) -> list[dict]:
        out = []
        for line in self.log().splitlines():
            m = AUDIT_RE.search(line)
            if m:
                out.append(json.loads(m.group(1)))
        return out

    def wait_audit(self, match, timeout: float = 5.0) -> dict:
        """The first audit record for which `match(record)` is true (the log is flushed
        every 50 ms)."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.audits():
                if match(record):
                    return record
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no matching audit record in the log:\n{self.log_tail()}")
            time.sleep(0.05)

    def wait_log(self, pattern: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            for line in self.log().splitlines():
                if rx.search(line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no log line matches {pattern!r}:\n{self.log_tail()}")
            time.sleep(0.05)

    def stats(self, prefix: str = "wasmcustom.jitgate") -> dict[str, int]:
        r = request(self.admin_port, "GET", f"/stats?filter=^{prefix}", timeout=5)
        out = {}
        for line in r.body.decode().splitlines():
            name, _, value = line.partition(": ")
            if value.strip().isdigit():
                out[name] = int(value)
        return out

    def get(self, path: str, headers=None, **kw) -> Response:
        return request(self.port, "GET", path, headers, **kw)


# --- approvals -----------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Approvals:
    """A signing key (`jitgate token keygen`) and tokens (`jitgate token sign`)."""

    def __init__(self, directory: Path, kid: str = "e2e-k1", alg: str = "EdDSA"):
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self.kid = kid
        self.key = directory / f"{kid}.{alg}.private.jwk"
        out = subprocess.run([str(JITGATE), "token", "keygen", "--alg", alg, "--kid", kid, "--out", str(self.key)],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        self.public_jwk = json.loads(out)["public_jwk"]
        self._n = 0

    def sign(self, sub: str = "alice@example.com", role: str = "developer", resource: str = RESOURCE,
             iss: str = ISSUER, aud: str = AUDIENCE, start: int | None = None, ttl: str = "1h",
             jti: str | None = None, extra_claims: dict | None = None) -> str:
        """A token whose window starts at `start` (Unix seconds; default 60 s ago)."""
        self._n += 1
        start = int(time.time()) - 60 if start is None else start
        args = [str(JITGATE), "token", "sign", "--key", str(self.key), "--iss", iss, "--sub", sub, "--aud", aud,
                "--resource", resource, "--role", role, "--not-before", str(start), "--ttl", ttl,
                "--reason", "INC-4711", "--ticket", "INC-4711", "--approver", "bob@example.com",
                "--jti", jti or f"appr-e2e-{os.getpid()}-{self._n}"]
        if extra_claims:
            claims = self.dir / f"claims-{self._n}.json"
            claims.write_text(json.dumps(extra_claims), encoding="utf-8")
            args += ["--claims", str(claims)]
        return subprocess.run(args, capture_output=True, text=True, timeout=30, check=True).stdout.strip()


APPROVALS = Path(os.environ.get("JITGATE_APPROVALS_BIN", ROOT / "target" / "debug" / "jitgate-approvals"))


class ApprovalService:
    """The real approval service, `jitgate-approvals serve --dev` (identity from the
    `x-authenticated-user` header; SQLite in `directory`), on a free loopback port."""

    def __init__(self, directory: Path, feed_max_age_s: int = 1):
        if not APPROVALS.exists():
            raise FileNotFoundError(f"{APPROVALS} is missing (cargo build -p jitgate-approvals)")
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = directory
        self.proc = subprocess.Popen(
            [str(APPROVALS), "serve", "--dev", "--listen", f"127.0.0.1:{self.port}", "--public-url", self.url,
             "--database-url", f"sqlite://{directory / 'approvals.db'}?mode=rwc",
             "--key-file", str(directory / "keys.json"), "--feed-max-age-s", str(feed_max_age_s)],
            stdout=open(directory / "stdout.log", "w"), stderr=open(directory / "stderr.log", "w"),
            stdin=subprocess.DEVNULL, preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if request(self.port, "GET", "/readyz", {"host": "approvals"}, timeout=2).status == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"jitgate-approvals exited:\n{(directory / 'stderr.log').read_text()}")
            if time.monotonic() > deadline:
                raise TimeoutError("jitgate-approvals not ready after 30 s")
            time.sleep(0.1)

    def call(self, method: str, path: str, user: str | None = None, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"host": f"127.0.0.1:{self.port}"}
        if user:
            headers["x-authenticated-user"] = user
        if data is not None:
            headers["content-type"] = "application/json"
        r = request(self.port, method, path, headers, body=data)
        return r.status, (json.loads(r.body) if r.body else {})

    def gate_config(self, refresh_s: int = 1, max_stale_s: int = 10) -> dict:
        """The shipped example configuration (seed policy) trusting this service, with its
        live-trust feed on an Envoy cluster named `approvals`."""
        status, jwks = self.call("GET", "/.well-known/jwks.json")
        assert status == 200, jwks
        cfg = example_config(jwks["keys"])
        cfg["issuers"][0].update({
            "issuer": self.url, "audience": "jitgate",
            "feed": {"cluster": "approvals", "authority": f"127.0.0.1:{self.port}",
                     "status_lists": {f"{self.url}/v1/status-lists/0": "/v1/status-lists/0"},
                     "jwks_path": "/v1/jwks", "refresh_s": refresh_s, "max_stale_s": max_stale_s},
        })
        return cfg

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def example_config(jwks_keys: list[dict], **changes) -> dict:
    """policies/config.example.json (the shipped seed policy) trusting `jwks_keys`."""
    cfg = json.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    cfg["issuers"][0]["jwks"] = {"keys": jwks_keys}
    cfg.update(changes)
    return cfg


def workdir(prefix: str = "jitgate-e2e-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
