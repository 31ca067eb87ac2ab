"""The whole JIT loop on one machine: the real approval service (`jitgate-approvals
serve --dev`, SQLite) and a real Envoy (4 workers) running jitgate with the shipped seed
policy and a live-trust feed pointing at the service.

alice requests access → bob approves → alice fetches her token → Envoy allows it →
bob revokes it → every worker denies it `token_revoked` within `refresh_s` + 1 s, with
no restart and no configuration change.
"""

from __future__ import annotations

import time

import pytest

import envoyrun as er

WORKERS = 4


@pytest.fixture
def service(tmp):
    s = er.ApprovalService(tmp / f"approvals-{er.free_port()}")
    yield s
    s.stop()


def test_request_approve_enforce_revoke(start, service):
    envoy = start(service.gate_config(refresh_s=1), concurrency=WORKERS, clusters={"approvals": service.port})

    status, req = service.call("POST", "/v1/requests", "alice@example.com",
                               {"resource": "test-database", "role": "developer", "actions": ["read"],
                                "duration_s": 600, "reason": "INC-4711: slow orders query"})
    assert status == 201, req
    # Never the requester.
    assert service.call("POST", f"/v1/requests/{req['id']}/approve", "alice@example.com", {})[0] == 403
    status, approved = service.call("POST", f"/v1/requests/{req['id']}/approve", "bob@example.com", {"comment": "ok"})
    assert status == 200 and approved["state"] == "approved", approved
    status, issued = service.call("GET", f"/v1/requests/{req['id']}/token", "alice@example.com")
    assert status == 200, issued
    token = issued["token"]

    def decide() -> tuple[int, str]:
        r = envoy.get("/orders", {"x-jit-approval": token})
        return r.status, ("allowed" if r.status == 200 else r.json()["reason"])

    # Allowed once every worker holds the service's lists (a tick or two after start):
    # 20 in a row, each on a new connection.
    deadline = time.monotonic() + 10
    streak = 0
    while streak < 20:
        assert time.monotonic() < deadline, envoy.log_tail()
        streak = streak + 1 if decide() == (200, "allowed") else 0
    r = envoy.get("/orders", {"x-jit-approval": token})
    assert r.upstream_headers()["x-jit-subject"] == ["alice@example.com"]
    assert r.upstream_headers()["x-jit-approval-id"] == [issued["jti"]]

    status, revoked = service.call("POST", f"/v1/approvals/{issued['jti']}/revoke", "bob@example.com",
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
    envoy.wait_audit(lambda a: a["reason"] == "token_revoked")


def test_jitgate_eval_with_the_service_documents(service, tmp):
    """The issued token decided by `jitgate eval` with the service's published JWKS,
    revocation list and status list: allowed, then denied once revoked."""
    import json
    import subprocess

    d = tmp / f"eval-{service.port}"
    d.mkdir()
    cfg = service.gate_config()
    (d / "config.json").write_text(json.dumps(cfg))
    (d / "request.json").write_text(json.dumps({"method": "GET", "path": "/orders", "headers": {"host": "db"}}))
    status, req = service.call("POST", "/v1/requests", "alice@example.com",
                               {"resource": "test-database", "role": "developer", "duration_s": 600,
                                "reason": "INC-9"})
    assert status == 201, req
    assert service.call("POST", f"/v1/requests/{req['id']}/approve", "bob@example.com", {})[0] == 200
    status, issued = service.call("GET", f"/v1/requests/{req['id']}/token", "alice@example.com")
    assert status == 200, issued

    def evaluate() -> dict:
        for name, path in (("rev.jwt", "/v1/revocations"), ("status.jwt", "/v1/status-lists/0")):
            r = er.request(service.port, "GET", path, {"host": "approvals"})
            assert r.status == 200, r.body
            (d / name).write_bytes(r.body)
        out = subprocess.run(
            [str(er.JITGATE), "eval", "--config", str(d / "config.json"), "--request", str(d / "request.json"),
             "--token", issued["token"], "--now", str(int(time.time())), "--revocations", str(d / "rev.jwt"),
             "--status-list", f"{service.url}/v1/status-lists/0={d / 'status.jwt'}", "--compact"],
            capture_output=True, text=True, timeout=60)
        assert out.stdout, out.stderr
        return json.loads(out.stdout)

    first = evaluate()
    assert (first["allow"], first["reason"]) == (True, "allowed"), first
    status, _ = service.call("POST", f"/v1/approvals/{issued['jti']}/revoke", "bob@example.com", {"reason": "done"})
    assert status == 200
    second = evaluate()
    assert (second["allow"], second["status"], second["reason"]) == (False, 401, "token_revoked"), second
