"""The same decisions over HTTP/2 (h2c, prior knowledge, with the `curl` command): Envoy's
HTTP/2 codec hands the filter `:authority` instead of `host` and lower-case names only;
jitgate must decide exactly as over HTTP/1.1."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import pytest

import envoyrun as er


def h2(port: int, path: str, headers: list[tuple[str, str]] = ()) -> tuple[str, int, dict[str, str], bytes]:
    if not shutil.which("curl"):
        pytest.fail("the `curl` command is needed for the HTTP/2 tests (make test-envoy installs it)", pytrace=False)
    args = ["curl", "-sS", "-i", "--http2-prior-knowledge", "--max-time", "10"]
    if not any(k.lower() == "host" for k, _ in headers):
        headers = [("host", "db.internal"), *headers]
    for k, v in headers:
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run(args + [f"http://127.0.0.1:{port}{path}"], capture_output=True, timeout=30, check=True).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    version, status = lines[0].split()[:2]
    return version, int(status), {k.lower(): v for k, _, v in (l.partition(": ") for l in lines[1:])}, body


def test_http2_allow_and_deny_like_http1(gate, approvals, upstream):
    m = uuid.uuid4().hex[:12]
    version, status, _, body = h2(gate.port, f"/orders?e2e={m}", [("x-jit-approval", approvals.sign(jti="appr-h2"))])
    assert (version, status) == ("HTTP/2", 200)
    seen = json.loads(body)
    h = {k: v for k, v in seen["headers"]}
    assert h["x-jit-subject"] == "alice@example.com" and h["x-jit-approval-id"] == "appr-h2"
    assert "x-jit-approval" not in h
    audit = gate.wait_audit(lambda a: a.get("path") == f"/orders?e2e={m}")
    assert audit["allow"] is True and audit["reason"] == "allowed"

    version, status, headers, body = h2(gate.port, f"/orders?e2e={m}-missing")
    assert (version, status) == ("HTTP/2", 401)
    assert headers["www-authenticate"] == 'JIT-Approval error="token_missing"'
    assert json.loads(body)["reason"] == "token_missing"

    _, status, _, body = h2(gate.port, "/orders", [("x-jit-approval", approvals.sign(sub="carol@example.com", role="analyst"))])
    assert status == 403 and json.loads(body)["reason"] == "policy_denied"

    _, status, _, _ = h2(gate.port, "/healthz")
    assert status == 200


def test_http2_host_reaches_the_policy_as_authority(custom_host_policy):
    """`input.request.host` is the :authority over HTTP/2 (DESIGN §4)."""
    e = custom_host_policy
    assert h2(e.port, "/orders")[1] == 200  # curl sends host: db.internal -> :authority
    # Another authority: the policy denies; without a token that is answered 401.
    _, status, _, body = h2(e.port, "/orders", [("host", "other.internal")])
    assert status == 401 and json.loads(body)["reason"] == "token_missing"
    audit = e.wait_audit(lambda a: a.get("allow") is False)
    assert audit["path"] == "/orders"


@pytest.fixture(scope="module")
def custom_host_policy(envoys, tmp, upstream, approvals):
    policy = 'package e2e\n\ndefault allow := false\n\nallow if input.request.host == "db.internal"\n'
    cfg = er.example_config([approvals.public_jwk], policy={"modules": {"e2e.rego": policy}, "entrypoint": "data.e2e.allow"})
    e = er.Envoy(config=cfg, workdir=tmp / "envoy", upstream_port=upstream.port, name="h2-host")
    envoys.append(e)
    e.start()
    yield e
    e.stop()
