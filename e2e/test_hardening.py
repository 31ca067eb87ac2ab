"""The deploy/ hardening (issue 9, findings 4 and 8) in Envoy 1.40:

- FAIL_RELOAD: with a test build of the filter that traps on demand (header
  `x-jitgate-test-trap`), a trapping request costs that one request (5xx, never let
  through) and the next requests on the same worker are decided normally again; with
  FAIL_CLOSED, for contrast, the worker stays dead.
- the connection manager's path and header settings: `x_jit_subject` is refused before
  the filter, `/a/../b` and `//a` reach the filter (and the upstream) normalised, `%2F`
  is redirected.
- the allocator's release of freed memory (`memory_allocator_manager`): what V8 frees
  after compiling the module at start is given back to the OS (issue 14)."""

from __future__ import annotations

import time
import uuid

import pytest

import envoyrun as er


def marker() -> str:
    return uuid.uuid4().hex[:12]


# --- path and header hygiene (on the shipped bootstrap's settings) --------------------------


def test_header_with_underscore_is_rejected_before_the_filter(gate, approvals, upstream):
    p = f"/orders?e2e={marker()}"
    r = gate.get(p, [("x-jit-approval", approvals.sign()), ("x_jit_subject", "mallory@example.com")])
    assert r.status == 400
    assert not [s for s in upstream.seen if s["path"] == p]
    time.sleep(0.2)
    assert not [a for a in gate.audits() if a.get("path") == p], "Envoy must refuse it before jitgate decides"


@pytest.mark.parametrize("sent,normalised", [
    ("/x/../orders", "/orders"),
    ("/orders/./items/../", "/orders/"),
    ("//orders", "/orders"),
    ("/orders//items", "/orders/items"),
], ids=["dot-dot", "dot", "leading //", "inner //"])
def test_path_is_normalised_before_the_filter_sees_it(gate, approvals, sent, normalised):
    m = marker()
    r = gate.get(f"{sent}?e2e={m}", [("x-jit-approval", approvals.sign())])
    assert r.status == 200, r.body
    assert r.json()["path"] == f"{normalised}?e2e={m}"
    audit = gate.wait_audit(lambda a: a.get("path", "").endswith(f"?e2e={m}"))
    assert audit["path"] == f"{normalised}?e2e={m}"


def test_path_normalisation_cannot_reach_around_the_health_check(gate, upstream):
    """`/healthz/../orders` is `/orders` to the policy too: no token, 401."""
    r = gate.get(f"/healthz/../orders?e2e={marker()}")
    assert r.status == 401 and r.json()["reason"] == "token_missing"


def test_freed_memory_is_given_back_to_the_os(gate):
    """The shipped bootstrap's `memory_allocator_manager`: tcmalloc releases free pages
    (Envoy's admin /memory `pageheap_unmapped`; always 0 without the setting)."""
    deadline = time.monotonic() + 15
    while True:
        memory = er.request(gate.admin_port, "GET", "/memory").json()
        if int(memory["pageheap_unmapped"]) > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert int(memory["pageheap_unmapped"]) > 0, memory


def test_escaped_slash_is_redirected_not_decided(gate, upstream):
    m = marker()
    r = gate.get(f"/orders%2F..%2Fhealthz?e2e={m}")
    # Unescaped, then normalised: the client is sent to the path the upstream would
    # have served; this request itself is not decided and goes nowhere.
    assert r.status == 307
    assert r.header("location") == f"/healthz?e2e={m}"
    assert not [s for s in upstream.seen if m in s["path"]]
    time.sleep(0.2)
    assert not [a for a in gate.audits() if m in a.get("path", "")]
    # Following the redirect is an ordinary, decided request.
    assert gate.get(r.header("location")).status == 200


# --- FAIL_RELOAD ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trap_filter():
    if not er.TRAP_FILTER.exists():
        pytest.fail(f"{er.TRAP_FILTER} is missing: `make test-envoy` builds it (cargo build ... --features test-trap)",
                    pytrace=False)
    return er.TRAP_FILTER


