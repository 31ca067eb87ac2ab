# jitgate — one entry point for people and CI.
#   make demo   the main job: a demo on the embedded default configuration
#   make test   every test (what CI runs through .ci/run)
# Both install what they need first (wasm targets, tools).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
JITGATE := target/release/jitgate

.PHONY: demo test setup lint build-core-wasm test-rust test-policies bench

setup:
	rustup target add wasm32-unknown-unknown wasm32-wasip1
	rustup component add rustfmt clippy

$(JITGATE): setup
	$(CARGO) build --release --locked -p jitgate-harness --bin jitgate

demo: setup
	$(CARGO) build --release --locked -p jitgate-harness --bin jitgate
	$(JITGATE) demo

lint: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

# The core builds for both wasm targets with its default features (no JS host, no WASI).
build-core-wasm: setup
	$(CARGO) build --locked -p jitgate-core --release --target wasm32-unknown-unknown
	$(CARGO) build --locked -p jitgate-core --release --target wasm32-wasip1
	$(CARGO) clippy --locked -p jitgate-core --target wasm32-unknown-unknown -- -D warnings

test-rust: setup
	$(CARGO) test --locked --workspace

# The shipped policies: Rego unit tests and scenarios.
test-policies: setup
	$(CARGO) build --release --locked -p jitgate-harness --bin jitgate
	$(JITGATE) test policies/ --native
	python3 policies/sync_configs.py --check

test: lint build-core-wasm test-rust test-policies
	@echo "make test: all passed"

bench: setup
	$(CARGO) bench --locked -p jitgate-core --bench decide
