# Two commands from a fresh machine: `make demo` and `make test`.
# Both create .venv through `make install` when it is missing or pyproject.toml changed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck pytest docs bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/sustain demo --out results/demo

lint: install
	$(BIN)/ruff check sustain tests benchmarks analyses
	$(BIN)/ruff format --check sustain tests benchmarks analyses

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) results site .pytest_cache .mypy_cache .ruff_cache