def test_fail_reload_a_trap_costs_one_request(start, approvals, trap_filter, upstream):
    e = start(er.example_config([approvals.public_jwk]), name="fail-reload", wasm=trap_filter,
              failure_policy="FAIL_RELOAD", concurrency=1)
    token = [("x-jit-approval", approvals.sign())]
    assert e.get(f"/orders?e2e={marker()}", token).status == 200

    p = f"/orders?e2e={marker()}"
    trapped = e.get(p, token + [("x-jitgate-test-trap", "1")])
    assert 500 <= trapped.status < 600, trapped.status
    assert not [s for s in upstream.seen if s["path"] == p], "a trapping request is never let through"

    e.wait_log(r"proxy_on_request_headers failed: Uncaught RuntimeError: unreachable")

    # The one worker gets a fresh VM after the reload backoff (deploy/: 100 ms after a
    # trap); from then on every request is decided normally again, at the first try:
    # allowed with a token, 401 without.
    time.sleep(0.4)
    for _ in range(5):
        assert e.get(f"/orders?e2e={marker()}", token).status == 200
        r = e.get(f"/orders?e2e={marker()}")
        assert r.status == 401 and r.header("www-authenticate") == 'JIT-Approval error="token_missing"'
    reloads = e.stats("wasm.jitgate.vm_reload_success")
    assert reloads.get("wasm.jitgate.vm_reload_success", 0) >= 1, reloads


def test_fail_closed_for_contrast_the_worker_stays_dead(start, approvals, trap_filter):
    e = start(er.example_config([approvals.public_jwk]), name="fail-closed", wasm=trap_filter,
              failure_policy="FAIL_CLOSED", concurrency=1)
    token = [("x-jit-approval", approvals.sign())]
    assert e.get("/orders", token).status == 200
    assert 500 <= e.get("/orders", token + [("x-jitgate-test-trap", "1")]).status < 600
    time.sleep(1.5)
    later = [e.get("/orders", token).status for _ in range(5)]
    assert all(s == 503 for s in later), later


# --- the evaluation budget (issue 9, finding 5) -----------------------------------------------

SLOW_POLICY = """package e2e

default decision := {"allow": false}

decision := {"allow": true} if {
	not input.request.headers["x-slow"]
	input.approval.role == "developer"
}

# 9 million iterations: seconds without a budget.
decision := {"allow": count([1 | some i in numbers.range(1, 3000); some j in numbers.range(1, 3000)]) > 0} if {
	input.request.headers["x-slow"]
}
"""


def test_slow_policy_is_stopped_at_its_budget_and_the_worker_stays_responsive(start, approvals):
    import threading

    cfg = er.example_config([approvals.public_jwk], policy={
        "modules": {"e2e.rego": SLOW_POLICY}, "entrypoint": "data.e2e.decision", "max_eval_ms": 50})
    e = start(cfg, name="budget", concurrency=1)  # one worker: the slow and the next request share it
    token = [("x-jit-approval", approvals.sign())]
    before = e.stats()
    slow: dict = {}

    def send_slow():
        t = time.monotonic()
        slow["r"] = e.get(f"/orders?e2e={marker()}", token + [("x-slow", "1")], timeout=30)
        slow["s"] = time.monotonic() - t

    thread = threading.Thread(target=send_slow)
    thread.start()
    time.sleep(0.02)
    t = time.monotonic()
    fast = e.get(f"/orders?e2e={marker()}", token)
    fast_s = time.monotonic() - t
    thread.join(30)
    assert fast.status == 200
    assert fast_s < 1.0, f"the next request waited {fast_s:.3f} s behind a slow one (budget 50 ms)"
    assert slow["r"].status == 403 and slow["r"].json()["reason"] == "policy_error"
    assert slow["s"] < 1.0, f"the slow request took {slow['s']:.3f} s (budget 50 ms)"
    audit = e.wait_audit(lambda a: a.get("reason") == "policy_error")
    assert "budget" in (audit.get("detail") or "")
    after = e.stats()
    assert after["wasmcustom.jitgate.policy_over_budget"] == before.get("wasmcustom.jitgate.policy_over_budget", 0) + 1
