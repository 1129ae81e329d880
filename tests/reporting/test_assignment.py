"""Experiment assignment (int_experiments__assignments): the real model, run on 10,000 hand-made users."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pandas as pd
import pytest
from scipy import stats

from dagster_project.demo.experiments import assign_variant, bucket

N_USERS = 10_000
PLANS = ("free", "trial", "pro", "enterprise")


def plan_of(user_id: str) -> str:
    """A plan fixed per user (whatever order the users come in), so segments are stable too."""
    return PLANS[int(uuid.uuid5(uuid.NAMESPACE_OID, user_id).hex[:4], 16) % 4]


def _user_ids(n: int) -> list[str]:
    """Ids in the three providers' shapes (auth0|..., Supabase uuid, Firebase uid)."""
    rng = uuid.UUID(int=20261101)
    ids = []
    for i in range(n):
        u = uuid.uuid5(rng, str(i))
        ids.append(("auth0|" + u.hex[:24], str(u), u.hex[:28])[i % 3])
    return ids


@pytest.fixture(scope="module")
def assign(dbt_harness):
    """Runs the compiled model over users (ids, in a given order) and returns {(experiment, user): variant}."""
    dbt_harness.seed("experiments", "experiment_variants")
    sql = dbt_harness.compile_model("int_experiments__assignments")
    start = datetime(2026, 11, 1, 9)

    def run(user_ids: list[str], variants_sql: str | None = None) -> dict[tuple[str, str], tuple[str, float]]:
        with dbt_harness.connect() as con:
            con.execute("create schema if not exists intermediate")
            con.execute(
                """
                create or replace table intermediate.int_users__profiles (user_id varchar, signed_up_at timestamp,
                    signup_date date, plan varchar, company_size varchar, industry varchar, signup_source varchar)
                """
            )
            frame = pd.DataFrame(
                {
                    "user_id": user_ids,
                    "signed_up_at": [start + timedelta(minutes=7 * i) for i in range(len(user_ids))],
                    "plan": [plan_of(uid) for uid in user_ids],
                }
            )
            con.register("frame", frame)
            con.execute(
                """
                insert into intermediate.int_users__profiles
                select user_id, signed_up_at, cast(signed_up_at as date), plan, '11-50', 'saas', 'google' from frame
                """
            )
            query = sql
            if variants_sql:
                con.execute(f"create or replace temp table test_variants as {variants_sql}")
                query = sql.replace('"harness"."seeds"."experiment_variants"', "test_variants")
                assert query != sql
            return {
                (e, u): (v, b)
                for e, u, v, b in con.execute(
                    f"select experiment_id, user_id, variant, bucket from ({query})"
                ).fetchall()
            }

    return run


@pytest.fixture(scope="module")
def users() -> list[str]:
    return _user_ids(N_USERS)


@pytest.fixture(scope="module")
def assigned(assign, users):
    return assign(users)


def test_sql_bucket_and_variant_equal_the_python_formula(assigned, users):
    for uid in users:
        variant, b = assigned[("welcome_checklist_v2", uid)]
        assert b == bucket("welcome_checklist_v2", uid)  # exact: both are int / 2**32
        assert variant == assign_variant("welcome_checklist_v2", uid)


def test_balance_within_tolerance(assigned, users):
    control = sum(assigned[("welcome_checklist_v2", u)][0] == "control" for u in users)
    # 10,000 users at 50/50: the standard deviation of the control count is 50; allow 3 of them
    assert abs(control - N_USERS / 2) < 150
    assert stats.chisquare([control, N_USERS - control]).pvalue > 0.001


def test_segment_enrols_only_its_users(assigned, users):
    trial = {u for u in users if plan_of(u) == "trial"}
    enrolled = {u for (e, u) in assigned if e == "trial_guided_track"}
    assert enrolled == trial
    guided = sum(assigned[("trial_guided_track", u)][0] == "guided" for u in trial)
    assert abs(guided - len(trial) / 2) < 3 * (len(trial) ** 0.5) / 2


def test_same_user_same_variant_across_runs(assign, assigned, users):
    # another run, other users around them, another order: nobody moves
    again = assign(list(reversed(users[::3])) + _user_ids(12_000)[10_000:])
    for uid in users[::3]:
        for experiment in ("welcome_checklist_v2", "trial_guided_track"):
            if (experiment, uid) in assigned:
                assert again[(experiment, uid)] == assigned[(experiment, uid)]


def test_weights_slice_the_bucket_range(assign, users):
    variants = """
        select * from (values
            ('welcome_checklist_v2', 'control', 1, 50.0, true, null, null, null, ''),
            ('welcome_checklist_v2', 'b', 2, 25.0, false, null, 'b', null, ''),
            ('welcome_checklist_v2', 'c', 3, 25.0, false, null, 'c', null, '')
        ) as t(experiment_id, variant, variant_order, weight, is_control, track_override, template_variant,
               nudge_silence_hours, description)
    """
    result = assign(users, variants_sql=variants)
    counts = {"control": 0, "b": 0, "c": 0}
    for uid in users:
        variant, b = result[("welcome_checklist_v2", uid)]
        assert variant == ("control" if b < 0.5 else "b" if b < 0.75 else "c")
        counts[variant] += 1
    assert stats.chisquare(list(counts.values()), f_exp=[5000, 2500, 2500]).pvalue > 0.001


def test_generator_reads_the_seed_weights(assign, users, tmp_path):
    """The demo generator assigns from the seeds' weights (not a fixed 50/50), exactly as the SQL does."""
    import shutil

    from dagster_project.demo.experiments import SEEDS_DIR, load_experiments

    shutil.copy(SEEDS_DIR / "experiments.csv", tmp_path / "experiments.csv")
    (tmp_path / "experiment_variants.csv").write_text(
        "experiment_id,variant,variant_order,weight,is_control,track_override,template_variant,"
        "nudge_silence_hours,description\n"
        "welcome_checklist_v2,control,1,50,true,,,,\n"
        "welcome_checklist_v2,b,2,25,false,,b,,\n"
        "welcome_checklist_v2,c,3,25,false,,c,,\n"
        "trial_guided_track,control,1,3,true,,,,\n"
        "trial_guided_track,guided,2,1,false,guided_handholding,,24,\n"
    )
    experiments = load_experiments(tmp_path)
    assert experiments["trial_guided_track"].split == 0.75
    variants = """
        select * from (values
            ('welcome_checklist_v2', 'control', 1, 50.0, true, null, null, null, ''),
            ('welcome_checklist_v2', 'b', 2, 25.0, false, null, 'b', null, ''),
            ('welcome_checklist_v2', 'c', 3, 25.0, false, null, 'c', null, ''),
            ('trial_guided_track', 'control', 1, 3.0, true, null, null, null, ''),
            ('trial_guided_track', 'guided', 2, 1.0, false, 'guided_handholding', null, 24, '')
        ) as t(experiment_id, variant, variant_order, weight, is_control, track_override, template_variant,
               nudge_silence_hours, description)
    """
    result = assign(users, variants_sql=variants)
    for (experiment, uid), (variant, b) in result.items():
        assert experiments[experiment].variant_of(b) == variant, (experiment, uid)
    # and the shipped seeds are what the generator uses by default
    assert load_experiments()["welcome_checklist_v2"].split == 0.5
