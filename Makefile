# Every target bootstraps .venv itself, so `make serve` and `make test` work on a fresh machine
# with only Python 3.11 and pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test protos protos-check operations-doc lint typecheck check wheel-check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

serve: $(STAMP)  ## run the server on 127.0.0.1:50051 with data in ./data
	$(BIN)/python server.py

test: $(STAMP)  ## run the whole test suite, with the PostgreSQL tier when it can (tools/with_pg.py)
	$(BIN)/python tools/with_pg.py -- $(BIN)/python -m pytest

protos: $(STAMP)  ## regenerate stigmer_sessions/_gen from proto/
	$(BIN)/python tools/protos.py

protos-check: $(STAMP)
	$(BIN)/python tools/protos.py --check

operations-doc: $(STAMP)  ## rewrite docs/operations.md from the operations the server builds
	$(BIN)/python tools/operations_doc.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: protos-check lint typecheck test wheel-check

wheel-check: $(STAMP)  ## build the wheel, install it into a fresh venv, serve a Create from it
	$(BIN)/python tools/wheel_check.py

bench: $(STAMP)  ## run the benchmarks and rewrite docs/benchmarks.md
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
