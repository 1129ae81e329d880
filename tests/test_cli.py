"""The command line a person reads (issue 16 item 6): bad arguments, --json, the sync's progress, the
run's closing screen, and (slow) a real `onboarding run` with its log files.

Fast tests use small DuckDB files made here (the sync stand-ins' marts, a few raw and mart rows); the
one slow test reads the session's `onboarding run --json` (tests/conftest.py `cli_run`: the last two days
on a copy of the session warehouse, shared with the code location's and the catalog's tests).
"""

from __future__ import annotations

import io
import json
import random
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from rich.console import Console
from typer.testing import CliRunner

from dagster_project.cli import app
from dagster_project.progress import RunDisplay, RunLog, StepEvent, captured_output
from dagster_project.run_summary import RunReport, collect, render
from sync.cli import SyncBars
from sync.engine import StreamProgress, run_sync
from sync.settings import DESTINATIONS
from tests.conftest import CREDENTIALS
from tests.standins import start_all
from tests.standins.marts import demo
from tests.sync.conftest import FAST, settings_for

runner = CliRunner()


@pytest.fixture
def dry_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No destination credentials (every destination runs dry), fast retries."""
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def marts_db(tmp_path: Path, dry_env: None) -> Path:
    """The sync stand-ins' marts for 12 users."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        demo(con, users=12)
    return path


