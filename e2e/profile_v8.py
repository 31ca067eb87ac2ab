#!/usr/bin/env python3
"""`make profile-v8`: the filter's cost per request in V8 without Envoy, and where it goes.

Runs e2e/v8host.mjs (a minimal proxy-wasm host in Node; `--no-liftoff`, as Envoy runs
V8) on the given modules with the shipped example configuration and a fresh approval,
then profiles the last module with `node --cpu-prof` and prints its time by part:
inclusive shares of `proxy_on_request_headers`, `Gate::decide` and regorus's
`eval_rule`, and self time by kind (regorus, allocation, jitgate, the JS host). Give an
unstripped build as the last module (the Makefile does) or the profile has no names.

usage: e2e/profile_v8.py FILTER.wasm [FILTER2.wasm …]
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import envoyrun as er

HOST = Path(__file__).with_name("v8host.mjs")

KINDS = [
    ("regorus interpreter", r"regorus.*[Ii]nterpreter"),
    ("regorus values", r"regorus.*[Vv]alue"),
    ("regorus other", r"regorus"),
    ("allocation", r"dlmalloc|dlfree|dealloc|rdl_alloc|rust_alloc|raw_vec|alloc_impl|allocate_for_layout|drop_slow|finish_grow|realloc"),
    ("jitgate", r"jitgate"),
    ("serde", r"serde"),
    ("signatures and hashes", r"ed25519|curve25519|sha2"),
]


def kind(name: str, url: str) -> str:
    if url.startswith(("file://", "node:")):
        return "the JS host (Envoy's C++ in production)"
    for label, pattern in KINDS:
        if re.search(pattern, name):
            return label
    return name if name.startswith("(") else "other module code"


def summarize(profile: dict) -> None:
    nodes = {n["id"]: n for n in profile["nodes"]}
    parent = {c: n["id"] for n in profile["nodes"] for c in n.get("children", [])}
    own = collections.Counter()
    for sample, delta in zip(profile["samples"], profile["timeDeltas"]):
        own[sample] += delta
    total = sum(own.values()) or 1
    inclusive = collections.Counter()
    by_kind = collections.Counter()
    marks = {"proxy_on_request_headers": "proxy_on_request_headers",
             "Gate::decide": "4Gate6decide", "regorus eval_rule": "Interpreter9eval_rule"}
    for node_id, t in own.items():
        frame = nodes[node_id]["callFrame"]
        by_kind[kind(frame["functionName"], frame["url"])] += t
        names, at = [frame["functionName"]], node_id
        while at in parent:
            at = parent[at]
            names.append(nodes[at]["callFrame"]["functionName"])
        for label, needle in marks.items():
            if any(needle in n for n in names):
                inclusive[label] += t
    print("inclusive:", ", ".join(f"{label} {100 * inclusive[label] / total:.0f} %" for label in marks))
    print("self time by kind:")
    for label, t in by_kind.most_common(12):
        print(f"  {100 * t / total:5.1f} %  {label}")


def main(argv: list[str]) -> int:
    modules = [Path(m).resolve() for m in argv[1:]]
    if not modules:
        print(__doc__.split("\n\n")[-1], file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="jitgate-v8-") as tmp:
        tmp = Path(tmp)
        approvals = er.Approvals(tmp / "keys", kid="bench-k1")
        (tmp / "config.json").write_text(json.dumps(er.example_config([approvals.public_jwk])), encoding="utf-8")
        (tmp / "token.txt").write_text(approvals.sign(ttl="2h"), encoding="utf-8")
        args = [str(tmp / "config.json"), str(tmp / "token.txt")]
        subprocess.run(["node", "--no-liftoff", str(HOST), *args, *map(str, modules)], check=True)
        subprocess.run(["node", "--no-liftoff", "--cpu-prof", f"--cpu-prof-dir={tmp / 'prof'}", str(HOST), *args,
                        str(modules[-1])], check=True, stdout=subprocess.DEVNULL)
        profile = next((tmp / "prof").glob("*.cpuprofile"))
        print(f"profile of {modules[-1]}:")
        summarize(json.loads(profile.read_text(encoding="utf-8")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
