"""One gateway, many resources, traceable decisions, in a real Envoy: the resource
from each route's metadata (`filter_metadata.jitgate`), `skip` routes, a route
metadata value jitgate cannot use, the decision in Envoy's access log through filter
state, the optional decision-id response header, and `request_id` / the W3C trace id
in the audit record."""

from __future__ import annotations

import time

import pytest

import envoyrun as er

ROUTES = """              - match:
                  prefix: /billing
                metadata:
                  filter_metadata:
                    jitgate:
                      resource: billing-db
                route:
                  cluster: upstream
              - match:
                  prefix: /public
                metadata:
                  filter_metadata:
                    jitgate:
                      skip: true
                route:
                  cluster: upstream
              - match:
                  prefix: /broken
                metadata:
                  filter_metadata:
                    jitgate:
                      resource: 7
                route:
                  cluster: upstream
"""
CATCH_ALL = """              - match:
                  prefix: /
                route:
                  cluster: upstream"""
class RoutedEnvoy(er.Envoy):
    def render(self) -> str:
        text = super().render()
        assert CATCH_ALL in text
        text = text.replace(CATCH_ALL, ROUTES + CATCH_ALL)
        # The shipped access-log line, written to a file instead of stdout.
        stdout = ("          - name: envoy.access_loggers.stdout\n            typed_config:\n"
                  '              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog\n')
        assert stdout in text
        return text.replace(stdout, "          - name: envoy.access_loggers.file\n            typed_config:\n"
                            '              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog\n'
                            f"              path: {self.workdir / (self.name + '.access.log')}\n")

    def access_log(self) -> list[str]:
        path = self.workdir / (self.name + ".access.log")
        return path.read_text().splitlines() if path.exists() else []

    def access_fields(self, path: str) -> list[dict]:
        """The key=value fields of the access-log lines for requests to `path`."""
        out = []
        for line in self.access_log():
            if f' {path}" ' in line:
                fields = (part.split("=", 1) for part in line.split() if "=" in part)
                out.append({k: v for k, v in fields if k == "request_id" or k.startswith("jitgate.")})
        return out


@pytest.fixture(scope="module")
def routed(envoys, tmp, upstream, approvals):
    cfg = er.example_config([approvals.public_jwk], decision_header="x-jitgate-decision-id")
    cfg["policy"]["modules"] = {"p.rego": "package access.jit\nallow if input.token.valid\n"}
    e = RoutedEnvoy(config=cfg, workdir=tmp / "routed", upstream_port=upstream.port, name="routed")
    envoys.append(e)
    e.start()
    yield e
    e.stop()


def test_each_route_guards_its_own_resource(routed, approvals):
    orders = approvals.sign(resource=er.RESOURCE)
    billing = approvals.sign(resource="billing-db")
    assert routed.get("/orders", {"x-jit-approval": orders}).status == 200
    assert routed.get("/billing/invoices", {"x-jit-approval": billing}).status == 200
    r = routed.get("/billing/invoices", {"x-jit-approval": orders})
    assert (r.status, r.json()["reason"]) == (401, "token_resource_mismatch")
    r = routed.get("/orders", {"x-jit-approval": billing})
    assert (r.status, r.json()["reason"]) == (401, "token_resource_mismatch")
    audit = routed.wait_audit(lambda a: a["path"] == "/billing/invoices" and a["allow"])
    assert audit["resource"] == "billing-db"


def test_skip_routes_need_no_approval_but_lose_forged_headers(routed):
    r = routed.get("/public/status", {"x-jit-subject": "mallory", "x-jit-approval": "junk"})
    assert r.status == 200
    seen = r.upstream_headers()
    assert "x-jit-subject" not in seen and "x-jit-approval" not in seen
    audit = routed.wait_audit(lambda a: a["path"] == "/public/status")
    assert audit["allow"] and "skip" in audit["detail"]


def test_route_metadata_jitgate_cannot_use_denies_with_its_detail(routed, approvals):
    r = routed.get("/broken/x", {"x-jit-approval": approvals.sign()})
    assert (r.status, r.json()["reason"]) == (500, "internal_error")
    audit = routed.wait_audit(lambda a: a["reason"] == "internal_error" and "`resource`" in (a.get("detail") or ""))
    assert "route metadata `filter_metadata.jitgate`" in audit["detail"]


def test_decisions_reach_the_access_log_and_the_response_header(routed, approvals):
    token = approvals.sign()
    allowed = routed.get("/orders?trace=1", {"x-jit-approval": token})
    denied = routed.get("/orders?trace=2")
    assert allowed.status == 200 and denied.status == 401
    for r in (allowed, denied):
        assert len(r.header("x-jitgate-decision-id") or "") == 32
    ok = routed.wait_audit(lambda a: a["path"] == "/orders?trace=1")
    no = routed.wait_audit(lambda a: a["path"] == "/orders?trace=2")
    assert allowed.header("x-jitgate-decision-id") == ok["decision_id"]
    assert denied.json()["decision_id"] == no["decision_id"] == denied.header("x-jitgate-decision-id")
    deadline = time.monotonic() + 5
    while not (routed.access_fields("/orders?trace=1") and routed.access_fields("/orders?trace=2")):
        assert time.monotonic() < deadline, routed.access_log()
        time.sleep(0.1)
    [a] = routed.access_fields("/orders?trace=1")
    [d] = routed.access_fields("/orders?trace=2")
    assert a == {"request_id": ok["request_id"], "jitgate.decision_id": ok["decision_id"], "jitgate.reason": "allowed",
                 "jitgate.approval_id": ok["approval_id"], "jitgate.subject": ok["subject"],
                 "jitgate.resource": er.RESOURCE}, a
    assert d == {"request_id": no["request_id"], "jitgate.decision_id": no["decision_id"],
                 "jitgate.reason": "token_missing", "jitgate.approval_id": "-", "jitgate.subject": "-",
                 "jitgate.resource": er.RESOURCE}, d


def test_the_audit_record_carries_the_request_and_trace_ids(routed):
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    routed.get("/orders?t=3", {"traceparent": f"00-{trace}-00f067aa0ba902b7-01", "x-request-id": "rid-42"})
    audit = routed.wait_audit(lambda a: a["path"] == "/orders?t=3")
    assert (audit["request_id"], audit["trace_id"]) == ("rid-42", trace)
    # Two traceparent headers, or a malformed one: no trace id.
    routed.get("/orders?t=4", [("traceparent", f"00-{trace}-00f067aa0ba902b7-01"),
                               ("traceparent", f"00-{'1' * 32}-00f067aa0ba902b7-01")])
    routed.get("/orders?t=5", {"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"})
    for t in (4, 5):
        audit = routed.wait_audit(lambda a, t=t: a["path"] == f"/orders?t={t}")
        assert audit["trace_id"] is None
        assert audit["request_id"]  # Envoy generates one (generate_request_id)


def test_the_shipped_bootstrap_guards_billing_db_under_invoices(routed, approvals):
    billing = approvals.sign(resource="billing-db")
    assert routed.get("/invoices/2026-11", {"x-jit-approval": billing}).status == 200
    r = routed.get("/invoices/2026-11", {"x-jit-approval": approvals.sign()})
    assert (r.status, r.json()["reason"]) == (401, "token_resource_mismatch")


def test_the_decision_header_is_off_unless_configured(gate):
    r = gate.get("/orders")
    assert r.status == 401 and r.header("x-jitgate-decision-id") is None
