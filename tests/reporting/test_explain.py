"""`onboarding explain` and marts.user_explain on a copy of the generated warehouse, after a dry sync."""

from __future__ import annotations

import io
import json
import re
import shutil
from datetime import datetime, time, timedelta

import duckdb
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from dagster_project.explain import EXPLAIN_TABLE, build_user_explain, explain, explain_command, render


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


def _cli(path, *args: str, columns: int = 250) -> tuple[int, str]:
    app = typer.Typer()
    app.command()(explain_command)
    result = CliRunner().invoke(app, list(args), env={"ONBOARDING_DB": str(path), "COLUMNS": str(columns)})
    return result.exit_code, result.output


def _rendered(path, user: str, width: int) -> tuple[str, list[dict]]:
    with duckdb.connect(str(path), read_only=True) as con:
        explanation = explain(con, user)
    buffer = io.StringIO()
    render(explanation, Console(file=buffer, width=width, force_terminal=False))
    return buffer.getvalue(), explanation.items


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
    assert "planned (dry run, not sent)" in flat  # delivery status from the sync ledger
    assert "dry runs (planned, not sent): no credentials for" in flat  # why, once


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
    assert code == 2 and "no user 'no-such-user'" in out and len(out.strip().splitlines()) == 1


def test_messages_left_behind_for_age_say_expired(explained):
    """The sync never queues a message due before its window (SYNC_MESSAGE_MAX_AGE_DAYS, 3 by
    default): explain says so, with its due time, instead of "not in the sync ledger yet"."""
    path, _ = explained
    with duckdb.connect(str(path), read_only=True) as con:
        latest = con.execute("select max(as_of_date) from marts.triggered_messages").fetchone()[0]
        cutoff = datetime.combine(latest + timedelta(days=1), time()) - timedelta(days=3)
        user, trigger, channel, due = con.execute(
            "select user_id, trigger, channel, due_at from marts.triggered_messages where due_at < ?"
            " and channel like 'intercom%' and message_key not in (select message_key from sync.outbox)"
            " order by message_key limit 1", [cutoff]).fetchone()
        items = explain(con, user).items
        waiting = con.execute(f"select count(*) from {EXPLAIN_TABLE} where delivery like '%not in the sync ledger%'"
                              ).fetchone()[0]
        expired = con.execute(f"select count(*) from {EXPLAIN_TABLE} where delivery like '%: expired: due %'"
                              ).fetchone()[0]
        # The message destinations' last runs (Salesforce's MQL updates and the Mixpanel/Segment traits
        # expire too, but they are not messages and explain does not list them).
        never_queued = con.execute("select sum(expired) from (select expired from sync.runs where destination"
                                   " not in ('salesforce', 'mixpanel', 'segment') qualify row_number()"
                                   " over (partition by destination order by started desc) = 1)").fetchone()[0]
    [item] = [i for i in items if i["item"] == f"{trigger} via {channel}" and i["happened_at"] == due]
    assert item["delivery"] == f"intercom: expired: due {due:%Y-%m-%d}, older than 3 days, never sent"
    # After a sync every message is in the ledger or expired; the mart counts what the sync counted.
    assert waiting == 0 and expired == never_queued > 0


def test_a_long_story_reads_at_100_columns(explained):
    """The user with the most days: no identifier broken inside, one line per item mostly."""
    path, _ = explained
    with duckdb.connect(str(path), read_only=True) as con:
        user = con.execute(f"select user_id from {EXPLAIN_TABLE} group by 1 order by max(day_number) desc,"
                           " count(*) desc, 1 limit 1").fetchone()[0]
    out, items = _rendered(path, user, 100)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 100
    words = {w for i in items if i["section"] != "profile"  # the sign-up's details are in the header
             for text in (i["item"], i["detail"]) for w in (text or "").split() if len(w) <= 60}
    broken = sorted(w for w in words if w not in out)
    assert broken == [], broken[:5]
    # A header (~12 lines) and at most about three lines per item (the old six-column table took about
    # seven: 311 lines for this user's 44 items, measured on the session warehouse).
    assert len(lines) <= 12 + 3 * len(items), (len(lines), len(items))


def test_off_track_header_gives_each_track_its_own_reason(explained):
    path, _ = explained
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute(
            "select user_id, track, effective_track, track_reason, off_track_since from marts.user_onboarding"
            " where is_off_track and effective_track <> track order by user_id limit 1").fetchone()
    assert row is not None, "the session warehouse has no user off track on its last day"
    user, track, effective, reason, since = row
    out, _ = _rendered(path, user, 250)
    now = re.search(r"^track\s+(.*)$", out, re.M).group(1)
    assert now.startswith(f"{effective}, off track since {since}: idle ")
    assert f"chosen track {track} (" in now and reason in now
    assert f"{effective} (" not in now  # the downgrade is never given the chosen track's reason


def test_durations_in_one_unit(explained):
    """Time to first query reads the same in the coaching offer's reason and the difficulty item."""
    path, _ = explained
    with duckdb.connect(str(path), read_only=True) as con:
        reasons = [r for (r,) in con.execute(
            "select reason from marts.triggered_messages where trigger = 'coaching_offer'").fetchall()]
        details = [d for (d,) in con.execute(
            f"select detail from {EXPLAIN_TABLE} where section = 'difficulty'").fetchall()]
    assert reasons and details
    unit = r"time to first query (none|\d+ min|\d+\.\d h|\d+\.\d d)[,:]"
    assert all(re.search(unit, text) for text in reasons + details), [t for t in reasons + details
                                                                     if not re.search(unit, t)][:3]
    assert not any("ttfq" in text for text in reasons)


def test_a_days_events_are_in_time_order(explained):
    """Within each day: what happened by its time, the day's decisions at its end, then the messages
    and alerts they triggered - for every user of the mart."""
    path, _ = explained
    with duckdb.connect(str(path), read_only=True) as con:
        out_of_order = con.execute(
            f"""
            with keyed as (
                select user_id, on_date, seq,
                       coalesce(happened_at, on_date + interval 1 day) as sort_at,
                       case when section in ('profile', 'experiment', 'milestone') then 0
                            when section in ('message', 'csm_alert') then 2 else 1 end as part
                from {EXPLAIN_TABLE}
            )
            select count(*) from (
                select *, lag(sort_at) over w as previous_at, lag(part) over w as previous_part from keyed
                window w as (partition by user_id, on_date order by seq)
            ) where sort_at < previous_at or (sort_at = previous_at and part < previous_part)
            """
        ).fetchone()[0]
        timed = con.execute(f"select count(distinct user_id) from {EXPLAIN_TABLE} where section = 'milestone'"
                            ).fetchone()[0]
    assert timed > 0 and out_of_order == 0


def test_explain_json(explained):
    path, user = explained
    code, out = _cli(path, user, "--json")
    assert code == 0
    document = json.loads(out)
    with duckdb.connect(str(path), read_only=True) as con:
        mart = con.execute(f"select section, item, delivery from {EXPLAIN_TABLE} where user_id = ? order by seq",
                           [user]).fetchall()
    assert document["user_id"] == user and document["profile"]["user_id"] == user
    assert [(i["kind"], i["what"], i["delivery"]) for i in document["timeline"]] == mart
    assert document["now"]["user_id"] == user
