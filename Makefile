# Molt — `make run` opens the TUI on the demo (fleets web and api); `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# one stamp per pyproject.toml: running needs only Molt's dependencies, the tests add extras
PYPROJECT := $(shell cksum < pyproject.toml | cut -d' ' -f1)
RUN_STAMP := $(VENV)/.installed-run-$(PYPROJECT)
TEST_STAMP := $(VENV)/.installed-test-$(PYPROJECT)
DEBIAN_PACKAGES := openssh-server haproxy tmux socat
# the commands the suite needs, one per Debian package above
NEEDED_COMMANDS := /usr/sbin/sshd /usr/sbin/haproxy tmux socat

.PHONY: run test lint screenshots snapshot-update benchmarks system-deps venv clean

$(RUN_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# a current pip first: the venv's own (23.2) took twice as long over the install below
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@rm -f $(VENV)/.installed-run-*
	@touch $@

$(TEST_STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-test-*
	@touch $@

venv: $(TEST_STAMP)

run: $(RUN_STAMP)
	$(BIN)/molt $(ARGS)

system-deps:
	@missing=""; for c in $(NEEDED_COMMANDS); do command -v $$c >/dev/null 2>&1 || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages: $(DEBIAN_PACKAGES)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES)) >/dev/null; \
	  else \
	    echo "the tests need these Debian packages; install them with:"; \
	    echo "  sudo apt-get install -y $(DEBIAN_PACKAGES)"; exit 1; \
	  fi; \
	fi

# three workers on two cores: most tests wait on real processes, servers and timers
PYTEST_ARGS ?= -n 3 --dist worksteal

test: system-deps $(TEST_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check backends tui tests
	$(BIN)/mypy

screenshots: $(TEST_STAMP)
	$(BIN)/python scripts/screenshots.py

snapshot-update: $(TEST_STAMP)
	$(BIN)/python -m pytest tests/tui --snapshot-update

benchmarks: $(TEST_STAMP)
	for b in tests/benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
