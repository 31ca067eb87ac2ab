"""One corpus, every host: the shared decision vectors (policy-core/tests/vectors/
decisions.json, decided alike by the core, the harness and the JS package) and the
shipped policies' scenarios (policies/*.scenarios.json, which `jitgate test` runs
through the filter in the harness) through the real Envoy.

Envoy reads the real clock, so each scenario is moved in time: every token time (`iat`,
`nbf`, `exp`) is shifted by (wall clock - scenario `now`), whole seconds, and the
request is sent right away (never across a second boundary), so the filter sees the
scenario's `now` plus a fraction of a second. Tokens are signed with `jitgate token sign`
from the scenario file's own test keys. The answer is compared with the scenario's
`expect` (status, reason and policy_reason from the audit record, upstream headers from
the echo), exactly as `jitgate test` compares the harness's.

Harness-only (not run here, listed in HARNESS_ONLY with the reason): scenarios whose
decision depends on the time of day or week (they cannot be placed around now)."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

import envoyrun as er

POLICIES = er.ROOT / "policies"
VECTORS = er.ROOT / "policy-core" / "tests" / "vectors" / "decisions.json"

# file -> why its scenarios stay in the harness.
HARNESS_ONLY = {
    "business_hours.scenarios.json": "decides on the hour and weekday of `now`: it cannot be moved to the wall clock",
}


def to_secs(v):
    if isinstance(v, (int, float)):
        return v  # a float stays a float (a malformed-time case)
    return int(datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp())


def load_vectors() -> dict:
    return load(VECTORS)


def load_any(name: str) -> dict:
    return load_vectors() if name == VECTORS.name else load(POLICIES / name)


def load(path: Path) -> dict:
    """A case file (testkit/README.md) with its configuration completed as the test
    kit does: policy_files become modules, and a key with an `issuer` joins that
    issuer's jwks (public half)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    cfg = doc["config"]
    if doc.get("policy_files"):
        modules = cfg.setdefault("policy", {}).setdefault("modules", {})
        for name in doc["policy_files"]:
            modules[name.rsplit("/", 1)[-1]] = (path.parent / name).read_text(encoding="utf-8")
    keys = {}
    for entry in doc.get("keys", []):
        jwk = entry["jwk"]
        if "issuer" in entry:
            public = {k: v for k, v in jwk.items() if k != "d"}
            issuer = next(i for i in cfg["issuers"] if i["issuer"] == entry["issuer"])
            issuer.setdefault("jwks", {"keys": []})["keys"].append(public)
        keys[entry.get("kid", jwk.get("kid"))] = jwk
    return {"config": cfg, "keys": keys, "scenarios": doc["cases"]}


# Single cases that stay in the harness: (file, case) -> why.
ROUTE_CASES = (
    "route resource: an approval for the route's resource passes the token check (the seed policy guards test-database only)",
    "route resource: an approval for the configured resource does not open another resource's route",
    "route resource: an approval naming both resources opens the billing route",
    "skip route: allowed without a token or a policy",
)
HARNESS_ONLY_CASES = {
    **{("decisions.json", name): "per-route settings come from Envoy's route configuration, not the request: "
       "e2e/test_routes.py tests them in Envoy with routes that carry them" for name in ROUTE_CASES},
    ("decisions.json", "bound to the presented certificate"):
        "gives the connection's certificate digest as a fact; a real Envoy reports the digest of the "
        "certificate really presented (test_mtls.py tests binding that way)",
}

# Scenarios whose request Envoy's connection manager changes before the filter sees it
# (deploy/: normalize_path, merge_slashes; its HTTP/1 parser refuses raw non-ASCII in
# the path). The harness hands the filter the raw path, which is what these scenarios
# test (the policy's own defence); in Envoy the request is first made canonical, and
# the filter decides the canonical path. (file, scenario) -> what Envoy does instead.
ENVOY_FIRST = {
    ("path_scope.scenarios.json", "dot segments are denied"):
        {"filter_path": "/admin", "status": 403, "reason": "policy_denied"},
    ("path_scope.scenarios.json", "encoded dot segments are denied"):
        {"filter_path": "/admin", "status": 403, "reason": "policy_denied"},
    ("path_scope.scenarios.json", "empty segments are denied"):
        {"filter_path": "/orders/7", "status": 200, "reason": "allowed"},
    ("path_scope.scenarios.json", "fullwidth dots (U+FF0E, raw) are denied"):
        {"http_status": 400},  # refused by Envoy, never decided
}

FILES = sorted(p for p in POLICIES.glob("*.scenarios.json") if p.name not in HARNESS_ONLY)
SOURCES = [VECTORS.name] + [p.name for p in FILES]
CASES = [(n, i, s["name"]) for n in SOURCES for i, s in enumerate(load_any(n)["scenarios"])
         if (n, s["name"]) not in HARNESS_ONLY_CASES]


