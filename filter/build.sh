#!/usr/bin/env bash
# Builds the Envoy filter as shipped: target/jitgate_filter.wasm (wasm32-wasip1, the
# `filter` profile, then wasm-opt -Oz), and checks the 2.0 MB size budget.
set -euo pipefail
cd "$(dirname "$0")/.."
budget=2000000
cargo build --locked --profile filter --target wasm32-wasip1 -p jitgate-filter
raw=target/wasm32-wasip1/filter/jitgate_filter.wasm
out=target/jitgate_filter.wasm
if command -v wasm-opt >/dev/null; then
  wasm-opt -Oz --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-mutable-globals "$raw" -o "$out"
else
  echo "build.sh: wasm-opt not found (Debian package binaryen): shipping the unoptimized module" >&2
  cp "$raw" "$out"
fi
size=$(stat -c %s "$out")
echo "jitgate_filter.wasm: $(stat -c %s "$raw") bytes built, $size bytes shipped (budget $budget)"
if [ "$size" -gt "$budget" ] && command -v wasm-opt >/dev/null; then
  echo "build.sh: $out is over the size budget" >&2
  exit 1
fi
