"""`onboarding explain` and marts.user_explain on a copy of the generated warehouse, after a dry sync."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from dagster_project.explain import EXPLAIN_TABLE, build_user_explain, explain, explain_command


@pytest.fixture(scope="module")
def explained(warehouse, tmp_path_factory):
    """The warehouse copied, synced dry (so the ledger has every message), and marts.user_explain built."""
    from sync.engine import run_sync

    path = tmp_path_factory.mktemp("explain") / "warehouse.duckdb"
    shutil.copy(warehouse.db_path, path)
    run_sync(str(path), ["calendly", "intercom", "appcues", "slack"])
    with duckdb.connect(str(path)) as con:
        assert build_user_explain(con) > 0
        # a user with something in every section: milestones, a score, risk factors, a CSM alert, messages
        user = con.execute(
            """
            select user_id from marts.user_explain group by user_id
            having count(distinct section) = (select count(distinct section) from marts.user_explain)
            order by user_id limit 1
            """
        ).fetchall()[0][0]
    return path, user


def _cli(path, *args: str) -> tuple[int, str]:
    app = typer.Typer()
    app.command()(explain_command)
    result = CliRunner().invoke(app, list(args), env={"ONBOARDING_DB": str(path), "COLUMNS": "250"})
    return result.exit_code, result.output


def test_explain_prints_the_users_story(explained):
    path, user = explained
    code, out = _cli(path, user)
    assert code == 0, out
    with duckdb.connect(str(path), read_only=True) as con:
        name, email = con.execute(
            "select name, email from intermediate.int_users__profiles where user_id = ?", [user]
        ).fetchall()[0]
        first = con.execute(
            "select track, track_source, track_reason from marts.user_onboarding_daily"
            " where user_id = ? order by as_of_date limit 1",
            [user],
        ).fetchall()[0]
        variant = con.execute(
            "select variant from intermediate.int_experiments__assignments"
            " where user_id = ? and experiment_id = 'welcome_checklist_v2'",
            [user],
        ).fetchall()[0][0]
        milestones = con.execute(
            "select section, item, happened_at from marts.user_explain where user_id = ? and section = 'milestone'",
            [user],
        ).fetchall()
        messages = con.execute(
            "select trigger, reason from marts.triggered_messages where user_id = ?", [user]
        ).fetchall()
    flat = re.sub(r"[\s│┃]+", " ", out)  # table cells wrap: compare on collapsed whitespace
    assert name in flat and email in flat
    assert f"welcome_checklist_v2: {variant}" in flat
    assert f"track {first[0]}" in flat and f"source {first[1]}" in flat and first[2] in flat
    for _, milestone, at in milestones:
        assert milestone in flat and f"{at:%H:%M}" in flat
    assert re.search(r"score \d+", flat)
    assert re.search(r"difficulty (standard|advanced|simplified)", flat)
    assert re.search(r"factors \(weight\): \w+ 0\.\d+", flat)  # risk factors with their weights
    for trigger, reason in messages:
        assert trigger in flat and reason[:30] in flat
    # bracketed warehouse text ("[template X]") is printed, not eaten as Rich markup: one per message
    with duckdb.connect(str(path), read_only=True) as con:
        bracketed = con.execute(
            "select count(*) from marts.user_explain where user_id = ? and detail like '%[template %'", [user]
        ).fetchone()[0]
    assert bracketed > 0 and out.count("[template") == bracketed
    assert "dry run: planned, not sent" in flat  # delivery status from the sync ledger


def test_mart_holds_what_the_command_prints(explained):
    path, user = explained
    with duckdb.connect(str(path), read_only=True) as con:
        mart = con.execute(
            f"select on_date, happened_at, section, item, detail, delivery from {EXPLAIN_TABLE} where user_id = ? order by seq",
            [user],
        ).fetchall()
        items = explain(con, user).items
    assert [
        (i["on_date"], i["happened_at"], i["section"], i["item"], i["detail"], i["delivery"]) for i in items
    ] == mart


def test_as_of_keeps_only_what_was_known(explained):
    path, user = explained
    with duckdb.connect(str(path), read_only=True) as con:
        full = explain(con, user)
        signup = full.profile["signup_date"]
        early = explain(con, user, signup + timedelta(days=2))
    assert early.items and len(early.items) < len(full.items)
    assert all(i["on_date"] <= signup + timedelta(days=2) for i in early.items)
    assert early.state["as_of_date"] == signup + timedelta(days=2)
    code, out = _cli(path, user, "--as-of", str(signup + timedelta(days=2)))
    assert code == 0 and f"as of {signup + timedelta(days=2)}" in out


def test_unknown_user_exits_with_an_error(explained):
    path, _ = explained
    code, out = _cli(path, "no-such-user")
    assert code == 1 and "no user" in out
