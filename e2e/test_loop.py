"""The whole JIT loop on one machine: the real approval service (`jitgate-approvals
serve --dev`, SQLite) and a real Envoy (4 workers) running jitgate with the shipped seed
policy and a live-trust feed pointing at the service.

alice requests access → bob approves → alice fetches her token → Envoy allows it →
bob revokes it → every worker denies it `token_revoked` within `refresh_s` + 1 s, with
no restart and no configuration change.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

import envoyrun as er

APPROVALS = Path(os.environ.get("JITGATE_APPROVALS_BIN", er.ROOT / "target" / "debug" / "jitgate-approvals"))
WORKERS = 4


def api(port: int, method: str, path: str, user: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"host": f"127.0.0.1:{port}", "x-authenticated-user": user}
    if data is not None:
        headers["content-type"] = "application/json"
    r = er.request(port, method, path, headers, body=data)
    return r.status, (json.loads(r.body) if r.body else {})


@pytest.fixture
def service(tmp):
    assert APPROVALS.exists(), f"{APPROVALS} is missing: make test-envoy builds it"
    port = er.free_port()
    d = tmp / f"approvals-{port}"
    d.mkdir()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(APPROVALS), "serve", "--dev", "--listen", f"127.0.0.1:{port}", "--public-url", url,
         "--database-url", f"sqlite://{d / 'approvals.db'}?mode=rwc", "--key-file", str(d / "keys.json"),
         "--feed-max-age-s", "1"],
        stdout=open(d / "stdout.log", "w"), stderr=open(d / "stderr.log", "w"), stdin=subprocess.DEVNULL,
        preexec_fn=er.die_with_parent,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if er.request(port, "GET", "/readyz", {"host": "x"}, timeout=2).status == 200:
                break
        except OSError:
            pass
        assert proc.poll() is None, (d / "stderr.log").read_text()
        assert time.monotonic() < deadline, "approval service not ready"
        time.sleep(0.1)
    yield port, url
    proc.terminate()
    proc.wait(10)


def test_request_approve_enforce_revoke(start, service):
    port, url = service
    jwks = er.request(port, "GET", "/.well-known/jwks.json", {"host": "x"}).json()
    cfg = er.example_config(jwks["keys"])
    cfg["issuers"][0].update({
        "issuer": url, "audience": "jitgate",
        "feed": {"cluster": "approvals", "authority": f"127.0.0.1:{port}",
                 "status_lists": {f"{url}/v1/status-lists/0": "/v1/status-lists/0"},
                 "jwks_path": "/v1/jwks", "refresh_s": 1, "max_stale_s": 10},
    })
    envoy = start(cfg, concurrency=WORKERS, clusters={"approvals": port})

    status, req = api(port, "POST", "/v1/requests", "alice@example.com",
                      {"resource": "test-database", "role": "developer", "actions": ["read"],
                       "duration_s": 600, "reason": "INC-4711: slow orders query"})
    assert status == 201, req
    assert api(port, "POST", f"/v1/requests/{req['id']}/approve", "alice@example.com", {})[0] == 403
    status, approved = api(port, "POST", f"/v1/requests/{req['id']}/approve", "bob@example.com", {"comment": "ok"})
    assert status == 200 and approved["state"] == "approved", approved
    status, issued = api(port, "GET", f"/v1/requests/{req['id']}/token", "alice@example.com")
    assert status == 200, issued
    token = issued["token"]

    def decide() -> tuple[int, str]:
        r = envoy.get("/orders", {"x-jit-approval": token})
        return r.status, ("allowed" if r.status == 200 else r.json()["reason"])

    # Allowed once the gate holds the service's lists (at most a tick after start).
    deadline = time.monotonic() + 10
    while decide() != (200, "allowed"):
        assert time.monotonic() < deadline, envoy.log_tail()
        time.sleep(0.1)
    r = envoy.get("/orders", {"x-jit-approval": token})
    assert r.upstream_headers()["x-jit-subject"] == ["alice@example.com"]
    assert r.upstream_headers()["x-jit-approval-id"] == [issued["jti"]]

    status, revoked = api(port, "POST", f"/v1/approvals/{issued['jti']}/revoke", "bob@example.com",
                          {"reason": "incident closed"})
    assert status == 200 and revoked["state"] == "revoked", revoked
    t0 = time.monotonic()
    streak = 0
    while streak < 40:
        assert time.monotonic() - t0 < 10, envoy.log_tail()
        streak = streak + 1 if decide() == (401, "token_revoked") else 0
    latency = time.monotonic() - t0
    print(f"\nfull loop: revoked at the service -> denied by all {WORKERS} workers within {latency:.2f} s "
          "(refresh_s 1, 40 requests in a row)")
    assert latency <= 1.0 + 1.0 + 1.5
    audit = envoy.wait_audit(lambda a: a["reason"] == "token_revoked")
    assert audit["approval_id"] is None or audit["approval_id"] == issued["jti"]
