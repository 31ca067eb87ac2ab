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
   DESIGN §6) equal to deploy/plugin-config.json.
3. deploy/istio-wasmplugin.yaml has the WasmPlugin shape (extensions.istio.io/v1alpha1,
   known spec fields only, phase AUTHZ, failStrategy FAIL_RELOAD, a url with a known
   scheme, a selector) and its pluginConfig is the same jitgate configuration.
   deploy/istio-trafficextension.yaml has the Istio 1.30 TrafficExtension shape (spec:
   selector/targetRefs, phase, priority, match and exactly one of wasm/lua; the module's
   fields in spec.wasm; the enums of traffic_extension.proto and its CRD) with the same
   settings, and is the WasmPlugin as istiod translates it (translateWasmPlugin).
4. If JITGATE_BIN names the `jitgate` command, the configuration is also compiled by
   the native core (`jitgate eval`, exit 2 on a configuration error).
   (filter/tests/deploy_config.rs compiles it with the core on every `cargo test`.)
5. With --wasm F.wasm (the filter): its OCI image (deploy/oci_image.py) is built into a
   temporary layout, twice (the digest must not change), and verified; skopeo, when
   installed, must read the layout with the same manifest digest; the two Istio files
   are rendered with that digest pinned (`render.py istio --layout`) and must pass 3
   with `sha256` equal to it and the url naming the layout's tag.

usage: validate_deploy.py [--wasm F.wasm]
                          validate; exit 1 with the problems listed
       validate_deploy.py --self-test [--wasm F.wasm]
                          break the files on purpose (a misspelled field, a wrong @type,
                          FAIL_OPEN, a bad jitgate field, a TrafficExtension field in
                          WasmPlugin's place, ...; with the filter also broken images
                          and wrong pinned digests) and check that every break is
                          caught, for the expected reason; exit 1 if one is not
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import os
import re
import shutil
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
import oci_image  # noqa: E402
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
            raise Invalid(f"{where}: configuration differs from deploy/plugin-config.json (run deploy/render.py)")


# --- istio-wasmplugin.yaml, istio-trafficextension.yaml ------------------------------

# istio.extensions.v1alpha1.WasmPlugin spec fields (extensions/v1alpha1/wasm.proto).
WASMPLUGIN_SPEC = {
    "selector", "targetRef", "targetRefs", "url", "sha256", "imagePullPolicy", "imagePullSecret",
    "verificationKey", "pluginConfig", "pluginName", "phase", "priority", "failStrategy",
    "vmConfig", "match", "type",
}
# istio.extensions.v1alpha1.TrafficExtension (Istio 1.30, extensions/v1alpha1/
# traffic_extension.proto and its CRD): the spec, and its `wasm` (WasmConfig).
TRAFFIC_EXTENSION_SPEC = {"selector", "targetRefs", "phase", "priority", "match", "wasm", "lua"}
WASM_CONFIG = {
    "url", "sha256", "imagePullPolicy", "imagePullSecret", "verificationKey", "pluginConfig",
    "pluginName", "failStrategy", "vmConfig", "type",
}
PHASES = {"UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"}  # WasmPlugin's PluginPhase
EXECUTION_PHASES = {"UNSPECIFIED", "AUTHN", "AUTHZ", "STATS"}  # TrafficExtension.ExecutionPhase
FAIL_STRATEGIES = {"FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"}
PULL_POLICIES = {"UNSPECIFIED_POLICY", "IfNotPresent", "Always"}
PLUGIN_TYPES = {"UNSPECIFIED_PLUGIN_TYPE", "HTTP", "NETWORK"}
MODES = {"UNDEFINED", "CLIENT", "SERVER", "CLIENT_AND_SERVER"}
SHA256_HEX = re.compile(r"[a-f0-9]{64}")  # the CRDs' pattern for `sha256`


