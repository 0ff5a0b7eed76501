# Two entry points (see README): `make demo` and `make test`. Both create .venv if needed.
PYTHON ?= python3.11
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench bench-smoke clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# Test tooling from the npm registry (bpmn.io's parser); skipped with a message without npm.
node_modules/.installed: package.json
	@if command -v npm >/dev/null 2>&1; then npm install --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the bpmn.io import test will be skipped"; fi

demo: $(VENV)/.installed
	$(BIN)/carepath demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check carepath tests

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy carepath

# pytest exits 5 when it collects no tests: that is not a failure of the code.
pytest: $(VENV)/.installed-test node_modules/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

test: lint typecheck pytest

# Benchmarks (see BENCHMARKS.md): the full run takes up to 15 minutes and writes
# bench/results.json; the smoke run takes seconds (the test suite runs it too).
bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

bench-smoke: $(VENV)/.installed-test
	$(BIN)/python -m bench --smoke

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
