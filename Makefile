# Flowyard developer commands. GNU make; needs python3.11 (or a python3 that is 3.11) on PATH.
#   make run     start the embedded platform (Prefect server, platform API, worker) under .flowyard/
#   make docs    build the help site (mkdocs.yml, docs/) into build/help/, which the API serves at /help/
#   make test    run the checks, then the whole test suite (pass extra pytest flags with PYTEST_ARGS="-k cli -x")
#   make test-fast  the tests that need no Prefect server, stack or browser (SQLite; PostgreSQL too if FLOWYARD_TEST_POSTGRES_URL is set)
#   make check   ruff (lint, format), mypy, the layering contract, the UI's lint, types, unit tests and API types
#   make chaos   kill the worker, the API and Prefect, restart PostgreSQL, 25 times each under load; prints the table
#   make bench   run the benchmarks (then the reports at 1,000,000 runs on PostgreSQL, then the soak: ~20 min per database)
#   make clean   remove build artefacts;  make reset   delete all local data in .flowyard/

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
UI_DIR := platform_api/ui
PYTEST_ARGS ?=

.PHONY: .venv install ui docs run check test bench clean reset help

help:
	@sed -n 's/^#   //p' Makefile

.venv install: $(STAMP)

$(VENV)/bin/python:
	@test -n "$(PYTHON)" || { echo "python3.11 not found on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml changed since the last successful install.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install -q -e '.[test,docs]'
	@touch $@

ui:
	@set -e; if [ -f $(UI_DIR)/package.json ]; then \
	  command -v npm >/dev/null || { echo "npm is needed to build $(UI_DIR)" >&2; exit 1; }; \
	  cd $(UI_DIR); \
	  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then \
	    if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi; \
	    if [ -d node_modules ]; then touch node_modules; fi; \
	  fi; \
	  npm run build; \
	fi

# The UI's checks: ESLint, types, unit tests, and its API types (src/api/schema.d.ts) against the API's OpenAPI
# document, which needs the Python side. After an API change: npm run gen:api -- <the document> (in $(UI_DIR)).
.PHONY: ui-check
ui-check: install
	@set -e; openapi=$$(mktemp --suffix=.json); trap 'rm -f "$$openapi"' EXIT; \
	$(VENV)/bin/python -m platform_api.openapi "$$openapi"; \
	cd $(UI_DIR); \
	if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then npm ci --no-audit --no-fund; touch node_modules; fi; \
	npm run lint; \
	npm run typecheck; \
	npm test; \
	npm run check:api -- "$$openapi"

# The help site. Its node, error, problem and API pages are made from the code at build time (docs/hooks/), so it
# is rebuilt when docs/ or the Python code changed. Offline: no fonts or scripts from elsewhere.
HELP_SITE := build/help/index.html
HELP_SOURCES := mkdocs.yml $(shell find docs core blocks flow_factory platform_api catalog/templates -type f \
  \( -name '*.md' -o -name '*.py' -o -name '*.png' -o -name '*.yaml' \) -not -path '*/node_modules/*' 2>/dev/null)

docs: $(HELP_SITE)

$(HELP_SITE): $(STAMP) $(HELP_SOURCES)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --quiet
	@touch $@

run: install ui docs
	$(VENV)/bin/flowyard up

check: install ui
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(MAKE) --no-print-directory ui-check

# tests/run_suites.sh: the main suite with tests/kube beside it, then the browser tests alone.
test: check docs
	tests/run_suites.sh $(PYTEST_ARGS)

# What needs no stack: deselects the markers tests/conftest.py applies (pyproject.toml lists them). Under 2 minutes.
.PHONY: test-fast
test-fast: install
	$(VENV)/bin/python -m pytest -m "not stack and not browser and not slow" $(PYTEST_ARGS)

# The chaos suite alone, 25 trials per fault; `make test` runs it with 5.
.PHONY: chaos
chaos: install ui
	FLOWYARD_CHAOS_TRIALS=25 $(VENV)/bin/python -m pytest tests/chaos -s $(PYTEST_ARGS)

bench: install
	$(VENV)/bin/python -m bench
	$(VENV)/bin/python -m bench reports
	$(VENV)/bin/python -m bench soak

clean:
	rm -rf build dist *.egg-info .pytest_cache test-artifacts $(UI_DIR)/dist
	find . -path ./$(VENV) -prune -o -path ./$(UI_DIR)/node_modules -prune -o -name __pycache__ -type d -exec rm -rf {} +

reset:
	@echo "WARNING: deleting .flowyard/ — every local workflow, run, connection and the Prefect database." >&2
	@echo "Press Ctrl-C within 5 seconds to keep it." >&2
	@sleep 5
	rm -rf .flowyard