def check_resource(doc, where: str, kind: str) -> dict:
    """apiVersion, kind, metadata.name of an Istio resource; returns its spec."""
    if not isinstance(doc, dict):
        raise Invalid(f"{where}: not a YAML mapping")
    for key in doc:
        if key not in {"apiVersion", "kind", "metadata", "spec"}:
            raise Invalid(f"{where}: unknown top-level field `{key}`")
    if doc.get("apiVersion") != "extensions.istio.io/v1alpha1" or doc.get("kind") != kind:
        raise Invalid(f"{where}: must be apiVersion extensions.istio.io/v1alpha1, kind {kind}")
    if not isinstance(doc.get("metadata"), dict) or not doc["metadata"].get("name"):
        raise Invalid(f"{where}: metadata.name is required")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise Invalid(f"{where}: spec is required")
    return spec


def check_placement(spec: dict, where: str, kind: str) -> None:
    """selector (or targetRefs) and match, the same in both kinds."""
    selector = spec.get("selector")
    if not (isinstance(selector, dict) and set(selector) == {"matchLabels"} and selector["matchLabels"]) and not spec.get("targetRefs"):
        raise Invalid(f"{where}: spec.selector.matchLabels (or spec.targetRefs) is required: a {kind} without one applies to every workload in the namespace")
    for i, m in enumerate(spec.get("match", [])):
        if not isinstance(m, dict) or not set(m) <= {"mode", "ports"} or m.get("mode", "CLIENT_AND_SERVER") not in MODES:
            raise Invalid(f"{where}: spec.match[{i}] must have only `mode` ({sorted(MODES)}) and `ports`")


def check_wasm_fields(fields: dict, at: str, where: str, expected_config: dict, pinned: str | None) -> None:
    """The members a WasmPlugin's spec and a TrafficExtension's spec.wasm share. `pinned`:
    the manifest digest (hex) of the filter's OCI image, which `sha256` must be."""
    url = fields.get("url")
    if not isinstance(url, str) or not url or ("://" in url and url.split("://")[0] not in {"oci", "file", "http", "https"}):
        raise Invalid(f"{where}: {at}.url must be an oci://, file:// or http(s):// URL")
    if fields.get("failStrategy") != "FAIL_RELOAD":
        raise Invalid(f"{where}: {at}.failStrategy must be FAIL_RELOAD")
    if fields.get("imagePullPolicy", "IfNotPresent") not in PULL_POLICIES:
        raise Invalid(f"{where}: {at}.imagePullPolicy is not one of {sorted(PULL_POLICIES)}")
    if fields.get("type", "HTTP") not in PLUGIN_TYPES - {"NETWORK"}:
        raise Invalid(f"{where}: {at}.type must be HTTP")
    sha256 = fields.get("sha256")
    if sha256 is not None and not (isinstance(sha256, str) and SHA256_HEX.fullmatch(sha256)):
        raise Invalid(f"{where}: {at}.sha256 must be 64 lowercase hex digits, without `sha256:` (Istio's pattern ^[a-f0-9]{{64}}$)")
    if "@sha256:" in url and sha256 and url.rsplit("@sha256:", 1)[1] != sha256:
        raise Invalid(f"{where}: {at}.url names digest {url.rsplit('@', 1)[1]} but {at}.sha256 is {sha256}")
    if pinned is not None:
        if url != render.OCI_IMAGE:
            raise Invalid(f"{where}: {at}.url must be {render.OCI_IMAGE}, the image whose digest is pinned, not {url}")
        if sha256 != pinned:
            raise Invalid(f"{where}: {at}.sha256 is {sha256!r}, but the image's manifest digest is {pinned}")
    check_jitgate_config(fields.get("pluginConfig"), f"{where}: {at}.pluginConfig")
    if fields["pluginConfig"] != expected_config:
        raise Invalid(f"{where}: {at}.pluginConfig differs from deploy/plugin-config.json (run deploy/render.py)")


def check_istio(doc, expected_config: dict, pinned: str | None = None, where: str = "istio-wasmplugin.yaml") -> None:
    spec = check_resource(doc, where, "WasmPlugin")
    for key in spec:
        if key not in WASMPLUGIN_SPEC:
            raise Invalid(f"{where}: unknown field `spec.{key}`")
    if spec.get("phase") != "AUTHZ":
        raise Invalid(f"{where}: spec.phase must be AUTHZ (after authentication, before authorization)")
    check_placement(spec, where, "WasmPlugin")
    check_wasm_fields(spec, "spec", where, expected_config, pinned)


