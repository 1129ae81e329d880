"""Explain a user: everything the engine knows and decided about one user, as a readable timeline.

`onboarding explain USER_ID [--as-of DATE]` prints the profile, the experiments the user is in, the
track with its source and reason, the milestones with their times and points, the score, the content
difficulty with its inputs, the churn-risk factors that fired with their weights, the CSM, and every
message triggered with its reason and its delivery status from the sync ledger.

The timeline is the dbt model `marts.user_explain_timeline` (every user, as of the last decided day);
`timeline_sql(con)` adds each message's delivery status from the sync ledger, and `build_user_explain`
materialises that for every user into `marts.user_explain` (the Dagster asset `marts/user_explain`,
group reporting, after the sync), so analysts query exactly what the command prints. `--as-of` keeps
only what was known by the end of that day; delivery statuses are the ledger's current state (the
ledger keeps no history). A message the sync will never send because it is older than its delivery
window (`SYNC_MESSAGE_MAX_AGE_DAYS`) says "expired: due <day>, older than N days, never sent", asked of
the sync engine's own streams and window (`sync.engine.expired_sql`), not "not in the ledger yet".
`--json` prints the same as one JSON document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from dagster_project.core import warehouse
from sync.cli import print_json, usage_error

from .core.display import markup_text as escape  # control characters and Rich markup, both
from .core.settings import SettingsError

EXPLAIN_TABLE = "marts.user_explain"

# The timeline itself is a dbt model (models/reporting/user_explain_timeline.sql): every user's items
# as of the last decided day, each message and CSM alert with its delivery_key in the sync ledger.
TIMELINE_TABLE = "marts.user_explain_timeline"

NO_LEDGER = "not synced: no sync ledger in this warehouse"
NOT_IN_LEDGER = "not in the sync ledger yet"


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    sql = "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    return con.execute(sql, [schema, table]).fetchall()[0][0] > 0


def _expired_sql(con: duckdb.DuckDBPyConnection) -> str:
    """The keys the sync leaves behind for age (destination, stream, message_key, due_at, max_age_days),
    from the sync engine's own streams and window; an empty query when it cannot tell (no window set,
    a mart missing, a malformed sync setting): such messages then read "not in the sync ledger yet"."""
    from sync.engine import expired_sql
    from sync.settings import SyncConfigError

    from .resources import sync_settings

    empty = ("select cast(null as varchar) as destination, cast(null as varchar) as message_key,"
             " cast(null as timestamp) as due_at, cast(null as integer) as max_age_days where false")
    try:
        query = expired_sql(con, sync_settings())  # the sync resource's window, as a run's
        if query is None:
            return empty
        con.execute(f"select count(*) from ({query}) as q").fetchall()  # every mart it reads is there
    except (duckdb.Error, SyncConfigError):
        return empty
    return f"select destination, message_key, due_at, max_age_days from ({query}) as q"


def _delivery_sql(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """The CTEs giving each ledger key its delivery text, and the text for a key the ledger lacks.

    Read at display time, not in dbt: the ledger is written by the sync, after the dbt build, and a
    status changes with every sync run while the decisions do not. A pending message of a dry run
    says "planned (dry run)"; why the destination ran dry is said once, under the timeline.
    """
    if not (_has_table(con, "sync", "outbox") and _has_table(con, "sync", "runs")):
        empty = "delivery as (select cast(null as varchar) as message_key, cast(null as varchar) as delivery)"
        return empty, NO_LEDGER
    return (
        f"""
        latest_runs as (
            select destination, dry_run, started,
                   row_number() over (partition by destination order by started desc) as recency
            from sync.runs
        ),
        expired as (
            {_expired_sql(con)}
        ),
        statuses as (
            select o.message_key, o.destination,
                   o.destination || ': '
                   || case when o.status = 'pending' and r.dry_run then 'planned (dry run, not sent)' else o.status end
                   || case when o.sent_at is not null then ' at ' || strftime(o.sent_at, '%Y-%m-%d %H:%M') else '' end
                   || case when o.last_error is not null then ' (' || o.last_error || ')' else '' end as delivery
            from sync.outbox as o
            left join latest_runs as r on o.destination = r.destination and r.recency = 1
            union all
            select message_key, destination,
                   destination || ': expired: due ' || strftime(due_at, '%Y-%m-%d') || ', older than '
                   || max_age_days || ' days, never sent' as delivery
            from expired
        ),
        delivery as (
            select message_key, string_agg(delivery, '; ' order by destination) as delivery
            from statuses
            group by message_key
        )""",
        NOT_IN_LEDGER,
    )


def dry_runs(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Why each destination's latest sync ran dry (destination -> reason), for the line under a timeline."""
    if not _has_table(con, "sync", "runs"):
        return {}
    rows = con.execute(
        "select destination, dry_reason from sync.runs qualify row_number() over"
        " (partition by destination order by started desc) = 1 order by destination"
    ).fetchall()
    return {destination: reason for destination, reason in rows if reason}


