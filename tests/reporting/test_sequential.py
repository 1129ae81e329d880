"""Always-valid inference, CUPED and guardrails (dbt macros in dbt_project/macros/statistics.sql) against
independent implementations: the confidence sequence and its p-value against the normal-mixture likelihood
ratio integrated numerically with scipy; CUPED against numpy on per-user data; the guardrail test against
scipy; and the sequential test's false-positive rate under A/A with daily peeking, by simulation through
exactly the SQL the report runs."""

from __future__ import annotations

import math
import time

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

Z = stats.norm.ppf(0.975)
COUNT_COLUMNS = """
    experiment_id varchar, variant varchar, is_control boolean, weight double, assigned_users bigint,
    users bigint, conversions bigint, sum_x double, sum_xx double, sum_xy double, alpha double,
    srm_alpha double, min_users_per_variant integer, is_sequential boolean, horizon_users_per_variant integer,
    guardrail_broken boolean
"""


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


# ---------------------------------------------------------------------------------------------------
# The confidence sequence against the mixture likelihood ratio, integrated numerically
# ---------------------------------------------------------------------------------------------------
def mixture_ratio(estimate: float, variance: float, tau2: float) -> float:
    """The normal-mixture likelihood ratio of H1 (effect ~ N(0, tau2)) against H0 (effect 0), by quadrature:
    the integral over t of N(estimate; t, variance) / N(estimate; 0, variance) * N(t; 0, tau2)."""
    scale = math.sqrt(tau2)
    center = estimate * tau2 / (tau2 + variance)  # where the integrand peaks
    width = math.sqrt(tau2 * variance / (tau2 + variance))
    norm = 1 / (scale * math.sqrt(2 * math.pi))
    value, _ = integrate.quad(
        lambda t: math.exp((2 * estimate * t - t * t) / (2 * variance) - t * t / (2 * tau2)) * norm,
        center - 40 * width, center + 40 * width, points=[center], limit=200,
    )  # fmt: skip
    return value


CS_CASES = [  # (estimate, variance of the estimate, units n, alpha, tuning units)
    (0.05, 0.0004, 2000, 0.05, 800),
    (-0.02, 0.0001, 10000, 0.05, 10000),
    (0.13, 0.00072, 1460, 0.05, 800),
    (0.0, 0.002, 300, 0.025, 1000),
    (0.3, 0.01, 100, 0.01, 5000),
]


@pytest.fixture(scope="module")
def sequences(dbt_harness) -> list[dict]:
    sql = dbt_harness.compile_inline(
        "select estimate, variance, n, alpha, tuning_n,"
        " {{ cs_rho_squared('alpha', 'tuning_n') }} as rho2,"
        " {{ cs_half_width('variance', 'n', 'alpha', cs_rho_squared('alpha', 'tuning_n')) }} as half_width,"
        " {{ cs_p_value('estimate', 'variance', 'n', cs_rho_squared('alpha', 'tuning_n')) }} as p_value"
        " from cases"
    )
    con = duckdb.connect()
    con.execute(
        "create table cases (estimate double, variance double, n double, alpha double, tuning_n double)"
    )
    con.executemany("insert into cases values (?, ?, ?, ?, ?)", CS_CASES)
    return _rows(con, sql)


def test_confidence_sequence_inverts_the_mixture_ratio(sequences):
    for row in sequences:
        # the mixture variance tau2 = per-unit variance * rho2 (GrowthBook's and Eppo's parametrisation)
        tau2 = row["variance"] * row["n"] * row["rho2"]

        # the sequence is {theta : mixture ratio of (estimate - theta) < 1 / alpha}: find its edge numerically
        def excess(delta: float, row=row, tau2=tau2) -> float:
            return mixture_ratio(delta, row["variance"], tau2) - 1 / row["alpha"]

        edge = optimize.brentq(excess, 0, 15 * math.sqrt(row["variance"]), xtol=1e-14)
        assert row["half_width"] == pytest.approx(edge, rel=1e-6), row
        expected_p = min(1.0, 1 / mixture_ratio(row["estimate"], row["variance"], tau2))
        assert row["p_value"] == pytest.approx(expected_p, rel=1e-6, abs=1e-12), row
        # the two agree: p < alpha exactly when the sequence excludes 0
        assert (row["p_value"] < row["alpha"]) == (abs(row["estimate"]) > row["half_width"])
        # and the sequence is wider than the fixed-horizon interval at the same level
        assert row["half_width"] > stats.norm.ppf(1 - row["alpha"] / 2) * math.sqrt(row["variance"])