def check_traffic_extension(doc, expected_config: dict, pinned: str | None = None,
                            where: str = "istio-trafficextension.yaml") -> None:
    spec = check_resource(doc, where, "TrafficExtension")
    for key in spec:
        if key not in TRAFFIC_EXTENSION_SPEC:
            hint = " (in a TrafficExtension it belongs in spec.wasm)" if key in WASM_CONFIG else ""
            raise Invalid(f"{where}: unknown field `spec.{key}`{hint}")
    if "lua" in spec or not isinstance(spec.get("wasm"), dict):
        raise Invalid(f"{where}: exactly one of spec.wasm or spec.lua must be set, and jitgate is spec.wasm")
    wasm = spec["wasm"]
    for key in wasm:
        if key not in WASM_CONFIG:
            hint = " (in a TrafficExtension it belongs in spec)" if key in TRAFFIC_EXTENSION_SPEC else ""
            raise Invalid(f"{where}: unknown field `spec.wasm.{key}`{hint}")
    if "selector" in spec and "targetRefs" in spec:
        raise Invalid(f"{where}: only one of spec.selector or spec.targetRefs can be set")
    phase = spec.get("phase")
    if phase not in EXECUTION_PHASES:
        raise Invalid(f"{where}: spec.phase `{phase}` is not one of {sorted(EXECUTION_PHASES)} (UNSPECIFIED_PHASE is WasmPlugin's)")
    if phase != "AUTHZ":
        raise Invalid(f"{where}: spec.phase must be AUTHZ (after authentication, before authorization)")
    priority = spec.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or not -2**31 <= priority < 2**31:
        raise Invalid(f"{where}: spec.priority must be a 32-bit integer")
    check_placement(spec, where, "TrafficExtension")
    check_wasm_fields(wasm, "spec.wasm", where, expected_config, pinned)


def as_traffic_extension(wasmplugin_spec: dict) -> dict:
    """What istiod 1.30 makes of a WasmPlugin (translateWasmPlugin in
    pilot/pkg/config/kube/extensions/translate.go), as a TrafficExtension's spec: the
    placement stays, the module's fields move into `wasm` (verificationKey is dropped)."""
    wp = wasmplugin_spec
    te = {key: wp[key] for key in ("selector", "priority", "match") if key in wp}
    refs = wp.get("targetRefs") or ([wp["targetRef"]] if "targetRef" in wp else None)
    if refs:
        te["targetRefs"] = refs
    if "phase" in wp:
        te["phase"] = "UNSPECIFIED" if wp["phase"] == "UNSPECIFIED_PHASE" else wp["phase"]
    te["wasm"] = {key: wp[key] for key in WASM_CONFIG - {"verificationKey"} if key in wp}
    return te


def check_istio_pair(wasmplugin, traffic_extension, where: str = "istio-trafficextension.yaml") -> None:
    """The TrafficExtension is the WasmPlugin as istiod translates it, so either file
    deploys the same filter."""
    expected = as_traffic_extension(wasmplugin["spec"])
    actual = traffic_extension["spec"]
    differ = sorted(f"spec.{k}" for k in set(expected) | set(actual) if k != "wasm" and expected.get(k) != actual.get(k))
    differ += sorted(f"spec.wasm.{k}" for k in set(expected["wasm"]) | set(actual.get("wasm", {}))
                     if expected["wasm"].get(k) != actual.get("wasm", {}).get(k))
    meta = ("name", "namespace")
    if [wasmplugin["metadata"].get(k) for k in meta] != [traffic_extension["metadata"].get(k) for k in meta]:
        differ.insert(0, "metadata.name/namespace")
    if differ:
        raise Invalid(f"{where}: not the WasmPlugin as istiod translates it (translateWasmPlugin): "
                      f"{', '.join(differ)} {'differs' if len(differ) == 1 else 'differ'}")


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


# --- the OCI image and the pinned Istio files (with a filter) ------------------------


def verify_layout(layout: Path, wasm: bytes | None, tag: str | None = None) -> str:
    try:
        return oci_image.verify(layout, wasm, tag)
    except oci_image.Invalid as e:
        raise Invalid(f"OCI image: {e}") from e


