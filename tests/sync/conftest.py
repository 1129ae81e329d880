"""Fixtures for the sync tests: a scratch DuckDB with mart tables of the contract's shape, and
loopback stand-ins for the four vendors.

Why fixture marts: the decision models that build the real marts are written concurrently; the
tables here have exactly the columns of docs/data-contracts.md section 5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from sync.engine import run_sync
from sync.outcomes import RunSummary
from sync.settings import SyncSettings
from tests.standins import StandinSet
from tests.standins.marts import create_marts, insert

# Fast retries for tests: the behaviour (what is retried, how often) is what is tested, not the waits.
FAST = {
    "SYNC_SLACK_CHANNEL_INTERVAL": "0",
    **{f"SYNC_{d}_{k}": v for d in ("INTERCOM", "SLACK", "APPCUES", "CALENDLY")
       for k, v in (("BACKOFF_BASE", "0.01"), ("BACKOFF_MAX", "0.05"), ("MAX_ATTEMPTS", "6"),
                    ("RETRY_BUDGET", "20"), ("TIMEOUT", "5"), ("CONCURRENCY", "4"))},
}


class Warehouse:
    """A DuckDB file that is opened only for the duration of each call (the sync needs the lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with duckdb.connect(str(path)) as con:
            create_marts(con)

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        with duckdb.connect(str(self.path)) as con:
            insert(con, table, rows)

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        with duckdb.connect(str(self.path)) as con:
            con.execute(sql, params or [])

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.path)) as con:
            return con.execute(sql, params or []).fetchall()

    def value(self, sql: str, params: list[Any] | None = None) -> Any:
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def outbox_status(self, key: str) -> str | None:
        return self.value("select status from sync.outbox where message_key = ?", [key])


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(tmp_path / "warehouse.duckdb")


def settings_for(standins: StandinSet | None, **overrides: str) -> SyncSettings:
    env: dict[str, str] = dict(FAST)
    if standins is not None:
        env.update(standins.env())
    env.update(overrides)
    return SyncSettings.from_env(env)


def live_env(standins: StandinSet, **overrides: str) -> dict[str, str]:
    return {**FAST, **standins.env(), **overrides}


def sync(warehouse: Warehouse, settings: SyncSettings, destinations: Any = None,
         dry_run: bool | None = None, **kwargs: Any) -> dict[str, RunSummary]:
    return {s.destination: s for s in run_sync(warehouse.path, destinations, dry_run, settings=settings, **kwargs)}


def bodies(standins: StandinSet) -> list[str]:
    with standins.intercom.lock:
        return [m["body"] for m in standins.intercom.messages]


def delivered(standins: StandinSet, key: str) -> int:
    """How many Intercom messages carry the ``[key]`` marker the fixture bodies contain."""
    return sum(1 for body in bodies(standins) if f"[{key}]" in body)
