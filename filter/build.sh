#!/usr/bin/env bash
# Builds the Envoy filter as shipped: target/jitgate_filter.wasm.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --release --target wasm32-wasip1 -p jitgate-filter
raw=target/wasm32-wasip1/release/jitgate_filter.wasm
if command -v wasm-opt >/dev/null; then
  wasm-opt -Oz --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals "$raw" -o target/jitgate_filter.wasm
else
  echo "build.sh: wasm-opt not found (Debian package binaryen); shipping the unoptimized module" >&2
  cp "$raw" target/jitgate_filter.wasm
fi
echo "jitgate_filter.wasm: $(stat -c %s "$raw") bytes built, $(stat -c %s target/jitgate_filter.wasm) bytes shipped"
