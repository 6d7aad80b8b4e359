# Two entry points for a fresh machine: `make run` and `make test`.
# Each creates the virtual environment on first use and reinstalls only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench check clean try-telegram try-whatsapp

# The install's own chatter (setuptools' editable-install notice) goes to .venv/install.log; a failed
# install prints the whole log.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/pip install --quiet --upgrade pip > $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@$(BIN)/pip install --quiet -e '.[test,bench]' >> $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/rashut run

test: $(STAMP)
	$(BIN)/rashut kb validate
	$(BIN)/rashut kb check
	$(BIN)/rashut eval --set tuned --quiet
	$(BIN)/rashut eval --set dev --quiet
	$(BIN)/python -m tests.pgserver --ensure
	$(BIN)/python -m pytest -q

# Chat with the bot through a channel's real stack against its local emulator (no token, no network)
try-telegram: $(STAMP)
	$(BIN)/python -m tools.try_channel telegram

try-whatsapp: $(STAMP)
	$(BIN)/python -m tools.try_channel whatsapp

bench: $(STAMP)
	$(BIN)/python -m benchmarks.heq
	$(BIN)/python -m benchmarks.scale --json benchmarks/out/scale.json
	$(BIN)/python -m benchmarks.telegram_load

clean:
	rm -rf $(VENV)
