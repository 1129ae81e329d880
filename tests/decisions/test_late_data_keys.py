"""Late data must not re-message (issue 15 item 5), end to end.

A copy of the session warehouse gets one late event: landed the day after the last loaded day, but
timed one hour into a silence that already has its re-engagement message. The silence now starts at
the late event, so its data-derived discriminator (silent_since) moves; the daily run of the new day
must still give it the key it had (int_messages__situation_keys), and every key the run adds must be a
situation of the new day, never a second one for a past situation the customer may have been sent.

The same for the CSMs' Slack alerts (marts.csm_alerts): a late login inside the first days of an
emergency risk episode moves the episode's start, once a backfill decides those days again; the
episode's alert keeps the key it was first given, and no alert key appears for a past day.
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date, datetime, timedelta
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


# The late login of the risk case: noon of the episode's first day (UTC, the decision days' zone).
LOGIN_AT = timedelta(hours=12)
NO_LOGIN_DAYS = 3  # churn_risk_factors.no_login_3_days.days
NO_LOGIN_WEIGHT = 0.25  # its weight
EMERGENCY_MIN = 0.7  # risk_action_bands: emergency_outreach


def _alert_keys(db_path: Path) -> dict[str, tuple]:
    rows = _query(db_path, "select alert_key, alert_type, user_id, as_of_date from marts.csm_alerts")
    return {key: rest for key, *rest in rows}


def _emergency_episode_to_move(db_path: Path, last_day: date) -> tuple[str, date]:
    """A user and the first day S of an alerted emergency episode that a login at noon of S moves to
    S + 3 days, whatever else is true of the user: S, S+1 and S+2 are at emergency only through the
    no-login factor (idle 3 days or more, risk below the band plus its weight), and S+3 is at emergency
    with the user idle 3 days or more, which a login on S still leaves them. The latest such S, so the
    backfill that decides its days again is short."""
    rows = _query(
        db_path,
        f"""
        with days as (
            select user_id, as_of_date, churn_risk, risk_action, is_new_risk_episode,
                   days_since_last_login >= {NO_LOGIN_DAYS} as idle
            from marts.user_onboarding_daily
        )
        select s.user_id, s.as_of_date
        from days as s
        where s.is_new_risk_episode and s.risk_action = 'emergency_outreach'
          and s.as_of_date + {NO_LOGIN_DAYS} <= cast(? as date)
          and (
              select count(*) from days as d
              where d.user_id = s.user_id and d.as_of_date between s.as_of_date and s.as_of_date + 2
                and d.idle and d.churn_risk < {EMERGENCY_MIN + NO_LOGIN_WEIGHT}
          ) = 3
          and exists (
              select 1 from days as d
              where d.user_id = s.user_id and d.as_of_date = s.as_of_date + {NO_LOGIN_DAYS}
                and d.idle and d.risk_action = 'emergency_outreach'
          )
          and exists (
              select 1 from marts.csm_alerts as a
              where a.user_id = s.user_id and a.alert_type = 'churn_risk' and a.as_of_date = s.as_of_date
          )
        order by s.as_of_date desc, s.user_id
        limit 1
        """,
        [last_day.isoformat()],
    )
    assert rows, "the generated warehouse has no alerted emergency episode a login can move"
    return rows[0][0], rows[0][1]


def test_a_late_login_that_moves_a_risk_episode_mints_no_new_alert_key(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    from dagster_project.pipeline import run_pipeline

    db_path, landing = tmp_path / "warehouse.duckdb", tmp_path / "landing"
    shutil.copyfile(warehouse.db_path, db_path)
    wal = Path(f"{warehouse.db_path}.wal")
    if wal.exists():
        shutil.copyfile(wal, Path(f"{db_path}.wal"))
    # The backfill loads its days again: it needs their files, plus the late one.
    shutil.copytree(warehouse.landing, landing)

    user_id, started_on = _emergency_episode_to_move(db_path, warehouse.end)
    before = _alert_keys(db_path)
    episode_alerts_before = {k for k, (t, u, _a) in before.items() if t == "churn_risk" and u == user_id}

    late_day = warehouse.end + timedelta(days=1)
    late_at = datetime.combine(started_on, datetime.min.time()) + LOGIN_AT
    seconds = int((late_at - datetime(1970, 1, 1)).total_seconds())
    line = {
        "event": "user.logged_in",
        "properties": {
            "time": seconds,
            "distinct_id": user_id,
            "$insert_id": f"late-login-{user_id}",
            "mp_processing_time_ms": (late_day - date(1970, 1, 1)).days * 86_400_000,
        },
    }
    with gzip.open(landing / "mixpanel" / f"{late_day.isoformat()}.jsonl.gz", "wt") as out:
        out.write(json.dumps(line) + "\n")

    # The late day's run, then a backfill from the episode's first day decides those days again.
    with pointed_at(db_path, landing):
        result = run_pipeline(started_on, late_day)
    assert result.success, result.failures

    # The late login moved the episode: it now starts three days later...
    starts = _query(
        db_path,
        """
        select as_of_date from marts.user_onboarding_daily
        where user_id = ? and is_new_risk_episode and risk_action = 'emergency_outreach'
          and as_of_date between ? and ?
        """,
        [user_id, started_on, started_on + timedelta(days=NO_LOGIN_DAYS)],
    )
    assert starts == [(started_on + timedelta(days=NO_LOGIN_DAYS),)], (user_id, started_on, starts)
    # ... but its alert keeps the key it was first given (a new key would page the CSM again).
    after = _alert_keys(db_path)
    episode_alerts_after = {k for k, (t, u, _a) in after.items() if t == "churn_risk" and u == user_id}
    assert episode_alerts_after == episode_alerts_before
    assert {after[k][2] for k in episode_alerts_before} == {started_on + timedelta(days=NO_LOGIN_DAYS)}
    # Every alert key the run added is of the new day, none a second key for a past situation.
    added = {key: row for key, row in after.items() if key not in before}
    assert all(as_of == late_day for (_t, _u, as_of) in added.values()), sorted(
        (t, u, str(a)) for (t, u, a) in added.values() if a != late_day
    )
