"""Dry runs: without credentials the plan is computed, stored and printed, and nothing is sent."""

from __future__ import annotations

import duckdb
import pytest
from rich.console import Console
from typer.testing import CliRunner

from sync.cli import sync_app
from sync.settings import DESTINATIONS, SyncConfigError
from tests.standins import StandinSet
from tests.standins.marts import demo
from tests.sync.conftest import FAST, Warehouse, settings_for, sync

runner = CliRunner()


@pytest.fixture
def demo_warehouse(warehouse: Warehouse) -> Warehouse:
    with duckdb.connect(str(warehouse.path)) as con:
        demo(con, users=12)
    return warehouse


def test_without_credentials_everything_is_planned_and_nothing_sent(demo_warehouse: Warehouse,
                                                                     standins: StandinSet) -> None:
    result = sync(demo_warehouse, settings_for(None))

    for summary in result.values():
        assert summary.dry_run and summary.status == "completed" and summary.sent == 0
        assert "no credentials" in (summary.dry_reason or "")
    assert result["intercom"].planned == 12 + demo_warehouse.value(
        "select count(*) from marts.triggered_messages where channel like 'intercom%'")
    assert sum(len(server.received) for server in standins.all()) == 0
    # The plan is stored: attribute plan, queued messages, planned row results, dry runs.
    assert demo_warehouse.rows(
        "select destination, planned_operation, count(*) from sync.attribute_state where status = 'pending'"
        " and sent_hash is null group by all order by 1") == [("appcues", "upsert", 12), ("intercom", "create", 12)]
    assert demo_warehouse.value("select count(*) from sync.outbox where status <> 'pending'") == 0
    assert demo_warehouse.value("select count(*) from sync.runs where dry_run") == len(DESTINATIONS)
    assert demo_warehouse.value("select count(*) from sync.row_results where status = 'planned'") == sum(
        s.planned for s in result.values())


def test_dry_then_live_sends_the_plan(demo_warehouse: Warehouse, standins: StandinSet) -> None:
    sync(demo_warehouse, settings_for(standins), dry_run=True)
    assert sum(len(server.received) for server in standins.all()) == 0

    live = sync(demo_warehouse, settings_for(standins))
    assert all(not s.dry_run and s.status == "completed" for s in live.values())
    assert live["intercom"].sent > 0
    assert demo_warehouse.value("select count(*) from sync.outbox where status <> 'sent'") == 0


def test_live_run_refuses_missing_credentials(demo_warehouse: Warehouse) -> None:
    with pytest.raises(SyncConfigError, match="INTERCOM_ACCESS_TOKEN"):
        sync(demo_warehouse, settings_for(None), "intercom", dry_run=False)


def test_cli_prints_the_plan_with_masked_emails(demo_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(FAST):
        monkeypatch.setenv(name, FAST[name])
    for name in ("INTERCOM_ACCESS_TOKEN", "SLACK_BOT_TOKEN", "APPCUES_API_KEY", "CALENDLY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    # A wide console whatever the import order (Rich fixes the width when the module's console is made).
    monkeypatch.setattr("sync.cli.console", Console(width=200))

    result = runner.invoke(sync_app, ["--db", str(demo_warehouse.path)])

    assert result.exit_code == 0, result.output
    assert "Plan (dry run: nothing sent)" in result.output
    assert "no credentials" in result.output
    assert "u***@example.com" in result.output
    assert "user00000@example.com" not in result.output
    assert "name=U*** " in result.output and "User 0" not in result.output  # names masked to initials
    assert "Hello from the onboarding engine" not in result.output  # bodies are never printed
    for operation in ("create", "send_message", "post_alert", "create_link", "invite", "upsert"):
        assert operation in result.output


def test_cli_destination_filter_and_missing_db(demo_warehouse: Warehouse, tmp_path) -> None:
    result = runner.invoke(sync_app, ["--db", str(demo_warehouse.path), "-d", "calendly,appcues", "--dry-run"])
    assert result.exit_code == 0
    assert set(r[0] for r in demo_warehouse.rows("select destination from sync.runs")) == {"calendly", "appcues"}

    assert runner.invoke(sync_app, ["--db", str(tmp_path / "nope.duckdb")]).exit_code == 2
    assert runner.invoke(sync_app, ["--db", str(demo_warehouse.path), "-d", "mailchimp"]).exit_code == 2


def test_missing_mart_aborts_that_destination_only(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.execute("drop table marts.csm_alerts")
    result = sync(warehouse, settings_for(standins))
    assert result["slack"].status == "aborted" and "csm_alerts" in (result["slack"].error or "")
    assert result["intercom"].status == "completed"


def test_stored_summaries_replay_the_plan_after_the_run(demo_warehouse: Warehouse, standins: StandinSet) -> None:
    """`onboarding run` prints the sync step's plan afterwards from sync.runs, not by planning again."""
    from dagster_project.cli import print_sync_plan
    from sync.ledger import latest_summaries

    first = sync(demo_warehouse, settings_for(None))
    second = sync(demo_warehouse, settings_for(None), "intercom")
    with duckdb.connect(str(demo_warehouse.path), read_only=True) as con:
        stored = {s.destination: s for s in latest_summaries(con)}
    assert set(stored) == set(first)
    # the latest run per destination wins, and it keeps its per-operation counts and masked samples
    assert stored["intercom"].run_id == second["intercom"].run_id
    assert stored["appcues"].run_id == first["appcues"].run_id
    assert stored["intercom"].counts() == second["intercom"].counts()
    intercom_ops = {op for st in stored["intercom"].streams for op in st.operations}
    assert {"create", "send_message"} <= intercom_ops

    import dagster_project.cli as cli

    console = Console(record=True, width=200)
    original, cli.console = cli.console, console
    try:
        print_sync_plan(demo_warehouse.path)
    finally:
        cli.console = original
    text = console.export_text()
    assert "Plan (dry run: nothing sent)" in text and "u***@example.com" in text
    assert "user00000@example.com" not in text
