# Two commands for a fresh machine: `make run` and `make test`. Everything else is installed here.
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_PYTHON_DOWNLOADS := never
export DBT_PROFILES_DIR := $(abspath .)
export DBT_PROJECT_DIR := $(abspath .)
DEMO_LEADS ?= 5000
DEMO_SEED ?= 42

.PHONY: install system-packages run bank-example test test-spark lint clean superset superset-serve superset-export test-superset

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==0.13.8

# --compile-bytecode: this machine never writes .pyc (PYTHONDONTWRITEBYTECODE), so without it every dbt,
# leadscore and Dagster process compiles its imports again (dbt's start: BENCHMARKS.md).
$(BIN)/leadscore: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --compile-bytecode
	touch $@

install: $(BIN)/leadscore

# Debian packages the tests need (see scripts/system_packages.txt); `make run` does not need them.
system-packages:
	bash scripts/install_system_packages.sh

run: install
	$(BIN)/leadscore demo-data --leads $(DEMO_LEADS) --seed $(DEMO_SEED) --out data/demo --bad-rows 0.002
	$(BIN)/leadscore load data/demo
	$(BIN)/leadscore build
	$(BIN)/leadscore top 10

# The worked example on real data: UCI Bank Marketing mapped onto the raw contract, calibrated on the reference
# split's 70 % and measured on its 30 % (docs/measuring-the-scoring.md); report in artifacts/bank-marketing/.
bank-example: install
	$(BIN)/python examples/bank_marketing/prepare.py --out data/bank-marketing --reference \
		--calibrate artifacts/bank-marketing

lint: install
	$(BIN)/ruff check orchestration tests examples
	$(BIN)/ruff format --check orchestration tests examples
	$(BIN)/sqlfluff lint models tests

# Every test, the Spark build included, on one pytest worker more than there are cores, so that a worker
# waiting on a server, a JVM or a browser does not leave a core idle. Whole files per worker (a file's module
# fixtures are built once), handed out longest first (tests/python/conftest.py, LONGEST_FIRST;
# --no-loadscope-reorder keeps that order). CI times: BENCHMARKS.md.
# `make test-spark` runs the Spark test alone: a passing build and one that fails its audit.
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
# The Superset dashboard's test has its own target and CI step (test-superset): it needs Superset's own
# environment, and `make test` stays within CI's 30 minutes without it. Tests marked quiet run alone after the
# parallel run (dagster dev's Ctrl-C: docs/tests.md).
test: install system-packages lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=30 -m "not superset and not quiet"
	$(BIN)/pytest -m quiet

test-spark: install system-packages
	$(BIN)/pytest -m spark

# Superset in its own environment (its pins conflict with dbt's and Dagster's): bi/superset/requirements.txt,
# compiled by uv from requirements.in. `make superset` also sets up its metadata in .superset/home and imports
# the dashboard (bi/superset/dashboard/), read-only on the served warehouse; docs/bi.md.
SUPERSET_VENV := .superset/venv
$(SUPERSET_VENV)/bin/superset: $(UV) bi/superset/requirements.txt
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(SUPERSET_VENV)
	$(UV) pip install --quiet --compile-bytecode --python $(SUPERSET_VENV)/bin/python -r bi/superset/requirements.txt
	touch $@

superset: install $(SUPERSET_VENV)/bin/superset
	$(BIN)/python -m orchestration.serve.superset setup

superset-serve: superset
	$(BIN)/python -m orchestration.serve.superset serve

# Writes the dashboard as edited in the running Superset back into bi/superset/dashboard/ (for a pull request).
superset-export: install $(SUPERSET_VENV)/bin/superset
	$(BIN)/python -m orchestration.serve.superset export

# The dashboard in a real Superset and headless Chromium (tests/python/test_superset_dashboard.py).
test-superset: install system-packages $(SUPERSET_VENV)/bin/superset
	$(BIN)/pytest -m superset --durations=10

clean:
	rm -rf $(TOOLS) $(VENV) target logs warehouse data/demo .superset
