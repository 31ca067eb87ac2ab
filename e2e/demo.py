#!/usr/bin/env python3
"""`make demo` in a real Envoy: the whole JIT loop on one machine.

Starts the approval service (`jitgate-approvals serve --dev`, SQLite, fresh keys) and
Envoy 1.40 with the shipped filter and the shipped example configuration (seed policy)
trusting that service, with the live-trust feed pointing at it, and an upstream that
echoes what it receives. Then, with an HTTP client: alice requests access for a
reason, tries to approve it herself (refused), bob approves, alice's approval token is
issued and Envoy forwards her request; requests without an approval are denied; bob
revokes the grant and every Envoy worker denies it within about a second, with no
restart and no configuration change; a second, 3-second grant ends by itself. Then the
service's audit trail. Each answer is printed with its audit line from
Envoy's log; then the counters from Envoy's /stats. Every line is labelled with the
host that really produced it.

usage: e2e/demo.py [--json]     (--json: only the audit records, one JSON line each)
Standard library only; Envoy is target/envoy-venv/bin/envoy (make envoy-setup), the
service target/debug/jitgate-approvals."""

from __future__ import annotations

import json
import shutil
import sys
import time

import envoyrun as er

WORKERS = 2


def main(argv: list[str]) -> int:
    as_json = "--json" in argv[1:]
    version = er.envoy_version()
    label = f"[envoy {version}]"
    svc = "[jitgate-approvals]"
    tmp = er.workdir("jitgate-demo-")
    upstream = er.Upstream()
    service = envoy = None

    def say(line: str = "") -> None:
        if not as_json:
            print(line)

    def show(n: int, what: str, path: str, token: str | None) -> er.Response:
        tagged = f"{path}{'&' if '?' in path else '?'}demo={n}"
        r = envoy.get(tagged, [("x-jit-approval", token)] if token else [])
        audit = envoy.wait_audit(lambda a, p=tagged: a.get("path") == p)
        if as_json:
            print(json.dumps(audit, separators=(",", ":")))
        else:
            print(f"{label} {n}. {what}")
            print(f"{label}    GET {path} -> {r.status} {answer(r)}")
            print(f"{label}    audit: {json.dumps(audit, separators=(',', ':'))}")
        return r

    try:
        service = er.ApprovalService(tmp / "approvals")
        say(f"{svc} approval service at {service.url} (--dev: identity from x-authenticated-user; "
            f"SQLite and fresh signing keys in {tmp})")
        envoy = er.Envoy(config=service.gate_config(refresh_s=1), workdir=tmp, upstream_port=upstream.port,
                         name="demo", concurrency=WORKERS, clusters={"approvals": service.port})
        t0 = time.monotonic()
        envoy.start()
        say(f"{label} Envoy {version} ({WORKERS} workers) with {er.FILTER.relative_to(er.ROOT)} is ready in "
            f"{time.monotonic() - t0:.1f} s: listener 127.0.0.1:{envoy.port} -> jitgate -> upstream "
            f"127.0.0.1:{upstream.port}, admin 127.0.0.1:{envoy.admin_port}; it trusts the service's key and "
            f"polls its revocation list every second\n")

        status, req = service.call("POST", "/v1/requests", "alice@example.com",
                                   {"resource": "test-database", "role": "developer", "actions": ["read"],
                                    "duration_s": 900, "reason": "INC-4711: orders API times out",
                                    "ticket": "INC-4711"})
        assert status == 201, req
        say(f"{svc} alice asks for developer on test-database for 15 min (INC-4711) -> {status} {req['state']} "
            f"{req['id']}")
        status, body = service.call("POST", f"/v1/requests/{req['id']}/approve", "alice@example.com", {})
        say(f"{svc} alice approves her own request -> {status} {body.get('code')}: {body.get('message')}")
        status, body = service.call("POST", f"/v1/requests/{req['id']}/approve", "bob@example.com",
                                    {"comment": "looked at the incident"})
        assert status == 200 and body["state"] == "approved", body
        status, issued = service.call("GET", f"/v1/requests/{req['id']}/token", "alice@example.com")
        assert status == 200, issued
        say(f"{svc} bob (dba) approves -> {body['state']}; approval {issued['jti']} issued, valid until "
            f"{time.strftime('%H:%M:%S', time.gmtime(issued['exp']))} UTC\n")
        token = issued["token"]

        # Every worker holds the service's lists a tick or two after Envoy starts.
        deadline = time.monotonic() + 10
        streak = 0
        while streak < 10:
            if time.monotonic() > deadline:
                raise RuntimeError(f"Envoy never allowed the approval:\n{envoy.log_tail()}")
            streak = streak + 1 if envoy.get("/orders", [("x-jit-approval", token)]).status == 200 else 0
            time.sleep(0.02)
        show(1, "alice, with her approval", "/orders?id=7", token)
        show(2, "no approval at all", "/orders", None)
        show(3, "health check, no approval needed", "/healthz", None)

        status, body = service.call("POST", f"/v1/approvals/{issued['jti']}/revoke", "bob@example.com",
                                    {"reason": "incident closed"})
        assert status == 200, body
        t0 = time.monotonic()
        say(f"\n{svc} bob revokes {issued['jti']} (incident closed) -> {body['state']}")
        streak = 0
        while streak < 10:  # 10 in a row, each on a new connection (so on every worker)
            if time.monotonic() - t0 > 10:
                raise RuntimeError(f"Envoy never denied the revoked approval:\n{envoy.log_tail()}")
            streak = streak + 1 if envoy.get("/orders", [("x-jit-approval", token)]).status == 401 else 0
        say(f"{label} {time.monotonic() - t0:.2f} s later Envoy denies it (10 requests in a row, each on a new "
            f"connection), with no restart and no configuration change:")
        show(4, "alice, with the revoked approval", "/orders?id=7", token)

        # A second, short grant ends by itself: nobody revokes it.
        status, short = service.call("POST", "/v1/requests", "alice@example.com",
                                     {"resource": "test-database", "role": "developer", "actions": ["read"],
                                      "duration_s": 3, "reason": "INC-4712: one quick look"})
        assert status == 201, short
        service.call("POST", f"/v1/requests/{short['id']}/approve", "bob@example.com", {})
        status, brief = service.call("GET", f"/v1/requests/{short['id']}/token", "alice@example.com")
        assert status == 200, brief
        say(f"\n{svc} alice asks for 3 s more (INC-4712); bob approves; approval {brief['jti']} issued")
        streak = 0
        while streak < 5:
            streak = streak + 1 if envoy.get("/orders", [("x-jit-approval", brief["token"])]).status == 200 else 0
        show(5, "alice, inside the 3 s grant", "/orders?id=8", brief["token"])
        time.sleep(max(0.0, brief["exp"] - time.time()) + 0.2)
        show(6, "alice, the same approval once its window has ended (nobody revoked it)", "/orders?id=8",
             brief["token"])

        if not as_json:
            status, trail = service.call("GET", "/v1/audit?since=0", "sam@example.com")
            print(f"\n{svc} audit trail (GET /v1/audit as sam, an admin):")
            for event in trail.get("events", []):
                print(f"{svc}   {event.get('seq')}. {event.get('kind') or event.get('event')} by "
                      f"{event.get('actor')}: {json.dumps(event.get('detail'), separators=(',', ':'))[:160]}")
        if not as_json:
            stats = envoy.stats()
            keep = ("jitgate.allowed", "jitgate.denied", "jitgate.feed.fetch", "jitgate.feed.installed")
            shown = {k.removeprefix("wasmcustom."): v for k, v in stats.items()
                     if v and k.removeprefix("wasmcustom.").startswith(keep)}
            print(f"\n{label} counters (admin /stats, wasmcustom.jitgate.*): "
                  + ", ".join(f"{k}={v}" for k, v in sorted(shown.items())))
        return 0
    finally:
        if envoy:
            envoy.stop()
        if service:
            service.stop()
        upstream.close()
        shutil.rmtree(tmp, ignore_errors=True)


def answer(r: er.Response) -> str:
    if r.status == 200:
        h = r.upstream_headers()
        if "x-jit-subject" in h:
            return (f"forwarded; the upstream got x-jit-subject={h['x-jit-subject'][0]}, "
                    f"x-jit-approval-id={h['x-jit-approval-id'][0]}, x-jit-expires={h['x-jit-expires'][0]}, "
                    f"no x-jit-approval")
        return "forwarded (no approval headers: allowed without one)"
    body = r.json()
    auth = r.header("www-authenticate")
    return f"{body['reason']}" + (f" (www-authenticate: {auth})" if auth else "")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