# ---------------------------------------------------------------------------------------------------
# CUPED and the sequential status on per-user data, against numpy
# ---------------------------------------------------------------------------------------------------
def simulated_users(rng: np.random.Generator, n: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """A covariate that predicts conversion (pre-exposure activity), and conversions."""
    x = rng.poisson(2.0, n).astype(float)
    y = (rng.random(n) < np.clip(rate - 0.2 + 0.1 * x, 0.01, 0.99)).astype(float)
    return x, y


def cuped_reference(arms: dict[str, tuple[np.ndarray, np.ndarray]], control: str) -> dict[str, dict]:
    """CUPED (Deng et al. 2013) from the definition, on per-user arrays."""
    x_all = np.concatenate([a[0] for a in arms.values()])
    y_all = np.concatenate([a[1] for a in arms.values()])
    theta = np.cov(x_all, y_all, ddof=0)[0, 1] / np.var(x_all)
    adjusted = {v: y - theta * (x - x_all.mean()) for v, (x, y) in arms.items()}
    out = {}
    for v, (_, y) in arms.items():
        if v == control:
            continue
        yc = arms[control][1]
        lift = adjusted[v].mean() - adjusted[control].mean()
        var = np.var(adjusted[v]) / len(y) + np.var(adjusted[control]) / len(yc)
        raw_var = np.var(y) / len(y) + np.var(yc) / len(yc)
        out[v] = {
            "cuped_theta": theta,
            "cuped_rate": adjusted[v].mean(),
            "cuped_abs_lift": lift,
            "cuped_abs_lift_ci_low": lift - Z * math.sqrt(var),
            "cuped_abs_lift_ci_high": lift + Z * math.sqrt(var),
            "cuped_p_value": 2 * stats.norm.sf(abs(lift) / math.sqrt(var)),
            "variance_reduction": 1 - var / raw_var,
            "covariate_mean": arms[v][0].mean(),
        }
    return out


def _insert_counts(con, experiment, arms, control, *, sequential, horizon, broken=()):
    for variant, (x, y) in arms.items():
        con.execute(
            "insert into fixed_counts values (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, 0.05, 0.001, 100, ?, ?, ?)",
            [experiment, variant, variant == control, len(y), len(y), int(y.sum()), x.sum(), (x * x).sum(),
             (x * y).sum(), sequential, horizon, variant in broken],
        )  # fmt: skip


@pytest.fixture(scope="module")
def cuped_cases(dbt_harness):
    rng = np.random.default_rng(20261203)
    cases = {
        # a real lift, sequential: the report's status reads the confidence sequence
        "seq_winner": ({"control": simulated_users(rng, 3000, 0.30), "treatment": simulated_users(rng, 3000, 0.36)},
                       True, 3000, ()),
        # the same lift, but the treatment breaks a guardrail: not a winner, the control is kept
        "guardrail_broken": ({"control": simulated_users(rng, 3000, 0.30),
                              "treatment": simulated_users(rng, 3000, 0.36)}, True, 3000, ("treatment",)),
        # a small lift on 400 users a variant: the sequence has not decided, and the horizon is not reached
        "seq_running": ({"control": simulated_users(rng, 400, 0.30), "treatment": simulated_users(rng, 400, 0.31)},
                        True, 5000, ()),
        # three variants, fixed horizon
        "three_way": ({"control": simulated_users(rng, 2000, 0.30), "b": simulated_users(rng, 2000, 0.30),
                       "c": simulated_users(rng, 2000, 0.25)}, False, 2000, ()),
    }  # fmt: skip
    con = duckdb.connect()
    con.execute(f"create table fixed_counts ({COUNT_COLUMNS})")
    for name, (arms, sequential, horizon, broken) in cases.items():
        _insert_counts(con, name, arms, "control", sequential=sequential, horizon=horizon, broken=broken)
    sql = dbt_harness.compile_inline("{{ ab_variant_statistics('fixed_counts') }}")
    report = {(r["experiment_id"], r["variant"]): r for r in _rows(con, sql)}
    return cases, report


def test_cuped_equals_numpy(cuped_cases):
    cases, report = cuped_cases
    for name, (arms, *_rest) in cases.items():
        for variant, ref in cuped_reference(arms, "control").items():
            row = report[(name, variant)]
            for column, expected in ref.items():
                tolerance = 1e-6 if column.endswith("p_value") else 1e-9  # erfc's fit: 1.2e-7
                assert row[column] == pytest.approx(expected, rel=tolerance, abs=tolerance), (
                    name,
                    variant,
                    column,
                )
            # the covariate predicts conversion, so the adjusted lift is measurably less noisy
            assert row["variance_reduction"] > 0.05, (name, variant)


def test_sequential_interval_contains_the_fixed_one_and_decides_the_status(cuped_cases):
    cases, report = cuped_cases
    for name, (arms, *_config) in cases.items():
        for variant in arms:
            row = report[(name, variant)]
            if row["is_control"]:
                continue
            assert row["seq_abs_lift_ci_low"] < row["cuped_abs_lift_ci_low"]
            assert row["seq_abs_lift_ci_high"] > row["cuped_abs_lift_ci_high"]
            assert (row["seq_p_value"] < row["decision_alpha"]) == (
                row["seq_abs_lift_ci_low"] > 0 or row["seq_abs_lift_ci_high"] < 0
            )
    status = {name: {(r["status"], r["winner"]) for k, r in report.items() if k[0] == name} for name in cases}
    assert report[("seq_winner", "treatment")]["seq_abs_lift_ci_low"] > 0
    assert status["seq_winner"] == {("winner", "treatment")}
    assert status["guardrail_broken"] == {("loser", "control")}
    assert not report[("seq_running", "treatment")]["seq_is_significant"]
    assert status["seq_running"] == {("running", None)}
    # fixed horizon, three variants: b is no better, c is significantly worse: neither wins, not all lose
    assert report[("three_way", "c")]["is_worse"] and not report[("three_way", "b")]["is_worse"]
    assert status["three_way"] == {("inconclusive", None)}


# ---------------------------------------------------------------------------------------------------
# Guardrails, against scipy
# ---------------------------------------------------------------------------------------------------
def test_guardrail_harm_test_equals_scipy(dbt_harness):
    rng = np.random.default_rng(7)
    cases = {  # (control values, treatment values, sequential)
        "churn_up": (rng.random(1500) < 0.20, rng.random(1500) < 0.26, False),
        "churn_same": (rng.random(1500) < 0.20, rng.random(1500) < 0.20, False),
        "alerts_up_seq": (rng.poisson(0.30, 4000), rng.poisson(0.40, 4000), True),
        "alerts_down": (rng.poisson(0.40, 1000), rng.poisson(0.30, 1000), False),
    }
    con = duckdb.connect()
    con.execute(
        "create table counts (experiment_id varchar, guardrail varchar, variant varchar, is_control boolean,"
        " users bigint, sum_value double, sum_value_sq double, alpha double, is_sequential boolean,"
        " horizon_users_per_variant integer, variants integer)"
    )
    for name, (control, treatment, sequential) in cases.items():
        for variant, values in (("control", control), ("treatment", treatment)):
            values = values.astype(float)
            con.execute(
                "insert into counts values ('e', ?, ?, ?, ?, ?, ?, 0.05, ?, 1500, 2)",
                [
                    name,
                    variant,
                    variant == "control",
                    len(values),
                    values.sum(),
                    (values**2).sum(),
                    sequential,
                ],
            )
    sql = dbt_harness.compile_inline("{{ ab_guardrail_statistics('counts') }}")
    rows = {r["guardrail"]: r for r in _rows(con, sql) if not r["is_control"]}
    for name, (control, treatment, sequential) in cases.items():
        c, t = control.astype(float), treatment.astype(float)
        diff = t.mean() - c.mean()
        se = math.sqrt(np.var(t) / len(t) + np.var(c) / len(c))
        row = rows[name]
        assert row["diff"] == pytest.approx(diff, abs=1e-12)
        assert row["diff_ci_low"] == pytest.approx(diff - Z * se, rel=1e-9)
        assert row["harm_p_value"] == pytest.approx(stats.norm.sf(diff / se), abs=1e-7)
        if not sequential:
            assert row["is_broken"] == (stats.norm.sf(diff / se) < 0.05), name
    assert rows["churn_up"]["is_broken"] and not rows["churn_same"]["is_broken"]
    assert rows["alerts_up_seq"]["is_broken"] and rows["alerts_up_seq"]["seq_diff_ci_low"] > 0
    assert not rows["alerts_down"]["is_broken"]  # an improvement never breaks a guardrail


# ---------------------------------------------------------------------------------------------------
# A/A with daily peeking over 30 days: the false-positive rate of the report's status
# ---------------------------------------------------------------------------------------------------
SIMULATIONS, DAYS, USERS_PER_DAY, BASE_RATE, ALPHA = 2000, 30, 40, 0.30, 0.05


def test_sequential_false_positive_rate_under_daily_peeking(dbt_harness):
    """2,000 A/A experiments (30% base rate, 40 users per arm a day, a covariate that predicts conversion),
    read every day for 30 days through the report's own SQL. The sequential status calls a winner or a
    loser in at most alpha of them (within simulation error); the fixed-horizon p-value read daily does
    far more often (the peeking problem the sequence solves)."""
    started = time.perf_counter()
    rng = np.random.default_rng(30)
    # per user: covariate x ~ Poisson(2), converted with chance 0.1 + 0.1 x (a 30% base rate). Drawn by cell:
    # how many of a day's users have x = k (multinomial), and how many of those convert (binomial).
    k = np.arange(13, dtype=float)
    pmf = stats.poisson.pmf(k, 2.0)
    pmf[-1] += 1 - pmf.sum()
    cells = rng.multinomial(USERS_PER_DAY, pmf, size=(SIMULATIONS, 2, DAYS))
    converted = rng.binomial(cells, np.clip(BASE_RATE - 0.2 + 0.1 * k, 0.01, 0.99))
    daily = {"conversions": converted.sum(axis=3), "sum_x": cells @ k, "sum_xx": cells @ (k * k),
             "sum_xy": converted @ k}  # fmt: skip
    sims, arms, days = np.meshgrid(np.arange(SIMULATIONS), np.arange(2), np.arange(DAYS), indexing="ij")
    peeks = pd.DataFrame(
        {
            "sim": sims.ravel(),
            "arm": arms.ravel(),
            "day": days.ravel(),
            "users": (days.ravel() + 1) * USERS_PER_DAY,
        }
        | {name: np.cumsum(values, axis=2).ravel() for name, values in daily.items()}
    )
    con = duckdb.connect()
    con.register("peeks", peeks)
    con.execute(
        f"""
        create table fixed_counts as
        select cast(sim as varchar) as experiment_id, day as snapshot_day,
               case when arm = 0 then 'control' else 'treatment' end as variant, arm = 0 as is_control,
               1.0 as weight, users as assigned_users, users, cast(conversions as bigint) as conversions,
               sum_x, sum_xx, sum_xy, {ALPHA} as alpha, 0.001 as srm_alpha, 100 as min_users_per_variant,
               true as is_sequential, {DAYS * USERS_PER_DAY} as horizon_users_per_variant,
               false as guardrail_broken
        from peeks
        """
    )
    sql = dbt_harness.compile_inline(
        "{{ ab_variant_statistics('fixed_counts', keys=['experiment_id', 'snapshot_day']) }}"
    )
    decided, peeking = con.execute(
        f"""
        select
            count(distinct case when status in ('winner', 'loser') then experiment_id end),
            count(distinct case when p_value < {ALPHA} and users >= 100 then experiment_id end)
        from ({sql})
        """
    ).fetchone()
    rate, naive = decided / SIMULATIONS, peeking / SIMULATIONS
    error = 3 * math.sqrt(ALPHA * (1 - ALPHA) / SIMULATIONS)
    print(
        f"\nA/A, {SIMULATIONS} experiments peeked daily for {DAYS} days: sequential false-positive rate {rate:.4f}"
        f" (alpha {ALPHA}, 3 SE {error:.4f}); fixed-horizon p-value read daily {naive:.4f};"
        f" {time.perf_counter() - started:.1f}s"
    )
    assert rate <= ALPHA + error
    assert naive > 2 * ALPHA  # the simulation has the power to show the peeking problem
