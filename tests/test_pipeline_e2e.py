"""The spine end to end: generated exports -> real Dagster job in process -> DuckDB, checked against
the generator's ground-truth manifest."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dagster_project.pipeline import run_pipeline

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
}


def test_rerunning_a_day_changes_nothing(warehouse):
    def snapshot():
        with warehouse.connect() as con:
            return {k: con.execute(q).fetchall() for k, q in SNAPSHOT_QUERIES.items()}

    before = snapshot()
    day = warehouse.start + timedelta(days=5)
    with warehouse.activate():
        result = run_pipeline(day, day)
    assert result.success, result.failures
    assert snapshot() == before