def timeline_sql(con: duckdb.DuckDBPyConnection) -> str:
    """The dbt timeline with delivery statuses; parameters $user_id (null: every user) and $as_of (a date).

    Every timeline item only looks back, so the items with on_date <= as_of are those a timeline built
    on that day would have had; users who signed up later have none.
    """
    delivery_cte, missing = _delivery_sql(con)
    return f"""
    with
    {delivery_cte.strip()},
    users as (
        select user_id from intermediate.int_users__profiles
        where ($user_id is null or user_id = $user_id) and signup_date <= $as_of
    ),
    items as (
        select t.*
        from {TIMELINE_TABLE} as t
        where t.user_id in (select user_id from users) and t.on_date <= $as_of
    )
    select
        items.user_id,
        items.on_date,
        items.day_number,
        items.happened_at,
        items.section,
        items.item,
        items.detail,
        case when items.delivery_key is not null then coalesce(delivery.delivery, '{missing}') end as delivery,
        row_number() over (partition by items.user_id order by items.seq) as seq,
        cast($as_of as date) as as_of_date
    from items
    left join delivery on items.delivery_key = delivery.message_key
    order by items.user_id, seq
    """


def latest_day(con: duckdb.DuckDBPyConnection) -> date | None:
    return con.execute("select max(as_of_date) from marts.user_onboarding_daily").fetchall()[0][0]


def build_user_explain(con: duckdb.DuckDBPyConnection, as_of: date | None = None) -> int:
    """(Re)create marts.user_explain: the timeline of every user as of the last decided day."""
    as_of = as_of or latest_day(con)
    con.execute(
        f"create or replace table {EXPLAIN_TABLE} as {timeline_sql(con)}", {"user_id": None, "as_of": as_of}
    )
    return con.execute(f"select count(*) from {EXPLAIN_TABLE}").fetchall()[0][0]


@dataclass
class Explanation:
    user_id: str
    as_of: date
    profile: dict[str, Any]
    items: list[dict[str, Any]]
    state: dict[str, Any] | None
    dry_runs: dict[str, str] = field(default_factory=dict)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def explain(con: duckdb.DuckDBPyConnection, user_id: str, as_of: date | None = None) -> Explanation:
    """The user's timeline as of a day (default: the last decided day). LookupError if unknown."""
    profiles = _rows(con, "select * from intermediate.int_users__profiles where user_id = ?", [user_id])
    if not profiles:
        raise LookupError(f"no user {user_id!r} in the warehouse")
    as_of = as_of or latest_day(con)
    if as_of is None:
        raise LookupError("no decisions in the warehouse yet: run the pipeline first")
    items = _rows(con, timeline_sql(con), {"user_id": user_id, "as_of": as_of})
    state = _rows(
        con,
        """
        select * from marts.user_onboarding_daily
        where user_id = ? and as_of_date = (
            select max(as_of_date) from marts.user_onboarding_daily where user_id = ? and as_of_date <= ?
        )
        """,
        [user_id, user_id, as_of],
    )
    # Why a destination ran dry, for the destinations whose plan this timeline shows.
    runs = dry_runs(con)
    dry = {d: reason for d, reason in runs.items() if any(f"{d}: planned" in (i["delivery"] or "") for i in items)}
    return Explanation(user_id, as_of, profiles[0], items, state[0] if state else None, dry)


