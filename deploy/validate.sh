#!/usr/bin/env bash
# Validates deploy/ against Envoy's API in a virtual environment (xds-protos from PyPI),
# checks the files are freshly rendered, and breaks them on purpose to prove the
# validation bites. Usage: deploy/validate.sh [path/to/jitgate [path/to/jitgate_filter.wasm]]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/deploy-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check xds-protos pyyaml
fi
python3 deploy/render.py --check
args=(--self-test)
if [ $# -ge 1 ]; then args+=(--jitgate "$1"); fi
if [ $# -ge 2 ]; then args+=(--filter "$2"); fi
"$venv/bin/python" deploy/check_deploy.py "${args[@]}"
