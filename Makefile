# Every target does its own set-up: a fresh machine needs only Python 3.11+, Java 17+ and Maven.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
WITH_KAFKA := infra/scripts/with-kafka.sh
PYTEST_ARGS ?=

.PHONY: help venv run run-live test deploy-test lint typecheck pytest pytest-strict kafka-up kafka-down topics bench up down lock clean

help:
	@echo "make run         start Kafka, both simulators (demo shop), the four services and the dashboard (:8080); Ctrl-C stops all"
	@echo "make run-live    the services (and dashboard) against the real APIs configured in .env"
	@echo "make test        lint, type check and every test, against a real Kafka broker; then the e2e tests again under the strict simulator profile"
	@echo "make deploy-test build the image and test the compose deployment for real (Docker, else podman set up here)"
	@echo "make bench       latency and throughput benchmarks (figures go into the README)"
	@echo "make kafka-up    start the local Kafka broker (kept running); make kafka-down stops it"
	@echo "make up / down   docker compose deployment (infra/compose.yaml; COMPOSE_PROFILES=demo adds the simulators)"
	@echo "make lock        re-pin the image's runtime dependencies (infra/requirements.lock)"

venv: $(STAMP)
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11+ is required: apt-get install python3 python3-venv"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

kafka-up: venv
	PYTHON=$(PY) infra/kafka/kafka.sh up

kafka-down:
	PYTHON=$(PY) infra/kafka/kafka.sh down

topics: venv
	$(PY) -m services.syncctl topics create

run: venv
	PYTHON=$(PY) $(WITH_KAFKA) $(PY) -m infra.run_all

run-live: venv
	PYTHON=$(PY) $(WITH_KAFKA) $(PY) -m infra.run_all --live

lint: venv
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

typecheck: venv
	$(VENV)/bin/mypy

pytest: venv
	PYTHON=$(PY) $(WITH_KAFKA) $(PY) -m pytest $(PYTEST_ARGS)

# The e2e tests again with both simulators under the `strict` profile, the least convenient
# plausible variant of every unknown API behaviour (infra/simulators/README.md); tests marked
# covers_profiles pick their profiles themselves and ran in the first pass.
pytest-strict: venv
	RACKBEAT_SIM_PROFILE=strict SHOPBOX_SIM_PROFILE=strict PYTHON=$(PY) $(WITH_KAFKA) \
		$(PY) -m pytest tests/e2e -m "not covers_profiles" $(PYTEST_ARGS)

test: lint typecheck pytest pytest-strict

# The compose deployment for real (docs/deploying.md); not part of `make test`.
deploy-test: venv
	PYTHON=$(PY) infra/deploy/deploy-test.sh

bench: venv
	PYTHON=$(PY) $(WITH_KAFKA) $(PY) -m tests.bench.run_all $(BENCH)

up:
	@test -f infra/compose.env || { echo "infra/compose.env is missing: copy infra/compose.env.example and put the real credentials in it (README: Deploying)"; exit 1; }
	docker compose -f infra/compose.yaml up -d --build

down:
	docker compose -f infra/compose.yaml down

lock: venv
	$(PY) -m infra.lock

clean:
	rm -rf .kafka .state .pytest_cache .mypy_cache .ruff_cache
