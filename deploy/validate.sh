#!/usr/bin/env bash
# Validates deploy/envoy.yaml against Envoy's own v3 API (xds-protos), the Istio
# WasmPlugin's and TrafficExtension's shapes, the embedded jitgate configuration, and
# that the generated files are up to date (deploy/render.py --check); with the filter,
# also its OCI image (deploy/oci_image.py, built into a temporary layout and verified)
# and the Istio files rendered with its digest pinned. See deploy/validate_deploy.py.
#
#   deploy/validate.sh              validate
#   deploy/validate.sh --self-test  also break the files on purpose and check every
#                                   break is caught (CI runs both)
#
# The Python environment is a venv in target/deploy-venv (JITGATE_DEPLOY_VENV to move
# it), created and filled from deploy/requirements.txt on first use. Set JITGATE_BIN to
# the `jitgate` command to also compile the configuration with the native core. The
# filter is $JITGATE_FILTER (which must then exist), else target/jitgate_filter.wasm if
# it was built; without one the OCI image is not checked (and this says so). skopeo,
# when installed, must read the image too.
set -euo pipefail

self_test=0
for arg in "$@"; do
  case "$arg" in
    --self-test) self_test=1 ;;
    *) echo "validate.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${JITGATE_DEPLOY_VENV:-$root/target/deploy-venv}"
requirements="$root/deploy/requirements.txt"
stamp="$venv/.requirements"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! cmp -s "$requirements" "$stamp" 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
fi

wasm=()
if [ -n "${JITGATE_FILTER:-}" ]; then
  [ -f "$JITGATE_FILTER" ] || { echo "validate.sh: JITGATE_FILTER=$JITGATE_FILTER: no such file" >&2; exit 1; }
  wasm=(--wasm "$JITGATE_FILTER")
elif [ -f "$root/target/jitgate_filter.wasm" ]; then
  wasm=(--wasm "$root/target/jitgate_filter.wasm")
fi

"$venv/bin/python" "$root/deploy/validate_deploy.py" "${wasm[@]}"
if [ "$self_test" = 1 ]; then
  "$venv/bin/python" "$root/deploy/validate_deploy.py" --self-test "${wasm[@]}"
fi
