"""The reporting marts on the generated warehouse (the shared `warehouse` fixture: the real pipeline)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from dagster_project.demo.experiments import assign_variant


def _rows(con, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_assignments_are_the_generators(warehouse):
    with warehouse.connect() as con:
        users = {u for (u,) in con.execute("select user_id from intermediate.int_users__profiles").fetchall()}
        assigned = dict(
            con.execute(
                "select user_id, variant from intermediate.int_experiments__assignments"
                " where experiment_id = 'welcome_checklist_v2'"
            ).fetchall()
        )
    assert set(assigned) == users  # the experiment's segment is every new user
    assert all(variant == assign_variant("welcome_checklist_v2", user) for user, variant in assigned.items())


def test_report_counts_the_exposures(warehouse):
    with warehouse.connect() as con:
        report = _rows(con, "select * from marts.ab_cohort_report")
        counts = {
            (e, v): (a, u, c)
            for e, v, a, u, c in con.execute(
                """
                select experiment_id, variant, count(*), count(*) filter (where is_analysed),
                       count(*) filter (where is_analysed and is_converted)
                from marts.ab_exposures group by 1, 2
                """
            ).fetchall()
        }
        variants = con.execute("select count(*) from seeds.experiment_variants").fetchone()[0]
    assert len(report) == variants
    for row in report:
        assert (row["assigned_users"], row["users"], row["conversions"]) == counts.get(
            (row["experiment_id"], row["variant"]), (0, 0, 0)
        )


def test_report_statistics_and_status_on_the_real_counts(warehouse):
    with warehouse.connect() as con:
        report = _rows(con, "select * from marts.ab_cohort_report order by experiment_id, variant_order")
    by_experiment: dict[str, list[dict]] = {}
    for row in report:
        by_experiment.setdefault(row["experiment_id"], []).append(row)
    for experiment, rows in by_experiment.items():
        control = next(r for r in rows if r["is_control"])
        srm = stats.chisquare(
            [r["assigned_users"] for r in rows],
            f_exp=[r["expected_share"] * sum(x["assigned_users"] for x in rows) for r in rows],
        )
        assert math.isclose(rows[0]["srm_p_value"], srm.pvalue, abs_tol=1e-6), experiment
        for row in rows:
            if row["is_control"] or not row["users"] or not control["users"]:
                continue
            table = [
                [row["conversions"], row["users"] - row["conversions"]],
                [control["conversions"], control["users"] - control["conversions"]],
            ]
            if 0 < control["conversions"] + row["conversions"] < control["users"] + row["users"]:
                expected = stats.chi2_contingency(table, correction=False).pvalue
                assert math.isclose(row["p_value"], expected, abs_tol=1e-6), experiment
        status = {r["status"] for r in rows}
        assert len(status) == 1, experiment
        treatments = [r for r in rows if not r["is_control"]]

        def better(r: dict) -> bool:
            if r["is_sequential"]:
                return (
                    r["seq_p_value"] is not None
                    and r["seq_p_value"] < r["decision_alpha"]
                    and r["cuped_abs_lift"] > 0
                )
            return r["p_value"] is not None and r["p_value"] < r["decision_alpha"] and r["abs_lift"] > 0

        def worse(r: dict) -> bool:
            if r["is_sequential"]:
                return (
                    r["seq_p_value"] is not None
                    and r["seq_p_value"] < r["decision_alpha"]
                    and r["cuped_abs_lift"] < 0
                )
            return r["p_value"] is not None and r["p_value"] < r["decision_alpha"] and r["abs_lift"] < 0

        if rows[0]["has_srm"]:
            assert status == {"srm"}
        elif min(r["users"] for r in rows) < control["min_users_per_variant"]:
            assert status == {"running"}
        elif any(better(r) and not r["guardrail_broken"] for r in treatments):
            assert status == {"winner"}
        elif all(worse(r) or r["guardrail_broken"] for r in treatments):
            assert status == {"loser"}
        elif (
            control["is_sequential"] and min(r["users"] for r in rows) < control["horizon_users_per_variant"]
        ):
            assert status == {"running"}
        else:
            assert status == {"inconclusive"}


def test_outcomes_cover_every_user_once(warehouse):
    with warehouse.connect() as con:
        users = con.execute("select count(*) from intermediate.int_users__profiles").fetchone()[0]
        outcomes, distinct = con.execute(
            "select count(*), count(distinct user_id) from marts.onboarding_outcomes"
        ).fetchone()
        cohort_users = con.execute("select sum(users) from marts.track_outcomes").fetchone()[0]
        # a user's score in the outcomes equals the decision mart's score on the same day
        mismatched = con.execute(
            """
            select count(*) from marts.onboarding_outcomes as o
            join marts.user_onboarding_daily as d on o.user_id = d.user_id and o.as_of_date = d.as_of_date
            where o.onboarding_score <> d.onboarding_score
            """
        ).fetchone()[0]
    assert outcomes == distinct == users == cohort_users
    assert mismatched == 0


def test_running_sequence_is_the_intersection_of_the_days_so_far(warehouse):
    """marts.ab_daily_snapshots: the running interval is the largest lower end and the smallest upper end of
    each variant's daily confidence sequences so far (pandas' cumulative max/min), so it never widens."""
    with warehouse.connect() as con:
        snaps = con.execute(
            "select experiment_id, variant, snapshot_date, seq_abs_lift_ci_low as low, seq_abs_lift_ci_high as high,"
            " seq_running_ci_low as run_low, seq_running_ci_high as run_high from marts.ab_daily_snapshots"
            " where not is_control and seq_abs_lift_ci_low is not null order by 1, 2, 3"
        ).df()
    assert len(snaps) > 0 and snaps.groupby(["experiment_id", "variant"]).size().max() > 1
    for _, rows in snaps.groupby(["experiment_id", "variant"]):
        assert np.allclose(rows.run_low, rows.low.cummax()) and np.allclose(rows.run_high, rows.high.cummin())
        assert (rows.run_low.diff().dropna() >= 0).all() and (rows.run_high.diff().dropna() <= 0).all()
