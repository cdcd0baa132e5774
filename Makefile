# Liveradvance EDC — two commands: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test install setup lint format bench worker beat run-prod clean chaos e2e

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Local development settings: DEBUG on and a random secret key, kept in .env (git-ignored).
.env:
	@printf 'DEBUG=1\nSECRET_KEY=%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env

setup: install .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_liveradvance --demo-users --demo-patients

run: setup
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl-C to stop)"
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install
	SECRET_KEY=$${SECRET_KEY:-test-only-secret-key} DEBUG=0 $(PY) manage.py makemigrations --check --dry-run
	SECRET_KEY=$${SECRET_KEY:-test-only-secret-key} DEBUG=0 $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Generates 400- and 10,000-patient trials in throw-away databases (PostgreSQL for the
# concurrency and HTTP figures: DATABASE_URL=postgres://...) and writes benchmarks/results.md.
# Quick look: make bench BENCH_ARGS="--sizes 100,400 --no-http".
bench: install .env
	DEBUG=0 HTTPS=0 DEVTOOLS=1 $(PY) manage.py bench $(BENCH_ARGS)

# Production shape without Docker: gunicorn + Celery worker + beat against $DATABASE_URL/$REDIS_URL.
run-prod: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput
	$(VENV)/bin/gunicorn liveradvance.wsgi:application --bind $(HOST):$(PORT) --workers 2

worker: install
	$(VENV)/bin/celery -A liveradvance worker --loglevel=info

beat: install
	$(VENV)/bin/celery -A liveradvance beat --loglevel=info

# Live-server fault scenarios (broker down, concurrent writes, retries) against PostgreSQL;
# outcomes are described in docs/reliability.md.
chaos: install
	$(PY) scripts/chaos.py

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache e2e-artifacts

# Real-browser journey only (Playwright + Debian's Chromium at /usr/bin/chromium; screenshots
# in e2e-artifacts/, clicks and page loads in benchmarks/e2e_journey.md). Part of `make test`.
e2e: install
	SECRET_KEY=$${SECRET_KEY:-test-only-secret-key} DEBUG=0 $(PY) -m pytest tests/e2e -p no:cacheprovider $(PYTEST_ARGS)
