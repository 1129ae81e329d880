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
from datetime import date, datetime
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
    assert "unknown var nudge_threshold" in one_line_error(["--vars", '{"nudge_threshold": 0.5}'])
    assert "must be a JSON object" in one_line_error(["--vars", "[1, 2]"])
    assert "is not JSON" in one_line_error(["--vars", "{a: [1"])
    assert "use --from/--to" in one_line_error(["--vars", '{"start_date": "2026-01-01"}'])
    assert "--from must be a day" in one_line_error(["--from", "yesterday"])
    assert "is after --to" in one_line_error(["--from", "2026-10-02", "--to", "2026-10-01"])
    assert "no seed named no_such_seed" in one_line_error(["--seeds", str(seeds)])
    assert "is not a folder" in one_line_error(["--seeds", str(tmp_path / "nowhere")])


def test_a_missing_warehouse_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """(The settings are the `warehouse` resource's, so this one imports Dagster.)"""
    missing = {"ONBOARDING_DB": str(tmp_path / "none" / "warehouse.duckdb")}
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


def _decisions(con: duckdb.DuckDBPyConnection, schema: str, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """The three tables the comparison reads, with only the columns it reads."""
    con.execute(f"create schema if not exists {schema}")
    con.execute(f"""create table {schema}.user_onboarding_daily (user_id varchar, as_of_date date,
                    effective_track varchar, next_action varchar, risk_action varchar)""")
    con.execute(f"""create table {schema}.triggered_messages (message_key varchar, trigger varchar, user_id varchar,
                    as_of_date date, channel varchar, subject varchar, body varchar, due_at timestamp,
                    template_id varchar, priority varchar)""")
    con.execute(f"""create table {schema}.csm_alerts (alert_key varchar, alert_type varchar, user_id varchar,
                    as_of_date date, reason varchar)""")
    for table, values in rows.items():
        for row in values:
            con.execute(f"insert into {schema}.{table} values ({', '.join('?' * len(row))})", list(row))


def test_the_comparison_counts_added_removed_and_changed_per_trigger_and_day(tmp_path: Path) -> None:
    """compare() on hand-made marts and replay tables: each kind of difference once, the window honoured."""
    d1, d2 = date(2026, 10, 1), date(2026, 10, 2)
    msg = ("intercom", "Hi", "body", datetime(2026, 10, 1, 9), "tpl", "high")
    base = {
        "user_onboarding_daily": [("u1", d1, "power_user", "invite_team_member", "normal_onboarding"),
                                  ("u2", d2, "self_service", "create_integration", "automated_nudge")],
        "triggered_messages": [("k_same", "welcome", "u1", d1, *msg), ("k_gone", "risk_nudge", "u2", d2, *msg),
                               ("k_text", "risk_nudge", "u1", d2, *msg)],
        "csm_alerts": [("a_gone", "escalation", "u2", d2, "not improved")],
    }  # fmt: skip
    replayed = {
        "user_onboarding_daily": [("u1", d1, "power_user", "invite_team_member", "normal_onboarding"),
                                  ("u2", d2, "self_service", "create_integration", "normal_onboarding")],
        "triggered_messages": [("k_same", "welcome", "u1", d1, *msg), ("k_new", "risk_nudge", "u1", d1, *msg),
                               ("k_text", "risk_nudge", "u1", d2, *msg[:2], "other body", *msg[3:])],
        "csm_alerts": [],
    }  # fmt: skip
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        _decisions(con, "marts", base)
        request = ReplayRequest(vars={})
        _decisions(con, request.schema, replayed)
        everything = compare(con, request)
        second_day = compare(con, replace(request, start=d2, end=d2))
    assert everything["messages"] == [
        {"trigger": "risk_nudge", "day": "2026-10-01", "added": 1, "removed": 0, "changed": 0},
        {"trigger": "risk_nudge", "day": "2026-10-02", "added": 0, "removed": 1, "changed": 1},
    ]
    assert everything["users"] == {"track": {"users": 0, "user_days": 0}, "score_band": {"users": 0, "user_days": 0},
                                   "risk_action": {"users": 1, "user_days": 1}}  # fmt: skip
    assert everything["user_examples"] == [{"user_id": "u2", "what": "risk_action", "first_day": "2026-10-02",
                                            "before": "automated_nudge", "after": "normal_onboarding"}]  # fmt: skip
    assert everything["alerts"] == [{"alert_type": "escalation", "added": 0, "removed": 1}]
    assert [m["day"] for m in second_day["messages"]] == ["2026-10-02"]
