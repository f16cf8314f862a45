# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Re-install only when the dependency list changes.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: demo test lint format typecheck bench bench-api clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# The demo keeps its state in .demo/ so it never touches a real data dir.
DEMO_DATA ?= $(CURDIR)/.demo
DEMO_BUILDS ?= 1 2 3 4 5

demo: $(STAMP)
	for build in $(DEMO_BUILDS); do $(BIN)/python examples/generate.py examples/results/build-$$build --build $$build || exit 1; done
	$(BIN)/evidencehub --data-dir $(DEMO_DATA) demo --samples examples/results

test: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench examples
	$(BIN)/ruff check --fix src tests bench examples

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/triage.py
	$(BIN)/python bench/publish.py
	$(BIN)/python bench/pdf.py

# The API under load with 1,000,000 stored results (SQLite, and PostgreSQL when configured); ~20 min.
bench-api: $(STAMP)
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache examples/results