def _duration(seconds: float | None) -> str:
    """A duration in the unit people read (the dbt macro explain_duration's rule: min, h, d)."""
    if seconds is None:
        return "none"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _factors(raw: str | None) -> str:
    """Risk factors '{"no_login_3_days": 0.25}' as 'no_login_3_days 0.25' (as the timeline shows them)."""
    try:
        factors = json.loads(raw or "{}")
    except ValueError:
        return raw or "none"
    return ", ".join(f"{name} {weight}" for name, weight in factors.items()) or "none"


def track_text(state: dict[str, Any]) -> str:
    """The track now. Off track, the track in effect is the downgrade, with its own reason (idle days),
    then the track the rules or the LLM chose and theirs: never the downgrade with the choice's reason."""
    chosen = f"{state['track']} ({state['track_source']}: {state['track_reason']})"
    if state.get("is_off_track") and state.get("effective_track") != state["track"]:
        since = state.get("off_track_since")
        return (f"[bold]{state['effective_track']}[/bold], off track since {since}: idle "
                f"{state.get('days_since_last_login')} days; chosen track {chosen}")
    return f"[bold]{state['track']}[/bold] ({state['track_source']}: {state['track_reason']})"


def _now(state: dict[str, Any]) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="cyan", no_wrap=True)
    grid.add_column(overflow="fold")
    milestones = ", ".join(json.loads(state["milestones"] or "{}")) or "none yet"
    risk = "-" if state["churn_risk"] is None else f"{state['churn_risk']:.2f}"
    grid.add_row("track", track_text(state))
    grid.add_row("score", f"[bold]{state['onboarding_score']}[/bold] (milestones: {milestones}); stage "
                          f"{state['onboarding_stage']}; next action {state['next_action']} ({state['action_priority']})")
    grid.add_row("difficulty", f"{state['difficulty_level']} ({state['difficulty_reason']}): time to first query "
                               f"{_duration(state['time_to_first_query_seconds'])}, "
                               f"{round(state['queries_per_day'] or 0, 2)} queries/day")
    grid.add_row("churn risk", f"{risk} {state['risk_action'] or ''}: {_factors(state['risk_factors'])}")
    grid.add_row("CSM", state["csm"] or "none")
    return grid


def _when(item: dict[str, Any]) -> str:
    at = item["happened_at"]
    if at is None:
        return ""
    return f"{at:%H:%M}" if at.date() == item["on_date"] else f"{at:%m-%d %H:%M}"


