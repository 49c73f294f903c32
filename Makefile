# The food-delivery reference system. `make run` and `make test` work on a fresh machine
# with a Rust toolchain; everything else they need comes from this repository.

CARGO   ?= cargo
PROFILE ?= release
BIN_DIR  = target/$(if $(filter dev test,$(PROFILE)),debug,$(PROFILE))
DATA_DIR ?= $(CURDIR)/data

.PHONY: help build run demo test test-rust smoke lint fmt clean

help:
	@echo "make run     start order + payment on SQLite under $(DATA_DIR) (Ctrl-C stops both)"
	@echo "make demo    place, read and cancel an order against the running system"
	@echo "make test    every test (SQLite and PostgreSQL; needs PostgreSQL at TEST_POSTGRES_URL)"
	@echo "make lint    cargo fmt --check and clippy -D warnings"

build:
	$(CARGO) build --profile $(PROFILE) --bins

run: build
	DATA_DIR=$(DATA_DIR) BIN_DIR=$(BIN_DIR) scripts/run.sh

demo:
	BIN_DIR=$(BIN_DIR) scripts/demo.sh

test: test-rust smoke

test-rust:
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

# `make run` + its printed example + the demo + Ctrl-C, with the debug binaries the tests built.
smoke:
	$(CARGO) build --bins
	BIN_DIR=target/debug scripts/smoke.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf $(DATA_DIR)
