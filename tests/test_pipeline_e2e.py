"""The spine end to end: generated exports -> real Dagster job in process -> DuckDB, checked against
the generator's ground-truth manifest."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from dagster_project.pipeline import PLANNED_EVENTS_ENV, run_pipeline

pytestmark = pytest.mark.slow

RAW_FOR_SOURCE = {
    "segment": "segment_events",
    "mixpanel": "mixpanel_events",
    "signups": "signups",
    "tickets": "support_tickets",
    "nps": "nps_responses",
}


def test_loaded_equals_emitted_minus_planted_duplicates(warehouse):
    sources = warehouse.manifest["sources"]
    with warehouse.connect() as con:
        for source, table in RAW_FOR_SOURCE.items():
            expected = sources[source]["unique"] + (
                sources["rudderstack"]["unique"] if source == "segment" else 0
            )
            assert con.execute(f"select count(*) from raw.{table}").fetchone()[0] == expected, source
        for source, counts in sources.items():
            logged = con.execute(
                "select sum(lines), sum(loaded), sum(duplicates), sum(quarantined) from raw.load_log where source = ?",
                [source],
            ).fetchone()
            assert logged == (counts["lines"], counts["unique"], counts["duplicates"], counts["malformed"]), (
                source
            )


def test_quarantine_matches_planted_malformed_lines_with_reasons(warehouse):
    with warehouse.connect() as con:
        for source, counts in warehouse.manifest["sources"].items():
            by_reason = dict(
                con.execute(
                    """
                    select split_part(reason, ':', 1), count(*) from raw.quarantine
                    where source = ? group by 1
                    """,
                    [source],
                ).fetchall()
            )
            planted = {k: v for k, v in counts["malformed_by_reason"].items() if v}
            assert by_reason == planted, source
        assert (
            con.execute(
                "select count(*) from raw.quarantine where reason is null or raw_text is null"
            ).fetchone()[0]
            == 0
        )


def test_unified_events_are_one_row_per_real_event(warehouse):
    with warehouse.connect() as con:
        assert (
            con.execute("select count(*) from intermediate.int_events__unified").fetchone()[0]
            == (warehouse.manifest["unified_events"])
        )
        # forwarded Mixpanel copies collapse into the Segment event
        assert (
            con.execute(
                "select count(*) from intermediate.int_events__unified where source = 'mixpanel'"
            ).fetchone()[0]
            == warehouse.manifest["sources"]["mixpanel"]["unique"]
            - warehouse.manifest["cross_source_duplicates"]
        )
        # anonymous pre-signup activity is stitched to the user who later identified
        unlinked = con.execute(
            """
            select count(*) from intermediate.int_events__unified as e
            join intermediate.int_users__identity_map as m using (anonymous_id)
            where e.user_id is null
            """
        ).fetchone()[0]
        assert unlinked == 0


def test_profiles_apply_the_seed_fallbacks(warehouse):
    with warehouse.connect() as con:
        users = con.execute("select count(*) from intermediate.int_users__profiles").fetchone()[0]
        assert users == warehouse.manifest["users_signed_up"]
        nameless = con.execute(
            """
            select count(*) from intermediate.int_users__profiles as p
            join raw.signups as s using (user_id)
            where s.name is null and p.name <> split_part(p.email, '@', 1)
            """
        ).fetchone()[0]
        assert nameless == 0
        assert (
            con.execute(
                "select count(*) from intermediate.int_users__profiles where signup_source is null or role is null"
            ).fetchone()[0]
            == 0
        )


SNAPSHOT_QUERIES = {
    "raw": "select source, _partition_day, loaded, duplicates, quarantined from raw.load_log order by 1, 2",
    "segment": "select md5(string_agg(message_id || _file || _line, ',' order by message_id)) from raw.segment_events",
    "unified": (
        "select count(*), md5(string_agg(event_id || coalesce(user_id, '-'), ',' order by event_id)) "
        "from intermediate.int_events__unified"
    ),
    "quarantine": "select count(*), md5(string_agg(_file || _line || reason, ',' order by _file, _line)) from raw.quarantine",
    "activity": (
        "select count(*), md5(string_agg(user_id || as_of_date || query_count || coalesce(last_login_at, '-'), ','"
        " order by user_id, as_of_date)) from intermediate.int_onboarding__activity_daily"
    ),
    "messages": (
        "select count(*), md5(string_agg(message_key || as_of_date || body, ',' order by message_key))"
        " from marts.triggered_messages"
    ),
}


def test_rerunning_loaded_days_changes_nothing(warehouse, cli_run):
    """Two days in the middle of the session warehouse's range, run again on a copy of it (the session's
    `onboarding run`, tests/conftest.py `cli_run`): every table the snapshot reads is as before."""

    def snapshot(con):
        return {k: con.execute(q).fetchall() for k, q in SNAPSHOT_QUERIES.items()}

    assert cli_run.exit_code == 0, cli_run.stdout[-3000:] + cli_run.stderr[-3000:]
    assert warehouse.start < cli_run.start <= cli_run.end < warehouse.end  # loaded days, with days after them
    reloaded = "select min(_loaded_at) from raw.load_log where _partition_day between ? and ?"
    with warehouse.connect() as before, cli_run.connect() as after:
        days = [cli_run.start, cli_run.end]
        # the days were loaded again (not skipped) ...
        assert after.execute(reloaded, days).fetchone()[0] > before.execute(reloaded, days).fetchone()[0]
        # ... and nothing changed
        assert snapshot(after) == snapshot(before)


# Every table the window-incremental models feed; a one-day run must leave them as one run of all days.
DECISION_TABLES = [
    "intermediate.int_onboarding__activity_daily",
    "intermediate.int_onboarding__milestones_daily",
    "intermediate.int_onboarding__difficulty_daily",
    "intermediate.int_onboarding__risk_daily",
    "intermediate.int_onboarding__risk_episodes",
    "intermediate.int_onboarding__effective_tracks_daily",
    "intermediate.int_messages__candidates",
    "marts.user_onboarding_daily",
    "marts.user_onboarding",
    # The day-14 playbook's text quotes the user's percentile among the users who reached day 14 by the
    # latest loaded day (docs/ai.md): a later build sees more peers, so only its text may differ.
    "(select * replace (case when trigger = 'playbook_day_14' then '' else subject end as subject,"
    " case when trigger = 'playbook_day_14' then '' else body end as body) from {db}.marts.triggered_messages)",
    "marts.csm_alerts",
    "marts.intercom_contacts",
    "marts.appcues_profiles",
]


def test_adding_a_day_gives_the_full_build(warehouse, tmp_path):
    """All days but the last in one run, then the last day alone (the daily schedule's run): the
    incremental models compute only that day, and every decision table ends up equal to the session
    warehouse's, built by one run of all days."""
    import duckdb

    from tests.conftest import pointed_at

    db = tmp_path / "incremental.duckdb"
    planned_events_before = os.environ.get(PLANNED_EVENTS_ENV)
    with pointed_at(db, warehouse.landing):
        history = run_pipeline(warehouse.start, warehouse.end - timedelta(days=1))
        assert history.success, history.failures
        day = run_pipeline(warehouse.end, warehouse.end)
        assert day.success, day.failures
    # The planned-events switch holds for the run only: nothing started later inherits it.
    assert os.environ.get(PLANNED_EVENTS_ENV) == planned_events_before
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute(f"attach '{warehouse.db_path}' as full_build (read_only)")
        for table in DECISION_TABLES:
            ours, theirs = (
                table.format(db=db) if "{db}" in table else f"{db}.{table}" for db in ("incremental", "full_build")
            )
            counts = con.execute(f"select (select count(*) from {ours}), (select count(*) from {theirs})").fetchone()
            assert counts[0] == counts[1] > 0, table
            missing = con.execute(f"select count(*) from (select * from {theirs} except all select * from {ours})")
            assert missing.fetchone()[0] == 0, f"{table}: rows of the full build the one-day run does not have"
