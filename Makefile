# The bootcamp's commands. `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup system-packages test-packages run test test-fast bench lint lock clean

# Debian packages (sample data, runtime libraries); a quick no-op when all are installed.
system-packages:
	@scripts/system-packages.sh run

# ...and what the tests need on top: MariaDB, Chromium, docker-compose.
test-packages:
	@scripts/system-packages.sh test

# Debian packages, then .venv; the venv is rebuilt only when pyproject.toml or constraints.txt change.
setup: system-packages $(STAMP)
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	# CPU build of torch first, from the local wheel; otherwise a dependency pulls a multi-GB CUDA build
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,bench]"
	touch $(STAMP)

run: setup
	$(BIN)/bootcamp serve --host $(HOST) --port $(PORT)

# Everything: lint, then unit, integration (real Milvus server + MariaDB), browser and slow tests.
test: test-packages lint
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not integration and not browser and not slow"

# One script per demo of the registry (`bootcamp demos`), each saving bench/results/<demo>.json (and plots), then
# the cross-cutting ones (QA on small collections, search by words, hostile queries, the molecule engine vs
# FPSim2 at 1M/10M, memory of huge inputs, Milvus Lite vs server); then the READMEs' measured figures are
# rewritten from those files. Hours on 2 cores.
BENCH_EXTRA := image_int8_export qa_chatbot_small image_search_text image_search_hostile molecular_search_engine loads milvus_limits
bench: setup
	@scripts/system-packages.sh bench
	@set -e; for script in $$($(BIN)/bootcamp demos) $(BENCH_EXTRA); do \
	  echo "== bench/$$script.py"; $(BIN)/python -m bench.$$script; done
	$(BIN)/python -m bench.report

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# Re-pin constraints.txt from the current venv.
lock: setup
	{ echo "# Exact versions CI and 'make setup' install (pip -c constraints.txt). Regenerate with 'make lock'."; \
	  $(BIN)/pip freeze --exclude-editable --all | grep -v '^pip=='; } > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
