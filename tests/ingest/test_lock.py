"""Lock contention: a writer waits for another process's lock, bounded, then says what to close."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from dagster_project.core import warehouse
from dagster_project.core.child import ChildError
from dagster_project.ingest.worker import run_loads

from .conftest import DAY, dumps, segment_track

_HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("create table if not exists held (x int)")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


@contextmanager
def held(db: Path, seconds: float) -> Iterator[subprocess.Popen]:
    """Another process (a notebook, say) holding a write connection to `db` for `seconds`."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout and proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_held_warehouse_fails_after_the_timeout_naming_the_holder(tmp_path: Path, monkeypatch):
    db = tmp_path / "w.duckdb"
    monkeypatch.setenv(warehouse.LOCK_TIMEOUT_ENV, "1")
    with held(db, 60) as holder:
        started = time.monotonic()
        with pytest.raises(warehouse.WarehouseLockedError) as err:
            warehouse.connect(db)
        waited = time.monotonic() - started
    assert 1.0 <= waited < 5
    message = str(err.value)
    assert f"PID {holder.pid}" in message
    assert "close what holds it" in message and "notebook" in message
    assert "ONBOARDING_LOCK_TIMEOUT" in message


def test_a_writer_waits_for_the_lock_and_proceeds_when_it_is_released(tmp_path: Path, monkeypatch):
    db = tmp_path / "w.duckdb"
    monkeypatch.setenv(warehouse.LOCK_TIMEOUT_ENV, "30")
    with held(db, 1.5) as holder:
        started = time.monotonic()
        con = warehouse.connect(db)
        waited = time.monotonic() - started
        holder.wait(timeout=10)
    try:
        assert con.execute("select count(*) from held").fetchone() == (0,)
    finally:
        con.close()
    assert waited >= 1.0  # it did wait, rather than succeed because the holder was gone


def test_the_ingest_child_waits_for_the_lock(tmp_path: Path, landing, write_segment, monkeypatch):
    """The load child opens the warehouse through `warehouse.connect`, so it waits too."""
    write_segment([dumps(segment_track("a")), dumps(segment_track("b"))])
    db = tmp_path / "w.duckdb"
    monkeypatch.setenv(warehouse.LOCK_TIMEOUT_ENV, "30")
    with held(db, 2):
        stats = list(run_loads(db, landing, [("segment", DAY)]))
    assert [s.loaded for s in stats] == [2]


def test_the_ingest_child_fails_clearly_when_the_lock_is_not_released(
    tmp_path, landing, write_segment, monkeypatch
):
    write_segment([dumps(segment_track("a"))])
    db = tmp_path / "w.duckdb"
    monkeypatch.setenv(warehouse.LOCK_TIMEOUT_ENV, "0.5")
    with (
        held(db, 60),
        pytest.raises(ChildError, match=r"WarehouseLockedError: the warehouse .* is locked by"),
    ):
        list(run_loads(db, landing, [("segment", DAY)]))


@pytest.mark.parametrize("value", ["soon", "-1", "inf", "nan"])
def test_a_malformed_lock_timeout_is_refused(value: str):
    with pytest.raises(ValueError, match="ONBOARDING_LOCK_TIMEOUT must be a number of seconds"):
        warehouse.lock_timeout({warehouse.LOCK_TIMEOUT_ENV: value})


def test_other_connection_errors_are_not_waited_on(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(warehouse.LOCK_TIMEOUT_ENV, "30")
    started = time.monotonic()
    with pytest.raises(duckdb.Error):
        warehouse.connect(tmp_path / "missing" / "w.duckdb", read_only=True)
    assert time.monotonic() - started < 5
