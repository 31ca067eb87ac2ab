#!/usr/bin/env python3
"""`make bench-envoy`: what jitgate costs per request in a real Envoy 1.40, side by side
with no auth filter and with Envoy's native `jwt_authn` + `rbac`.

Each variant runs on its own Envoy with one worker (`--concurrency 1`) and a
`direct_response` route (no upstream), so the filter is what is measured:

  none            the connection manager and the router only
  wasm-noop       the smallest proxy-wasm filter (e2e/noop_filter.wat, built with
                  wat2wasm): what any Wasm filter costs per request in Envoy's V8
  jitgate         the shipped filter, the shipped example configuration (seed policy),
                  audit lines not written (wasm logger at warning)
  jitgate+audit   the same with the audit line written to Envoy's log (wasm:info)
  jitgate-fresh   the shipped filter with a different approval on every request (a wrk
                  script cycling through FRESH_TOKENS, twice the verified-token cache), so
                  every request verifies an Ed25519 signature: against jwt_authn-nocache
  jwt_authn+rbac  Envoy's jwt_authn (local JWKS with the same Ed25519 key, issuer,
                  audience, `jwt_cache_config`) and rbac requiring `jit.role` and
                  `jit.resource` from the JWT payload metadata
  jwt_authn-nocache+rbac  the same without the JWT cache
  jitgate-NAME    (--policy NAME) the shipped filter with the shipped policy NAME
                  (policies/NAME.config.json) and a cached approval it allows

Load: `wrk` (Debian package) on loopback, one thread, 16 connections, the same approval
token on every request (but for jitgate-fresh); rounds interleaved (every variant once
per round), medians over the rounds. Prints requests/s, p50, p99, the µs each request adds against `none`
(1/throughput difference to `none` in the same round, the worker being saturated;
median over rounds), the CPU µs of Envoy's process per request added against `none`
(utime + stime from /proc over the round: steadier than throughput on a shared machine,
where wrk and neighbours compete for the cores), the throughput ratio and Envoy's
RSS before and after; writes the figures to target/bench-envoy.json.

usage: e2e/bench.py [--rounds N] [--duration S] [--connections C] [--out FILE] [--soak N]
                    [--variant NAME=MODULE.wasm[:POLICY]]... [--policy NAME]... [--skip VARIANT]...
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import envoyrun as er

# Distinct approvals for jitgate-fresh: twice the filter's verified-token cache (1,024
# entries, first in first out), so cycling through them never finds one cached.
FRESH_TOKENS = 2048

# wrk: each request carries the next approval of the file `tokens` (one per line).
FRESH_SCRIPT = """
local tokens = {}
for line in io.lines("%s") do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i %% #tokens + 1
  return wrk.format("GET", "/orders", {["x-jit-approval"] = tokens[i], ["host"] = "db.internal"})
