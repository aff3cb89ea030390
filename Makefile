# Two commands for a fresh machine:
#   make serve   set up .venv, make the demo world if missing, start the main job
#   make test    set up .venv with the dev extras (+ Debian chromium), run the whole test suite
# Every pip install goes through constraints.txt (CPU torch 2.13.0, cartopy<0.26).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= demo_data
PIP    := $(BIN)/python -m pip
PYTEST_ARGS ?=

.PHONY: serve test install install-dev demo chromium kernel clean help

help:
	@echo "make serve  - install, generate the demo world if missing, start the main job"
	@echo "make test   - install with dev extras (+ chromium), run the test suite"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel

# Re-install only when the dependency files change (stamp files inside the venv).
$(VENV)/.installed-base: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt -e ".[train]"
	@touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt -e ".[train,lab,dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name workbench --display-name "Glacier Workbench" >/dev/null
	@touch $@ $(VENV)/.installed-base

install: $(VENV)/.installed-base
install-dev: $(VENV)/.installed-dev

$(DEMO)/manifest.json: | $(VENV)/.installed-base
	$(BIN)/workbench demo --out $(DEMO)

demo: $(DEMO)/manifest.json

# Debian's chromium for the browser tests (Playwright's own browser download does not work offline).
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
	  echo "installing Debian chromium for the browser tests"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium missing and apt-get unavailable: browser tests will skip"; fi

serve: install demo
	$(BIN)/workbench serve $(DEMO)

test: install-dev chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(DEMO) .pytest_cache
