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
ledger keeps no history).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from dagster_project.core import warehouse

from .core.display import markup_text as escape  # control characters and Rich markup, both

EXPLAIN_TABLE = "marts.user_explain"

# The timeline itself is a dbt model (models/reporting/user_explain_timeline.sql): every user's items
# as of the last decided day, each message and CSM alert with its delivery_key in the sync ledger.
TIMELINE_TABLE = "marts.user_explain_timeline"

NO_LEDGER = "not synced: no sync ledger in this warehouse"
NOT_IN_LEDGER = "not in the sync ledger yet"


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    sql = "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    return con.execute(sql, [schema, table]).fetchall()[0][0] > 0


def _delivery_sql(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """The CTEs giving each ledger key its delivery text, and the text for a key the ledger lacks.

    Read at display time, not in dbt: the ledger is written by the sync, after the dbt build, and a
    status changes with every sync run while the decisions do not.
    """
    if not (_has_table(con, "sync", "outbox") and _has_table(con, "sync", "runs")):
        empty = "delivery as (select cast(null as varchar) as message_key, cast(null as varchar) as delivery)"
        return empty, NO_LEDGER
    return (
        """
        latest_runs as (
            select destination, dry_run, dry_reason, started,
                   row_number() over (partition by destination order by started desc) as recency
            from sync.runs
        ),
        delivery as (
            select o.message_key,
                   string_agg(
                       o.destination || ': ' || o.status
                       || case when o.sent_at is not null then ' at ' || strftime(o.sent_at, '%Y-%m-%d %H:%M') else '' end
                       || case when o.last_error is not null then ' (' || o.last_error || ')' else '' end
                       || case when o.status = 'pending' and r.dry_run then ' (dry run: planned, not sent'
                               || coalesce(' - ' || r.dry_reason, '') || ')' else '' end,
                       '; ' order by o.destination
                   ) as delivery
            from sync.outbox as o
            left join latest_runs as r on o.destination = r.destination and r.recency = 1
            group by o.message_key
        )""",
        NOT_IN_LEDGER,
    )


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
    return Explanation(user_id, as_of, profiles[0], items, state[0] if state else None)


def render(explanation: Explanation, console: Console) -> None:
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
        factors = state["risk_factors"] or "{}"
        console.print(
            f"\n[bold]Now[/bold] (day {state['day_number']}, {state['as_of_date']}): track "
            f"[bold]{state['effective_track']}[/bold] ({state['track_source']}: {state['track_reason']}); "
            f"stage {state['onboarding_stage']}; score [bold]{state['onboarding_score']}[/bold] "
            f"{state['milestones']}; next action {state['next_action']} ({state['action_priority']}); "
            f"difficulty {state['difficulty_level']} ({state['difficulty_reason']}); churn risk "
            f"{'-' if state['churn_risk'] is None else round(state['churn_risk'], 2)} {state['risk_action']} "
            f"{factors}; CSM {state['csm'] or 'none'}",
            highlight=False,
        )
    table = Table(show_lines=False, expand=True, title="Timeline", title_justify="left")
    for column, style in (
        ("day", "dim"), ("when", "dim"), ("kind", "cyan"), ("what", "bold"), ("why / details", ""), ("delivery", ""),
    ):  # fmt: skip
        table.add_column(column, style=style, overflow="fold")
    previous_day = None
    for item in explanation.items:
        day = f"{item['day_number']}  {item['on_date']}" if item["day_number"] != previous_day else ""
        previous_day = item["day_number"]
        when = (
            f"{item['happened_at']:%H:%M}"
            if item['happened_at'] is not None and item['happened_at'].date() == item["on_date"]
            else (f"{item['happened_at']:%m-%d %H:%M}" if item['happened_at'] is not None else "")
        )
        # Warehouse text is data, not Rich markup: "[template v1]" must print as it is.
        table.add_row(
            day, when, item["section"], escape(item["item"] or ""), escape(item["detail"] or ""),
            escape(item["delivery"] or ""),
        )
    console.print(table)
    if not explanation.items:
        console.print(f"[yellow]Nothing known by the end of {explanation.as_of}[/yellow] (before the signup?).")


def explain_command(
    user_id: Annotated[str, typer.Argument(help="The user id (as in the signup webhook / Segment userId).")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Only what was known by the end of this day, YYYY-MM-DD.")
    ] = None,
) -> None:
    """Print a user's onboarding timeline: profile, track, milestones, score, difficulty, risk, messages."""
    console = Console()
    from .resources import warehouse_settings  # Dagster, when the command runs (not for --help)

    db_path: Path = warehouse_settings().db_path
    if not db_path.exists():
        console.print(f"[red]No warehouse at {db_path}[/red] — run `onboarding run` first.")
        raise typer.Exit(2)
    with warehouse.connect(db_path, read_only=True) as con:
        try:
            explanation = explain(con, user_id, date.fromisoformat(as_of) if as_of else None)
        except LookupError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from error
    render(explanation, console)
