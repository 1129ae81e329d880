"""marts.onboarding_outcomes and marts.track_outcomes: the real models on a hand-made warehouse.

Six users as of 2026-12-31, each built to hit one rule: completion by day 30 (or later), time to value,
churn by day 60 (inactive or cancelled), outcomes that are not observable yet, events after the as-of day
and events before the signup.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

AS_OF = date(2026, 12, 31)
OLD = datetime(2026, 10, 1, 10)  # a Thursday: cohort week 2026-09-28; 91 days observed
H, D = timedelta(hours=1), timedelta(days=1)

# user -> signup, track, milestones {name: offset from signup}, other events [(name, offset)]
USERS = {
    "fast": (
        OLD, "power_user",
        {"imported_first_data": H, "ran_first_query": 12 * H, "invited_teammate": 3 * D, "created_integration": 5 * D},
        [("user.logged_in", 50 * D)],
    ),
    "slow": (
        OLD, "power_user",
        {"ran_first_query": 10 * D, "imported_first_data": 12 * D, "completed_tutorial": 35 * D, "created_integration": 40 * D},
        [],
    ),
    "cancelled": (OLD, "self_service", {}, [("subscription.cancelled", 20 * D), ("user.logged_in", 50 * D)]),
    "young": (
        datetime(2026, 12, 20, 8), "self_service",
        {"ran_first_query": 2 * H, "imported_first_data": 3 * H, "created_integration": D, "invited_teammate": 2 * D},
        [],
    ),
    "after_as_of": (datetime(2026, 12, 29, 23), "self_service", {"ran_first_query": 3 * D}, []),
    "skewed": (OLD, "business_value", {"ran_first_query": -H}, [("user.logged_in", 47 * D)]),
}  # fmt: skip
MILESTONE_EVENTS = {
    "imported_first_data": "user.imported_first_data",
    "ran_first_query": "user.ran_first_query",
    "invited_teammate": "user.invited_teammate",
    "created_integration": "user.created_integration",
    "completed_tutorial": "user.completed_tutorial",
}


def _build_inputs(con) -> None:
    for schema in ("intermediate", "staging", "marts"):
        con.execute(f"create schema if not exists {schema}")
    con.execute(
        """
        create or replace table intermediate.int_users__profiles (user_id varchar, signed_up_at timestamp,
            signup_date date, plan varchar, role varchar, company_size varchar, industry varchar,
            signup_source varchar)
        """
    )
    con.execute(
        "create or replace table intermediate.int_onboarding__date_bounds as select ?::date as last_day",
        [AS_OF],
    )
    con.execute(
        "create or replace table intermediate.int_onboarding__tracks (user_id varchar, track varchar, track_source varchar)"
    )
    columns = ", ".join(f"{m}_at timestamp" for m in MILESTONE_EVENTS)
    con.execute(
        f"create or replace table intermediate.int_onboarding__milestones (user_id varchar, {columns})"
    )
    con.execute(
        """
        create or replace table intermediate.int_events__unified (user_id varchar, event_name varchar,
            event_at timestamp, event_date date)
        """
    )
    con.execute(
        """
        create or replace table staging.stg_nps__responses (response_id varchar, user_id varchar,
            survey varchar, score integer, submitted_at timestamp, nps_category varchar)
        """
    )
    con.execute("create or replace table marts.csm_alerts (user_id varchar, as_of_date date)")
    for user, (signup, track, milestones, events) in USERS.items():
        con.execute(
            "insert into intermediate.int_users__profiles values (?, ?, ?, 'pro', 'engineer', '11-50', 'saas', 'google')",
            [user, signup, signup.date()],
        )
        con.execute("insert into intermediate.int_onboarding__tracks values (?, ?, 'rules')", [user, track])
        con.execute(
            "insert into intermediate.int_onboarding__milestones values (?, ?, ?, ?, ?, ?)",
            [user, *(signup + milestones[m] if m in milestones else None for m in MILESTONE_EVENTS)],
        )
        all_events = [(MILESTONE_EVENTS[m], offset) for m, offset in milestones.items()] + events
        all_events.append(("user.signed_up", timedelta(0)))
        for name, offset in all_events:
            at = signup + offset
            con.execute(
                "insert into intermediate.int_events__unified values (?, ?, ?, ?)",
                [user, name, at, at.date()],
            )
    con.execute(
        """
        insert into staging.stg_nps__responses values
            ('r1', 'fast', 'day_7', 6, '2026-10-08 12:00', 'detractor'),
            ('r2', 'fast', 'day_30', 10, '2026-10-31 12:00', 'promoter'),
            ('r3', 'slow', 'day_7', 8, '2026-10-08 12:00', 'passive'),
            ('r4', 'young', 'day_7', 9, '2027-01-02 12:00', 'promoter')
        """
    )
    con.execute(
        """
        insert into marts.csm_alerts values
            ('slow', '2026-10-20'), ('slow', '2026-11-15'), ('slow', '2027-01-03'), ('cancelled', '2026-10-19')
        """
    )


@pytest.fixture(scope="module")
def outcomes(dbt_harness):
    # onboarding_outcomes reads its per-user activity from the intermediate view int_outcomes__user_activity.
    activity_sql = dbt_harness.compile_model("int_outcomes__user_activity")
    outcomes_sql = dbt_harness.compile_model("onboarding_outcomes")
    tracks_sql = dbt_harness.compile_model("track_outcomes")
    with dbt_harness.connect() as con:
        _build_inputs(con)
        con.execute(f"create or replace view intermediate.int_outcomes__user_activity as {activity_sql}")
        con.execute(f"create or replace table marts.onboarding_outcomes as {outcomes_sql}")
        cursor = con.execute("select * from marts.onboarding_outcomes")
        names = [d[0] for d in cursor.description]
        per_user = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
        cursor = con.execute(tracks_sql)
        names = [d[0] for d in cursor.description]
        per_track = {(row[0], row[1]): dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    return per_user, per_track


def test_completion_by_day_30(outcomes):
    users, _ = outcomes
    fast, slow, young = users["fast"], users["slow"], users["young"]
    assert (fast["completion_day_number"], fast["onboarding_completed"]) == (5, True)
    assert fast["onboarding_score"] == 90
    assert (slow["completion_day_number"], slow["onboarding_completed"]) == (40, False)
    # completed on day 2 (90 points), but day 30 is not over: not observable yet (an early true would bias the rate)
    assert young["completed_at"] == datetime(2026, 12, 22, 8)
    assert young["is_completion_observable"] is False and young["onboarding_completed"] is None


def test_time_to_value(outcomes):
    users, _ = outcomes
    fast, slow, young = users["fast"], users["slow"], users["young"]
    assert fast["days_to_first_query"] == pytest.approx(0.5)
    assert fast["days_to_activation"] == pytest.approx(0.5)  # 20 + 30 points at the first query
    assert (fast["first_query_in_window"], fast["activated_in_window"]) == (True, True)
    assert slow["days_to_first_query"] == pytest.approx(10)
    assert slow["days_to_activation"] == pytest.approx(12)
    assert (slow["first_query_in_window"], slow["activated_in_window"]) == (False, False)
    assert young["days_to_activation"] == pytest.approx(3 / 24)  # query (30) + import (20) at +3 h
    # a query before the signup (clock skew) is time to value 0, not negative
    assert users["skewed"]["days_to_first_query"] == 0.0


def test_nothing_after_the_as_of_day_counts(outcomes):
    users, _ = outcomes
    late = users["after_as_of"]
    assert late["first_query_at"] is None and late["onboarding_score"] == 0
    assert late["is_ttv_window_observable"] is False and late["first_query_in_window"] is None
    assert users["young"]["nps_score"] is None  # answered after the as-of day
    assert users["slow"]["csm_touches"] == 2  # the third alert is after the as-of day


def test_churn_by_day_60(outcomes):
    users, _ = outcomes
    assert (users["fast"]["churned"], users["fast"]["churn_reason"]) == (False, None)  # active on day 50
    assert (users["slow"]["churned"], users["slow"]["churn_reason"]) == (True, "inactive")  # last seen day 40
    assert (users["cancelled"]["churned"], users["cancelled"]["churn_reason"]) == (True, "cancelled")
    assert users["skewed"]["churned"] is False  # active on day 47, inside days 46-59
    assert users["young"]["is_churn_observable"] is False and users["young"]["churned"] is None


def test_nps_and_csm_touches(outcomes):
    users, _ = outcomes
    fast = users["fast"]
    assert (fast["nps_day_7"], fast["nps_day_30"], fast["nps_score"], fast["nps_category"]) == (
        6,
        10,
        10,
        "promoter",
    )
    assert users["cancelled"]["csm_touches"] == 1 and users["fast"]["csm_touches"] == 0


def test_track_outcomes_by_cohort(outcomes):
    _, tracks = outcomes
    power = tracks[("power_user", date(2026, 9, 28))]
    assert (power["users"], power["completion_observable_users"], power["completed_users"]) == (2, 2, 1)
    assert power["completion_rate"] == pytest.approx(0.5)
    assert (power["churn_observable_users"], power["churned_users"], power["churn_rate"]) == (2, 1, 0.5)
    assert power["median_days_to_first_query"] == pytest.approx((0.5 + 10) / 2)
    assert power["net_promoter_score"] == pytest.approx(50.0)  # latest answers: a promoter and a passive
    assert power["csm_touches"] == 2 and power["csm_touches_per_user"] == pytest.approx(1.0)
    young = tracks[("self_service", date(2026, 12, 28))]
    assert young["completion_rate"] is None and young["churn_rate"] is None
    assert young["ttv_window_observable_users"] == 0 and young["first_query_in_window_rate"] is None
