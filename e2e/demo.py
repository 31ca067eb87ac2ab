#!/usr/bin/env python3
"""`make demo` in a real Envoy: starts Envoy 1.40 with the shipped filter and the shipped
example configuration (seed policy) trusting a fresh demo key, and an upstream that
echoes what it receives; mints approvals with `jitgate token sign`; sends the requests
with an HTTP client — allowed, expired, wrong role, revoked, no token, health check —
and prints each answer with its audit line from Envoy's log, then the counters from
Envoy's /stats. Every line is labelled with the host that really produced it.

usage: e2e/demo.py [--json]     (--json: only the audit records, one JSON line each)
Standard library only; Envoy is target/envoy-venv/bin/envoy (make envoy-setup)."""

from __future__ import annotations

import shutil
import sys
import time

import envoyrun as er

REVOKED = "appr-revoked-7"


def main(argv: list[str]) -> int:
    as_json = "--json" in argv[1:]
    version = er.envoy_version()
    label = f"[envoy {version}]"
    tmp = er.workdir("jitgate-demo-")
    upstream = er.Upstream()
    envoy = None
    try:
        approvals = er.Approvals(tmp / "keys", kid="demo-k1")
        cfg = er.example_config([approvals.public_jwk], revoked=[REVOKED])
        envoy = er.Envoy(config=cfg, workdir=tmp, upstream_port=upstream.port, name="demo")
        t0 = time.monotonic()
        envoy.start()
        if not as_json:
            print(f"{label} Envoy {version} (2 workers) with {er.FILTER.relative_to(er.ROOT)} is ready in "
                  f"{time.monotonic() - t0:.1f} s: listener 127.0.0.1:{envoy.port} -> jitgate -> upstream "
                  f"127.0.0.1:{upstream.port}, admin 127.0.0.1:{envoy.admin_port}")
            print(f"{label} approval service key `demo-k1` (fresh, in {tmp}); revoked: {REVOKED}\n")
        now = int(time.time())
        alice = approvals.sign(sub="alice@example.com", role="developer", jti="appr-1001", start=now - 300)
        ended = approvals.sign(sub="alice@example.com", role="developer", jti="appr-0990", start=now - 3 * 3600, ttl="1h")
        carol = approvals.sign(sub="carol@example.com", role="analyst", jti="appr-1002", start=now - 300)
        dave = approvals.sign(sub="dave@example.com", role="developer", jti=REVOKED, start=now - 300)
        steps = [
            ("alice, developer, inside her approved window", "/orders?id=7", alice),
            ("alice, with an approval whose window ended two hours ago", "/orders?id=7", ended),
            ("carol, approved as analyst, not developer", "/orders", carol),
            ("dave, whose approval was revoked", "/orders", dave),
            ("no approval at all", "/orders", None),
            ("health check, no approval needed", "/healthz", None),
        ]
        for n, (what, path, token) in enumerate(steps, 1):
            tagged = f"{path}{'&' if '?' in path else '?'}demo={n}"
            headers = [("x-jit-approval", token)] if token else []
            r = envoy.get(tagged, headers)
            audit = envoy.wait_audit(lambda a, p=tagged: a.get("path") == p)
            if as_json:
                print(er.json.dumps(audit, separators=(",", ":")))
                continue
            print(f"{label} {n}. {what}")
            print(f"{label}    GET {path} -> {r.status} {answer(r)}")
            print(f"{label}    audit: {er.json.dumps(audit, separators=(',', ':'))}")
        if not as_json:
            stats = envoy.stats()
            shown = {k.removeprefix("wasmcustom."): v for k, v in stats.items() if v or k.count(".") <= 2}
            print(f"\n{label} counters (admin /stats, wasmcustom.jitgate.*): "
                  + ", ".join(f"{k}={v}" for k, v in sorted(shown.items())))
        return 0
    finally:
        if envoy:
            envoy.stop()
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
