#!/usr/bin/env bash
# Validates deploy/envoy.yaml against Envoy's own v3 API (xds-protos), the Istio
# WasmPlugin's shape, the embedded jitgate configuration, and that the generated files
# are up to date (deploy/render.py --check). See deploy/validate_deploy.py.
#
#   deploy/validate.sh              validate
#   deploy/validate.sh --self-test  also break the files on purpose and check every
#                                   break is caught (CI runs both)
#
# The Python environment is a venv in target/deploy-venv (JITGATE_DEPLOY_VENV to move
# it), created and filled from deploy/requirements.txt on first use. Set JITGATE_BIN to
# the `jitgate` command to also compile the configuration with the native core.
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

"$venv/bin/python" "$root/deploy/validate_deploy.py"
if [ "$self_test" = 1 ]; then
  "$venv/bin/python" "$root/deploy/validate_deploy.py" --self-test
fi
