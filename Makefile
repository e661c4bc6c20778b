# Two commands from a fresh machine: `make demo` and `make test`.
# Both create .venv through `make install` when it is missing or pyproject.toml changed.
SHELL := /bin/bash
# The newest supported interpreter found: python3.13, then python3.12 (on PATH, or installed by
# pyenv but not selected). Override with `make PYTHON=/path/to/python3.12 test`.
PYTHON ?= $(shell for v in 3.13 3.12; do \
	  for c in python$$v $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$v*/bin/python$$v 2>/dev/null | sort -V -r); do \
	    if $$c -c 'import sys; assert sys.version_info[:2] in ((3, 12), (3, 13))' >/dev/null 2>&1; then echo $$c; exit 0; fi; \
	  done; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# TeX from Debian for the LaTeX-compile tests: booktabs, threeparttable, standalone; XeLaTeX
# with ctex for tables in Chinese
TEX_PACKAGES := texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-xetex texlive-lang-chinese
# A CJK font so that figures draw Chinese text (district names, labels) instead of empty boxes
FONT_PACKAGES := fonts-noto-cjk
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install fonts tex demo test lint typecheck pytest docs bench clean

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
	  echo "sustain needs Python 3.12 or 3.13 and found neither (python3.13, python3.12, pyenv versions)."; \
	  echo "Install one, e.g. 'pyenv install 3.13' or Debian's python3.12 and python3.12-venv, or run make PYTHON=/path/to/python3.12"; \
	  exit 1; fi
	@if [ -x $(BIN)/python ] && ! $(BIN)/python -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then \
	  echo "replacing $(VENV): it was built with $$($(BIN)/python --version 2>&1), sustain needs 3.12+"; rm -rf $(VENV); fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The Bayesian kernels compiled once at installation (sustain/models/bayes/kernel_store.py), so
# that a first fit compiles nothing; rebuilt when a kernel module changes.
KERNEL_SOURCES := $(wildcard sustain/models/bayes/kernel*.py)
KERNEL_STORE := sustain/models/bayes/_precompiled/BUILT

$(KERNEL_STORE): $(STAMP) $(KERNEL_SOURCES)
	$(BIN)/python -m sustain.models.bayes.kernel_store

install: $(STAMP) $(KERNEL_STORE) fonts

fonts:
	@if fc-list :lang=zh 2>/dev/null | grep -q .; then \
	  echo "fonts: found a CJK font ($$(fc-list :lang=zh family | head -n 1))"; \
	else \
	  echo "fonts: installing $(FONT_PACKAGES) from Debian (figures with Chinese text)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    $(FONT_PACKAGES) fontconfig >/dev/null; \
	fi

tex:
	@if command -v pdflatex >/dev/null && command -v xelatex >/dev/null && \
	  kpsewhich threeparttable.sty standalone.cls ctex.sty >/dev/null; then \
	  echo "TeX: found pdflatex and xelatex with booktabs, threeparttable, standalone and ctex"; \
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
	rm -rf $(VENV) results site .pytest_cache .mypy_cache .ruff_cache sustain/models/bayes/_precompiled
