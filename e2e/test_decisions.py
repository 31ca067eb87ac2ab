"""Every decision class, in Envoy 1.40 running the shipped filter (2 workers).

Each test sends real HTTP requests through Envoy to an upstream that echoes what it
received, and checks the answer, what reached the upstream, the audit record in
Envoy's log and the counters on the admin /stats page."""

from __future__ import annotations

import json
import time
import uuid

import pytest

import envoyrun as er
from conftest import REVOKED

AUDIT_FIELDS = {"ts", "decision_id", "mode", "allow", "status", "reason", "policy_reason", "subject",
                "approval_id", "issuer", "kid", "resource", "method", "path", "source", "identity",
                "expires", "eval_ns"}


def unique(path: str = "/orders") -> str:
    return f"{path}?e2e={uuid.uuid4().hex[:12]}"


def token_header(token: str) -> list[tuple[str, str]]:
    return [("x-jit-approval", token)]


def assert_denied_401(r: er.Response, code: str) -> dict:
    assert r.status == 401, (r.status, r.body)
    assert r.header("www-authenticate") == f'JIT-Approval error="{code}"'
    assert r.header("content-type", ).startswith("application/json")
    body = r.json()
    assert body["error"] == "access_denied"
    assert body["reason"] == code
    assert body["decision_id"]
    return body


def assert_not_upstream(upstream: er.Upstream, path: str) -> None:
    assert not [s for s in upstream.seen if s["path"] == path], f"{path} reached the upstream"


# --- allow -----------------------------------------------------------------------------


def test_allowed_request_reaches_upstream_with_approval_headers(gate, approvals, upstream):
    start = int(time.time()) - 60
    token = approvals.sign(jti="appr-allow-1", start=start, ttl="1h")
    path = unique()
    r = gate.get(path, token_header(token))
    assert r.status == 200, r.body
    seen = r.json()
    assert seen["path"] == path
    h = r.upstream_headers()
    assert h["x-jit-approval-id"] == ["appr-allow-1"]
    assert h["x-jit-subject"] == ["alice@example.com"]
    assert len(h["x-jit-expires"]) == 1
    assert "x-jit-approval" not in h, "the token must not go upstream (token.forward is false)"

    audit = gate.wait_audit(lambda a: a.get("path") == path)
    assert AUDIT_FIELDS <= set(audit), AUDIT_FIELDS - set(audit)
    assert audit["allow"] is True and audit["status"] == 200 and audit["reason"] == "allowed"
    assert audit["mode"] == "enforce"
    assert audit["subject"] == "alice@example.com" and audit["approval_id"] == "appr-allow-1"
    assert audit["issuer"] == er.ISSUER and audit["kid"] == approvals.kid
    assert audit["resource"] == er.RESOURCE and audit["method"] == "GET"
    assert isinstance(audit["eval_ns"], int) and audit["eval_ns"] > 0
    assert audit["source"], "Envoy knows the downstream address"
    # x-jit-expires names the approval's end, as the audit record does.
    assert str(start + 3600) in h["x-jit-expires"][0] or h["x-jit-expires"][0] == str(audit["expires"])


def test_health_check_needs_no_token(gate, upstream):
    path = "/healthz"
    r = gate.get(path)
    assert r.status == 200
    assert "x-jit-subject" not in r.upstream_headers()


def test_token_header_removed_upstream_on_any_allow(gate, approvals):
    """/healthz is allowed with or without a token; whatever token came along, valid or
    broken, does not go upstream (token.forward is false)."""
    for token in ("not-a-token", approvals.sign(), approvals.sign(sub="carol@example.com", role="analyst")):
        r = gate.get("/healthz", token_header(token))
        assert r.status == 200
        assert "x-jit-approval" not in r.upstream_headers()


def test_client_sent_x_jit_headers_are_removed(gate, approvals):
    token = approvals.sign(jti="appr-forge-1")
    forged = [("x-jit-subject", "mallory@example.com"), ("x-jit-approval-id", "appr-forged"),
              ("x-jit-expires", "9999999999"), ("X-Jit-Role", "admin")]
    r = gate.get(unique(), token_header(token) + forged)
    assert r.status == 200
    h = r.upstream_headers()
    assert h["x-jit-subject"] == ["alice@example.com"]
    assert h["x-jit-approval-id"] == ["appr-forge-1"]
    assert h["x-jit-expires"] != ["9999999999"] and len(h["x-jit-expires"]) == 1
    # (Other x-jit-* names, such as x-jit-role, are not jitgate's and pass through today.)

    # Also on a request allowed without a token: nothing x-jit-* from the client survives.
    r = gate.get("/healthz", forged)
    assert r.status == 200
    assert not {"x-jit-subject", "x-jit-approval-id", "x-jit-expires"} & set(r.upstream_headers())


