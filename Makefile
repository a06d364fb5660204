# Guardian: the two commands.
#   make demo  - set up everything, load the bundled real Essex data, print the store status,
#                open burglary cocoons and write the monthly coordination briefing for the
#                latest bundled month.
#   make test  - set up everything (PostgreSQL and Chromium included) and run the whole suite
#                against SQLite and PostgreSQL.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
GUARDIAN := $(VENV)/bin/guardian
export GUARDIAN_HOME ?= $(HOME)/.guardian

.PHONY: demo test setup system-deps system-deps-demo lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# Browser libraries for the interactive map (Leaflet, pinned in package-lock.json).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: system-deps $(VENV)/.installed node_modules/.installed

# System libraries: WeasyPrint needs Pango; tests need PostgreSQL and Chromium. Installed with
# apt-get only when missing (we run as root on the project's machines).
system-deps:
	@bash scripts/system-deps.sh

# The demo needs no database server and no browser.
system-deps-demo:
	@GUARDIAN_SKIP_TEST_DEPS=1 bash scripts/system-deps.sh

demo: system-deps-demo $(VENV)/.installed node_modules/.installed
	$(GUARDIAN) ingest data/police_uk_street_essex
	$(GUARDIAN) status
	$(GUARDIAN) cocoons open --force essex --from 2021-11
	$(GUARDIAN) brief --force essex --month latest --out $(GUARDIAN_HOME)/briefing
	$(GUARDIAN) users demo
	@echo "Web app: $(GUARDIAN) serve --as-of 2021-12-31T18:00 and open http://localhost:8000/ (sign in as demo-officer on a phone-sized window for /my, demo-supervisor for the dashboard, with the password printed above)"

test: setup
	bash scripts/run-tests.sh

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/lint-imports

bench: setup
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
