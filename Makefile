# incident-tui — every target installs what it needs into .venv first.
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-test

.PHONY: bytecode demo test test-all lint format screenshots bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# pip compiles an installed wheel, not an editable install, and Python writes no bytecode
# of its own where PYTHONDONTWRITEBYTECODE is set: without this the app would compile its
# source on every start
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q tui widgets runbooks

demo: bytecode
	$(BIN)/incident-tui demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy tui widgets runbooks

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/python -m pytest -q

test-all: lint
	$(BIN)/python -m pytest -q -m "slow or not slow"

screenshots: $(STAMP)
	$(BIN)/python -m tui.cli.screenshots screenshots

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