def _one_line_error(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert result.stdout == "", result.stdout
    return lines[0]


@pytest.mark.parametrize(("args", "expected"), [
    (["run", "--as-of", "2026-13-45"], "--as-of must be a day YYYY-MM-DD, got '2026-13-45'"),
    (["run", "--start", "2026-11-10", "--as-of", "2026-11-01"], "--start 2026-11-10 is after --as-of 2026-11-01"),
    (["explain", "u1", "--as-of", "yesterday"], "--as-of must be a day YYYY-MM-DD"),
])
def test_bad_dates_are_one_line_and_exit_2(args: list[str], expected: str) -> None:
    assert expected in _one_line_error(runner.invoke(app, args))


def test_missing_warehouse_unknown_destination_and_user_are_one_line(tmp_path: Path, marts_db: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere" / "warehouse.duckdb"
    assert "no warehouse at" in _one_line_error(runner.invoke(app, ["sync", "--db", str(missing)]))
    assert "no warehouse at" in _one_line_error(runner.invoke(app, ["sync", "in-doubt", "--db", str(missing)]))
    assert "unknown destination 'mailchimp'" in _one_line_error(
        runner.invoke(app, ["sync", "--db", str(marts_db), "-d", "intercom,mailchimp"]))
    assert "unknown destination" in _one_line_error(
        runner.invoke(app, ["sync", "in-doubt", "--db", str(marts_db), "-d", "mailchimp"]))
    monkeypatch.setenv("ONBOARDING_DB", str(missing))
    assert "no warehouse at" in _one_line_error(runner.invoke(app, ["explain", "u1"]))
    # A warehouse with profiles but not this user; one with no decisions at all.
    with duckdb.connect(str(marts_db)) as con:
        con.execute("create schema intermediate; create table intermediate.int_users__profiles (user_id varchar)")
        con.execute("insert into intermediate.int_users__profiles values ('someone')")
    monkeypatch.setenv("ONBOARDING_DB", str(marts_db))
    assert "no user 'nobody'" in _one_line_error(runner.invoke(app, ["explain", "nobody"]))
    assert "has no decisions to explain" in _one_line_error(runner.invoke(app, ["explain", "someone"]))


def test_sync_json_is_one_document_and_progress_goes_to_stderr(marts_db: Path) -> None:
    result = runner.invoke(app, ["sync", "--db", str(marts_db), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # nothing else on stdout
    with duckdb.connect(str(marts_db), read_only=True) as con:
        planned = dict(con.execute(
            "select destination, planned from sync.runs").fetchall())
        messages = con.execute("select count(*) from marts.triggered_messages where channel like 'intercom%'").fetchone()[0]
    destinations = {d["destination"]: d for d in document["destinations"]}
    assert list(destinations) == list(DESTINATIONS)
    assert {name: d["planned"] for name, d in destinations.items()} == planned
    assert all(d["dry_run"] and d["status"] == "completed" for d in destinations.values())
    streams = {s["stream"]: s for s in destinations["intercom"]["streams"]}
    assert streams["messages"]["planned"] == messages
    # Off a terminal the progress is one plain line per stream, on stderr.
    assert f"intercom/messages: planned {messages:,} (dry run)" in result.stderr
    assert len(re.findall(r"^\w+/\w+: ", result.stderr, re.M)) == sum(len(d["streams"]) for d in destinations.values())

    # sync in-doubt --json: none, then the one an interrupted send left behind.
    assert json.loads(runner.invoke(app, ["sync", "in-doubt", "--db", str(marts_db), "--json"]).stdout) == {
        "in_doubt": []}
    with duckdb.connect(str(marts_db)) as con:
        key = con.execute("update sync.outbox set status = 'in_doubt', last_error = 'timed out'"
                          " where message_key = 'welcome-3' returning message_key").fetchone()[0]
    listed = json.loads(runner.invoke(app, ["sync", "in-doubt", "--db", str(marts_db), "--json"]).stdout)
    assert [(row["destination"], row["message_key"], row["last_error"]) for row in listed["in_doubt"]] == [
        ("intercom", key, "timed out")]


def test_the_engine_reports_each_stream_as_it_sends(marts_db: Path) -> None:
    """Live against the stand-ins: a stream reports its total first, then every row, then its end."""
    servers = start_all()
    events: list[StreamProgress] = []
    try:
        run_sync(marts_db, ["intercom", "slack"], settings=settings_for(servers), progress=events.append)
    finally:
        servers.stop()
    with duckdb.connect(str(marts_db), read_only=True) as con:
        sent = dict(con.execute("select stream, count(*) from sync.outbox where status = 'sent' group by 1").fetchall())
    streams = {(e.destination, e.stream) for e in events}
    assert streams == {("intercom", "contacts"), ("intercom", "messages"), ("slack", "alerts"), ("slack", "invites")}
    messages = [e for e in events if e.stream == "messages"]
    assert messages[0].done == 0 and messages[0].total == sent["messages"] > 0
    assert [e.done for e in messages[1:-1]] == list(range(1, sent["messages"] + 1))
    assert messages[-1].finished and messages[-1].summary.sent == sent["messages"]
    assert sum(e.finished for e in events) == len(streams)
    # What a person sees off a terminal: one line per stream when it ends.
    out = Console(record=True, width=120, force_terminal=False)
    bars = SyncBars(out)
    for event in events:
        bars(event)
    text = out.export_text()
    assert f"intercom/messages: {sent['messages']}/{sent['messages']} handled, {sent['messages']} sent" in text
    assert len(text.splitlines()) == len(streams)
    # On a terminal: a bar per stream, full when it ends.
    terminal = SyncBars(Console(file=io.StringIO(), width=120, force_terminal=True))
    with terminal.shown():
        for event in events:
            terminal(event)
    bars = {task.description: (task.completed, task.total) for task in terminal.progress.tasks}
    assert bars["intercom/messages"] == (sent["messages"], sent["messages"]) and len(bars) == len(streams)


def test_the_run_display_counts_each_stage_and_keeps_the_lines(tmp_path: Path) -> None:
    """Step events and dbt's output as a run produces them: a line per stage off a terminal, bars on
    one, every line in the run's log folder (including dbt's first lines, printed before the run id)."""
    steps = ["raw__segment_events", "raw__signups", "ingest_checks", "dbt_foundation", "ai__playbooks",
             "dbt_decisions", "sync__intercom", "sync_checks", "marts__user_explain"]
    dbt_nodes = ["1 of 3 START sql view model staging.a ....... [RUN]",
                 "\x1b[0m1 of 3 OK created sql view model staging.a ....... [\x1b[32mOK\x1b[0m in 0.1s]",
                 "2 of 3 PASS not_null_a_id ....... [PASS in 0.1s]", "3 of 3 OK created sql table model b [OK]"]

    def play(display: RunDisplay) -> None:
        def event(step: str, kind: str, message: str = "") -> None:
            display(StepEvent("run-1", step, kind, message))

        print("Running with dbt=1.11.16")  # before the run's first event: held until its id is known
        for step in ("raw__segment_events", "raw__signups"):
            event(step, "STEP_START")
            event(step, "log", f"{step[5:]} 2026-11-18: 5 loaded, 1 duplicates dropped, 0 quarantined (1 files, 0.1s)")
            event(step, "STEP_SUCCESS")
        event("ingest_checks", "STEP_START")
        event("ingest_checks", "STEP_SUCCESS")
        event("dbt_foundation", "STEP_START")
        for line in dbt_nodes:
            print(line)
        event("dbt_foundation", "STEP_SUCCESS")
        event("ai__playbooks", "STEP_START")
        event("ai__playbooks", "STEP_SUCCESS")
        event("dbt_decisions", "STEP_START")
        print("1 of 9 ERROR creating sql table model marts.x")
        event("dbt_decisions", "STEP_FAILURE", "Database Error in model x (models/x.sql)")
        for step in ("sync__intercom", "sync_checks", "marts__user_explain"):
            event(step, "STEP_SKIPPED")

    buffer = io.StringIO()
    display = RunDisplay(Console(file=buffer, width=100, force_terminal=False), steps, 2, RunLog(tmp_path / "logs"))
    with display.shown(), captured_output(display):
        play(display)
    lines = buffer.getvalue().splitlines()
    assert [line.split(" in ")[0] for line in lines] == [
        "ingest: 2 source-days", "dbt staging: 3 nodes", "ai: 1 step",
        "dbt decisions: failed - dbt_decisions: Database Error", "sync: skipped (an earlier step failed)",
        "reporting: skipped (an earlier step failed)"], lines
    assert display.step_failures == ["dbt_decisions: Database Error in model x (models/x.sql)"]
    folder = tmp_path / "logs" / "run-1"
    assert (folder / "dbt.log").read_text().splitlines() == [
        "Running with dbt=1.11.16", *(re.sub(r"\x1b\[[0-9;]*m", "", line) for line in dbt_nodes),
        "1 of 9 ERROR creating sql table model marts.x"]
    assert "raw__signups             signups 2026-11-18: 5 loaded" in (folder / "run.log").read_text()

    # On a terminal: bars, filled to what each stage did.
    terminal = RunDisplay(Console(file=io.StringIO(), width=100, force_terminal=True), steps, 2,
                          RunLog(tmp_path / "tty"))
    with terminal.shown(), captured_output(terminal):
        play(terminal)
    bars = {task.description: (task.completed, task.total) for task in terminal.progress.tasks}
    assert bars["ingest"] == (2, 2) and bars["dbt staging"] == (3, 3) and bars["ai"] == (1, 1)
    assert bars["[red]dbt decisions[/red]"] == (1, 9)  # the failed node counted, the build stopped


TRIGGERS = ["silence_reengagement", "booking_link", "welcome", "day_1_plan", "nps_survey", "risk_nudge",
            "coaching_offer", "playbook_day_14", "analysis_tip", "integration_live", "csm_outreach",
            "trial_expiring", "community_invite", "off_track_flow", "off_track_reengagement",
            "nps_detractor_outreach", "track_restored_flow", "case_study"]
SOURCES = ["mixpanel", "nps", "rudderstack", "segment", "signups", "tickets"]
REASONS = ["invalid_json", "missing_field", "wrong_type", "future_timestamp", "bad_timestamp", "not_an_object",
           "invalid_utf8", "oversized", "truncated_gzip"]


def _demo_sized_warehouse(path: Path, start: date, days: int) -> None:
    """As many sources, quarantine reasons, tracks, actions and triggers as the 30-day demo, with demo-sized
    counts, plus a dry sync of the stand-ins' marts: what `onboarding run` reads back for its screen."""
    rng = random.Random(16)
    with duckdb.connect(str(path)) as con:
        demo(con, users=12)
        con.execute("create schema raw")
        con.execute("create table raw.load_log (source varchar, _partition_day date, files int, lines int,"
                    " loaded int, duplicates int, quarantined int, _loaded_at timestamp)")
        con.execute("create table raw.quarantine (source varchar, reason varchar, _partition_day date)")
        for source in SOURCES:
            for day in range(days + 2):  # two days outside the run's window
                lines = rng.randint(10, 9000)
                con.execute("insert into raw.load_log values (?, ?, ?, ?, ?, ?, ?, now())",
                            [source, start + timedelta(days=day - 1), 2, lines, lines - 30, 20, 10])
        con.execute("insert into raw.quarantine select $sources[1 + i % 6], $reasons[1 + i % 9] || ': line ' || i,"
                    " $start + cast(i % $days as integer) from range(400) as t(i)",
                    {"sources": SOURCES, "reasons": REASONS, "start": start, "days": days})
        con.execute("create table marts.user_onboarding as select 'u' || i as user_id, date '2026-12-02' as as_of_date,"
                    " ['guided_handholding', 'power_user', 'self_service', 'business_value', 'enterprise_custom'][1 + i % 5]"
                    " as track, i % 7 = 0 as is_off_track, ['create_integration', 'schedule_business_review',"
                    " 'complete_first_data_import', 'invite_team_member'][1 + i % 4] as next_action"
                    " from range(2000) as t(i)")
        # Due long before the delivery window: expired, never queued.
        con.execute("insert into marts.triggered_messages (message_key, user_id, trigger, channel, due_at, as_of_date)"
                    " select 'm' || i, 'u' || i, $triggers[1 + i % 18], 'intercom_email', timestamp '2026-01-01',"
                    " $start + cast(i % $days as integer) from range(20000) as t(i)",
                    {"triggers": TRIGGERS, "start": start, "days": days})
    run_sync(path, None, None)  # no credentials: dry


def test_the_run_ends_with_one_screen_that_fits_80_columns(tmp_path: Path, dry_env: None,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # as `make run` does from the checkout: the data folder is ./data
    start = date(2026, 11, 3)
    path = tmp_path / "demo.duckdb"
    _demo_sized_warehouse(path, start, 30)
    report = RunReport(run_id="0f1e2d3c-aaaa-bbbb-cccc-000000000000", success=True, start=start,
                       end=start + timedelta(days=29), seconds=74.2, warehouse=path,
                       logs={"folder": str(tmp_path / "logs" / "0f1e2d3c-aaaa-bbbb-cccc-000000000000")})
    with duckdb.connect(str(path), read_only=True) as con:
        collect(report, con)
        expected = {row[0]: row[1:] for row in con.execute(
            "select source, sum(loaded), sum(duplicates), sum(quarantined) from raw.load_log"
            " where _partition_day between ? and ? group by 1", [report.start, report.end]).fetchall()}
        triggers = dict(con.execute("select trigger, count(*) from marts.triggered_messages"
                                    " where as_of_date between ? and ? group by 1", [report.start, report.end]).fetchall())
        expired = dict(con.execute("select destination, expired from sync.runs").fetchall())
    console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115 - closed with the test
    render(report, console)
    text = console.export_text()
    lines = text.splitlines()
    # about 40 lines: 44 since the sync table has eight destinations (issue 18)
    assert len(lines) <= 44 and max(len(line) for line in lines) <= 80, text
    for source, (loaded, duplicates, quarantined) in expected.items():  # the run's days only
        assert re.search(rf"^{source}\s+30\s+.*\s{loaded:,}\s+{duplicates:,}\s+{quarantined:,}\s*$", text, re.M), source
    for trigger, count in triggers.items():  # a count never parted from its name by a line break
        assert re.search(rf"\b{trigger} {count:,}\b", text), trigger
    for destination, count in expired.items():
        assert re.search(rf"^{destination}\s+dry\s+.*\s{count:,}\s*$", text, re.M), destination
    assert "dry (no credentials): every destination; nothing sent" in text
    assert "Logs: logs/0f1e2d3c-aaaa-bbbb-cccc-000000000000/ (run.log, dbt.log)" in text
    assert "succeeded in 74.2s" in text

    document = json.loads(json.dumps(report.as_json()))
    assert {row["source"]: (row["loaded"], row["duplicates"], row["quarantined"]) for row in document["ingest"]} \
        == expected
    assert document["decisions"]["messages_by_trigger"] == triggers
    assert sum(document["quarantine_reasons"].values()) == 400


@pytest.mark.slow
def test_onboarding_run_json_logs_and_plain_progress(cli_run) -> None:
    """The session's `onboarding run --json` (tests/conftest.py `cli_run`: the last two days through the
    real pipeline on a copy of the session warehouse): --json on stdout, the stage lines on stderr (not a
    terminal: no bars), the run's output in its log folder."""
    assert cli_run.exit_code == 0, cli_run.stdout[-3000:] + cli_run.stderr[-3000:]
    document = json.loads(cli_run.stdout)  # nothing else on stdout
    assert document["success"] and document["days"] == (cli_run.end - cli_run.start).days + 1 == 2
    assert (document["start"], document["end"]) == (cli_run.start.isoformat(), cli_run.end.isoformat())
    with cli_run.connect() as con:
        loaded = con.execute("select source, sum(loaded) from raw.load_log where _partition_day between ? and ?"
                             " group by 1", [cli_run.start, cli_run.end]).fetchall()
        latest = dict(con.execute("select destination, run_id from sync.runs qualify row_number() over"
                                  " (partition by destination order by started desc) = 1").fetchall())
    assert {row["source"]: row["loaded"] for row in document["ingest"]} == dict(loaded)
    assert {s["destination"]: s["run_id"] for s in document["sync"]} == latest
    stderr = cli_run.stderr
    stages = re.findall(r"^(ingest|dbt staging|ai|dbt decisions|sync|reporting): ([\d,]+) (\S+) in", stderr,
                        re.M)
    # One line per stage as it ends (a stage's asset checks may end it after the next stage's steps).
    assert sorted(s[0] for s in stages) == ["ai", "dbt decisions", "dbt staging", "ingest", "reporting", "sync"], \
        stderr
    assert dict((s[0], s[2]) for s in stages)["dbt decisions"] == "nodes"
    folder = Path(document["logs"]["folder"])
    assert folder == cli_run.db_path.parent / "logs" / document["run_id"]
    dbt_lines = (folder / "dbt.log").read_text().splitlines()
    nodes = sum(int(count.replace(",", "")) for stage, count, _ in stages if stage.startswith("dbt"))
    assert len([line for line in dbt_lines if re.match(r"^\d+ of \d+ (OK|PASS|WARN|SKIP|NO-OP)", line)]) == nodes
    run_log = (folder / "run.log").read_text()
    assert "raw__segment_events" in run_log and "step done" in run_log
    assert "Running dbt command" not in stderr  # the steps' lines are in the log, not on the screen
