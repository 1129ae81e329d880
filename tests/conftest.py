"""Shared fixtures: a generated dataset run through the real pipeline into a temporary DuckDB file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

# Partitions are defined when the code location loads; start them early enough for every fixture.
os.environ.setdefault("ONBOARDING_START_DATE", "2026-01-01")
os.environ.pop("DAGSTER_HOME", None)

E2E_END = date(2026, 10, 20)
E2E_DAYS = 21


@dataclass
class Warehouse:
    db_path: Path
    landing: Path
    manifest: dict
    start: date
    end: date

    def connect(self):
        import duckdb

        return duckdb.connect(str(self.db_path), read_only=True)

    @contextmanager
    def activate(self) -> Iterator[None]:
        """Point ONBOARDING_DB / ONBOARDING_LANDING at this warehouse for the duration."""
        with pointed_at(self.db_path, self.landing):
            yield


@contextmanager
def pointed_at(db_path: Path, landing: Path) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("ONBOARDING_DB", "ONBOARDING_LANDING")}
    os.environ["ONBOARDING_DB"], os.environ["ONBOARDING_LANDING"] = str(db_path), str(landing)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """A few hundred generated users over three weeks, through ingest + dbt build, in one run."""
    from dagster_project.dbt_project import prepare_manifest
    from dagster_project.demo import generate
    from dagster_project.pipeline import run_pipeline

    root = tmp_path_factory.mktemp("warehouse")
    landing, db_path = root / "landing", root / "warehouse.duckdb"
    manifest = generate(landing, users=400, days=E2E_DAYS, seed=7, end_date=E2E_END, malformed_rate=0.01)
    start = E2E_END - timedelta(days=E2E_DAYS - 1)
    with pointed_at(db_path, landing):
        prepare_manifest()
        result = run_pipeline(start, E2E_END)
    assert result.success, result.failures
    yield Warehouse(db_path=db_path, landing=landing, manifest=manifest, start=start, end=E2E_END)
