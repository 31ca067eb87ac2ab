#!/usr/bin/env bash
# Builds the Envoy filter: target/jitgate_filter.wasm (optimised with wasm-opt -Oz),
# prints its sizes, and checks its imports against what Envoy provides.
#
#   filter/build.sh              build, optimise, check imports
#   filter/build.sh --no-check   build and optimise only
#
# Needs the wasm32-wasip1 target (installed with rustup if missing) and wasm-opt
# (binaryen; installed with apt-get when missing and running as root, else the
# unoptimised module is written and a warning printed).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

check=1
for arg in "$@"; do
  case "$arg" in
    --no-check) check=0 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

target=wasm32-wasip1
profile=wasm-filter # root Cargo.toml: release with opt-level "s"
out="target/jitgate_filter.wasm"

if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  rustup target add "$target"
fi

cargo build --locked --profile "$profile" --target "$target" -p jitgate-filter --lib
raw="target/$target/$profile/jitgate_filter.wasm"

if ! command -v wasm-opt >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get install -y binaryen >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y binaryen >/dev/null 2>&1; } || true
fi

size() { stat -c %s "$1" 2>/dev/null || wc -c <"$1"; }

if command -v wasm-opt >/dev/null 2>&1; then
  # The features rustc enables for wasm32-wasip1 (Rust >= 1.87); wasm-opt must accept
  # them and must not introduce others (V8, Wasmtime and WAMR all support these).
  wasm-opt -Oz \
    --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-mutable-globals --enable-multivalue --enable-reference-types \
    "$raw" -o "$out"
else
  echo "build.sh: warning: wasm-opt not found; $out is not optimised" >&2
  cp "$raw" "$out"
fi

printf 'jitgate_filter.wasm: %d bytes from cargo (%s), %d bytes after wasm-opt -Oz -> %s\n' \
  "$(size "$raw")" "$raw" "$(size "$out")" "$out"

# 2.0 MB until live trust (docs/live-trust.md: document verification, status-list
# inflate, the fetch/shared-data loop) added ~95 KB and per-route resources and filter
# state another ~8 KB; regorus's RVM (the default evaluator, about 1.5x faster per
# request) another ~90 KB with regorus optimised for size (root Cargo.toml). Shrinking
# it is issue #14's.
budget=2250000
if [ "$(size "$out")" -gt "$budget" ]; then
  echo "build.sh: $out is over the size budget of $budget bytes" >&2
  exit 1
fi

if [ "$check" = 1 ]; then
  JITGATE_FILTER="$root/$out" \
    cargo test -q --locked -p jitgate-filter --test imports
fi
