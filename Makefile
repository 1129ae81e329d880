# Two commands on a fresh machine: `make run` (the pipeline on the embedded defaults) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DAGSTER_HOME := $(abspath data/dagster_home)
export DAGSTER_HOME
# Runs launched from `make dev` store an asset's per-day materializations together
# (dagster_project/deploy/event_log.py); `onboarding run` sets it itself.
DAGSTER_EVENT_BATCH_SIZE ?= 1000
export DAGSTER_EVENT_BATCH_SIZE

.PHONY: install lock run test test-fast dev bench lint docs clean generate ui-check postgres-bin

install: $(STAMP)

# Every package from requirements.lock, each checked against its hashes (runtime and all extras,
# the build backend included), then the project itself, editable, with nothing more resolved.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Re-pins requirements.lock after pyproject.toml's requirements change, keeping every pin that still
# fits (`make lock UPGRADE=1`: the newest allowed versions). tests/test_packaging.py fails on a stale lock.
# Extras stay on their pins (sqlglot[rs]==...): pip's --require-hashes wants a pinned line for each.
lock:
	@test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install --quiet uv; }
	$(BIN)/uv pip compile pyproject.toml --all-extras --universal --python-version 3.11 --generate-hashes \
		--no-strip-extras --custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade) -o requirements.lock

$(DAGSTER_HOME)/dagster.yaml: dagster_project/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster_project/dagster.yaml $@

generate: $(STAMP)
	$(BIN)/onboarding generate

# Generates demo exports when data/landing is empty, then runs every landing day in one run.
run: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	@if [ -z "$$(ls -A data/landing 2>/dev/null)" ]; then $(BIN)/onboarding generate; fi
	$(BIN)/onboarding run

# Whole files to a worker, longest first (tests/conftest.py LONGEST_FIRST): no two workers set up the same
# module's pipeline run, and neither ends on a long file started last.
test: $(STAMP) postgres-bin
	$(BIN)/pytest -n $${PYTEST_WORKERS:-2} --dist loadfile --no-loadscope-reorder

# Debian's PostgreSQL server binaries for tests/deploy (the daemon on a real PostgreSQL), installed if
# missing, as ui-check installs chromium. Where they cannot be (no apt-get, not root) that test says why
# and is skipped (.ci/run makes it fail instead).
postgres-bin:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
		  apt-get install -y -qq postgresql; } || echo "PostgreSQL not installed: tests/deploy will be skipped"

# The fast lane before every commit: everything but the pipeline runs, dbt parses and the wheel build.
test-fast: $(STAMP)
	$(BIN)/pytest -n $${PYTEST_WORKERS:-2} -m 'not slow and not browser'

dev: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -c "from dagster_project.dbt_project import prepare_manifest; prepare_manifest()"
	$(BIN)/dagster dev -w dagster_project/deploy/workspace.yaml

# dbt docs with the warehouse's catalog (run `make run` first for column types): dbt_project/target/
# static_index.html opens without a server. Fails if a mart column has no description.
docs: $(STAMP)
	ONBOARDING_DB=$${ONBOARDING_DB:-$(abspath data/warehouse.duckdb)} \
		$(BIN)/dbt docs generate --static --project-dir dbt_project --profiles-dir dbt_project
	$(BIN)/python scripts/check_docs.py dbt_project/target

# The Dagster UI in headless Chromium (Debian's chromium, installed here if missing): the asset graph and
# its groups, the partitions, a three-day backfill launched from the UI. Screenshots go to docs/img/.
ui-check: $(STAMP)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(BIN)/python scripts/check_ui.py

bench: $(STAMP)
	$(BIN)/python -m bench

# Python (ruff) and SQL (sqlfluff, jinja templater with the dbt shim in dbt_project/.sqlfluff_libs).
lint: $(STAMP)
	$(BIN)/ruff check dagster_project sync tests bench scripts
	cd dbt_project && ../$(BIN)/sqlfluff lint models --processes 2

clean:
	rm -rf data/warehouse.duckdb* data/dagster_home dbt_project/target dbt_project/logs
