"""The engine's own Segment identify, exported back by Segment, must not change the user's profile.

The round trip as it happens in production: the sync sends an ``identify`` of the engine's traits
(here to the Segment stand-in); Segment's next export carries that call; the ingest loads it into
``raw.segment_events``; dbt stages it and builds ``int_users__profiles``, from which tracks, decisions
and messages follow. Before the fix the echo became the user's latest identify and blanked company,
plan and role (a profile change that re-decides the track and can trigger a message).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from dagster_project.core.settings import DBT_PROJECT_DIR, dbt_executable
from dagster_project.ingest.load import load_day
from dagster_project.ingest.schema import ensure_raw_schema
from tests.standins import StandinSet
from tests.standins.marts import traits
from tests.sync.conftest import Warehouse, settings_for, sync

DAY = date(2026, 11, 2)
USER = "auth0|user00001"
PROFILE = ("email", "name", "company", "company_size", "industry", "role", "plan", "team_size")


def export_line(call: dict, at: datetime) -> bytes:
    """A call as Segment's export writes it: the call plus the times Segment adds."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return json.dumps({**call, "timestamp": stamp, "originalTimestamp": stamp, "sentAt": stamp,
                       "receivedAt": stamp}).encode() + b"\n"


def land(landing: Path, day: date, lines: list[bytes]) -> None:
    folder_ms = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    folder = landing / "segment" / "segment-logs" / "src1" / str(folder_ms)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "1.a.gz").write_bytes(gzip.compress(b"".join(lines)))


def profiles(db: Path, target: Path) -> dict[str, tuple]:
    proc = subprocess.run(
        [dbt_executable(), "run", "--select", "stg_segment__identifies", "stg_app__signups", "int_users__profiles",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(target / "target"), "--log-path", str(target / "logs")],
        env={**os.environ, "ONBOARDING_DB": str(db)}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    with duckdb.connect(str(db), read_only=True) as con:
        # The echo is staged, and it is the user's latest identify, with none of the profile's traits:
        # what the profile would take if it were not ignored.
        latest = con.execute("select message_id, company, plan from staging.stg_segment__identifies"
                             " order by identified_at desc limit 1").fetchone()
        assert latest is not None and latest[0].startswith("onb-") and latest[1:] == (None, None)
        return {row[0]: row[1:] for row in con.execute(
            f"select user_id, {', '.join(PROFILE)} from intermediate.int_users__profiles").fetchall()}


@pytest.mark.slow  # one dbt start (25-40 s on two cores)
def test_the_engines_identify_coming_back_through_the_ingest_changes_no_profile(
        warehouse: Warehouse, standins: StandinSet, tmp_path: Path) -> None:
    warehouse.insert("destination_traits", [traits(1)])
    sync(warehouse, settings_for(standins), "segment")
    [echo] = standins.segment.calls.values()  # exactly what the engine sent
    assert echo["type"] == "identify" and echo["userId"] == USER

    real = {"type": "identify", "messageId": "real-1", "userId": USER, "anonymousId": "anon-1",
            "traits": {"email": "ann@example.com", "name": "Ann Lee", "company": "Acme", "company_size": "11-50",
                       "industry": "saas", "role": "engineer", "plan": "pro", "team_size": 4}}
    landing, db = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    land(landing, DAY, [export_line(real, datetime(2026, 11, 2, 9))])
    land(landing, date(2026, 11, 3), [export_line(echo, datetime(2026, 11, 3, 2))])
    with duckdb.connect(str(db)) as con:
        ensure_raw_schema(con)
        load_day(con, landing, "segment", DAY)
        loaded = load_day(con, landing, "segment", date(2026, 11, 3))
        assert con.execute("select count(*) from raw.segment_events where type = 'identify'").fetchone()[0] == 2

    profile = profiles(db, tmp_path)[USER]

    assert loaded.loaded == 1  # the echo went through the ingest like any export line
    assert profile == ("ann@example.com", "Ann Lee", "Acme", "11-50", "saas", "engineer", "pro", 4)
