# Two entry points for a fresh machine: `make run` and `make test`.
# Each creates the virtual environment on first use and reinstalls only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/rashut run

test: $(STAMP)
	$(BIN)/rashut kb validate
	$(BIN)/rashut kb check
	$(BIN)/rashut eval --set tuned --quiet
	$(BIN)/rashut eval --set dev --quiet
	$(BIN)/python -m tests.pgserver --ensure
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks.heq
	$(BIN)/python -m benchmarks.scale --json benchmarks/out/scale.json
	$(BIN)/python -m benchmarks.telegram_load

clean:
	rm -rf $(VENV)
