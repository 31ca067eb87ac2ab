# jitgate — one entry point for people and CI.
#   make demo   the main job: a demo on the embedded default configuration
#   make test   every test (what CI runs through .ci/run)
# Both install what they need first (wasm targets, tools).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
JITGATE := target/cli/jitgate
FILTER := target/jitgate_filter.wasm

.PHONY: demo test setup lint filter jitgate build-core-wasm test-rust test-policies test-deploy test-js test-approvals bench

setup:
	rustup target add wasm32-unknown-unknown wasm32-wasip1
	rustup component add rustfmt clippy
	@command -v wasm-opt >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && apt-get install -y -qq binaryen >/dev/null; } \
	  || echo "setup: wasm-opt (Debian package binaryen) is not available: the filter ships unoptimized"

# The Envoy filter as shipped: wasm32-wasip1, release profile, wasm-opt when available.
filter: setup
	bash filter/build.sh --no-check  # the import check runs with the Rust tests

jitgate: setup
	$(CARGO) build --profile cli --locked -p jitgate-harness --bin jitgate

demo: filter jitgate
	$(JITGATE) demo --filter $(FILTER)

lint: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

# The core builds for both wasm targets with its default features (no JS host, no WASI).
build-core-wasm: setup
	$(CARGO) build --locked -p jitgate-core --release --target wasm32-unknown-unknown
	$(CARGO) build --locked -p jitgate-core --release --target wasm32-wasip1
	$(CARGO) clippy --locked -p jitgate-core --target wasm32-unknown-unknown -- -D warnings

# Rust tests; the end-to-end tests load the shipped filter.
test-rust: filter
	JITGATE_FILTER=$(abspath $(FILTER)) $(CARGO) test --locked --workspace

# The shipped policies: Rego unit tests and scenarios.
test-policies: filter jitgate
	$(JITGATE) test policies/ --filter $(FILTER)
	python3 policies/sync_configs.py --check

# The npm package: builds itself (wasm-bindgen-cli at the locked version), Node tests,
# headless Chromium, npm pack.
test-js: setup
	cd js-bindings && npm test

# deploy/: envoy.yaml against Envoy's API (xds-protos), the Istio WasmPlugin, and
# their configuration through the core and the filter.
test-deploy: filter jitgate
	JITGATE_BIN=$(abspath $(JITGATE)) bash deploy/validate.sh --self-test

# The approval service (approvals/): its suite on SQLite and, through a throwaway
# cluster (approvals/tests/with-postgres.sh), on PostgreSQL when initdb/pg_ctl exist
# (Debian's postgresql package; installed here when running as root with apt-get).
PG_BIN := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))
test-approvals:
	@command -v initdb >/dev/null || [ -n "$(PG_BIN)" ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } \
	  || echo "test-approvals: PostgreSQL (Debian package postgresql) is not available: SQLite only"
	if command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  bash approvals/tests/with-postgres.sh $(CARGO) test --locked -p jitgate-approvals; \
	else \
	  $(CARGO) test --locked -p jitgate-approvals; \
	fi

test: lint build-core-wasm test-rust test-policies test-deploy test-js test-approvals
	@echo "make test: all passed"

bench: filter
	$(CARGO) bench --locked -p jitgate-core --bench decide
	JITGATE_FILTER=$(abspath $(FILTER)) $(CARGO) bench --locked -p jitgate-harness --bench filter