# --- 401: every token code reachable over HTTP -----------------------------------------------


def _tokens(approvals: er.Approvals, tmp):
    """code -> the request headers that produce it (built lazily: some need other keys)."""
    now = int(time.time())
    other = er.Approvals(tmp / "keys-other", kid="e2e-unknown")           # a kid not configured
    es256 = er.Approvals(tmp / "keys-es256", kid=approvals.kid, alg="ES256")  # the right kid, wrong algorithm
    good = approvals.sign()
    head, payload, sig = good.split(".")
    # Change the signature's first character: still canonical base64url, no longer valid.
    bad_sig = head + "." + payload + "." + ("B" if sig[0] == "A" else "A") + sig[1:]
    jwt_head = er.b64url(json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": approvals.kid}).encode())
    return {
        "token_missing": [],
        "token_malformed": token_header("not-a-token"),
        "token_type": token_header(jwt_head + "." + payload + "." + sig),
        "token_algorithm": token_header(es256.sign()),
        "token_key_unknown": token_header(other.sign()),
        "token_signature": token_header(bad_sig),
        "token_issuer": token_header(approvals.sign(iss="https://evil.example.com")),
        "token_audience": token_header(approvals.sign(aud="other-gateway")),
        "token_not_yet_valid": token_header(approvals.sign(start=now + 3600)),
        "token_expired": token_header(approvals.sign(start=now - 7200, ttl="1h")),
        "token_window_too_long": token_header(approvals.sign(ttl="13h")),
        "token_revoked": token_header(approvals.sign(jti=REVOKED)),
        "token_resource_mismatch": token_header(approvals.sign(resource="other-database")),
        # A token bound to a client certificate, sent without one (plain HTTP).
        "token_binding_mismatch": token_header(approvals.sign(extra_claims={"cnf": {"x5t#S256": er.b64url(b"\x01" * 32)}})),
    }


CODES = ["token_missing", "token_malformed", "token_type", "token_algorithm", "token_key_unknown",
         "token_signature", "token_issuer", "token_audience", "token_not_yet_valid", "token_expired",
         "token_window_too_long", "token_revoked", "token_resource_mismatch", "token_binding_mismatch"]


@pytest.fixture(scope="module")
def bad_tokens(approvals, tmp):
    return _tokens(approvals, tmp)


@pytest.mark.parametrize("code", CODES)
def test_401(gate, upstream, bad_tokens, code):
    before = gate.stats()
    path = unique()
    r = gate.get(path, bad_tokens[code])
    body = assert_denied_401(r, code)
    assert_not_upstream(upstream, path)
    audit = gate.wait_audit(lambda a: a.get("decision_id") == body["decision_id"])
    assert audit["allow"] is False and audit["status"] == 401 and audit["reason"] == code
    assert audit["path"] == path
    # Unverified claims never reach the audit as if they were true.
    assert audit["approval_id"] in (None, "") or code in ("token_revoked", "token_resource_mismatch", "token_binding_mismatch")
    after = gate.stats()
    assert after.get(f"wasmcustom.jitgate.denied.{code}", 0) == before.get(f"wasmcustom.jitgate.denied.{code}", 0) + 1
    assert after["wasmcustom.jitgate.denied"] == before.get("wasmcustom.jitgate.denied", 0) + 1


def test_token_value_whitespace_is_trimmed_by_envoy(gate, approvals):
    """Envoy's HTTP/1 codec strips leading and trailing whitespace from header values
    (RFC 9110 OWS) before any filter sees them, so ` TOKEN ` is TOKEN: allowed. (The
    harness does the same: test-harness/tests/filter_e2e.rs.)"""
    r = gate.get(unique(), [("x-jit-approval", " " + approvals.sign() + "\t")])
    assert r.status == 200


def test_repeated_token_header_is_malformed(gate, approvals):
    token = approvals.sign()
    r = gate.get(unique(), token_header(token) + token_header(token))
    assert_denied_401(r, "token_malformed")


# --- 403 -----------------------------------------------------------------------------------


def test_403_policy_denied(gate, approvals, upstream):
    token = approvals.sign(sub="carol@example.com", role="analyst")
    path = unique()
    r = gate.get(path, token_header(token))
    assert r.status == 403
    assert r.header("www-authenticate") is None
    body = r.json()
    assert body["error"] == "access_denied" and body["reason"] == "policy_denied"
    assert_not_upstream(upstream, path)
    audit = gate.wait_audit(lambda a: a.get("decision_id") == body["decision_id"])
    assert audit["subject"] == "carol@example.com" and audit["reason"] == "policy_denied"


# --- the counters ----------------------------------------------------------------------------


def test_counters_on_admin_stats(gate, approvals):
    before = gate.stats()
    assert gate.get(unique(), token_header(approvals.sign())).status == 200
    assert gate.get(unique()).status == 401
    after = gate.stats()
    assert after["wasmcustom.jitgate.allowed"] == before.get("wasmcustom.jitgate.allowed", 0) + 1
    assert after["wasmcustom.jitgate.denied"] == before.get("wasmcustom.jitgate.denied", 0) + 1
    assert after["wasmcustom.jitgate.denied.token_missing"] == before.get("wasmcustom.jitgate.denied.token_missing", 0) + 1
    assert "wasmcustom.jitgate.config_errors" in after
    assert "wasmcustom.jitgate.dry_run.would_deny" in after


def test_both_workers_decide(gate, approvals):
    """--concurrency 2: each worker has its own VM; requests on new connections spread
    over both (the kernel balances the listener's sockets), and every one is decided."""
    token = approvals.sign()
    paths = [unique() for _ in range(24)]
    assert [gate.get(p, token_header(token)).status for p in paths] == [200] * 24
    for p in paths:
        gate.wait_audit(lambda a, p=p: a.get("path") == p)
    # Envoy's log names the thread: audit lines of these requests come from two workers.
    threads = {line.split("][")[1] for line in gate.log().splitlines()
               if "jitgate.audit" in line and any(p in line for p in paths)}
    assert len(threads) == 2, threads


# --- a policy's own status, an identity source, dry run ------------------------------------

CUSTOM_POLICY = """package e2e

default decision := {"allow": false}

decision := {"allow": true} if {
	input.approval.role == "developer"
	not startswith(input.request.path, "/legal")
}

decision := {"allow": false, "status": 451, "reason": "legal hold on this data"} if {
	startswith(input.request.path, "/legal")
}
"""


@pytest.fixture(scope="module")
def custom(envoys, tmp, upstream, approvals):
    cfg = er.example_config([approvals.public_jwk], identity={"header": "x-authenticated-user"},
                            policy={"modules": {"e2e.rego": CUSTOM_POLICY}, "entrypoint": "data.e2e.decision"})
    e = er.Envoy(config=cfg, workdir=tmp / "envoy", upstream_port=upstream.port, name="custom")
    envoys.append(e)
    e.start()
    yield e
    e.stop()


def test_policy_status_and_reason(custom, approvals, upstream):
    token = approvals.sign()
    path = unique("/legal/orders")
    r = custom.get(path, token_header(token) + [("x-authenticated-user", "alice@example.com")])
    assert r.status == 451
    body = r.json()
    assert body["reason"] == "policy_denied" and body["message"] == "legal hold on this data"
    assert r.header("www-authenticate") is None
    assert_not_upstream(upstream, path)
    audit = custom.wait_audit(lambda a: a.get("decision_id") == body["decision_id"])
    assert audit["status"] == 451 and audit["policy_reason"] == "legal hold on this data"


def test_identity_header_matches_subject(custom, approvals):
    token = approvals.sign()
    ok = custom.get(unique(), token_header(token) + [("x-authenticated-user", "alice@example.com")])
    assert ok.status == 200
    audit = custom.wait_audit(lambda a: a.get("path") == ok.json()["path"])
    assert audit["identity"] == "alice@example.com"


@pytest.mark.parametrize("identity", [
    [("x-authenticated-user", "mallory@example.com")],
    [],
    # Issue 9, finding 1: more than one identity value is never an identity, whichever
    # comes first and however the names are cased.
    [("x-authenticated-user", "alice@example.com"), ("x-authenticated-user", "mallory@example.com")],
    [("X-Authenticated-User", "alice@example.com"), ("x-authenticated-user", "alice@example.com")],
], ids=["other identity", "no identity", "alice then mallory", "alice twice, cased"])
def test_401_token_subject_mismatch(custom, approvals, upstream, identity):
    path = unique()
    r = custom.get(path, token_header(approvals.sign()) + identity)
    assert_denied_401(r, "token_subject_mismatch")
    assert_not_upstream(upstream, path)


def test_dry_run_lets_through_but_logs_and_counts(start, approvals, upstream):
    cfg = er.example_config([approvals.public_jwk], mode="dry_run")
    e = start(cfg, name="dry-run")
    before = e.stats()
    path = unique()
    r = e.get(path)  # no token: would be 401 token_missing
    assert r.status == 200
    assert r.json()["path"] == path
    audit = e.wait_audit(lambda a: a.get("path") == path)
    assert audit["mode"] == "dry_run"
    assert audit["allow"] is False and audit["reason"] == "token_missing" and audit["status"] == 401
    after = e.stats()
    assert after["wasmcustom.jitgate.dry_run.would_deny"] == before.get("wasmcustom.jitgate.dry_run.would_deny", 0) + 1
    # An allowed request is still allowed, with its headers.
    ok = e.get(unique(), token_header(approvals.sign()))
    assert ok.status == 200 and ok.upstream_headers()["x-jit-subject"] == ["alice@example.com"]


# --- configurations and modules Envoy must refuse --------------------------------------------


@pytest.mark.parametrize("change,field", [
    (lambda c: c["issuers"][0].update(leeway_s=301), "issuers[0].leeway_s"),
    (lambda c: c.update(polcy={}), "polcy"),
    (lambda c: c["policy"].update(entrypoint="data.access.jit.nope"), "entrypoint"),
], ids=["leeway over 300", "unknown field", "missing entrypoint"])
def test_configuration_jitgate_rejects_is_refused_by_envoy(start, approvals, change, field):
    cfg = er.example_config([approvals.public_jwk])
    change(cfg)
    e = start(cfg, ready=False, name="bad-config")
    code = e.wait_exit(60)
    assert code not in (None, 0), "Envoy must refuse a configuration jitgate rejects"
    log = e.log()
    assert field in log, log[-3000:]
    assert "Unable to create Wasm" in log or "failed" in log.lower()
    with pytest.raises(OSError):
        er.request(e.port, "GET", "/healthz", timeout=2)


GARBAGE = b"\0asm\x01\0\0\0" + b"not a module" * 100


def test_local_module_that_cannot_load_is_refused(start, approvals, tmp):
    """A local file that is not a module: Envoy refuses the configuration and exits, so
    nothing answers (in particular nothing answers 200)."""
    garbage = tmp / "garbage.wasm"
    garbage.write_bytes(GARBAGE)
    e = start(er.example_config([approvals.public_jwk]), ready=False, name="garbage", wasm=garbage)
    code = e.wait_exit(60)
    assert code not in (None, 0)
    assert "Failed to load Wasm code" in e.log() and "Unable to create Wasm plugin jitgate" in e.log()
    with pytest.raises(OSError):
        er.request(e.port, "GET", "/healthz", timeout=2)


@pytest.fixture
def garbage_server():
    import hashlib
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Serve(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("content-length", str(len(GARBAGE)))
            self.end_headers()
            self.wfile.write(GARBAGE)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Serve)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    yield server.server_address[1], hashlib.sha256(GARBAGE).hexdigest()
    server.shutdown()
    server.server_close()


def test_remote_module_that_cannot_load_fails_closed(start, approvals, upstream, garbage_server):
    """A module fetched over HTTP (`code.remote`) that does not load: Envoy is up, and
    every request is answered 503, even /healthz that the policy would allow."""
    e = start(er.example_config([approvals.public_jwk]), name="garbage-remote", remote_wasm=garbage_server)
    e.wait_log("Plugin jitgate failed to load")
    m = uuid.uuid4().hex[:12]
    for path in (f"/healthz?e2e={m}", f"/orders?e2e={m}"):
        r = e.get(path, token_header(approvals.sign()))
        assert r.status == 503, (path, r.status)
    assert not [s for s in upstream.seen if m in s["path"]]
