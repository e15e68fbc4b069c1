# Relais: `make run` serves the demo on embedded defaults; `make test` runs every test.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint typecheck layers bench browsers clean

setup: $(STAMP)

# torch's CPU build goes in first so sentence-transformers does not pull a CUDA one.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: setup
	$(BIN)/relais migrate
	$(BIN)/relais demo load
	$(BIN)/relais run

# Debian's Chromium (needs root or sudo) and axe-core from npm for the console's browser tests.
browsers: node_modules/.installed
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

# Who may import whom (the table in ../shared/DESIGN.md), as import-linter contracts: .importlinter
layers: setup
	$(BIN)/lint-imports

test: setup browsers lint typecheck layers
	$(BIN)/pytest -n 2 --dist loadfile -q

bench: setup
	$(BIN)/relais bench

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