def check_skopeo(layout: Path, digest: str) -> bool:
    """A real tool reads the layout: `skopeo inspect` must report the same manifest
    digest and `--raw` give the manifest bytes. False when skopeo is not installed."""
    skopeo = shutil.which("skopeo")
    if not skopeo:
        return False
    ref = f"oci:{layout}:{oci_image.default_tag()}"
    raw = subprocess.run([skopeo, "inspect", "--raw", ref], capture_output=True, check=False)
    info = subprocess.run([skopeo, "inspect", ref], capture_output=True, text=True, check=False)
    if raw.returncode != 0 or info.returncode != 0:
        raise Invalid(f"OCI image: skopeo cannot read {ref}: {(raw.stderr or b'').decode().strip() or info.stderr.strip()}")
    if oci_image.sha256_digest(raw.stdout) != digest or json.loads(info.stdout).get("Digest") != digest:
        raise Invalid(f"OCI image: skopeo reads {ref} as {json.loads(info.stdout).get('Digest')}, not {digest}")
    return True


def check_oci(wasm_path: Path) -> tuple[str, bool]:
    """Builds the image from the filter into a temporary layout (twice: the digest must
    not change), verifies it, renders the Istio files pinned to its digest
    (`render.py istio --layout`, as `make oci-image` does) and validates them. Returns the
    digest and whether skopeo read the layout too."""
    wasm = wasm_path.read_bytes()
    expected = json.loads(render.OUT_CONFIG.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        layout = Path(tmp) / "jitgate-filter"
        oci_image.write(oci_image.compat_image(wasm, oci_image.default_tag()), layout)
        digest = verify_layout(layout, wasm)
        again = oci_image.compat_image(wasm, oci_image.default_tag()).manifest_digest
        if again != digest:
            raise Invalid(f"OCI image: not deterministic: built {digest}, then {again}")
        with contextlib.redirect_stdout(io.StringIO()):
            status = render.main(["render.py", "istio", "--layout", str(layout), "--out-dir", tmp])
        if status != 0:
            raise Invalid(f"render.py istio --layout {layout} failed (exit {status})")
        wasmplugin = yaml.safe_load((Path(tmp) / render.OUT_ISTIO.name).read_text(encoding="utf-8"))
        traffic_extension = yaml.safe_load((Path(tmp) / render.OUT_TRAFFIC_EXTENSION.name).read_text(encoding="utf-8"))
        pinned = digest.removeprefix("sha256:")
        check_istio(wasmplugin, expected, pinned, "pinned istio-wasmplugin.yaml")
        check_traffic_extension(traffic_extension, expected, pinned, "pinned istio-trafficextension.yaml")
        check_istio_pair(wasmplugin, traffic_extension, "pinned istio-trafficextension.yaml")
        skopeo = check_skopeo(layout, digest)
    return digest, skopeo


# --- driver ------------------------------------------------------------------------------


def load_all():
    envoy_text = render.OUT_ENVOY.read_text(encoding="utf-8")
    istio_text = render.OUT_ISTIO.read_text(encoding="utf-8")
    traffic_extension_text = render.OUT_TRAFFIC_EXTENSION.read_text(encoding="utf-8")
    config_text = render.OUT_CONFIG.read_text(encoding="utf-8")
    return envoy_text, istio_text, traffic_extension_text, config_text


def validate(envoy_text: str, istio_text: str, traffic_extension_text: str, config_text: str) -> None:
    expected = json.loads(config_text)
    check_jitgate_config(expected, "plugin-config.json")
    check_envoy(yaml.safe_load(envoy_text), expected)
    wasmplugin, traffic_extension = yaml.safe_load(istio_text), yaml.safe_load(traffic_extension_text)
    check_istio(wasmplugin, expected)
    check_traffic_extension(traffic_extension, expected)
    check_istio_pair(wasmplugin, traffic_extension)


def oci_breaks(wasm_path: Path, wasmplugin, traffic_extension, expected: dict) -> dict:
    """Broken images (each verified against the real filter) and pinned files with the
    wrong digest: name -> (check, the reason it must be caught for)."""
    wasm = wasm_path.read_bytes()
    tag = oci_image.default_tag()
    tar = oci_image.tar_bytes([(oci_image.WASM_FILE, wasm)])
    layer = oci_image.gzip_bytes(tar)
    good = oci_image.compat_image(wasm, tag)
    pinned = good.manifest_digest.removeprefix("sha256:")

    def layout(image, change=None):
        def run():
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "jitgate-filter"
                oci_image.write(image, out)
                if change:
                    change(out)
                verify_layout(out, wasm, tag)
        return run

    def blob_path(out: Path, digest: str) -> Path:
        return out / "blobs" / "sha256" / digest.removeprefix("sha256:")

    def flip(out: Path):
        path = blob_path(out, good.manifest["layers"][0]["digest"])
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 1
        path.write_bytes(bytes(data))

    def resized(image):
        manifest = copy.deepcopy(image.manifest)
        manifest["layers"][0]["size"] += 1
        return oci_image.with_manifest(image, manifest, tag)

    def pinned_break(doc, check, change, where):
        doc = copy.deepcopy(doc)
        change(doc)
        return lambda: check(doc, expected, pinned, where)

    def te_wasm(d):
        return d["spec"]["wasm"]

    def pinned_doc(doc):
        doc = copy.deepcopy(doc)
        (doc["spec"]["wasm"] if doc["kind"] == "TrafficExtension" else doc["spec"])["sha256"] = pinned
        return doc

    wp, te = pinned_doc(wasmplugin), pinned_doc(traffic_extension)
    compat = {"module.wasm.image/variant": "compat"}
    return {
        "oci: a byte of the layer flipped": (layout(good, flip), "not its name"),
        "oci: a blob missing": (layout(good, lambda out: blob_path(out, good.manifest["config"]["digest"]).unlink()), "is missing"),
        "oci: a stray blob": (layout(good, lambda out: blob_path(out, oci_image.sha256_digest(b"x")).write_bytes(b"x")), "does not reference"),
        "oci: the manifest gives the layer another size": (layout(resized(good)), "layers[0] says"),
        "oci: the layer as the oci variant's raw wasm": (layout(oci_image.compose([("application/vnd.module.wasm.content.layer.v1+wasm", wasm, wasm)], tag)),
                                                          "must be application/vnd.oci.image.layer.v1.tar+gzip"),
        "oci: two layers": (layout(oci_image.compose([(oci_image.LAYER_TYPE, layer, tar)] * 2, tag)), "exactly one layer"),
        "oci: the layer a plain tar, not gzip": (layout(oci_image.compose([(oci_image.LAYER_TYPE, tar, tar)], tag)), "is not gzip"),
        "oci: plugin.wasm named jitgate_filter.wasm": (layout(oci_image.compose([(oci_image.LAYER_TYPE, oci_image.gzip_bytes(t), t) for t in [oci_image.tar_bytes([("jitgate_filter.wasm", wasm)])]], tag)),
                                                       "exactly one regular file `plugin.wasm`"),
        "oci: a second file beside plugin.wasm": (layout(oci_image.compose([(oci_image.LAYER_TYPE, oci_image.gzip_bytes(t), t) for t in [oci_image.tar_bytes([(oci_image.WASM_FILE, wasm), ("README", b"x")])]], tag)),
                                                  "exactly one regular file `plugin.wasm`"),
        "oci: plugin.wasm is another module": (layout(oci_image.compat_image(wasm + b"\0", tag)), "differs from the given filter"),
        "oci: no compat annotation": (layout(oci_image.compose([(oci_image.LAYER_TYPE, layer, tar)], tag, annotations={})), "module.wasm.image/variant"),
        "oci: the config's diff_ids name the gzip blob": (layout(oci_image.compose([(oci_image.LAYER_TYPE, layer, tar)], tag, annotations=compat, config={
            "architecture": "wasm", "os": "wasip1", "rootfs": {"type": "layers", "diff_ids": [oci_image.sha256_digest(layer)]}})), "rootfs.diff_ids"),
        "oci: the index tags another version": (layout(oci_image.compat_image(wasm, "0.0.9")), "not the tag '0.1.0'"),
        "pinned: WasmPlugin sha256 of another image": (pinned_break(wp, check_istio, lambda d: d["spec"].update(sha256="0" * 64), "pinned istio-wasmplugin.yaml"),
                                                       "but the image's manifest digest is"),
        "pinned: TrafficExtension without sha256": (pinned_break(te, check_traffic_extension, lambda d: te_wasm(d).pop("sha256"), "pinned istio-trafficextension.yaml"),
                                                    "spec.wasm.sha256 is None, but the image's manifest digest is"),
        "pinned: TrafficExtension sha256 of the .wasm, not of the manifest": (pinned_break(te, check_traffic_extension, lambda d: te_wasm(d).update(sha256=hashlib.sha256(wasm).hexdigest()), "pinned istio-trafficextension.yaml"),
                                                                              "but the image's manifest digest is"),
        "pinned: url with another tag": (pinned_break(te, check_traffic_extension, lambda d: te_wasm(d).update(url=render.OCI_IMAGE.rsplit(":", 1)[0] + ":0.2.0"), "pinned istio-trafficextension.yaml"),
                                         "the image whose digest is pinned"),
    }


def self_test(wasm_path: Path | None) -> int:
    envoy_text, istio_text, traffic_extension_text, config_text = load_all()
    validate(envoy_text, istio_text, traffic_extension_text, config_text)  # the real files pass

    envoy = yaml.safe_load(envoy_text)
    istio = yaml.safe_load(istio_text)
    traffic_extension = yaml.safe_load(traffic_extension_text)
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
        "jitgate: differs from the rendered configuration": "differs from deploy/plugin-config.json",
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

    # The TrafficExtension, and the pair (each (check, reason) below).
    def traffic_extension_break(change):
        doc = copy.deepcopy(traffic_extension)
        change(doc)
        return lambda: check_traffic_extension(doc, json.loads(config_text))

    def pair_break(change):
        doc = copy.deepcopy(traffic_extension)
        change(doc)
        return lambda: check_istio_pair(istio, doc)

    def move(src, dst, key):
        dst[key] = src.pop(key)

    more = {
        "istio: sha256 with the `sha256:` prefix": (istio_break(lambda d: d["spec"].update(sha256="sha256:" + "a" * 64)), "64 lowercase hex digits"),
        "trafficextension: url in spec (where WasmPlugin has it)": (traffic_extension_break(lambda d: move(d["spec"]["wasm"], d["spec"], "url")), "unknown field `spec.url` (in a TrafficExtension it belongs in spec.wasm)"),
        "trafficextension: failStrategy in spec": (traffic_extension_break(lambda d: move(d["spec"]["wasm"], d["spec"], "failStrategy")), "unknown field `spec.failStrategy`"),
        "trafficextension: phase in wasm": (traffic_extension_break(lambda d: move(d["spec"], d["spec"]["wasm"], "phase")), "unknown field `spec.wasm.phase` (in a TrafficExtension it belongs in spec)"),
        "trafficextension: `urll` (misspelled)": (traffic_extension_break(lambda d: rename(d["spec"]["wasm"], "url", "urll")), "unknown field `spec.wasm.urll`"),
        "trafficextension: phase UNSPECIFIED_PHASE (WasmPlugin's enum)": (traffic_extension_break(lambda d: d["spec"].update(phase="UNSPECIFIED_PHASE")), "`UNSPECIFIED_PHASE` is not one of"),
        "trafficextension: phase AUTHN": (traffic_extension_break(lambda d: d["spec"].update(phase="AUTHN")), "spec.phase must be AUTHZ"),
        "trafficextension: FAIL_OPEN": (traffic_extension_break(lambda d: d["spec"]["wasm"].update(failStrategy="FAIL_OPEN")), "spec.wasm.failStrategy must be FAIL_RELOAD"),
        "trafficextension: lua as well": (traffic_extension_break(lambda d: d["spec"].update(lua={"inlineCode": "function envoy_on_request(h) end"})), "exactly one of spec.wasm or spec.lua"),
        "trafficextension: no wasm": (traffic_extension_break(lambda d: d["spec"].pop("wasm")), "exactly one of spec.wasm or spec.lua"),
        "trafficextension: selector and targetRefs": (traffic_extension_break(lambda d: d["spec"].update(targetRefs=[{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "gw"}])), "only one of spec.selector or spec.targetRefs"),
        "trafficextension: no selector": (traffic_extension_break(lambda d: d["spec"].pop("selector")), "spec.selector"),
        "trafficextension: kind WasmPlugin": (traffic_extension_break(lambda d: d.update(kind="WasmPlugin")), "kind TrafficExtension"),
        "trafficextension: priority beyond int32": (traffic_extension_break(lambda d: d["spec"].update(priority=2**31)), "spec.priority"),
        "trafficextension: ftp url": (traffic_extension_break(lambda d: d["spec"]["wasm"].update(url="ftp://x/jitgate.wasm")), "spec.wasm.url"),
        "trafficextension: uppercase sha256": (traffic_extension_break(lambda d: d["spec"]["wasm"].update(sha256="A" * 64)), "spec.wasm.sha256 must be 64 lowercase hex digits"),
        "trafficextension: url digest and sha256 differ": (traffic_extension_break(lambda d: d["spec"]["wasm"].update(url=render.OCI_IMAGE + "@sha256:" + "b" * 64, sha256="a" * 64)), "names digest"),
        "trafficextension: pluginConfig unknown field": (traffic_extension_break(lambda d: d["spec"]["wasm"]["pluginConfig"].update(polcy={})), "`polcy`"),
        "trafficextension: pluginConfig differs": (traffic_extension_break(lambda d: d["spec"]["wasm"]["pluginConfig"].update(resource="other")), "spec.wasm.pluginConfig differs"),
        "pair: another selector than the WasmPlugin's": (pair_break(lambda d: d["spec"]["selector"]["matchLabels"].update(app="other")), "spec.selector differs"),
        "pair: another pluginName": (pair_break(lambda d: d["spec"]["wasm"].update(pluginName="other")), "spec.wasm.pluginName differs"),
        "pair: another namespace": (pair_break(lambda d: d["metadata"].update(namespace="other")), "metadata.name/namespace"),
    }
    if wasm_path is not None:
        more.update(oci_breaks(wasm_path, istio, traffic_extension, json.loads(config_text)))
    else:
        print("(no filter given: the OCI image and the pinned Istio files are not broken; pass --wasm)")
    for name, (check, reason) in more.items():
        cases[name] = check
        because[name] = reason
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
    args, wasm_path, self_testing = argv[1:], None, False
    while args:
        arg = args.pop(0)
        if arg == "--self-test":
            self_testing = True
        elif arg == "--wasm" and args:
            wasm_path = Path(args.pop(0))
        else:
            print(f"validate_deploy.py: unknown argument: {arg}", file=sys.stderr)
            return 2
    if wasm_path is not None and not wasm_path.is_file():
        print(f"validate_deploy.py: --wasm {wasm_path}: no such file (build it with `make filter`)", file=sys.stderr)
        return 2
    if self_testing:
        return self_test(wasm_path)
    if render.main(["render.py", "--check"]) != 0:
        return 1
    envoy_text, istio_text, traffic_extension_text, config_text = load_all()
    try:
        validate(envoy_text, istio_text, traffic_extension_text, config_text)
        check_with_core(config_text)
        oci = check_oci(wasm_path) if wasm_path is not None else None
    except Invalid as e:
        print(f"validate_deploy.py: {e}", file=sys.stderr)
        return 1
    core = "and by the native core" if os.environ.get("JITGATE_BIN") else "(set JITGATE_BIN to also compile it with `jitgate eval`)"
    print(f"deploy: envoy.yaml is a valid Bootstrap, the Istio WasmPlugin and TrafficExtension are well formed "
          f"and the same, the configuration checks {core}")
    if oci is None:
        print("deploy: no filter given (--wasm): the OCI image and the pinned Istio files are not checked")
    else:
        digest, skopeo = oci
        tool = "skopeo reads it too" if skopeo else "skopeo is not installed, so no second reader checked it"
        print(f"deploy: the OCI image of {wasm_path.name} verifies (manifest {digest}), {tool}; "
              "the Istio files rendered with that digest pinned validate")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
