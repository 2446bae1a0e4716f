# Quick start: `make demo` runs a scan of a bundled loopback lab and writes a report;
# `make test` runs the whole test suite. Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test system-deps venv clean

$(BIN)/civiscan: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/civiscan

demo: venv
	$(BIN)/civiscan demo

system-deps:
	sh tools/system-deps.sh

test: system-deps venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
