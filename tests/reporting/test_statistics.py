"""The A/B statistics (dbt macros in dbt_project/macros/statistics.sql) against scipy on fixed counts."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest
from scipy import stats
from scipy.special import erfc

Z = stats.norm.ppf(0.975)
COLUMNS = (
    "experiment_id", "variant", "is_control", "weight", "assigned_users", "users", "conversions",
    "alpha", "srm_alpha", "min_users_per_variant",
)  # fmt: skip

# experiment -> [(variant, is_control, weight, assigned_users, users, conversions)]
CASES: dict[str, list[tuple[str, bool, float, int, int, int]]] = {
    # a clear winner: 35% vs 42% on 1,000 users each, assignment balanced
    "clear_winner": [("control", True, 50, 1010, 1000, 350), ("treatment", False, 50, 990, 1000, 420)],
    # the same lift, but the split is 1,200 / 800 against 50/50 weights: sample ratio mismatch
    "srm": [("control", True, 50, 1200, 1000, 350), ("treatment", False, 50, 800, 1000, 420)],
    # a big lift, but the treatment has 99 analysed users: still collecting (the seed's 100-user rule)
    "below_100": [("control", True, 50, 130, 120, 30), ("treatment", False, 50, 125, 99, 60)],
    # a small difference on 500 each: no difference
    "no_difference": [("control", True, 1, 520, 500, 100), ("treatment", False, 1, 505, 500, 107)],
    # the treatment is significantly worse: the control wins
    "control_wins": [("control", True, 50, 800, 800, 400), ("treatment", False, 50, 810, 800, 320)],
    # three variants with 50/25/25 weights: df = 2 for the SRM test, Bonferroni over two comparisons
    "three_way": [
        ("control", True, 50, 1000, 1000, 300),
        ("b", False, 25, 505, 500, 185),
        ("c", False, 25, 495, 500, 160),
    ],
    # nobody converts anywhere: no test statistic, no difference
    "all_zero": [("control", True, 50, 300, 300, 0), ("treatment", False, 50, 300, 300, 0)],
}


@pytest.fixture(scope="module")
def report(dbt_harness) -> dict[tuple[str, str], dict]:
    sql = dbt_harness.compile_inline("{{ ab_variant_statistics('fixed_counts') }}")
    con = duckdb.connect()
    con.execute(
        """
        create table fixed_counts (experiment_id varchar, variant varchar, is_control boolean, weight double,
            assigned_users integer, users integer, conversions integer, alpha double, srm_alpha double,
            min_users_per_variant integer, sum_x double, sum_xx double, sum_xy double, is_sequential boolean,
            horizon_users_per_variant integer, guardrail_broken boolean)
        """
    )
    for experiment, rows in CASES.items():
        for row in rows:
            con.execute(
                "insert into fixed_counts values (?, ?, ?, ?, ?, ?, ?, 0.05, 0.001, 100, 0, 0, 0, false, 100, false)",
                [experiment, *row],
            )
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


def scipy_reference(rows: list[tuple[str, bool, float, int, int, int]]) -> dict[str, dict]:
    """Every number of the report for one experiment, computed with scipy."""
    control = next(r for r in rows if r[1])
    n_c, x_c = control[4], control[5]
    p_c = x_c / n_c
    weights = np.array([r[2] for r in rows], dtype=float)
    assigned = np.array([r[3] for r in rows], dtype=float)
    srm = stats.chisquare(assigned, f_exp=assigned.sum() * weights / weights.sum())
    out = {}
    for variant, is_control, _, _, n, x in rows:
        p = x / n
        ci = stats.binomtest(x, n).proportion_ci(confidence_level=0.95, method="wilson")
        ref = {
            "rate": p, "rate_ci_low": ci.low, "rate_ci_high": ci.high,
            "srm_chi2": srm.statistic, "srm_p_value": srm.pvalue,
        }  # fmt: skip
        if not is_control:
            pooled = (x + x_c) / (n + n_c)
            se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / n_c))
            se = math.sqrt(p * (1 - p) / n + p_c * (1 - p_c) / n_c)
            d = p - p_c
            ref |= {"abs_lift": d, "abs_lift_ci_low": d - Z * se, "abs_lift_ci_high": d + Z * se}
            if se_pooled > 0:
                z = d / se_pooled
                ref |= {"z_score": z, "p_value": 2 * stats.norm.sf(abs(z))}
                # the pooled z-test is Pearson's chi-square on the 2x2 table without continuity correction
                table = [[x, n - x], [x_c, n_c - x_c]]
                assert math.isclose(
                    stats.chi2_contingency(table, correction=False).pvalue, ref["p_value"], rel_tol=1e-9
                )
            if p_c > 0:
                se_rel = math.sqrt(p * (1 - p) / n / p_c**2 + p**2 * p_c * (1 - p_c) / n_c / p_c**4)
                r = p / p_c - 1
                ref |= {"rel_lift": r, "rel_lift_ci_low": r - Z * se_rel, "rel_lift_ci_high": r + Z * se_rel}
        out[variant] = ref
    return out


@pytest.mark.parametrize("experiment", sorted(CASES))
def test_numbers_equal_scipy(report, experiment):
    for variant, ref in scipy_reference(CASES[experiment]).items():
        row = report[(experiment, variant)]
        for column, expected in ref.items():
            tolerance = 1e-6 if column.endswith("p_value") else 1e-9
            assert row[column] == pytest.approx(expected, rel=tolerance, abs=tolerance), (variant, column)
        if not row["is_control"] and "p_value" not in ref:
            assert row["p_value"] is None and row["z_score"] is None


EXPECTED_STATUS = {
    "clear_winner": ("winner", "treatment"),
    "srm": ("srm", None),
    "below_100": ("running", None),
    "no_difference": ("inconclusive", None),
    "control_wins": ("loser", "control"),
    "three_way": ("winner", "b"),
    "all_zero": ("inconclusive", None),
}


@pytest.mark.parametrize("experiment", sorted(CASES))
def test_status_and_winner(report, experiment):
    rows = [report[(experiment, r[0])] for r in CASES[experiment]]
    assert {(r["status"], r["winner"]) for r in rows} == {EXPECTED_STATUS[experiment]}


def test_srm_is_flagged_at_p_below_0_001(report):
    assert all(report[("srm", v)]["has_srm"] for v in ("control", "treatment"))
    assert report[("srm", "control")]["srm_p_value"] < 0.001
    # the balanced experiments pass
    assert not report[("clear_winner", "control")]["has_srm"]
    assert report[("three_way", "control")]["srm_df"] == 2


def test_bonferroni_over_comparisons(report):
    # three variants: each comparison is judged at 0.05 / 2; variant c (p about 0.5) is not significant
    b, c = report[("three_way", "b")], report[("three_way", "c")]
    assert b["decision_alpha"] == pytest.approx(0.025)
    assert b["is_significant"] and not c["is_significant"]


def test_shares(report):
    row = report[("three_way", "b")]
    assert row["expected_share"] == pytest.approx(0.25)
    assert row["observed_share"] == pytest.approx(505 / 2000)


@pytest.fixture(scope="module")
def special_functions(dbt_harness):
    sql = dbt_harness.compile_inline(
        "select x, df, {{ erfc('x') }} as erfc_x, {{ normal_cdf('x') }} as phi_x,"
        " {{ normal_two_sided_p('x') }} as p_x, {{ chi2_sf('abs(x) * 4', 'df') }} as chi2_sf_x from grid"
    )
    con = duckdb.connect()
    con.execute(
        "create table grid as select x, df from unnest(?::double[]) as t(x), range(1, 31) as r(df)",
        [list(np.round(np.linspace(-8, 40, 481), 6))],
    )
    return con.execute(sql).fetchall()


def test_erfc_and_normal_cdf_equal_scipy_to_1e_7(special_functions):
    for x, _, erfc_x, phi_x, p_x, _ in special_functions:
        assert erfc_x == pytest.approx(erfc(x), abs=1e-7)
        assert phi_x == pytest.approx(stats.norm.cdf(x), abs=1e-7)
        assert p_x == pytest.approx(2 * stats.norm.sf(abs(x)), abs=1e-7)


def test_chi2_survival_equals_scipy_for_df_1_to_29(special_functions):
    checked = 0
    for x, df, *_, sf in special_functions:
        if df > 29:
            assert sf is None
            continue
        assert sf == pytest.approx(stats.chi2.sf(abs(x) * 4, df), abs=1e-7), (x, df)
        checked += 1
    assert checked > 10_000
