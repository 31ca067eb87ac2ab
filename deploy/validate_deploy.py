#!/usr/bin/env python3
"""Validates the deployment files (run through deploy/validate.sh, which sets up the venv).

1. The generated files are up to date with their sources (render.py --check).
2. deploy/envoy.yaml parses strictly into Envoy's own v3 API,
   envoy.config.bootstrap.v3.Bootstrap (the xds-protos package: Envoy's data-plane-api
   compiled for Python). Unknown fields, wrong types and unknown enum values fail;
   every typed_config `Any` is resolved and parsed as its real message (the modules of
   the HTTP connection manager, the Wasm filter, the router and the wrappers are
   imported so their `@type`s resolve). Then what the proto cannot say: the connection
   manager normalises paths (normalize_path, merge_slashes, escaped slashes redirected)
   and rejects header names with underscores; the Wasm filter runs on V8, fails closed
   and reloads a VM that traps (FAIL_RELOAD), loads a local file, sits before the router; its
   `configuration` is a StringValue holding a jitgate configuration (checked against
   DESIGN §6) equal to deploy/jitgate-config.json.
3. deploy/istio-wasmplugin.yaml has the WasmPlugin shape (extensions.istio.io/v1alpha1,
   known spec fields only, phase AUTHZ, failStrategy FAIL_RELOAD, a url with a known
   scheme, a selector) and its pluginConfig is the same jitgate configuration.
4. If JITGATE_BIN names the `jitgate` command, the configuration is also compiled by
   the native core (`jitgate eval`, exit 2 on a configuration error).
   (filter/tests/deploy_config.rs compiles it with the core on every `cargo test`.)

usage: validate_deploy.py            validate; exit 1 with the problems listed
       validate_deploy.py --self-test   break the files on purpose (a misspelled field, a wrong
                                 @type, FAIL_OPEN, a bad jitgate field, ...) and check
                                 that every break is caught; exit 1 if one is not
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from google.protobuf import json_format

# Imported for their side effect: they register the message types the `Any`s name.
from envoy.config.bootstrap.v3 import bootstrap_pb2
from envoy.extensions.access_loggers.stream.v3 import stream_pb2  # noqa: F401  (the stdout access log)
from envoy.extensions.filters.http.router.v3 import router_pb2  # noqa: F401
from envoy.extensions.filters.http.wasm.v3 import wasm_pb2 as http_wasm_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.extensions.wasm.v3 import wasm_pb2
from envoy.config.core.v3 import protocol_pb2
from google.protobuf import wrappers_pb2

sys.path.append(str(Path(__file__).resolve().parent))
import render  # noqa: E402

ROOT = render.ROOT
WASM_FILTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
HCM_TYPE = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
)


class Invalid(Exception):
    """A validation failure; the message says where and what."""


# --- the jitgate configuration (DESIGN §6) ---------------------------------------------

TOP_LEVEL = {"issuers", "resource", "token", "identity", "policy", "revoked", "mode"}
ISSUER_KEYS = {"issuer", "audience", "jwks", "max_ttl_s", "leeway_s"}
TOKEN_KEYS = {"header", "prefix", "forward"}
POLICY_KEYS = {"modules", "data", "entrypoint", "rego_v0"}


def check_jitgate_config(cfg, where: str) -> None:
    """Structural check of a jitgate configuration; the native core checks the rest."""

    def fail(field: str, message: str):
        raise Invalid(f"{where}: configuration field `{field}`: {message}")

    def is_int(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) or (isinstance(v, float) and v.is_integer())

    def object_of(value, at: str, allowed, not_object: str = "must be an object") -> None:
        """`value` is an object whose members are all in `allowed`."""
        if not isinstance(value, dict):
            fail(at, not_object)
        for key in value:
            if key not in allowed:
                fail(key if at == "." else f"{at}.{key}", "unknown field")

    object_of(cfg, ".", TOP_LEVEL)
    issuers = cfg.get("issuers")
    if not isinstance(issuers, list) or not issuers:
        fail("issuers", "at least one issuer is required")
    for i, issuer in enumerate(issuers):
        at = f"issuers[{i}]"
        object_of(issuer, at, ISSUER_KEYS)
        for key in ("issuer", "audience"):
            if not isinstance(issuer.get(key), str) or not issuer[key]:
                fail(f"{at}.{key}", "must be a non-empty string")
        keys = issuer.get("jwks", {}).get("keys") if isinstance(issuer.get("jwks"), dict) else None
        if not isinstance(keys, list) or not keys:
            fail(f"{at}.jwks.keys", "must be a non-empty array of JWKs")
        for j, key in enumerate(keys):
            if not isinstance(key, dict) or not isinstance(key.get("kid"), str) or "d" in key:
                fail(f"{at}.jwks.keys[{j}]", "must be a public JWK with a `kid` (no private `d`)")
        if "leeway_s" in issuer and (not is_int(issuer["leeway_s"]) or not 0 <= issuer["leeway_s"] <= 300):
            fail(f"{at}.leeway_s", "must be an integer from 0 to 300")
        if "max_ttl_s" in issuer and (not is_int(issuer["max_ttl_s"]) or issuer["max_ttl_s"] <= 0):
            fail(f"{at}.max_ttl_s", "must be a positive integer")
    object_of(cfg.get("token", {}), "token", TOKEN_KEYS)
    identity = cfg.get("identity")
    if identity is not None and identity not in ({"source": "peer_principal"},) and not (
        isinstance(identity, dict) and set(identity) == {"header"} and isinstance(identity["header"], str)
    ):
        fail("identity", 'must be {"header": NAME} or {"source": "peer_principal"}')
    policy = cfg.get("policy")
    object_of(policy, "policy", POLICY_KEYS, not_object="is required")
    modules = policy.get("modules")
    if not isinstance(modules, dict) or not modules or not all(isinstance(v, str) for v in modules.values()):
        fail("policy.modules", "must map module names to Rego text")
    if "entrypoint" in policy and not str(policy["entrypoint"]).startswith("data."):
        fail("policy.entrypoint", "must start with `data.`")
    if cfg.get("mode", "enforce") not in ("enforce", "dry_run"):
        fail("mode", "must be `enforce` or `dry_run`")
    revoked = cfg.get("revoked", [])
    if not isinstance(revoked, list) or not all(isinstance(r, str) for r in revoked):
        fail("revoked", "must be an array of strings")


# --- envoy.yaml ----------------------------------------------------------------------


def check_hcm_hygiene(hcm, where: str) -> None:
    """The settings that make jitgate, the routes and the upstream read the same request
    (deploy/README.md, \"Path and header hygiene\")."""
    if not hcm.normalize_path.value:
        raise Invalid(f"{where}: normalize_path must be true")
    if not hcm.merge_slashes:
        raise Invalid(f"{where}: merge_slashes must be true")
    action = hcm.path_with_escaped_slashes_action
    if action not in (hcm_pb2.HttpConnectionManager.UNESCAPE_AND_REDIRECT, hcm_pb2.HttpConnectionManager.REJECT_REQUEST):
        raise Invalid(f"{where}: path_with_escaped_slashes_action must be UNESCAPE_AND_REDIRECT or REJECT_REQUEST")
    if hcm.common_http_protocol_options.headers_with_underscores_action != protocol_pb2.HttpProtocolOptions.REJECT_REQUEST:
        raise Invalid(f"{where}: common_http_protocol_options.headers_with_underscores_action must be REJECT_REQUEST")


def check_envoy(doc, expected_config: dict) -> None:
    if not isinstance(doc, dict):
        raise Invalid("envoy.yaml: not a YAML mapping")
    bootstrap = bootstrap_pb2.Bootstrap()
    try:
        # Strict: unknown fields are errors; Any values are parsed as their @type.
        json_format.ParseDict(doc, bootstrap, ignore_unknown_fields=False)
    except json_format.ParseError as e:
        raise Invalid(f"envoy.yaml: not a valid envoy.config.bootstrap.v3.Bootstrap: {e}") from e

    wasm_filters = []
    clusters = {c.name for c in bootstrap.static_resources.clusters}
    for listener in bootstrap.static_resources.listeners:
        for chain in listener.filter_chains:
            for network_filter in chain.filters:
                if network_filter.typed_config.type_url != HCM_TYPE:
                    continue
                hcm = hcm_pb2.HttpConnectionManager()
                network_filter.typed_config.Unpack(hcm)
                check_hcm_hygiene(hcm, f"envoy.yaml: listener `{listener.name}`")
                names = [f.typed_config.type_url for f in hcm.http_filters]
                for index, http_filter in enumerate(hcm.http_filters):
                    if http_filter.typed_config.type_url != WASM_FILTER_TYPE:
                        continue
                    later = names[index + 1:]
                    if not later or not later[-1].endswith("envoy.extensions.filters.http.router.v3.Router"):
                        raise Invalid(f"envoy.yaml: http filter `{http_filter.name}` must come before the router, which must be last")
                    wasm = http_wasm_pb2.Wasm()
                    http_filter.typed_config.Unpack(wasm)
                    wasm_filters.append((listener.name, http_filter.name, wasm))
                for vhost in hcm.route_config.virtual_hosts:
                    for route in vhost.routes:
                        if route.route.cluster and route.route.cluster not in clusters:
                            raise Invalid(f"envoy.yaml: route to unknown cluster `{route.route.cluster}`")
    if not wasm_filters:
        raise Invalid("envoy.yaml: no envoy.filters.http.wasm filter (" + WASM_FILTER_TYPE + ")")
    for listener, name, wasm in wasm_filters:
        where = f"envoy.yaml: listener `{listener}`, filter `{name}`"
        plugin = wasm.config
        if plugin.vm_config.runtime != "envoy.wasm.runtime.v8":
            raise Invalid(f"{where}: vm_config.runtime must be envoy.wasm.runtime.v8, not `{plugin.vm_config.runtime}`")
        if plugin.failure_policy != wasm_pb2.FAIL_RELOAD or plugin.fail_open:
            raise Invalid(f"{where}: failure_policy must be FAIL_RELOAD (and fail_open unset)")
        backoff = plugin.reload_config.backoff
        if not plugin.HasField("reload_config") or not backoff.HasField("base_interval") \
                or backoff.base_interval.ToMilliseconds() > 1000 or backoff.max_interval.ToMilliseconds() > 10000:
            raise Invalid(f"{where}: reload_config.backoff must set base_interval (at most 1s; requests on a worker "
                          "whose VM trapped are answered 503 until it is reloaded) and max_interval at most 10s")
        if not plugin.vm_config.code.local.filename:
            raise Invalid(f"{where}: vm_config.code.local.filename is required")
        if not plugin.configuration.Is(wrappers_pb2.StringValue.DESCRIPTOR):
            raise Invalid(f"{where}: configuration must be a google.protobuf.StringValue")
        value = wrappers_pb2.StringValue()
        plugin.configuration.Unpack(value)
        try:
            cfg = json.loads(value.value)
        except json.JSONDecodeError as e:
            raise Invalid(f"{where}: configuration is not JSON: {e}") from e
        check_jitgate_config(cfg, where)
        if cfg != expected_config:
            raise Invalid(f"{where}: configuration differs from deploy/jitgate-config.json (run deploy/render.py)")


# --- istio-wasmplugin.yaml -----------------------------------------------------------

# istio.extensions.v1alpha1.WasmPlugin spec fields (extensions/v1alpha1/wasm.proto).
WASMPLUGIN_SPEC = {
    "selector", "targetRef", "targetRefs", "url", "sha256", "imagePullPolicy", "imagePullSecret",
    "verificationKey", "pluginConfig", "pluginName", "phase", "priority", "failStrategy",
    "vmConfig", "match", "type",
}
PHASES = {"UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"}
FAIL_STRATEGIES = {"FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"}
PULL_POLICIES = {"UNSPECIFIED_POLICY", "IfNotPresent", "Always"}
PLUGIN_TYPES = {"UNSPECIFIED_PLUGIN_TYPE", "HTTP", "NETWORK"}
MODES = {"UNDEFINED", "CLIENT", "SERVER", "CLIENT_AND_SERVER"}


def check_istio(doc, expected_config: dict) -> None:
    where = "istio-wasmplugin.yaml"
    if not isinstance(doc, dict):
        raise Invalid(f"{where}: not a YAML mapping")
    for key in doc:
        if key not in {"apiVersion", "kind", "metadata", "spec"}:
            raise Invalid(f"{where}: unknown top-level field `{key}`")
    if doc.get("apiVersion") != "extensions.istio.io/v1alpha1" or doc.get("kind") != "WasmPlugin":
        raise Invalid(f"{where}: must be apiVersion extensions.istio.io/v1alpha1, kind WasmPlugin")
    if not isinstance(doc.get("metadata"), dict) or not doc["metadata"].get("name"):
        raise Invalid(f"{where}: metadata.name is required")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise Invalid(f"{where}: spec is required")
    for key in spec:
        if key not in WASMPLUGIN_SPEC:
            raise Invalid(f"{where}: unknown field `spec.{key}`")
    url = spec.get("url")
    if not isinstance(url, str) or not url or ("://" in url and url.split("://")[0] not in {"oci", "file", "http", "https"}):
        raise Invalid(f"{where}: spec.url must be an oci://, file:// or http(s):// URL")
    if spec.get("phase") != "AUTHZ":
        raise Invalid(f"{where}: spec.phase must be AUTHZ (after authentication, before authorization)")
    if spec.get("failStrategy") != "FAIL_RELOAD":
        raise Invalid(f"{where}: spec.failStrategy must be FAIL_RELOAD")
    if spec.get("imagePullPolicy", "IfNotPresent") not in PULL_POLICIES:
        raise Invalid(f"{where}: spec.imagePullPolicy is not one of {sorted(PULL_POLICIES)}")
    if spec.get("type", "HTTP") not in PLUGIN_TYPES - {"NETWORK"}:
        raise Invalid(f"{where}: spec.type must be HTTP")
    if "sha256" in spec and not (isinstance(spec["sha256"], str) and len(spec["sha256"]) == 64):
        raise Invalid(f"{where}: spec.sha256 must be 64 hex digits")
    selector = spec.get("selector")
    if not (isinstance(selector, dict) and set(selector) == {"matchLabels"} and selector["matchLabels"]) and not spec.get("targetRefs"):
        raise Invalid(f"{where}: spec.selector.matchLabels (or spec.targetRefs) is required: a WasmPlugin without one applies to every workload in the namespace")
    for i, m in enumerate(spec.get("match", [])):
        if not isinstance(m, dict) or not set(m) <= {"mode", "ports"} or m.get("mode", "CLIENT_AND_SERVER") not in MODES:
            raise Invalid(f"{where}: spec.match[{i}] must have only `mode` ({sorted(MODES)}) and `ports`")
    check_jitgate_config(spec.get("pluginConfig"), f"{where}: spec.pluginConfig")
    if spec["pluginConfig"] != expected_config:
        raise Invalid(f"{where}: spec.pluginConfig differs from deploy/jitgate-config.json (run deploy/render.py)")


# --- the native core (optional) --------------------------------------------------------


def check_with_core(config_text: str) -> None:
    binary = os.environ.get("JITGATE_BIN")
    if not binary:
        return
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "config.json"
        req = Path(tmp) / "request.json"
        cfg.write_text(config_text, encoding="utf-8")
        req.write_text(json.dumps({"method": "GET", "path": "/healthz"}), encoding="utf-8")
        run = subprocess.run(
            [binary, "eval", "--config", str(cfg), "--request", str(req), "--now", "2026-11-26T10:00:00Z"],
            capture_output=True, text=True, check=False,
        )
        if run.returncode != 0:
            raise Invalid(f"jitgate eval rejected the configuration (exit {run.returncode}): {run.stderr.strip()}")


# --- driver ------------------------------------------------------------------------------


def load_all():
    envoy_text = render.OUT_ENVOY.read_text(encoding="utf-8")
    istio_text = render.OUT_ISTIO.read_text(encoding="utf-8")
    config_text = render.OUT_CONFIG.read_text(encoding="utf-8")
    return envoy_text, istio_text, config_text


def validate(envoy_text: str, istio_text: str, config_text: str) -> None:
    expected = json.loads(config_text)
    check_jitgate_config(expected, "jitgate-config.json")
    check_envoy(yaml.safe_load(envoy_text), expected)
    check_istio(yaml.safe_load(istio_text), expected)


def self_test() -> int:
    envoy_text, istio_text, config_text = load_all()
    validate(envoy_text, istio_text, config_text)  # the real files pass

    envoy = yaml.safe_load(envoy_text)
    istio = yaml.safe_load(istio_text)
    hcm = envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    wasm_index = next(i for i, f in enumerate(hcm["http_filters"]) if f["typed_config"]["@type"] == WASM_FILTER_TYPE)

    def hcm_of(doc):
        return doc["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]

    def wasm_config(doc):
        return doc["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"][wasm_index]["typed_config"]["config"]

    def envoy_break(change):
        doc = copy.deepcopy(envoy)
        change(doc)
        return lambda: check_envoy(doc, json.loads(config_text))

    def istio_break(change):
        doc = copy.deepcopy(istio)
        change(doc)
        return lambda: check_istio(doc, json.loads(config_text))

    def jitgate_break(change):
        def run(doc):
            cfg = json.loads(wasm_config(doc)["configuration"]["value"])
            change(cfg)
            wasm_config(doc)["configuration"]["value"] = json.dumps(cfg)
        return envoy_break(run)

    def rename(mapping, old, new):
        mapping[new] = mapping.pop(old)

    cases = {
        # Text-level: the misspelling a human would make in the file itself.
        "envoy: `failure_polcy` (misspelled, in the text)": lambda: check_envoy(
            yaml.safe_load(envoy_text.replace("failure_policy:", "failure_polcy:", 1)), json.loads(config_text)),
        "envoy: `vm_confg` (misspelled)": envoy_break(lambda d: rename(wasm_config(d), "vm_config", "vm_confg")),
        "envoy: unknown field in the connection manager": envoy_break(lambda d: d["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"].update(stat_prefx="x")),
        "envoy: wrong Wasm @type": envoy_break(lambda d: d["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"][wasm_index]["typed_config"].update({"@type": WASM_FILTER_TYPE + "Filter"})),
        "envoy: unknown enum value": envoy_break(lambda d: wasm_config(d).update(failure_policy="FAIL_CLOSE")),
        "envoy: FAIL_OPEN": envoy_break(lambda d: wasm_config(d).update(failure_policy="FAIL_OPEN")),
        "envoy: fail_open": envoy_break(lambda d: wasm_config(d).update(fail_open=True)),
        "envoy: FAIL_CLOSED (a trap would cost the worker)": envoy_break(lambda d: wasm_config(d).update(failure_policy="FAIL_CLOSED")),
        "envoy: no reload backoff": envoy_break(lambda d: wasm_config(d).pop("reload_config")),
        "envoy: reload backoff of a minute": envoy_break(lambda d: wasm_config(d)["reload_config"]["backoff"].update(base_interval="60s", max_interval="60s")),
        "envoy: normalize_path off": envoy_break(lambda d: hcm_of(d).update(normalize_path=False)),
        "envoy: merge_slashes unset": envoy_break(lambda d: hcm_of(d).pop("merge_slashes")),
        "envoy: escaped slashes kept": envoy_break(lambda d: hcm_of(d).update(path_with_escaped_slashes_action="KEEP_UNCHANGED")),
        "envoy: underscores allowed": envoy_break(lambda d: hcm_of(d)["common_http_protocol_options"].update(headers_with_underscores_action="ALLOW")),
        "envoy: another runtime": envoy_break(lambda d: wasm_config(d)["vm_config"].update(runtime="envoy.wasm.runtime.null")),
        "envoy: port as a string that is not a number": envoy_break(lambda d: d["admin"]["address"]["socket_address"].update(port_value="http")),
        "envoy: router before the filter": envoy_break(lambda d: d["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"].reverse()),
        "envoy: configuration as bytes, not StringValue": envoy_break(lambda d: wasm_config(d).update(configuration={"@type": "type.googleapis.com/google.protobuf.BytesValue", "value": "e30="})),
        "envoy: configuration not JSON": envoy_break(lambda d: wasm_config(d)["configuration"].update(value="issuers: []")),
        "envoy: route to a missing cluster": envoy_break(lambda d: d["static_resources"]["clusters"][0].update(name="other")),
        "jitgate: unknown field `polcy`": jitgate_break(lambda c: rename(c, "policy", "polcy")),
        "jitgate: no issuers": jitgate_break(lambda c: c.update(issuers=[])),
        "jitgate: leeway over 300": jitgate_break(lambda c: c["issuers"][0].update(leeway_s=301)),
        "jitgate: private key in jwks": jitgate_break(lambda c: c["issuers"][0]["jwks"]["keys"][0].update(d="AAAA")),
        "jitgate: bad mode": jitgate_break(lambda c: c.update(mode="permissive")),
        "jitgate: differs from the rendered configuration": jitgate_break(lambda c: c.update(resource="other")),
        "istio: `phse` (misspelled)": istio_break(lambda d: rename(d["spec"], "phase", "phse")),
        "istio: FAIL_OPEN": istio_break(lambda d: d["spec"].update(failStrategy="FAIL_OPEN")),
        "istio: FAIL_CLOSE": istio_break(lambda d: d["spec"].update(failStrategy="FAIL_CLOSE")),
        "istio: wrong apiVersion": istio_break(lambda d: d.update(apiVersion="extensions.istio.io/v1beta9")),
        "istio: no url": istio_break(lambda d: d["spec"].pop("url")),
        "istio: ftp url": istio_break(lambda d: d["spec"].update(url="ftp://x/jitgate.wasm")),
        "istio: no selector": istio_break(lambda d: d["spec"].pop("selector")),
        "istio: pluginConfig without issuers": istio_break(lambda d: d["spec"]["pluginConfig"].pop("issuers")),
        "istio: pluginConfig unknown field": istio_break(lambda d: d["spec"]["pluginConfig"].update(polcy={})),
    }
    # What each break must be caught for (so a case cannot pass for the wrong reason).
    because = {
        "envoy: `failure_polcy` (misspelled, in the text)": 'has no field named "failure_polcy"',
        "envoy: `vm_confg` (misspelled)": 'has no field named "vm_confg"',
        "envoy: unknown field in the connection manager": 'has no field named "stat_prefx"',
        "envoy: wrong Wasm @type": "WasmFilter",
        "envoy: unknown enum value": "FAIL_CLOSE",
        "envoy: FAIL_OPEN": "failure_policy must be FAIL_RELOAD",
        "envoy: fail_open": "failure_policy must be FAIL_RELOAD",
        "envoy: FAIL_CLOSED (a trap would cost the worker)": "failure_policy must be FAIL_RELOAD",
        "envoy: no reload backoff": "reload_config.backoff must set base_interval",
        "envoy: reload backoff of a minute": "reload_config.backoff must set base_interval",
        "envoy: normalize_path off": "normalize_path must be true",
        "envoy: merge_slashes unset": "merge_slashes must be true",
        "envoy: escaped slashes kept": "path_with_escaped_slashes_action",
        "envoy: underscores allowed": "headers_with_underscores_action must be REJECT_REQUEST",
        "envoy: another runtime": "runtime must be envoy.wasm.runtime.v8",
        "envoy: port as a string that is not a number": "port_value",
        "envoy: router before the filter": "must come before the router",
        "envoy: configuration as bytes, not StringValue": "must be a google.protobuf.StringValue",
        "envoy: configuration not JSON": "configuration is not JSON",
        "envoy: route to a missing cluster": "unknown cluster",
        "jitgate: unknown field `polcy`": "`polcy`: unknown field",
        "jitgate: no issuers": "`issuers`: at least one issuer",
        "jitgate: leeway over 300": "`issuers[0].leeway_s`",
        "jitgate: private key in jwks": "no private `d`",
        "jitgate: bad mode": "`mode`",
        "jitgate: differs from the rendered configuration": "differs from deploy/jitgate-config.json",
        "istio: `phse` (misspelled)": "unknown field `spec.phse`",
        "istio: FAIL_OPEN": "failStrategy must be FAIL_RELOAD",
        "istio: FAIL_CLOSE": "failStrategy must be FAIL_RELOAD",
        "istio: wrong apiVersion": "apiVersion",
        "istio: no url": "spec.url",
        "istio: ftp url": "spec.url",
        "istio: no selector": "spec.selector",
        "istio: pluginConfig without issuers": "`issuers`",
        "istio: pluginConfig unknown field": "`polcy`",
    }
    missed = []
    for name, check in cases.items():
        try:
            check()
        except Invalid as e:
            message = " ".join(str(e).split())
            if because[name] not in message:
                print(f"WRONG   {name}: caught, but not for `{because[name]}`: {message}")
                missed.append(name)
            else:
                print(f"caught  {name}: {message[:400]}")
        else:
            print(f"MISSED  {name}")
            missed.append(name)
    print(f"{len(cases) - len(missed)} of {len(cases)} broken files caught")
    return 1 if missed else 0


def main(argv: list[str]) -> int:
    if argv[1:] == ["--self-test"]:
        return self_test()
    if argv[1:]:
        print(f"validate_deploy.py: unknown arguments: {' '.join(argv[1:])}", file=sys.stderr)
        return 2
    if render.main(["render.py", "--check"]) != 0:
        return 1
    envoy_text, istio_text, config_text = load_all()
    try:
        validate(envoy_text, istio_text, config_text)
        check_with_core(config_text)
    except Invalid as e:
        print(f"validate_deploy.py: {e}", file=sys.stderr)
        return 1
    core = "and by the native core" if os.environ.get("JITGATE_BIN") else "(set JITGATE_BIN to also compile it with `jitgate eval`)"
    print(f"deploy: envoy.yaml is a valid Bootstrap, the Istio WasmPlugin is well formed, the configuration checks {core}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
