#!/usr/bin/env python3
"""Validates the deployment files against Envoy's own API.

- envoy.yaml is parsed into envoy.config.bootstrap.v3.Bootstrap with
  google.protobuf.json_format (from the `xds-protos` package): every field must exist,
  every `@type` must resolve (the Wasm filter's Any is unpacked into
  envoy.extensions.filters.http.wasm.v3.Wasm, not hidden in a TypedStruct), and the
  plugin configuration must be a StringValue holding a jitgate configuration.
- istio-wasmplugin.yaml is checked for the WasmPlugin shape we rely on (AUTHZ phase,
  FAIL_CLOSE, selector) and must carry the same jitgate configuration.
- With --jitgate BIN, the embedded configuration is also compiled by the jitgate core
  (`jitgate eval`), and with --filter F.wasm loaded by the filter in the proxy-wasm
  harness (`jitgate run`), so a policy that does not compile fails here, not in Envoy.
- --self-test breaks the files on purpose and checks that validation then fails.

(Not named validate.py: that would shadow the `validate` package the Envoy protos import.)
Run through deploy/validate.sh, which makes the virtual environment.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from google.protobuf import json_format

# Importing the generated modules registers their types, so `@type` URLs resolve.
from envoy.config.bootstrap.v3 import bootstrap_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.filters.http.wasm.v3 import wasm_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2  # noqa: F401  (registers Router)
from envoy.extensions.wasm.v3 import wasm_pb2 as plugin_pb2
from google.protobuf import wrappers_pb2

DEPLOY = Path(__file__).resolve().parent


class Invalid(Exception):
    pass


def check_envoy(text):
    doc = yaml.safe_load(text)
    bootstrap = bootstrap_pb2.Bootstrap()
    try:
        json_format.ParseDict(doc, bootstrap)
    except json_format.ParseError as e:
        raise Invalid(f"envoy.yaml is not a valid Bootstrap: {e}")
    wasm_filters = []
    for listener in bootstrap.static_resources.listeners:
        for chain in listener.filter_chains:
            for f in chain.filters:
                if f.typed_config.type_url.endswith("HttpConnectionManager"):
                    hcm = hcm_pb2.HttpConnectionManager()
                    f.typed_config.Unpack(hcm)
                    names = [h.name for h in hcm.http_filters]
                    if not names or names[-1] != "envoy.filters.http.router":
                        raise Invalid(f"the router must be the last HTTP filter, got {names}")
                    for h in hcm.http_filters:
                        if h.name == "envoy.filters.http.wasm":
                            wasm = wasm_pb2.Wasm()
                            if not h.typed_config.Unpack(wasm):
                                raise Invalid(f"the wasm filter's typed_config is {h.typed_config.type_url}, not Wasm")
                            wasm_filters.append(wasm)
    if len(wasm_filters) != 1:
        raise Invalid(f"expected one envoy.filters.http.wasm filter, found {len(wasm_filters)}")
    plugin = wasm_filters[0].config
    if plugin.failure_policy != plugin_pb2.FAIL_CLOSED:
        raise Invalid("the jitgate filter must fail closed (failure_policy: FAIL_CLOSED)")
    if plugin.vm_config.runtime != "envoy.wasm.runtime.v8":
        raise Invalid(f"unexpected runtime {plugin.vm_config.runtime}")
    value = wrappers_pb2.StringValue()
    if not plugin.configuration.Unpack(value):
        raise Invalid(f"configuration must be a google.protobuf.StringValue, is {plugin.configuration.type_url}")
    try:
        config = json.loads(value.value)
    except json.JSONDecodeError as e:
        raise Invalid(f"the plugin configuration is not JSON: {e}")
    for key in ("issuers", "policy"):
        if key not in config:
            raise Invalid(f"the plugin configuration has no `{key}`")
    return config


def check_istio(text):
    doc = yaml.safe_load(text)
    expect = {"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin"}
    for key, want in expect.items():
        if doc.get(key) != want:
            raise Invalid(f"istio-wasmplugin.yaml: `{key}` is {doc.get(key)!r}, want {want!r}")
    spec = doc.get("spec") or {}
    known = {"selector", "targetRefs", "url", "sha256", "imagePullPolicy", "imagePullSecret", "pluginConfig",
             "pluginName", "phase", "priority", "failStrategy", "vmConfig", "match", "type"}
    unknown = set(spec) - known
    if unknown:
        raise Invalid(f"istio-wasmplugin.yaml: unknown spec fields {sorted(unknown)}")
    if spec.get("phase") != "AUTHZ":
        raise Invalid("istio-wasmplugin.yaml: phase must be AUTHZ")
    if spec.get("failStrategy") != "FAIL_CLOSE":
        raise Invalid("istio-wasmplugin.yaml: failStrategy must be FAIL_CLOSE")
    if not (spec.get("selector") or {}).get("matchLabels"):
        raise Invalid("istio-wasmplugin.yaml: a selector with matchLabels is required")
    if not str(spec.get("url", "")).startswith(("oci://", "file://", "https://")):
        raise Invalid("istio-wasmplugin.yaml: url must be oci://, file:// or https://")
    return spec.get("pluginConfig")


def check_with_core(config, jitgate, filter_wasm=None):
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "config.json"
        req = Path(tmp) / "request.json"
        cfg.write_text(json.dumps(config))
        req.write_text(json.dumps({"method": "GET", "path": "/healthz"}))
        out = subprocess.run([jitgate, "eval", "--config", str(cfg), "--request", str(req), "--now", "2026-11-26T10:30:00Z"],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise Invalid(f"the jitgate core refuses the embedded configuration: {out.stderr.strip()}")
        decision = json.loads(out.stdout)
        if decision.get("allow") is not True:
            raise Invalid(f"the embedded policy should allow GET /healthz, got {decision.get('reason')}")
        if filter_wasm:
            # The same configuration loaded by the filter, as Envoy would load it.
            out = subprocess.run([jitgate, "run", "--filter", filter_wasm, "--config", str(cfg), "--request", str(req),
                                  "--now", "2026-11-26T10:30:00Z"], capture_output=True, text=True)
            if out.returncode != 0:
                raise Invalid(f"the filter refuses the embedded configuration: {out.stderr.strip()}")
            if json.loads(out.stdout).get("action") != "forwarded":
                raise Invalid(f"the filter should forward GET /healthz: {out.stdout}")


def validate(envoy_text, istio_text, jitgate=None, filter_wasm=None):
    envoy_config = check_envoy(envoy_text)
    istio_config = check_istio(istio_text)
    if istio_config != envoy_config:
        raise Invalid("envoy.yaml and istio-wasmplugin.yaml carry different jitgate configurations")
    if jitgate:
        check_with_core(envoy_config, jitgate, filter_wasm)


def self_test(envoy_text, istio_text):
    broken = [
        ("misspelled Envoy field", envoy_text.replace("failure_policy:", "failure_polcy:", 1), istio_text),
        ("wasm filter hidden behind an unknown @type",
         envoy_text.replace("envoy.extensions.filters.http.wasm.v3.Wasm", "envoy.extensions.filters.http.wasm.v3.Wsam", 1),
         istio_text),
        ("fail open", envoy_text.replace("FAIL_CLOSED", "FAIL_OPEN", 1), istio_text),
        ("configuration not JSON", envoy_text.replace('"issuers": [', '"issuers": [[', 1), istio_text),
        ("Istio fail open", envoy_text, istio_text.replace("FAIL_CLOSE", "FAIL_OPEN", 1)),
        ("Istio misspelled spec field", envoy_text, istio_text.replace("failStrategy:", "failStrategi:", 1)),
    ]
    for name, envoy_broken, istio_broken in broken:
        if envoy_broken == envoy_text and istio_broken == istio_text:
            raise SystemExit(f"self-test: `{name}` did not change the files")
        try:
            validate(envoy_broken, istio_broken)
        except Invalid as e:
            print(f"self-test: {name}: rejected as it should be ({str(e).splitlines()[0][:100]})")
            continue
        raise SystemExit(f"self-test: {name}: the broken file was ACCEPTED")


def main():
    args = sys.argv[1:]
    jitgate = None
    filter_wasm = None
    if "--filter" in args:
        filter_wasm = str(Path(args[args.index("--filter") + 1]).resolve())
    if "--jitgate" in args:
        jitgate = str(Path(args[args.index("--jitgate") + 1]).resolve())
    envoy_text = (DEPLOY / "envoy.yaml").read_text()
    istio_text = (DEPLOY / "istio-wasmplugin.yaml").read_text()
    try:
        validate(envoy_text, istio_text, jitgate, filter_wasm)
    except Invalid as e:
        raise SystemExit(f"validate: {e}")
    print("validate: envoy.yaml is a valid Envoy Bootstrap; istio-wasmplugin.yaml has the expected shape"
          + ("; the jitgate core compiles their configuration" if jitgate else "")
          + ("; the filter loads it and forwards GET /healthz" if filter_wasm else ""))
    if "--self-test" in args:
        self_test(envoy_text, istio_text)


if __name__ == "__main__":
    main()
