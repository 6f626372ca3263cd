# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Tests run against the real engines; these defaults match a stock local PostgreSQL and Redis.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/segment_one
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: demo test install services browser lint bench-import bench-consent bench-score bench-uplift bench-program bench-turfs bench-walklists bench-field bench-email bench-sms

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The demo: a generated county imported through the real importers, admin at 127.0.0.1:8000.
demo: install
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py demo
	@# --insecure: serve the admin's CSS and JS without DEBUG, as a demo on localhost needs.
	$(PY) manage.py runserver --insecure 127.0.0.1:8000

services:
	bash .ci/services

## Debian's Chromium for the browser tests (Playwright drives it; its own browser download does
## not work offline). The python `playwright` package comes with the dev dependencies.
browser: install
	test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

## The tests, against PostgreSQL and Redis (started if they are not running).
test: install services
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

bench-import: install services
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) bench/import_bench.py $(BENCH_ARGS)

## The consent anti-join on 1,000,000 voters against the same count without it (BENCH_ARGS=--voters N).
bench-consent: install services
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) bench/consent_bench.py $(BENCH_ARGS)

## A full scoring run through two Celery workers against the in-memory floor (BENCH_ARGS=--voters N).
bench-score: install services
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) bench/score_bench.py $(BENCH_ARGS)

## Nested against plain cross-fitting of the persuasion model, graded on the generated county's
## stored truth (BENCH_ARGS=--voters N --folds K).
bench-uplift: install services
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) bench/uplift_eval.py $(BENCH_ARGS)

## Committing a personalized program against a raw COPY of the same rows (BENCH_ARGS=--voters N).
bench-program: install services
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) bench/program_bench.py $(BENCH_ARGS)

## Cutting 60,000 generated doors into turfs in walking order against sort-and-chunk; no database
## (BENCH_ARGS=--doors N --precincts P).
bench-turfs: install
	$(PY) bench/turf_bench.py $(BENCH_ARGS)

## 1,000 walk-list PDFs of 60-80 doors end to end (read, render, audit) against the CSV of the
## same turfs, with peak memory after 100 and after all (BENCH_ARGS=--turfs N).
bench-walklists: install services
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) bench/walklist_bench.py $(BENCH_ARGS)

## 20 organizers' phones posting door results at once to gunicorn, against an authenticated GET
## of the same server (BENCH_ARGS=--organizers N --requests R --workers W).
bench-field: install services
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) bench/field_bench.py $(BENCH_ARGS)

## An email program's 100,000 personalized messages rendered and sent to a local aiosmtpd server,
## against raw smtplib resending one real message; invariants, peak RSS and CPU per message
## (BENCH_ARGS=--voters N --workers W [--no-pipelining] [--profile]).
bench-email: install services
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) bench/email_bench.py $(BENCH_ARGS)

## SMS vendors' reference clients leasing, acknowledging and reporting receipts and replies to
## gunicorn, then SIGKILLs of a client and a worker; invariants read from the database, against
## the same rows' UPDATEs in SQL (BENCH_ARGS=--messages N --fault-messages F --clients C).
bench-sms: install services
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(PY) bench/sms_bench.py $(BENCH_ARGS)
