# Two commands do all set-up on a fresh Debian machine:
#   make run   -- creates .venv, installs the project, runs the default scenario, prints the report path
#   make test  -- also installs the Debian packages the tests need (apt-get when root), runs pytest
# make bench runs the pytest-benchmark suite (timings live there, never in tests).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
SCENARIO ?= scenarios/payout_2020.yaml
PYTEST_ARGS ?=

.PHONY: run test bench sysdeps lint clean help

help:
	@echo "make run    install what is missing and run $(SCENARIO); prints the report path"
	@echo "make test   install what is missing (Debian packages included) and run the tests"
	@echo "make bench  run the benchmarks (pytest-benchmark)"

# The base install: the twin itself.
$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	@touch $@

# The test install: dev tools, the PC/SC client (needs libpcsclite-dev and swig from sysdeps)
# and Debian's virtualsmartcard module made importable from the venv.
$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml scripts/sysdeps.sh scripts/link_system_modules.sh
	$(BIN)/python -m pip install -q -e '.[dev,card]'
	bash scripts/link_system_modules.sh $(VENV)
	@touch $@

run: $(VENV)/.installed
	$(BIN)/twin run $(SCENARIO)

sysdeps:
	bash scripts/sysdeps.sh

test: sysdeps $(VENV)/.installed-test
	$(BIN)/python -m pytest -n 2 --dist loadgroup --no-loadscope-reorder $(PYTEST_ARGS)

bench: sysdeps $(VENV)/.installed-test
	$(BIN)/python -m pytest benchmarks --benchmark-only -p no:randomly $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check twin emulators real_backends tests benchmarks

clean:
	rm -rf $(VENV) .benchmarks
