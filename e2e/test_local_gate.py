"""`jitgate envoy`: the local gate (issue 10, item 6) — a real Envoy started by the
command, in front of the echo upstream, stopped by SIGINT/SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

import envoyrun as er


class LocalGate:
    """`jitgate envoy …` as a user runs it; stdout is read line by line."""

    def __init__(self, tmp, config: dict, *extra: str, upstream_port: int, upstream: str | None = None,
                 listen: str | None = None):
        self.config_path = tmp / f"local-gate-{er.free_port()}.json"
        self.config_path.write_text(json.dumps(config), encoding="utf-8")
        self.port, self.admin = er.free_port(), er.free_port()
        self.out = tmp / f"local-gate-{self.port}.out"
        self.err = tmp / f"local-gate-{self.port}.err"
        self.proc = subprocess.Popen(
            [str(er.JITGATE), "envoy", "--config", str(self.config_path),
             "--upstream", upstream or f"127.0.0.1:{upstream_port}", "--listen", listen or f"127.0.0.1:{self.port}",
             "--admin", f"127.0.0.1:{self.admin}",
             "--filter", str(er.FILTER), "--envoy", str(er.ENVOY), *extra],
            stdout=open(self.out, "w"), stderr=open(self.err, "w"), stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8")

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8")

    def wait_up(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while "Ctrl-C stops Envoy" not in self.stdout():
            assert self.proc.poll() is None, f"jitgate envoy exited {self.proc.returncode}:\n{self.stderr()}"
            assert time.monotonic() < deadline, f"not up after {timeout} s:\n{self.stdout()}\n{self.stderr()}"
            time.sleep(0.1)

    def envoy_pid(self) -> int:
        for line in self.stdout().splitlines():
            if line.startswith("jitgate envoy: Envoy is up (pid "):
                return int(line.split("(pid ", 1)[1].split(",", 1)[0])
        raise AssertionError(self.stdout())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def gates():
    started: list[LocalGate] = []
    yield started
    for g in started:
        g.stop()


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_local_gate_decides_and_stops_on_a_signal(tmp, approvals, upstream, gates, stop_signal):
    gate = LocalGate(tmp, er.example_config([approvals.public_jwk]), upstream_port=upstream.port)
    gates.append(gate)
    gate.wait_up()
    out = gate.stdout()
    # The lines to try name this gate's addresses and the configuration's header, issuer,
    # audience and resource.
    assert f"curl -i http://127.0.0.1:{gate.port}/ " in out
    assert '-H "x-jit-approval: $TOKEN"' in out
    assert f"--iss '{er.ISSUER}' --aud '{er.AUDIENCE}'" in out and f"--resource '{er.RESOURCE}'" in out
    assert f"http://127.0.0.1:{gate.admin}/stats?filter=wasmcustom.jitgate" in out

    r = er.request(gate.port, "GET", "/orders")
    assert r.status == 401 and r.json()["reason"] == "token_missing"
    r = er.request(gate.port, "GET", "/orders", {"x-jit-approval": approvals.sign(), "x-jit-subject": "mallory"})
    assert r.status == 200, r.body
    seen = r.upstream_headers()
    assert seen["x-jit-subject"] == ["alice@example.com"] and "x-jit-approval" not in seen
    # The shipped hygiene: a header name with `_` is refused before the filter.
    assert er.request(gate.port, "GET", "/orders", {"x_jit_subject": "mallory"}).status == 400

    stats = er.request(gate.admin, "GET", "/stats?filter=wasmcustom.jitgate&format=json", {"host": "admin"}).json()
    counters = {s["name"]: s.get("value") for s in stats["stats"]}
    assert counters["wasmcustom.jitgate.allowed"] >= 1, counters

    envoy_pid = gate.envoy_pid()
    gate.proc.send_signal(stop_signal)  # to jitgate alone, not to Envoy's process group
    assert gate.proc.wait(15) == 0, gate.stderr()
    assert "jitgate envoy: stopped" in gate.stdout()
    assert not alive(envoy_pid), "Envoy outlived `jitgate envoy`"
    # Envoy was stopped gracefully: its access log lines (stdout) were flushed, with the
    # decision of each request from the filter state.
    access = [line for line in gate.stdout().splitlines() if '"GET /orders"' in line]
    assert any(" 401 " in line and "jitgate.reason=token_missing" in line for line in access), access
    assert any(" 200 " in line and "jitgate.subject=alice@example.com" in line for line in access), access
    assert "jitgate.audit {" in gate.stderr()
    with pytest.raises(OSError):
        er.request(gate.port, "GET", "/healthz", timeout=2)


def test_local_gate_refuses_a_bad_configuration_before_starting_envoy(tmp, approvals, upstream, gates):
    cfg = er.example_config([approvals.public_jwk])
    cfg["token"]["header"] = "bad header"
    gate = LocalGate(tmp, cfg, upstream_port=upstream.port)
    gates.append(gate)
    assert gate.proc.wait(30) == 2
    assert "token.header" in gate.stderr(), gate.stderr()
    assert "Envoy is up" not in gate.stdout()


def test_local_gate_needs_an_address_for_each_feed_cluster(tmp, approvals, upstream, gates):
    cfg = er.example_config([approvals.public_jwk])
    cfg["issuers"][0]["feed"] = {"cluster": "approvals", "authority": "approvals.internal"}
    gate = LocalGate(tmp, cfg, upstream_port=upstream.port)
    gates.append(gate)
    assert gate.proc.wait(30) == 2
    assert "`issuers[0].feed.cluster` is `approvals`: give its address with `--cluster approvals=HOST:PORT`" \
        in gate.stderr(), gate.stderr()

    for bad, message in [({"upstream": "db"}, "`--upstream`: `db` is not HOST:PORT"),
                         ({"upstream": "db:0"}, "is not a port"),
                         ({"upstream": "a b:80"}, "neither an IP address nor a DNS name"),
                         ({"listen": "localhost:1"}, "`--listen`: `localhost:1` is not IP:PORT"),
                         ("--cluster=other=127.0.0.1:1", "no issuer's `feed.cluster` is `other`"),
                         ("--cluster=upstream=127.0.0.1:1", "`upstream` is the cluster of `--upstream`")]:
        extra, named = ((), bad) if isinstance(bad, dict) else ((bad,), {})
        gate = LocalGate(tmp, er.example_config([approvals.public_jwk]), *extra, upstream_port=upstream.port, **named)
        gates.append(gate)
        assert gate.proc.wait(30) == 2, bad
        assert message in gate.stderr(), (bad, gate.stderr())


def test_local_gate_with_a_live_trust_feed(tmp, upstream, gates):
    """The approval service's feed through `--cluster`: a revoked grant is refused."""
    service = er.ApprovalService(tmp / "local-gate-approvals")
    try:
        cfg = service.gate_config(refresh_s=1)
        gate = LocalGate(tmp, cfg, f"--cluster=approvals=127.0.0.1:{service.port}", upstream_port=upstream.port)
        gates.append(gate)
        gate.wait_up()
        status, req = service.call("POST", "/v1/requests", "alice@example.com", {
            "resource": er.RESOURCE, "role": "developer", "actions": ["read"], "duration_s": 600,
            "reason": "INC-1"})
        assert status == 201, req
        status, grant = service.call("POST", f"/v1/requests/{req['id']}/approve", "bob@example.com", {})
        assert status == 200, grant
        status, issued = service.call("GET", f"/v1/requests/{req['id']}/token", "alice@example.com")
        assert status == 200, issued
        token = issued["token"]

        def settle(want: tuple[int, str]) -> None:
            """Until 20 requests in a row (on new connections, so on both workers) decide `want`;
            a worker that has not installed the feed's documents yet says `revocations_stale`."""
            deadline, streak = time.monotonic() + 15, 0
            while streak < 20:
                r = er.request(gate.port, "GET", "/orders", {"x-jit-approval": token})
                got = (r.status, "allowed" if r.status == 200 else r.json()["reason"])
                streak = streak + 1 if got == want else 0
                assert time.monotonic() < deadline, (got, gate.stderr()[-3000:])
                if got != want:
                    time.sleep(0.1)

        settle((200, "allowed"))
        assert service.call("POST", f"/v1/approvals/{issued['jti']}/revoke", "bob@example.com",
                            {"reason": "done"})[0] == 200
        settle((401, "token_revoked"))
    finally:
        service.stop()
