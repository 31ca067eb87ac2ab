#!/usr/bin/env python3
"""`make bench-approvals`: the approval service's feed under load.

Starts `jitgate-approvals serve --dev` (SQLite), issues GRANTS approvals through the
API (request, then approve: the token is issued in the approving transaction) and
revokes REVOKED of them, timing each issuing approval. Then loads the feed the gates
poll with `wrk` (Debian package) on loopback: `/v1/revocations` and
`/v1/status-lists/0` answered in full (200, the signed document) and as a 304 (the
`If-None-Match` a polling gate sends). Rounds interleaved, medians; prints
requests/s, the 304/200 ratio and the issuing latency; writes target/bench-approvals.json.

usage: e2e/bench_approvals.py [--grants N] [--revoked N] [--rounds R] [--duration S]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import envoyrun as er


def issue(service: er.ApprovalService, n: int) -> tuple[str, float]:
    status, req = service.call("POST", "/v1/requests", "alice@example.com",
                               {"resource": "test-database", "role": "developer", "actions": ["read"],
                                "duration_s": 3600, "reason": f"bench {n}"})
    assert status == 201, req
    t0 = time.perf_counter()
    status, body = service.call("POST", f"/v1/requests/{req['id']}/approve", "bob@example.com", {})
    took = time.perf_counter() - t0
    assert status == 200 and body["state"] == "approved", body
    status, token = service.call("GET", f"/v1/requests/{req['id']}/token", "alice@example.com")
    assert status == 200, token
    return token["jti"], took


def revoke(service: er.ApprovalService, jti: str) -> None:
    status, body = service.call("POST", f"/v1/approvals/{jti}/revoke", "bob@example.com", {"reason": "bench"})
    assert status == 200, body


def wrk(port: int, path: str, seconds: int, etag: str | None) -> float:
    args = ["wrk", "-t1", "-c16", f"-d{seconds}s", "-H", f"host: 127.0.0.1:{port}"]
    if etag:
        args += ["-H", f"if-none-match: {etag}"]
    out = subprocess.run(args + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                         timeout=seconds + 30, check=True).stdout
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if not m or "Non-2xx or 3xx" in out:
        raise RuntimeError(f"wrk: {out}")
    return float(m.group(1))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench_approvals.py")
    ap.add_argument("--grants", type=int, default=20_000, help="approvals issued (default 20,000)")
    ap.add_argument("--revoked", type=int, default=10_000, help="of which revoked (default 10,000)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--out", type=Path, default=er.ROOT / "target" / "bench-approvals.json")
    args = ap.parse_args(argv[1:])
    if shutil.which("wrk") is None:
        print("bench_approvals.py: wrk (Debian package wrk) is not installed", file=sys.stderr)
        return 1
    tmp = er.workdir("jitgate-bench-approvals-")
    service = er.ApprovalService(tmp / "approvals", feed_max_age_s=5)
    try:
        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            issued = list(pool.map(lambda n: issue(service, n), range(args.grants)))
        took_issue = time.monotonic() - t0
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda item: revoke(service, item[0]), issued[: args.revoked]))
        latencies = sorted(t for _, t in issued)
        print(f"issued {args.grants} approvals in {took_issue:.1f} s ({args.grants / took_issue:.0f}/s, 8 clients), "
              f"revoked {args.revoked}")
        results: dict[str, list[float]] = {}
        docs = {"revocations": "/v1/revocations", "status list 0": "/v1/status-lists/0"}
        etags = {}
        for name, path in docs.items():
            r = er.request(service.port, "GET", path, {"host": f"127.0.0.1:{service.port}"})
            assert r.status == 200, r.body[:200]
            etags[name] = r.header("etag")
            print(f"{name}: {len(r.body):,} bytes, ETag {etags[name]}")
        for _ in range(args.rounds):
            for name, path in docs.items():
                results.setdefault(f"{name} 200", []).append(wrk(service.port, path, args.duration, None))
                results.setdefault(f"{name} 304", []).append(wrk(service.port, path, args.duration, etags[name]))
        med = {k: statistics.median(v) for k, v in results.items()}
        print(f"\nfeed under load (wrk, 1 thread, 16 connections, {args.rounds} interleaved rounds of "
              f"{args.duration} s, medians):")
        for name in docs:
            full, nm = med[f"{name} 200"], med[f"{name} 304"]
            print(f"  {name:<14} 200 {full:>9.0f} req/s   304 {nm:>9.0f} req/s   304/200 = {nm / full:.1f}×")
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3  # noqa: E731
        print(f"  issuing (the approving call, token signed in its transaction): "
              f"p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"grants": args.grants, "revoked": args.revoked, "req_per_s": med,
                                        "issue_ms": {"p50": p(0.5), "p99": p(0.99)}}, indent=2))
        return 0
    finally:
        service.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
