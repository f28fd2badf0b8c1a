# Two commands on a fresh machine: `make demo` runs the main job, `make test` runs the whole suite.
# Each creates (or reuses) the virtual environment in .venv and installs what it needs.
# `make notebooks` executes the five notebooks at full size and saves them with their outputs.
# `make docs` builds the documentation site into docs/_build/html.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test notebooks lint venv clean docs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first: an unpinned torch would pull a CUDA build of several GB.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Each run writes a new folder, so earlier results are never overwritten.
demo: $(STAMP)
	$(BIN)/graphboost demo --output demo-output/$$(date +%Y%m%d-%H%M%S)

# Executes the notebooks at full size in place (the [notebooks] extra is part of [dev]) and records
# each run time in its metadata and in notebooks/README.md; a subset: make notebooks
# NOTEBOOKS="notebooks/02_breast_mri_tnbc_pcr.ipynb". Run times: notebooks/README.md.
NOTEBOOKS ?=
notebooks: $(STAMP)
	$(BIN)/python notebooks/run_notebooks.py $(NOTEBOOKS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --durations=15

# The documentation site (Sphinx, the [docs] extra, part of [dev]) into docs/_build/html, warnings as
# errors; -E rereads every page, so that a warning of an unchanged page still fails the build. The
# notebooks are rendered from their committed outputs, never executed; the API reference is generated
# from each package's __all__ (docs/conf.py).
docs: $(STAMP)
	$(BIN)/sphinx-build -E -W --keep-going -b html docs docs/_build/html

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) demo-output .pytest_cache docs/_build docs/api/generated
