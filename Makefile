# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python manage.py migrate --verbosity 0
	$(BIN)/python manage.py seed_demo --customers 1000
	@KEY=$$($(BIN)/python manage.py mcp_apikey create --user support_agent --name "demo key" 2>/dev/null) && \
	  $(BIN)/python manage.py mcp_config --user support_agent --url http://127.0.0.1:$(PORT) --api-key $$KEY
	$(BIN)/uvicorn config.asgi:application --host 127.0.0.1 --port $(PORT) --timeout-graceful-shutdown 5

test: install
	$(BIN)/python -m pytest

# Benchmark against a plain Django view (PostgreSQL at 127.0.0.1:5432, wrk; see BENCHMARKS.md).
bench: install
	$(BIN)/python bench/run.py

bench-smoke: install
	$(BIN)/python bench/run.py --smoke

.PHONY: install demo test bench bench-smoke
