"""The ingest's load child (ingest/worker.py): same results as an in-process load, errors surfaced."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from dagster_project.core.child import ChildError
from dagster_project.core.settings import Settings, SettingsError
from dagster_project.ingest.worker import connect_for_loads, run_loads

from .conftest import DAY, dumps, segment_track


def test_child_loads_in_order_and_reports_each_item(tmp_path: Path, landing, write_segment):
    days = [DAY + timedelta(days=i) for i in range(3)]
    for i, day in enumerate(days):
        write_segment([dumps(segment_track(k, user_id=f"u{i}")) for k in ("shared", f"own{i}")], day=day)
    write_segment([b"not json\n"], name="2.b.gz", day=days[2])
    db = tmp_path / "w.duckdb"

    stats = list(run_loads(db, landing, [("segment", d) for d in days]))

    assert [(s.source, s.day, s.loaded, s.duplicates, s.quarantined) for s in stats] == [
        ("segment", days[0].isoformat(), 2, 0, 0),
        ("segment", days[1].isoformat(), 1, 1, 0),
        ("segment", days[2].isoformat(), 1, 1, 1),
    ]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select user_id from raw.segment_events where message_id = 'shared'").fetchall() == [
            ("u0",)
        ]
        assert con.execute("select count(*) from raw.quarantine").fetchone()[0] == 1
        # end_bulk ran in the child: its checkpoint left nothing in the WAL
        assert not Path(f"{db}.wal").exists()


def test_child_failure_raises_with_the_childs_error(tmp_path: Path, landing, write_segment, monkeypatch):
    """A warehouse held by another writer past the lock timeout: the child's error reaches the step."""
    monkeypatch.setenv("ONBOARDING_LOCK_TIMEOUT", "0.5")
    write_segment([dumps(segment_track("a"))])
    db = tmp_path / "w.duckdb"
    holder = duckdb.connect(str(db))
    try:
        with pytest.raises(ChildError, match=r"(?s)exit 1.*lock"):
            list(run_loads(db, landing, [("segment", DAY)]))
    finally:
        holder.close()
    # The same request succeeds once the warehouse is free: a re-run is safe.
    assert [s.loaded for s in run_loads(db, landing, [("segment", DAY)])] == [1]


def test_a_malformed_memory_limit_fails_before_a_child_starts(tmp_path: Path, landing, write_segment, monkeypatch):
    """ONBOARDING_DUCKDB_MEMORY_LIMIT is resolved (and checked) by the parent: one clear message."""
    write_segment([dumps(segment_track("a"))])
    monkeypatch.setenv("ONBOARDING_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(SettingsError, match="ONBOARDING_DUCKDB_MEMORY_LIMIT must be a size"):
        list(run_loads(tmp_path / "w.duckdb", landing, [("segment", DAY)]))
    assert not (tmp_path / "w.duckdb").exists()


def test_the_child_applies_the_settings_it_is_sent_not_its_environment(
    tmp_path: Path, landing, write_segment, monkeypatch
):
    """The run's settings travel in the request: a line limit given as settings holds in the child
    even when the environment says otherwise (a run config override reaches the load)."""
    write_segment([dumps(segment_track("a" * 200))])
    monkeypatch.setenv("ONBOARDING_MAX_LINE_BYTES", "1000000")
    db = tmp_path / "w.duckdb"
    (stats,) = run_loads(db, landing, [("segment", DAY)], settings=Settings(max_line_bytes=100))
    assert (stats.loaded, stats.quarantined) == (0, 1)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select reason from raw.quarantine").fetchone()[0].startswith("oversized")


def test_no_items_starts_no_child(tmp_path: Path, landing):
    assert list(run_loads(tmp_path / "w.duckdb", landing, [])) == []
    assert not (tmp_path / "w.duckdb").exists()


def test_the_load_connection_bounds_duckdbs_cache_unless_the_operator_set_a_limit(tmp_path: Path, monkeypatch):
    """Without ONBOARDING_DUCKDB_MEMORY_LIMIT DuckDB would cache every written block up to 80% of RAM."""
    monkeypatch.delenv("ONBOARDING_DUCKDB_MEMORY_LIMIT", raising=False)
    con = connect_for_loads(tmp_path / "a.duckdb")
    default = con.execute("select current_setting('memory_limit')").fetchone()[0]
    con.close()
    monkeypatch.setenv("ONBOARDING_DUCKDB_MEMORY_LIMIT", "3GB")
    con = connect_for_loads(tmp_path / "b.duckdb")
    chosen = con.execute("select current_setting('memory_limit')").fetchone()[0]
    con.close()
    assert default == "953.6 MiB"  # DEFAULT_LOAD_MEMORY_LIMIT, 1GB
    assert chosen == "2.7 GiB"  # the operator's 3GB
