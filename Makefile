# agentobs developer tasks. `make demo` and `make test` work from a clean clone.
# GNU make; every target is idempotent (stamp files under .venv/ and .backends/).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
BACKENDS_DIR := .backends
LINT_PATHS := src tests benchmarks examples
PYTEST_ARGS ?=
PYTEST_TIMEOUT ?= 300

# Pinned real backends (see shared/design/BACKENDS.md).
PHOENIX_VERSION := 20.26.1
ROTEL_VERSION := 0.0.1a15
APT_PACKAGES := prometheus prometheus-pushgateway prometheus-alertmanager chromium fonts-dejavu-core

VENV_STAMP := $(VENV)/.agentobs-dev.stamp
PHOENIX_VENV := $(BACKENDS_DIR)/phoenix-venv
PHOENIX_STAMP := $(BACKENDS_DIR)/phoenix-$(PHOENIX_VERSION).stamp
TOOLS_VENV := $(BACKENDS_DIR)/tools-venv
ROTEL_STAMP := $(BACKENDS_DIR)/rotel-$(ROTEL_VERSION).stamp
APT_STAMP := $(BACKENDS_DIR)/apt.stamp

# Never let uv download a Python of its own: only registries are reachable.
export UV_PYTHON_DOWNLOADS := never

.PHONY: help venv demo backends backends-apt lint test soak docs bench bench-peers \
	bench-peers-envs clean clean-backends

help:
	@echo "make venv      - create .venv with agentobs[dev] (editable)"
	@echo "make demo      - run 'agentobs demo'"
	@echo "make backends  - install Prometheus/Pushgateway/Alertmanager/Chromium (apt), Phoenix, rotel"
	@echo "make lint      - ruff check, ruff format --check, mypy, lint-imports (the layers)"
	@echo "make test      - lint, then pytest (AGENTOBS_REQUIRE_BACKENDS=1 turns skips into failures)"
	@echo "make soak      - the long reliability variants (a million spans, backend down)"
	@echo "make docs      - build the documentation site into site/ (strict)"
	@echo "make bench     - run the benchmarks"
	@echo "make bench-peers [QUICK=1] - agentobs beside its peers; writes benchmarks/RESULTS.md"
	@echo "make clean     - remove caches, .venv and .backends"

# --- project venv -------------------------------------------------------------
venv: $(VENV_STAMP)

$(UV):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip uv

$(VENV_STAMP): pyproject.toml | $(UV)
	$(UV) pip install -q --python $(BIN)/python -e '.[dev]'
	touch $@

demo: venv
	$(BIN)/agentobs demo

# --- real backends for the tests ---------------------------------------------
backends: backends-apt $(PHOENIX_STAMP) $(ROTEL_STAMP)

# apt is system-wide, so the script asks dpkg about each package every time
# (a few ms when everything is present); the stamp only records the last run.
backends-apt:
	@mkdir -p $(BACKENDS_DIR)
	scripts/install-apt-backends.sh $(APT_PACKAGES)
	@touch $(APT_STAMP)

# Phoenix pins many packages (its own OTel SDK, pandas, openai, ...): own venv.
$(PHOENIX_STAMP): | $(UV)
	@mkdir -p $(BACKENDS_DIR)
	$(UV) venv -q --allow-existing --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')" $(PHOENIX_VENV)
	$(UV) pip install -q --python $(PHOENIX_VENV)/bin/python 'arize-phoenix==$(PHOENIX_VERSION)'
	$(PHOENIX_VENV)/bin/python -c 'import phoenix.server.main, grpc.aio._server'
	rm -f $(BACKENDS_DIR)/phoenix-*.stamp
	touch $@

# rotel (a Rust OTel collector shipped in a wheel) in a small tools venv;
# .backends/bin/rotel-agent is a stable link to the binary inside site-packages.
$(ROTEL_STAMP): | $(UV)
	@mkdir -p $(BACKENDS_DIR)/bin
	$(UV) venv -q --allow-existing --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')" $(TOOLS_VENV)
	$(UV) pip install -q --python $(TOOLS_VENV)/bin/python 'rotel==$(ROTEL_VERSION)'
	ln -sfn "$$($(TOOLS_VENV)/bin/python -c 'import pathlib, rotel; print(pathlib.Path(rotel.__file__).parent / "rotel-agent")')" $(BACKENDS_DIR)/bin/rotel-agent
	$(BACKENDS_DIR)/bin/rotel-agent --version
	rm -f $(BACKENDS_DIR)/rotel-*.stamp
	touch $@

# --- checks -------------------------------------------------------------------
lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy
	$(BIN)/lint-imports

# The quick peer run (tests/test_bench_peers.py: every row of every peer, about 2 minutes,
# after `make bench-peers-envs`) is part of `make test` in CI (CI set, as CI services do;
# .ci/run) and wherever AGENTOBS_BENCH_PEERS=1; AGENTOBS_BENCH_PEERS=0 leaves it out.
AGENTOBS_BENCH_PEERS ?= $(if $(filter-out false 0,$(CI)),1,0)

test: venv backends $(if $(filter 1,$(AGENTOBS_BENCH_PEERS)),bench-peers-envs)
	$(MAKE) --no-print-directory lint
	AGENTOBS_REQUIRE_BACKENDS="$${AGENTOBS_REQUIRE_BACKENDS:-}" \
	AGENTOBS_BENCH_PEERS=$(AGENTOBS_BENCH_PEERS) \
		$(BIN)/pytest --timeout=$(PYTEST_TIMEOUT) $(PYTEST_ARGS)

soak: venv backends
	AGENTOBS_SOAK=1 $(BIN)/pytest --timeout=3600 -q tests/reliability $(PYTEST_ARGS)

# The site (mkdocs.yml): strict, so a broken link, a page missing from the nav or an API
# reference that does not resolve fails. `make test` builds it too (tests/test_docs_site.py).
docs: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

bench: venv
	$(BIN)/python benchmarks/run.py

# Each peer SDK in its own venv under .bench-peers/ (pinned in benchmarks/bench_peers.py),
# bytecode compiled; a stamp per venv, so this is a few seconds when nothing changed. The
# test of the quick run (tests/test_bench_peers.py, in `make test` under CI) needs them.
bench-peers-envs: venv
	$(BIN)/python benchmarks/bench_peers.py --install-only

# About half an hour on an idle 2-core machine, half of it the throughput searches (timed
# rows run one at a time); QUICK=1 is the smoke run that `make test` makes in CI, about
# 2 minutes (report under .bench-peers/).
bench-peers: venv backends bench-peers-envs
	$(BIN)/python benchmarks/bench_peers.py $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) $(BACKENDS_DIR) .bench-peers .pytest_cache .mypy_cache .ruff_cache build dist site
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

clean-backends:
	rm -rf $(BACKENDS_DIR)
