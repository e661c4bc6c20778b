# Two commands from a fresh machine: `make demo` and `make test`.
# Both create .venv through `make install` when it is missing or pyproject.toml changed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# TeX from Debian for the LaTeX-compile test (booktabs, threeparttable, standalone)
TEX_PACKAGES := texlive-latex-base texlive-latex-recommended texlive-latex-extra
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install tex demo test lint typecheck pytest docs bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

tex:
	@if command -v pdflatex >/dev/null && kpsewhich threeparttable.sty standalone.cls >/dev/null; then \
	  echo "TeX: found pdflatex with booktabs, threeparttable and standalone"; \
	else \
	  echo "TeX: installing $(TEX_PACKAGES) from Debian"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    $(TEX_PACKAGES) >/dev/null; \
	fi

ANALYSES := $(sort $(wildcard analyses/[0-9][0-9]_*.py))

# the worked study script by script (results/analyses), then the same study declared as a spec
demo: install
	@set -e; for script in $(ANALYSES); do \
		echo "== $$script"; MPLBACKEND=Agg $(BIN)/python $$script; \
	done
	MPLBACKEND=Agg $(BIN)/sustain demo --out results/demo

docs: install
	$(BIN)/mkdocs build --strict --site-dir site

lint: install
	$(BIN)/ruff check sustain tests benchmarks analyses
	$(BIN)/ruff format --check sustain tests benchmarks analyses

typecheck: install
	$(BIN)/mypy

pytest: install tex
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) results site .pytest_cache .mypy_cache .ruff_cache
