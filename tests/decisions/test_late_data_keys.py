"""Late data must not re-message (issue 15 item 5), end to end.

A copy of the session warehouse gets one late event: landed the day after the last loaded day, but
timed one hour into a silence that already has its re-engagement message. The silence now starts at
the late event, so its data-derived discriminator (silent_since) moves; the daily run of the new day
must still give it the key it had (int_messages__situation_keys), and every key the run adds must be a
situation of the new day, never a second one for a past situation the customer may have been sent.
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import Warehouse, pointed_at

pytestmark = pytest.mark.slow

# A silence whose start the late event can move: the next point comes at least this long after it.
SILENCE = timedelta(hours=48)
LATE_OFFSET = timedelta(hours=1)


def _query(db_path: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _silence_to_move(db_path: Path, last_day) -> tuple[str, datetime]:
    """A user and the start of a messaged silence that one event LATE_OFFSET into it moves, not ends:
    nothing else happens until the moved silence is due, and that is on a decided day."""
    rows = _query(
        db_path,
        """
        select m.user_id, cast(m.discriminator as timestamp) as silent_since
        from marts.triggered_messages as m
        where m.trigger = 'silence_reengagement'
          and cast(m.discriminator as timestamp) + interval 49 hour < cast(? as date)
          and not exists (
              select 1 from intermediate.int_events__unified as e
              where e.user_id = m.user_id
                and e.event_at > cast(m.discriminator as timestamp)
                and e.event_at < cast(m.discriminator as timestamp) + interval 49 hour
          )
          and not exists (
              select 1 from intermediate.int_experiments__user_overrides as o
              where o.user_id = m.user_id and o.nudge_silence_hours is not null
          )
        order by m.user_id, silent_since
        limit 1
        """,
        [last_day.isoformat()],
    )
    assert rows, "the generated warehouse has no messaged silence to move"
    return rows[0][0], rows[0][1]


def _customer_keys(db_path: Path) -> dict[str, tuple]:
    rows = _query(
        db_path,
        "select message_key, trigger, user_id, discriminator, as_of_date from marts.triggered_messages",
    )
    return {key: rest for key, *rest in rows}


def test_a_late_event_inside_a_messaged_silence_mints_no_new_key(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    from dagster_project.pipeline import run_pipeline

    db_path, landing = tmp_path / "warehouse.duckdb", tmp_path / "landing"
    shutil.copyfile(warehouse.db_path, db_path)
    wal = Path(f"{warehouse.db_path}.wal")
    if wal.exists():
        shutil.copyfile(wal, Path(f"{db_path}.wal"))

    user_id, silent_since = _silence_to_move(db_path, warehouse.end)
    before = _customer_keys(db_path)

    late_day = warehouse.end + timedelta(days=1)
    late_at = (silent_since + LATE_OFFSET).replace(microsecond=0)  # Mixpanel times are whole seconds
    (landing / "mixpanel").mkdir(parents=True)
    line = {
        "event": "user.logged_in",
        "properties": {
            "time": int((late_at - datetime(1970, 1, 1)).total_seconds()),
            "distinct_id": user_id,
            "$insert_id": f"late-{user_id}",
            "mp_processing_time_ms": int((late_at - datetime(1970, 1, 1)).total_seconds() * 1000)
            + 86_400_000,
        },
    }
    with gzip.open(landing / "mixpanel" / f"{late_day.isoformat()}.jsonl.gz", "wt") as out:
        out.write(json.dumps(line) + "\n")

    with pointed_at(db_path, landing):
        result = run_pipeline(late_day, late_day)
    assert result.success, result.failures

    # The late event was loaded and moved the situation: the family model now starts it at the event...
    moved = _query(
        db_path,
        """
        select discriminator from intermediate.int_messages__situations
        where trigger = 'silence_reengagement' and user_id = ? and cast(discriminator as timestamp) = ?
        """,
        [user_id, late_at],
    )
    assert moved, f"the late event at {late_at} did not move {user_id}'s silence from {silent_since}"
    # ... but its message keeps the key of the silence as first keyed.
    after = _customer_keys(db_path)
    silences_before = {
        k for k, (t, u, _d, _a) in before.items() if t == "silence_reengagement" and u == user_id
    }
    silences_after = {
        k for k, (t, u, _d, _a) in after.items() if t == "silence_reengagement" and u == user_id
    }
    assert silences_after == silences_before
    # Every key the run added is a situation of the new day, none a second key for a past one.
    added = {key: row for key, row in after.items() if key not in before}
    assert all(as_of == late_day for (_t, _u, _d, as_of) in added.values()), sorted(
        (t, u, d, str(a)) for (t, u, d, a) in added.values() if a != late_day
    )