end
"""

HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"


def wasm_filter(cfg: dict, module: Path | None = None) -> dict:
    module = module or er.FILTER
    return {"name": "jitgate", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        "config": {"name": "jitgate", "root_id": "jitgate", "failure_policy": "FAIL_RELOAD",
                   "vm_config": {"vm_id": "jitgate", "runtime": "envoy.wasm.runtime.v8",
                                 "code": {"local": {"filename": str(module.resolve())}}},
                   "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                     "value": json.dumps(cfg)}}}}


# The claims an approval needs beyond the seed policy's for every shipped policy --policy
# measures: `action_scope` allows GET for `read`; the others ignore what they do not use.
POLICY_CLAIMS = {"jit": {"actions": ["read"]}}


def shipped_policy_config(path: Path, approvals: er.Approvals) -> dict:
    """A shipped policy's configuration, trusting the bench's key for the bench's issuer,
    audience and resource."""
    cfg = json.loads(path.read_text(encoding="utf-8"))
    issuer = cfg["issuers"][0]
    issuer.update({"issuer": er.ISSUER, "audience": er.AUDIENCE, "jwks": {"keys": [approvals.public_jwk]}})
    cfg["resource"] = er.RESOURCE
    return cfg


def noop_filter(path: Path) -> dict:
    return {"name": "noop", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        "config": {"name": "noop", "root_id": "noop", "failure_policy": "FAIL_CLOSED",
                   "vm_config": {"vm_id": "noop", "runtime": "envoy.wasm.runtime.v8",
                                 "code": {"local": {"filename": str(path)}}}}}}


def jwt_filters(jwk: dict, cache: bool) -> list[dict]:
    provider = {
        "issuer": er.ISSUER, "audiences": [er.AUDIENCE],
        "local_jwks": {"inline_string": json.dumps({"keys": [jwk]})},
        "from_headers": [{"name": "x-jit-approval"}],
        "forward": False, "payload_in_metadata": "jwt_payload",
    }
    if cache:
        provider["jwt_cache_config"] = {"jwt_cache_size": 100}
    claim = lambda key, value: {"metadata": {  # noqa: E731
        "filter": "envoy.filters.http.jwt_authn",
        "path": [{"key": "jwt_payload"}, {"key": "jit"}, {"key": key}],
        "value": {"string_match": {"exact": value}}}}
    return [
        {"name": "envoy.filters.http.jwt_authn", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {"approvals": provider},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "approvals"}}]}},
        {"name": "envoy.filters.http.rbac", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": {"action": "ALLOW", "policies": {"jit-developer": {
                "permissions": [{"any": True}],
                "principals": [{"and_ids": {"ids": [claim("role", "developer"), claim("resource", er.RESOURCE)]}}]}}}}},
    ]


def bootstrap(port: int, admin_port: int, filters: list[dict]) -> dict:
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        # As deploy/envoy.yaml: freed memory goes back to the OS (deploy/README.md, "Memory").
        "memory_allocator_manager": {"bytes_to_release": 16 << 20, "memory_release_interval": "1s"},
        "static_resources": {"listeners": [{
            "name": "bench", "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
                "@type": HCM, "stat_prefix": "bench", "generate_request_id": True,
                "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
                    {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}}}]}]},
                "http_filters": filters + [{"name": "envoy.filters.http.router", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
            }}]}],
        }]},
    }


class BenchEnvoy:
    def __init__(self, name: str, workdir: Path, filters: list[dict], wasm_log: str):
        self.name = name
        self.port = er.free_port()
        self.admin_port = er.free_port()
        self.config_path = workdir / f"{name}.json"
        self.log_path = workdir / f"{name}.log"
        self.config_path.write_text(json.dumps(bootstrap(self.port, self.admin_port, filters)), encoding="utf-8")
        self.proc = subprocess.Popen(
            [str(er.ENVOY), "-c", str(self.config_path), "--concurrency", "1", "--disable-hot-restart",
             "--log-path", str(self.log_path), "--log-level", "warning", "--component-log-level", f"wasm:{wasm_log}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=er.die_with_parent)

    def wait_ready(self, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: Envoy exited:\n{self.log_path.read_text(errors='replace')[-3000:]}")
            try:
                if er.request(self.admin_port, "GET", "/ready", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name}: not ready")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the Envoy process so far (all its threads)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def to_us(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 1, "ms": 1000, "s": 1_000_000}[m.group(2)]


def run_wrk(port: int, token: str, duration: int, connections: int, script: Path | None = None) -> dict:
    load = ["-s", str(script)] if script else ["-H", f"x-jit-approval: {token}", "-H", "host: db.internal"]
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s",
         *load, f"http://127.0.0.1:{port}/orders"],
        capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": rps, "p50_us": to_us(lat.get("50", "")), "p99_us": to_us(lat.get("99", "")),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=4, help="seconds per variant per round")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--out", type=Path, default=er.ROOT / "target" / "bench-envoy.json")
    ap.add_argument("--soak", type=int, default=0, metavar="N",
                    help="then send about N more requests to the jitgate Envoy and report its RSS before and after")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=MODULE.wasm[:POLICY]",
                    help="also measure another build of the filter (an experiment) with the same configuration "
                         "and cached token (or those of --policy POLICY), as variant NAME")
    ap.add_argument("--policy", action="append", default=[], metavar="NAME",
                    help="also measure the shipped filter with a shipped policy (policies/NAME.config.json, "
                         "e.g. action_scope) and a cached approval it allows, as variant jitgate-NAME")
    ap.add_argument("--skip", action="append", default=[], metavar="VARIANT",
                    help="leave out jitgate+audit, jitgate-fresh or jwt_authn-nocache+rbac")
    a = ap.parse_args(argv[1:])
    if not shutil.which("wrk"):
        print("bench.py: `wrk` is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    if not shutil.which("wat2wasm"):
        print("bench.py: `wat2wasm` is not installed (apt-get install -y wabt)", file=sys.stderr)
        return 2
    tmp = er.workdir("jitgate-bench-")
    envoys: list[BenchEnvoy] = []
    try:
        approvals = er.Approvals(tmp / "keys", kid="bench-k1")
        cfg = er.example_config([approvals.public_jwk])
        token = approvals.sign(ttl="2h")
        tokens = tmp / "fresh-tokens.txt"
        tokens.write_text("".join(approvals.sign(ttl="2h") + "\n" for _ in range(FRESH_TOKENS)), encoding="utf-8")
        fresh_script = tmp / "fresh.lua"
        fresh_script.write_text(FRESH_SCRIPT % tokens, encoding="utf-8")
        noop = tmp / "noop_filter.wasm"
        subprocess.run(["wat2wasm", str(Path(__file__).with_name("noop_filter.wat")), "-o", str(noop)], check=True)
        variants = {
            "none": ([], "warning"),
            "wasm-noop": ([noop_filter(noop)], "warning"),
            "jitgate": ([wasm_filter(cfg)], "warning"),
            "jitgate+audit": ([wasm_filter(cfg)], "info"),
            "jitgate-fresh": ([wasm_filter(cfg)], "warning"),
            "jwt_authn+rbac": (jwt_filters(approvals.public_jwk, cache=True), "warning"),
            "jwt_authn-nocache+rbac": (jwt_filters(approvals.public_jwk, cache=False), "warning"),
        }
        for name in a.skip:
            if name not in ("jitgate+audit", "jitgate-fresh", "jwt_authn-nocache+rbac"):
                ap.error(f"--skip {name}: not a variant that can be left out")
            del variants[name]
        # Per variant: the approval it is loaded with and one it must refuse (403).
        tokens_for: dict[str, tuple[str, str]] = {}
        policy_tokens = (approvals.sign(ttl="2h", extra_claims=POLICY_CLAIMS),
                         approvals.sign(ttl="2h", extra_claims={"jit": {"actions": []}}))

        def policy_config(policy: str, option: str) -> dict:
            path = er.ROOT / "policies" / f"{policy}.config.json"
            if not path.is_file():
                ap.error(f"{option}: {policy} is not a shipped policy (policies/{policy}.config.json)")
            return shipped_policy_config(path, approvals)

        for spec in a.variant:
            name, _, module = spec.partition("=")
            module, _, policy = module.partition(":")
            if not name or name in variants or not Path(module).is_file():
                ap.error(f"--variant {spec}: expected a new NAME=MODULE.wasm[:POLICY] with an existing module")
            variants[name] = ([wasm_filter(policy_config(policy, f"--variant {spec}") if policy else cfg,
                                           Path(module))], "warning")
            if policy:
                tokens_for[name] = policy_tokens
        for policy in a.policy:
            name = f"jitgate-{policy}"
            if name in variants:
                ap.error(f"--policy {policy}: given twice")
            variants[name] = ([wasm_filter(policy_config(policy, f"--policy {policy}"))], "warning")
            tokens_for[name] = policy_tokens
        for name, (filters, level) in variants.items():
            envoys.append(BenchEnvoy(name, tmp, filters, level))
        for e in envoys:
            e.wait_ready()
        # Each variant must really decide: 200 with the approval, a denial without, and
        # a denial with an approval for the wrong role.
        wrong_role = approvals.sign(role="analyst")
        for e in envoys:
            good, refused = tokens_for.get(e.name, (token, wrong_role))
            ok = er.request(e.port, "GET", "/orders", [("x-jit-approval", good)]).status
            none = er.request(e.port, "GET", "/orders").status
            wrong = er.request(e.port, "GET", "/orders", [("x-jit-approval", refused)]).status
            expect = (200, 200, 200) if e.name in ("none", "wasm-noop") else (200, 401, 403)
            if (ok, none, wrong) != expect:
                raise AssertionError(f"{e.name}: with token {ok}, without {none}, wrong role {wrong}; expected {expect}")
        rss_before = {e.name: round(e.rss_mb(), 1) for e in envoys}
        results: dict[str, list[dict]] = {e.name: [] for e in envoys}
        for r in range(a.rounds):
            for e in envoys:  # interleaved: every variant once per round
                script = fresh_script if e.name == "jitgate-fresh" else None
                cpu = e.cpu_seconds()
                run = run_wrk(e.port, tokens_for.get(e.name, (token,))[0], a.duration, a.connections, script)
                # Envoy's own CPU per request: steadier than throughput on a shared
                # machine, where wrk and neighbours compete for the cores.
                run["cpu_us"] = 1e6 * (e.cpu_seconds() - cpu) / max(1, run["rps"] * a.duration)
                results[e.name].append(run)
            print(f"round {r + 1}/{a.rounds}: " + ", ".join(f"{n} {v[-1]['rps']:.0f}/s" for n, v in results.items()),
                  file=sys.stderr)
        rss_after = {e.name: round(e.rss_mb(), 1) for e in envoys}
        soak = None
        if a.soak:
            jit_envoy = next(e for e in envoys if e.name == "jitgate")
            rate = statistics.median(x["rps"] for x in results["jitgate"])
            seconds = max(1, round(a.soak / rate))
            before = round(jit_envoy.rss_mb(), 1)
            run = run_wrk(jit_envoy.port, token, seconds, a.connections)
            soak = {"requests": round(run["rps"] * seconds), "seconds": seconds, "rss_mb_before": before,
                    "rss_mb_after": round(jit_envoy.rss_mb(), 1), "non_2xx": run["non_2xx"]}
            print(f"soak: {soak}", file=sys.stderr)
        med = {n: {k: statistics.median(x[k] for x in v) for k in ("rps", "p50_us", "p99_us")} for n, v in results.items()}
        base = med["none"]["rps"]
        table = []
        for n, m in med.items():
            table.append({
                "variant": n, "rps": round(m["rps"]), "p50_us": round(m["p50_us"], 1), "p99_us": round(m["p99_us"], 1),
                # Paired per round (the machine drifts): median of the round's difference.
                "added_us_per_request": round(statistics.median(
                    1e6 / x["rps"] - 1e6 / b["rps"] for x, b in zip(results[n], results["none"])), 1),
                "cpu_us_per_request": round(statistics.median(x["cpu_us"] for x in results[n]), 1),
                "added_cpu_us_per_request": round(statistics.median(
                    x["cpu_us"] - b["cpu_us"] for x, b in zip(results[n], results["none"])), 1),
                "throughput_ratio_vs_none": round(base / m["rps"], 2),
                "rss_mb_before": rss_before[n], "rss_mb_after": rss_after[n],
                # The Wasm variants hold two VMs (the main thread's and the worker's).
                "rss_mb_added_vs_none": round(rss_after[n] - rss_after["none"], 1),
                "requests": round(sum(x["rps"] for x in results[n]) * a.duration),
                "non_2xx": sum(x["non_2xx"] for x in results[n]),
                "rounds_rps": [round(x["rps"]) for x in results[n]],
            })
        def added(variant: str) -> float:
            return next(t for t in table if t["variant"] == variant)["added_us_per_request"]

        def cost_ratio(variant: str, baseline: str) -> float | None:
            if not any(t["variant"] == variant for t in table):
                return None
            return round(added(variant) / max(1e-9, added(baseline)), 1)

        def cpu_ratio(variant: str, baseline: str) -> float | None:
            rows = {t["variant"]: t["added_cpu_us_per_request"] for t in table}
            if variant not in rows:
                return None
            return round(rows[variant] / max(1e-9, rows[baseline]), 1)

        report = {
            "envoy": er.envoy_version(), "workers": 1, "route": "direct_response",
            "load": {"tool": "wrk", "threads": 1, "connections": a.connections, "duration_s": a.duration,
                     "rounds": a.rounds, "statistic": "median over rounds"},
            "filter": str(er.FILTER.relative_to(er.ROOT) if er.FILTER.is_relative_to(er.ROOT) else er.FILTER), "filter_bytes": er.FILTER.stat().st_size,
            "variants": table,
            "jitgate_fresh_vs_jwt_authn_nocache_rbac_cost_ratio": cost_ratio("jitgate-fresh", "jwt_authn-nocache+rbac"),
            "jitgate_vs_jwt_authn_rbac_cost_ratio": cost_ratio("jitgate", "jwt_authn+rbac"),
            "jitgate_vs_jwt_authn_rbac_cpu_ratio": cpu_ratio("jitgate", "jwt_authn+rbac"),
            "jitgate_audit_vs_jwt_authn_rbac_cpu_ratio": cpu_ratio("jitgate+audit", "jwt_authn+rbac"),
            "jitgate_fresh_vs_jwt_authn_nocache_rbac_cpu_ratio": cpu_ratio("jitgate-fresh", "jwt_authn-nocache+rbac"),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "soak": soak,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        denied = {t["variant"]: t["non_2xx"] for t in table if t["non_2xx"]}
        if denied:
            raise AssertionError(f"answers other than 200 under load (a benchmark of denials measures nothing): {denied}")

        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"Envoy {report['envoy']}, 1 worker, direct_response; wrk -t1 -c{a.connections}, "
              f"{a.rounds} interleaved rounds of {a.duration} s, medians")
        print(f"{'variant':24} {'req/s':>8} {'p50 µs':>8} {'p99 µs':>8} {'+µs/req':>8} {'+CPU µs':>8} {'ratio':>6} {'RSS MB':>13}")
        for t in table:
            print(f"{t['variant']:24} {t['rps']:>8} {t['p50_us']:>8} {t['p99_us']:>8} {t['added_us_per_request']:>8} "
                  f"{t['added_cpu_us_per_request']:>8} "
                  f"{t['throughput_ratio_vs_none']:>6} {t['rss_mb_before']:>6}->{t['rss_mb_after']:<6}")
        print(f"with a fresh approval every request, jitgate adds "
              f"{report['jitgate_fresh_vs_jwt_authn_nocache_rbac_cost_ratio']}x what jwt_authn without its cache + rbac adds")
        print(f"in Envoy's CPU time per request: jitgate adds {report['jitgate_vs_jwt_authn_rbac_cpu_ratio']}x what "
              f"jwt_authn (cached) + rbac adds, with the audit line {report['jitgate_audit_vs_jwt_authn_rbac_cpu_ratio']}x; "
              f"fresh approvals {report['jitgate_fresh_vs_jwt_authn_nocache_rbac_cpu_ratio']}x jwt_authn without its cache")
        print(f"jitgate adds {report['jitgate_vs_jwt_authn_rbac_cost_ratio']}x what jwt_authn (cached) + rbac adds; "
              f"of its {added('jitgate')} µs, {added('wasm-noop')} µs is what any Wasm filter costs in Envoy "
              f"(wasm-noop); figures in {a.out}")
        for spec in a.variant:
            name = spec.partition("=")[0]
            print(f"{name} adds {added(name)} µs: {cost_ratio(name, 'jitgate')}x jitgate, "
                  f"{cost_ratio(name, 'jwt_authn+rbac')}x jwt_authn (cached) + rbac; in Envoy CPU per request "
                  f"{cpu_ratio(name, 'jitgate')}x jitgate")
        return 0
    finally:
        for e in envoys:
            e.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
