"""`onboarding replay` (issue 19 item 6): a rule change previewed over the stored history.

Fast: bad arguments end in one line and exit 2. Slow (dbt builds on a copy of the session warehouse):
a no-op replay reports zero differences and leaves every table of the main schemas byte-for-byte as
it was (checksums before and after), with its scratch schema dropped; a higher nudge threshold
reports exactly the user-days an independent computation over the marts expects.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from dagster_project.cli import app
from dagster_project.core.settings import DBT_PROJECT_DIR, Settings
from dagster_project.replay import (
    DIFFERENCES,
    MAIN_SCHEMAS,
    ReplayRequest,
    compare,
    make_request,
    project_vars,
    replay,
)
from tests.conftest import Warehouse

runner = CliRunner()


def one_line_error(args: list[str], env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, ["replay", *args], env=env)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert result.stdout == ""
    return lines[0]


def test_bad_arguments_are_one_line_and_exit_2(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "no_such_seed.csv").write_text("a\n1\n")
    missing = {"ONBOARDING_DB": str(tmp_path / "none" / "warehouse.duckdb")}
    assert "unknown var nudge_threshold" in one_line_error(["--vars", '{"nudge_threshold": 0.5}'])
    assert "must be a JSON object" in one_line_error(["--vars", "[1, 2]"])
    assert "is not JSON" in one_line_error(["--vars", "{a: [1"])
    assert "use --from/--to" in one_line_error(["--vars", '{"start_date": "2026-01-01"}'])
    assert "--from must be a day" in one_line_error(["--from", "yesterday"])
    assert "is after --to" in one_line_error(["--from", "2026-10-02", "--to", "2026-10-01"])
    assert "no seed named no_such_seed" in one_line_error(["--seeds", str(seeds)])
    assert "is not a folder" in one_line_error(["--seeds", str(tmp_path / "nowhere")])
    assert "no warehouse at" in one_line_error(["--vars", '{"escalation_wait_days": 5}'], env=missing)


def checksums(db_path: Path) -> dict[str, tuple[Any, ...]]:
    """Every table and view of the main schemas: its row count and a hash over all its rows."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables order by all"
        ).fetchall()
        sums = {
            f"{schema}.{name}": tuple(
                con.execute(f'select count(*), sum(hash(t)) from "{schema}"."{name}" as t').fetchall()[0]
            )
            for schema, name in tables
            if schema in MAIN_SCHEMAS
        }
        sums["schemas"] = tuple(sorted({schema for schema, _ in tables}))
    return sums


@pytest.fixture
def copy(warehouse: Warehouse, tmp_path: Path) -> Settings:
    """Settings naming a writable copy of the session warehouse."""
    copied = warehouse.copy_to(tmp_path)
    return Settings.from_env({"ONBOARDING_DB": str(copied.db_path), "ONBOARDING_LANDING": str(copied.landing)})


@pytest.mark.slow
def test_a_no_op_replay_reports_nothing_and_writes_nothing_outside_its_schema(
    copy: Settings, tmp_path: Path
) -> None:
    before = checksums(copy.db_path)
    # a var set to the value it has and a seed replaced by an equal copy: the whole build runs (seeds
    # loaded from the replay's copy of the project), the decisions cannot differ
    same = project_vars()["escalation_wait_days"]
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copyfile(DBT_PROJECT_DIR / "seeds" / "onboarding_track_rules.csv", seeds / "onboarding_track_rules.csv")
    request = make_request(json.dumps({"escalation_wait_days": same}), seeds, None, None, keep=False)
    assert set(request.seeds) == {"onboarding_track_rules"}
    report = replay(copy, request)
    print(f"\nno-op replay: {report.seconds}s")
    assert report.total == 0, report.as_json()
    assert report.messages == [] and report.alerts == []
    assert all(u == {"users": 0, "user_days": 0} for u in report.users.values())
    assert checksums(copy.db_path) == before  # marts, raw, sync ledger, ai, seeds: untouched; scratch dropped


@pytest.mark.slow
def test_a_higher_nudge_threshold_changes_what_an_independent_computation_expects(copy: Settings) -> None:
    bands = project_vars()["risk_action_bands"]
    nudge = next(b for b in bands if b["risk_action"] == "automated_nudge")
    higher = round(nudge["min"] + 0.1, 2)
    changed = [{**b, "min": higher} if b is nudge else b for b in bands]
    with duckdb.connect(str(copy.db_path), read_only=True) as con:
        # Independently: the user-days routed to a nudge whose risk is under the new threshold.
        expected = set(con.execute(
            "select user_id, as_of_date from marts.user_onboarding_daily"
            " where risk_action = 'automated_nudge' and churn_risk < ?", [higher],
        ).fetchall())  # fmt: skip
        last = con.execute("select max(as_of_date) from marts.user_onboarding_daily").fetchall()[0][0]
    assert expected, "the session warehouse has no nudge under the new threshold: pick another one"

    request = ReplayRequest(vars={"risk_action_bands": changed}, keep=True)
    report = replay(copy, request)
    print(f"\nnudge threshold {nudge['min']} -> {higher}: {report.seconds}s, {report.total} differences")
    try:
        with duckdb.connect(str(copy.db_path)) as con:
            rows = con.execute(
                f"select kind, subject, change, day, user_id, before, after from {report.schema}.{DIFFERENCES}"
            ).fetchall()
            # --from/--to narrow the comparison (the build covers the history): the last day alone
            last_day = compare(con, replace(request, start=last, end=last))
    finally:
        with duckdb.connect(str(copy.db_path)) as con:
            con.execute(f"drop schema {report.schema} cascade")
    risk = {(user, day) for kind, subject, _, day, user, _, _ in rows if kind == "user" and subject == "risk_action"}
    assert risk == expected
    assert {(before, after) for kind, subject, _, _, _, before, after in rows
            if kind == "user" and subject == "risk_action"} == {("automated_nudge", "normal_onboarding")}  # fmt: skip
    assert report.users["track"]["users"] == report.users["score_band"]["users"] == 0
    assert report.users["risk_action"] == {"users": len({u for u, _ in expected}), "user_days": len(expected)}
    # every other difference (fewer nudges, escalations, their messages) belongs to one of those users
    affected = {user for user, _ in expected}
    assert {row[4] for row in rows} <= affected
    # fewer nudges: removed ones (an episode that now starts later keeps its key, with a later due time)
    assert sum(m["removed"] for m in report.messages if m["trigger"] == "risk_nudge") > 0
    assert last_day["users"]["risk_action"]["user_days"] == len({(u, d) for u, d in expected if d == last})
    assert all(m["day"] == last.isoformat() for m in last_day["messages"])