@pytest.fixture(scope="module")
def corpus(envoys, tmp, upstream):
    """One Envoy per scenario file (its configuration); all started together (their
    start-up is mostly compiling the module: in parallel it uses both cores)."""
    running: dict[str, tuple[er.Envoy, dict]] = {}
    for source in SOURCES:
        data = load_any(source)
        keydir = tmp / "corpus-keys" / source
        keydir.mkdir(parents=True, exist_ok=True)
        for kid, jwk in data["keys"].items():
            (keydir / f"{kid}.jwk").write_text(json.dumps(jwk), encoding="utf-8")
        data["keydir"] = keydir
        e = er.Envoy(config=data["config"], workdir=tmp / "envoy", upstream_port=upstream.port,
                     name="corpus-" + source.removesuffix(".json").removesuffix(".scenarios"))
        envoys.append(e)
        e.spawn()
        running[source] = (e, data)
    for e, _ in running.values():
        e.wait_ready()
    yield lambda name: running[name]
    for e, _ in running.values():
        e.stop()


def mint(spec, data: dict, shift: int, tmp: Path) -> str | None:
    if spec is None:
        return None
    if "raw" in spec:
        return spec["raw"]
    claims = dict(spec["claims"])
    for k in ("iat", "nbf", "exp"):
        if k in claims:
            claims[k] = to_secs(claims[k]) + shift
    f = tmp / "claims.json"
    f.write_text(json.dumps(claims), encoding="utf-8")
    token = subprocess.run(
        [str(er.JITGATE), "token", "sign", "--key", str(data["keydir"] / f"{spec['key']}.jwk"), "--claims", str(f)],
        capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    if "header" in spec:
        # A header override (e.g. another kid): re-encode the protected header. The
        # signature no longer matches it, as in the harness's minting of such a case.
        head, payload, sig = token.split(".")
        fields = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        fields.update(spec["header"])
        token = ".".join([er.b64url(json.dumps(fields, separators=(",", ":")).encode()), payload, sig])
    return token


@pytest.mark.parametrize("file,index,name", CASES, ids=[f"{f.removesuffix('.json').removesuffix('.scenarios')}: {n}" for f, _, n in CASES])
def test_scenario_in_envoy(corpus, tmp, upstream, file, index, name):
    e, data = corpus(file)
    scenario = data["scenarios"][index]
    expect = scenario["expect"]
    cfg = data["config"]
    header = cfg.get("token", {}).get("header", "x-jit-approval")
    prefix = cfg.get("token", {}).get("prefix", "")
    # Whole-second shift, and never send across a second boundary.
    if time.time() % 1 > 0.7:
        time.sleep(1 - time.time() % 1 + 0.01)
    shift = int(time.time()) - int(to_secs(scenario["now"]))
    token = mint(scenario.get("token"), data, shift, tmp)
    req = scenario["request"]
    headers = [(k, v) for k, v in req.get("headers", {}).items() if not (token and k.lower() == header)]
    if token is not None:
        headers.append((header, prefix + token))
    r = er.request(e.port, req.get("method", "GET"), req.get("path", "/"), headers)

    envoy_first = ENVOY_FIRST.get((file, name))
    if envoy_first and "http_status" in envoy_first:
        assert r.status == envoy_first["http_status"]
        time.sleep(0.2)
        assert not [a for a in e.audits() if a.get("path") == req["path"]]
        return
    if r.status == 200:
        seen_request = upstream.seen[int(r.header("x-echo-index"))]
        seen: dict[str, list[str]] | None = {}
        for k, v in seen_request["headers"]:
            seen.setdefault(k, []).append(v)
        request_id = seen["x-request-id"][0]
        audit = e.wait_audit(lambda a: a.get("request_id") == request_id)
    else:
        seen = None
        decision_id = r.json()["decision_id"]
        audit = e.wait_audit(lambda a: a.get("decision_id") == decision_id)
    got = {"status": audit["status"], "reason": audit["reason"], "policy_reason": audit["policy_reason"]}
    assert r.status == (200 if not audit["enforced"] else audit["status"])
    if envoy_first:
        assert audit["path"] == envoy_first["filter_path"]
        assert (audit["status"], audit["reason"]) == (envoy_first["status"], envoy_first["reason"])
        return
    got["allow"] = audit["allow"]
    want = {k: expect[k] for k in ("allow", "status", "reason", "policy_reason") if k in expect}
    assert {k: got[k] for k in want} == want
    for k, v in expect.get("upstream_headers", {}).items():
        assert seen is not None, "not forwarded"
        assert seen.get(k.lower()) == [v], (k, seen.get(k.lower()))
    for k in expect.get("absent_upstream_headers", []):
        assert seen is None or k.lower() not in seen


def test_harness_only_files_are_listed_and_exist():
    """The harness-only list names real files, and every other scenario file runs here."""
    names = {p.name for p in POLICIES.glob("*.scenarios.json")}
    assert set(HARNESS_ONLY) <= names
    assert {p.name for p in FILES} | set(HARNESS_ONLY) == names
    assert len(CASES) >= 110
    vectors = {c["name"] for c in load_vectors()["scenarios"]}
    assert {name for f, name in HARNESS_ONLY_CASES if f == VECTORS.name} <= vectors
    assert {name for _, name in ENVOY_FIRST} <= {name for _, _, name in CASES}
