# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make demo PORT=9000` serves elsewhere; mcp_config reads PORT, so it prints the URL the server uses.
PORT ?= 8000
demo: export PORT := $(PORT)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# requirements.txt installs mcp_bridge from this checkout (-e .), so pyproject.toml is an input too.
$(VENV)/.installed: pyproject.toml requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# The same, with mcp_bridge's dependencies at the lowest versions pyproject.toml declares (.ci/lowest.py).
# `make test-lowest` runs the suite there without the tests that start server processes (about 3 minutes).
LOWEST := .venv-lowest

$(LOWEST)/.installed: pyproject.toml requirements.txt requirements-dev.txt .ci/lowest.py | $(VENV)/.installed
	rm -rf $(LOWEST)
	$(PYTHON) -m venv $(LOWEST)
	echo '*' > $(LOWEST)/.gitignore
	$(BIN)/python .ci/lowest.py requirements-dev.txt > $(LOWEST)/requirements.txt
	$(LOWEST)/bin/python -m pip install --quiet --upgrade pip
	$(LOWEST)/bin/python -m pip install --quiet -r $(LOWEST)/requirements.txt
	touch $@

# What the tests use beyond Python: the pinned Node clients (tests/external, npm ci), wrk (bench smoke
# run) and Debian's chromium (the OAuth consent flow, driven by Playwright). Installed here, never by a test.
NODE_TOOLS := tests/external/node_modules/.mcp-bridge-installed

$(NODE_TOOLS): tests/external/package-lock.json | $(VENV)/.installed
	$(BIN)/python -m tests.external.tooling

wrk:
	@command -v wrk >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }; }

# Debian's build, not Playwright's own download: tests/browser.py launches /usr/bin/chromium.
browser:
	@test -x /usr/bin/chromium || { export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }; }

install: $(VENV)/.installed

test-tools: install $(LOWEST)/.installed $(NODE_TOOLS) wrk browser

# The server, a Celery worker (reports run there) and Celery beat (the job sweep) run together; Ctrl-C or
# SIGTERM stops all three, and so does any one of them exiting. The worker and beat log under VAR_DIR; the
# worker runs without the database pool (Celery closes its connection after every task anyway).
DEMO_LOGS = $(or $(VAR_DIR),var)
demo: SHELL := /bin/bash
demo: install
	$(BIN)/python manage.py migrate --verbosity 0
	$(BIN)/python manage.py seed_demo --customers 1000
	@KEY=$$($(BIN)/python manage.py mcp_apikey create --user support_agent --name "demo key" 2>/dev/null) && \
	  $(BIN)/python manage.py mcp_config --user support_agent --api-key $$KEY
	@echo "Celery worker log: $(DEMO_LOGS)/celery-worker.log; Celery beat log: $(DEMO_LOGS)/celery-beat.log; uvicorn logs here."
	@trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	  DATABASE_POOL=0 $(BIN)/celery -A config worker -P prefork -Q celery,mcp_reports -n demo@%h --loglevel INFO \
	    > $(DEMO_LOGS)/celery-worker.log 2>&1 & \
	  $(BIN)/celery -A config beat --loglevel INFO > $(DEMO_LOGS)/celery-beat.log 2>&1 & \
	  $(BIN)/uvicorn config.asgi:application --host 127.0.0.1 --port $(PORT) --loop uvloop --http httptools \
	    --timeout-graceful-shutdown 5 & \
	  wait -n

# Lint and format (ruff: the whole checkout) and type check (mypy: mcp_bridge/, configured in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint test-tools
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory test-lowest

test-lowest: $(LOWEST)/.installed
	$(LOWEST)/bin/python -m pytest -m "not subprocess"

# Benchmark against a plain Django view (PostgreSQL at 127.0.0.1:5432, wrk; see BENCHMARKS.md).
bench: install wrk
	$(BIN)/python bench/run.py

bench-smoke: install wrk
	$(BIN)/python bench/run.py --smoke

.PHONY: install test-tools wrk browser demo lint test test-lowest bench bench-smoke
