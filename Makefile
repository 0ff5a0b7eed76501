# Two entry points (see README): `make demo` and `make test`. Both create .venv if needed.
# Python 3.11 if there is one (the DfE validators extra installs there only), else python3;
# carepath needs 3.11 or later. Override with `make PYTHON=python3.13 ...`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test lint typecheck pytest browser-deps bench bench-smoke clean faults

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
		{ echo "carepath needs Python 3.11 or later: $(PYTHON) is missing or older. Run: make PYTHON=python3.11 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# Front-end assets (GOV.UK Frontend) and test tooling (axe-core, bpmn.io's parser) from the npm
# registry; without npm the web app runs unstyled and those tests are skipped with a message.
node_modules/.installed: package.json
	@if command -v npm >/dev/null 2>&1; then npm install --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the web app will be unstyled and the bpmn.io and accessibility tests skipped"; fi

# The browser tests (tests/browser) drive Debian's Chromium with Playwright (from the test extra;
# never `playwright install`). Installs the chromium package when it is missing and we are root
# with apt-get (CI); otherwise says how, and those tests are skipped.
CHROMIUM ?= $(firstword $(wildcard /usr/lib/chromium/chromium /usr/bin/chromium))
browser-deps: node_modules/.installed
	@if [ -n "$(CHROMIUM)" ]; then echo "chromium: $(CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && \
		echo "chromium installed from Debian's packages"; \
	else echo "chromium not found: run 'sudo apt-get install chromium' for the browser tests (skipped without it)"; fi

# The demo: a caseload and demo logins on SQLite, then the web app at http://127.0.0.1:8000/
demo: $(VENV)/.installed node_modules/.installed
	$(BIN)/carepath demo --serve

lint: $(VENV)/.installed-test
	$(BIN)/ruff check carepath tests

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy carepath

# pytest exits 5 when it collects no tests: that is not a failure of the code.
# PYTEST_ARGS='-m "not slow"' leaves out the wheel test (it builds and installs the wheel).
# The suite runs in one process a core (pytest-xdist, at most 4; a file's tests stay together,
# so a module's fixtures are built once); PYTEST_JOBS= runs it in this process.
PYTEST_JOBS ?= -n auto --maxprocesses 4 --dist loadfile
pytest: $(VENV)/.installed-test node_modules/.installed
	$(BIN)/python -m pytest $(PYTEST_JOBS) $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

test: lint typecheck pytest

# Benchmarks (see BENCHMARKS.md): the full run takes up to 15 minutes and writes
# bench/results.json; the smoke run takes seconds (the test suite runs it too).
bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

bench-smoke: $(VENV)/.installed-test
	$(BIN)/python -m bench --smoke

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache build dist \
		carepath.egg-info test-artifacts

# The standing fault suites alone (they run in `make test` too), writing their figures to
# bench/fault_results.json (see BENCHMARKS.md).
faults: $(VENV)/.installed-test
	CAREPATH_FAULT_RESULTS=bench/fault_results.json $(BIN)/python -m pytest -m faults tests/faults
