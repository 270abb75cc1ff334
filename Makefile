# kubemon: `make demo` runs the whole system with a simulated cluster; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow test-faults lint services stop-services bench clean frontend

# The portal's front end (docs/web.md, "The build"): Node.js and npm from apt when missing,
# `npm ci` only when the lock file changed (a stamp in node_modules), then esbuild bundles
# frontend/src/pages/* into web/static/web/ (fast: it runs every time).
FRONTEND_STAMP := frontend/node_modules/.installed
$(FRONTEND_STAMP): frontend/package.json frontend/package-lock.json
	@deploy/local/ensure-node.sh
	npm --prefix frontend ci --no-audit --no-fund --loglevel=error
	@touch $(FRONTEND_STAMP)

frontend: $(FRONTEND_STAMP)
	node frontend/build.mjs

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# (this machine's pip config names local mirrors that may be absent: their warnings are noise)
	$(PY) -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	$(PY) -m pip install -q -r requirements-dev.txt 2>&1 | grep -v '^WARNING: Location'; test $${PIPESTATUS[0]} -eq 0
	@touch $(STAMP)

services: $(STAMP)
	@deploy/local/ensure-services.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	@# The layout's import rules: the contracts in pyproject.toml (docs/architecture.md)
	$(VENV)/bin/lint-imports --no-cache

# The suite without the long fault, scale and simulated-hours runs (marked slow): under 10 minutes,
# on TEST_WORKERS pytest-xdist workers (each with its own test database, Redis database and
# InfluxDB; a module's tests, and all browser tests, stay on one worker: tests/conftest.py).
TEST_WORKERS ?= 2
test: services lint frontend
	@set -a; source .run/env; set +a; \
	DATABASE_URL=$${KUBEMON_TEST_DATABASE_URL} REDIS_URL=$${REDIS_URL%/*}/15 \
	$(VENV)/bin/pytest -m "not slow" -n $(TEST_WORKERS) --dist loadgroup

# The long runs alone: killed workers and cycles, simulated hours against the truth, backups, the
# fan's simulated day... (docs/reliability.md says what each proves).
test-slow: services frontend
	@set -a; source .run/env; set +a; \
	DATABASE_URL=$${KUBEMON_TEST_DATABASE_URL} REDIS_URL=$${REDIS_URL%/*}/15 $(VENV)/bin/pytest -m slow

# The fault suite alone (tests/faults/, part of test-slow): InfluxDB down 60 and 200 min, Redis restarted
# mid-cycle, the Kubernetes API and a kubelet down, a worker SIGKILLed mid-shard (docs/reliability.md).
test-faults: services
	@set -a; source .run/env; set +a; \
	DATABASE_URL=$${KUBEMON_TEST_DATABASE_URL} REDIS_URL=$${REDIS_URL%/*}/15 $(VENV)/bin/pytest -m slow tests/faults

demo: services frontend
	@set -a; source .run/env; set +a; $(PY) deploy/local/demo.py

bench: services
	@set -a; source .run/env; set +a; for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

stop-services:
	@deploy/local/stop-services.sh

clean: stop-services
	rm -rf $(VENV) .run