def render(explanation: Explanation, console: Console) -> None:
    """The user's story: who, the state now, then one line per timeline item (wrapped at words).

    Four narrow columns and one wide one, so a line breaks between words, not inside an identifier,
    at 80 columns and up; a day's number and date only on its first item; the sign-up's details
    once, in the header; each destination's dry-run reason once, under the timeline.
    """
    # Every warehouse value is escaped: a role like "[admin]" is data, not Rich markup.
    p = {k: escape(str(v)) if isinstance(v, str) else v for k, v in explanation.profile.items()}
    state = explanation.state and {k: escape(v) if isinstance(v, str) else v for k, v in explanation.state.items()}
    console.rule(f"[bold]{p['name']}[/bold]  {escape(explanation.user_id)}  as of {explanation.as_of}")
    console.print(
        f"{p.get('email') or 'no email'} · {p['company']} · role {p['role']} · plan {p['plan']} · "
        f"{p['company_size']} · {p['industry']} · source {p['signup_source']} · "
        f"signed up {p['signed_up_at']:%Y-%m-%d %H:%M} UTC ({p['provider']})",
        highlight=False,
    )
    if state:
        console.print(f"\n[bold]Now[/bold] (day {state['day_number']}, {state['as_of_date']})")
        console.print(_now(state), highlight=False)
    timeline = Table.grid(padding=(0, 1))
    timeline.add_column(style="dim", no_wrap=True)  # day
    timeline.add_column(style="dim", no_wrap=True)  # when
    timeline.add_column(style="cyan", no_wrap=True)  # kind
    timeline.add_column(overflow="fold")  # what, why, delivery: wraps between words
    previous_day = None
    for item in explanation.items:
        day = f"{item['day_number']:>2} {item['on_date']:%m-%d}" if item["day_number"] != previous_day else ""
        previous_day = item["day_number"]
        # Warehouse text is data, not Rich markup: "[template v1]" must print as it is.
        text = f"[bold]{escape(item['item'] or '')}[/bold]"
        if item["detail"] and item["section"] != "profile":  # the sign-up's details are in the header
            text += f" - {escape(item['detail'])}"
        if item["delivery"]:
            text += f"\n[green]→[/green] {escape(item['delivery'])}"
        timeline.add_row(day, _when(item), item["section"].replace("_", " "), text)
    console.print("\n[bold]Timeline[/bold] (day, time UTC; decisions at the end of their day)")
    console.print(timeline, highlight=False)
    no_credentials = [d for d, reason in explanation.dry_runs.items() if reason.startswith("no credentials")]
    if no_credentials:
        console.print(f"[yellow]dry runs[/yellow] (planned, not sent): no credentials for {', '.join(no_credentials)}"
                      " (docs/sync.md).", highlight=False)
    for destination, reason in explanation.dry_runs.items():
        if destination not in no_credentials:
            console.print(f"[yellow]{destination}[/yellow] ran dry: {escape(reason)} (planned, not sent).",
                          highlight=False)
    if not explanation.items:
        console.print(f"[yellow]Nothing known by the end of {explanation.as_of}[/yellow] (before the signup?).")


def as_json(explanation: Explanation) -> dict[str, Any]:
    """The `--json` document (docs/deploy.md section 6): the profile, the state now, the timeline."""
    return {
        "user_id": explanation.user_id,
        "as_of": explanation.as_of.isoformat(),
        "profile": explanation.profile,
        "now": explanation.state,
        "timeline": [
            {"day": i["day_number"], "on_date": i["on_date"], "at": i["happened_at"], "kind": i["section"],
             "what": i["item"], "details": i["detail"], "delivery": i["delivery"]}
            for i in explanation.items
        ],
        "dry_runs": explanation.dry_runs,
    }


def explain_command(
    user_id: Annotated[str, typer.Argument(help="The user id (as in the signup webhook / Segment userId).")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Only what was known by the end of this day, YYYY-MM-DD.")
    ] = None,
    as_json_: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout (docs/deploy.md section 6).")
    ] = False,
) -> None:
    """Print a user's onboarding timeline: profile, track, milestones, score, difficulty, risk, messages."""
    day = None
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            usage_error(f"--as-of must be a day YYYY-MM-DD, got {as_of!r}")
    try:
        from .resources import warehouse_settings  # Dagster, when the command runs (not for --help)

        db_path: Path = warehouse_settings().db_path
    except SettingsError as exc:
        usage_error(str(exc))
    if not db_path.exists():
        usage_error(f"no warehouse at {db_path}: run `onboarding run` first")
    with warehouse.connect(db_path, read_only=True) as con:
        try:
            explanation = explain(con, user_id, day)
        except LookupError as error:
            usage_error(str(error.args[0]))
        except duckdb.CatalogException as error:
            raise_missing(db_path, error)
    if as_json_:
        print_json(as_json(explanation))
        return
    render(explanation, Console())


def raise_missing(db_path: Path, error: duckdb.CatalogException) -> NoReturn:
    """A warehouse the pipeline never finished building: say so in one line (exit 2)."""
    first = str(error).splitlines()[0]
    usage_error(f"{db_path} has no decisions to explain ({first}): run `onboarding run` first")
