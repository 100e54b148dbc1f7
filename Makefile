# hedgebot — every target bootstraps what it needs (.venv from pyproject.toml, npm ci).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HEDGEBOT := $(VENV)/bin/hedgebot
STAMP_PY := $(VENV)/.installed
STAMP_NPM := node_modules/.installed

.DEFAULT_GOAL := help
.PHONY: help setup demo test test-browser test-unit test-integration test-faults lint format bench soak bench-policy broker clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP_PY): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,report]'
	touch $@

$(STAMP_NPM): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

build/contracts.json: $(STAMP_PY) $(STAMP_NPM) $(wildcard bot/sim/contracts/*.sol)
	$(PY) -m bot.sim.compile

setup: $(STAMP_PY) $(STAMP_NPM) build/contracts.json ## install Python deps, npm packages, compile test contracts

demo: setup ## run the offline demo: anvil + Uniswap + simulated market + paper venue + broker
	$(HEDGEBOT) demo --config config/demo.yaml $(DEMO_ARGS)

test: setup ## the whole suite (unit, integration, faults, browser) against real anvil / emulator / mosquitto / nats-server / chromium
	scripts/ensure-broker.sh
	scripts/ensure-nats.sh
	scripts/ensure-chromium.sh
	scripts/ensure-tmux.sh
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-browser: setup ## the dashboards in headless Debian chromium (Playwright)
	scripts/ensure-chromium.sh
	scripts/ensure-broker.sh
	$(PY) -m pytest -q -m browser $(PYTEST_ARGS)

test-unit: setup ## pure core tests only
	$(PY) -m pytest -q -m unit $(PYTEST_ARGS)

lint: setup ## ruff (incl. complexity <= 12), ruff format --check, mypy --strict, secret scan, duplicate code, modules <= 400 lines, unique test module names
	$(VENV)/bin/ruff check bot tests benchmarks
	$(VENV)/bin/ruff format --check bot tests benchmarks
	$(VENV)/bin/mypy --strict bot benchmarks
	$(PY) scripts/secret_scan.py
	$(PY) scripts/check_duplicate_code.py
	$(PY) scripts/check_module_size.py
	@dups=$$(find tests -name 'test_*.py' -printf '%f\n' | sort | uniq -d); \
	  if [ -n "$$dups" ]; then echo "test modules share a name (pytest cannot collect both): $$dups" >&2; exit 1; fi

format: setup ## apply ruff format and autofixes
	$(VENV)/bin/ruff format bot tests benchmarks
	$(VENV)/bin/ruff check --fix bot tests benchmarks

bench: setup ## benchmarks: print a table, write bench/results.json
	$(PY) -m benchmarks

soak: setup ## soak: the engine for 100,000 ticks on anvil + the Binance emulator (ccxt), RSS every 1,000, figures merged into bench/results.json (long; `python -m benchmarks.bench_soak N paper` for the paper venue)
	$(PY) -m benchmarks.bench_soak 100000

bench-policy: setup ## policy study: cost vs tracking error frontier
	$(PY) benchmarks/bench_policy.py

clean: ## remove build products and local state
	rm -rf build var bench .pytest_cache .mypy_cache .ruff_cache
