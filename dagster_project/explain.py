"""Explain a user: everything the engine knows and decided about one user, as a readable timeline.

`onboarding explain USER_ID [--as-of DATE]` prints the profile, the experiments the user is in, the
track with its source and reason, the milestones with their times and points, the score, the content
difficulty with its inputs, the churn-risk factors that fired with their weights, the CSM, and every
message triggered with its reason and its delivery status from the sync ledger.

The timeline is one SQL query (`timeline_sql(con)`) over the marts; `build_user_explain` materialises it for
every user into `marts.user_explain` (the Dagster asset `marts/user_explain`, group reporting, after the
sync), so analysts query exactly what the command prints. `--as-of` keeps only what was known by the
end of that day; delivery statuses are the ledger's current state (the ledger keeps no history).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
import yaml
from rich.console import Console
from rich.table import Table

from dagster_project.core import warehouse

from .core.display import markup_text as escape  # control characters and Rich markup, both
from .core.settings import DBT_PROJECT_DIR, Settings

EXPLAIN_TABLE = "marts.user_explain"

# Within a day: what happened (profile, exposure, milestones, by time), then what the engine decided that
# day (in this order), then what it sent (by due time).
SECTIONS = (
    "profile", "experiment", "track", "milestone", "score", "stage", "difficulty", "risk", "csm",
    "message", "csm_alert",
)  # fmt: skip


def _milestone_weights() -> list[tuple[str, int]]:
    """The milestones and weights of the dbt project (var onboarding_milestones), the score's source."""
    config = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return [(m["milestone"], int(m["weight"])) for m in config["vars"]["onboarding_milestones"]]


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    sql = "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    return con.execute(sql, [schema, table]).fetchall()[0][0] > 0


def _duration(seconds: str) -> str:
    return (
        f"case when {seconds} is null then 'none'"
        f" when {seconds} < 3600 then cast(round({seconds} / 60.0) as integer) || ' min'"
        f" when {seconds} < 86400 then cast(round({seconds} / 3600.0, 1) as varchar) || ' h'"
        f" else cast(round({seconds} / 86400.0, 1) as varchar) || ' d' end"
    )


def timeline_sql(con: duckdb.DuckDBPyConnection) -> str:
    """The timeline query; parameters $user_id (null: every user) and $as_of (a date)."""
    milestones = " union all ".join(
        f"select user_id, '{name}' as milestone, {weight} as weight, {name}_at as reached_at"
        f" from intermediate.int_onboarding__milestones"
        for name, weight in _milestone_weights()
    )
    if _has_table(con, "sync", "outbox") and _has_table(con, "sync", "runs"):
        delivery_cte = """
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
        )"""
    else:
        delivery_cte = """
        delivery as (
            select cast(null as varchar) as message_key, 'not synced: no sync ledger in this warehouse' as delivery
        )"""
    no_ledger = "'not synced: no sync ledger in this warehouse'"
    ledger_default = "'not in the sync ledger yet'" if "latest_runs" in delivery_cte else no_ledger
    ttfq = _duration("time_to_first_query_seconds")
    return f"""
    with
    users as (
        select * from intermediate.int_users__profiles
        where ($user_id is null or user_id = $user_id) and signup_date <= $as_of
    ),
    daily as (
        select d.*,
               lag(d.track) over w as previous_track,
               lag(d.onboarding_score) over w as previous_score,
               lag(d.onboarding_stage) over w as previous_stage,
               lag(d.difficulty_level || '|' || d.difficulty_reason) over w as previous_difficulty,
               lag(coalesce(d.risk_action, '') || '|' || coalesce(d.risk_factors, '')) over w as previous_risk,
               lag(d.csm) over w as previous_csm
        from marts.user_onboarding_daily as d
        where d.user_id in (select user_id from users) and d.as_of_date <= $as_of
        window w as (partition by d.user_id order by d.as_of_date)
    ),
    {delivery_cte.strip()},
    items as (
        select user_id, signup_date as on_date, signed_up_at as happened_at, 'profile' as section, 'signed up' as item,
               concat_ws(', ', name || coalesce(' <' || email || '>', ''), 'company ' || company, 'role ' || role,
                         'plan ' || plan, 'company size ' || company_size, 'industry ' || industry,
                         'signup source ' || signup_source, 'team size ' || cast(team_size as varchar),
                         'signed up through ' || provider) as detail,
               cast(null as varchar) as delivery
        from users

        union all
        select a.user_id, a.exposure_date, a.exposed_at, 'experiment', a.experiment_id || ': ' || a.variant,
               concat_ws(', ', 'bucket ' || cast(round(a.bucket, 4) as varchar),
                         case when a.is_control then 'control: no change' end,
                         'track ' || a.track_override, 'template variant ' || a.template_variant,
                         'nudge after ' || cast(a.nudge_silence_hours as varchar) || ' h of silence'),
               null
        from intermediate.int_experiments__assignments as a
        where a.user_id in (select user_id from users) and a.exposure_date <= $as_of

        union all
        select user_id, as_of_date, null, 'track',
               case
                   when previous_track is null or previous_track <> track then 'track ' || track
                   when is_off_track_start then 'off track: ' || effective_track
                   else 'track restored: ' || track
               end,
               case
                   when previous_track is null or previous_track <> track
                       then 'source ' || track_source || coalesce(', rule ' || track_rule, '') || ': ' || track_reason
                   when is_off_track_start
                       then 'idle ' || cast(days_since_last_login as varchar) || ' days: ' || track || ' -> '
                            || effective_track || ' until the user is back'
                   else 'active again: back to ' || track
               end,
               null
        from daily
        where previous_track is null or previous_track <> track or is_off_track_start or is_track_restored

        union all
        select m.user_id, cast(m.reached_at as date), m.reached_at, 'milestone', m.milestone,
               '+' || cast(m.weight as varchar) || ' points', null
        from ({milestones}) as m
        where m.user_id in (select user_id from users) and m.reached_at is not null
          and m.reached_at < cast($as_of as timestamp) + interval 1 day

        union all
        select user_id, as_of_date, null, 'score', 'score ' || cast(onboarding_score as varchar),
               'next action ' || next_action || ' (' || action_priority || ')'
               || case when milestones <> '{{}}' then ', milestones ' || milestones else '' end,
               null
        from daily
        where previous_score is null or previous_score <> onboarding_score

        union all
        select user_id, as_of_date, null, 'stage', 'stage ' || onboarding_stage, 'day ' || cast(day_number as varchar), null
        from daily
        where previous_stage is null or previous_stage <> onboarding_stage

        union all
        select user_id, as_of_date, null, 'difficulty', 'difficulty ' || difficulty_level,
               difficulty_reason || ': time to first query ' || ({ttfq})
               || ', ' || cast(round(queries_per_day, 2) as varchar) || ' queries/day ('
               || cast(query_count as varchar) || ' queries)',
               null
        from daily
        where previous_difficulty is null or previous_difficulty <> difficulty_level || '|' || difficulty_reason

        union all
        select user_id, as_of_date, null, 'risk',
               case
                   when not is_risk_monitored then 'risk no longer monitored'
                   else 'risk ' || cast(round(churn_risk, 2) as varchar) || ': ' || risk_action
               end
               || case when is_escalated then ', escalated to the CSM' else '' end,
               case
                   when is_risk_monitored
                       then 'factors (weight): ' || coalesce(nullif(
                           replace(replace(replace(replace(risk_factors, '{{', ''), '}}', ''), '"', ''), ':', ''), ''
                       ), 'none')
                       || case when is_new_risk_episode then ', new episode' else '' end
                   else 'past the monitoring window'
               end,
               null
        from daily
        where previous_risk is null or is_escalated
           or previous_risk <> coalesce(risk_action, '') || '|' || coalesce(risk_factors, '')

        union all
        select user_id, as_of_date, null, 'csm', 'CSM ' || csm, 'assigned (' || coalesce(csm_id, '') || ')', null
        from daily
        where csm is not null and (previous_csm is null or previous_csm <> csm)

        union all
        select t.user_id, t.as_of_date, t.due_at, 'message', t.trigger || ' via ' || t.channel,
               t.reason || coalesce(': "' || t.subject || '"', '') || ' [template ' || t.template_id || ']',
               coalesce(delivery.delivery, {ledger_default})
        from marts.triggered_messages as t
        left join delivery on t.message_key = delivery.message_key
        where t.user_id in (select user_id from users) and t.as_of_date <= $as_of

        union all
        select c.user_id, c.as_of_date, null, 'csm_alert', 'CSM alert: ' || c.alert_type || ' to ' || coalesce(c.csm_name, 'unassigned'),
               c.reason, coalesce(delivery.delivery, {ledger_default})
        from marts.csm_alerts as c
        left join delivery on c.alert_key = delivery.message_key
        where c.user_id in (select user_id from users) and c.as_of_date <= $as_of
    )
    select
        items.user_id,
        items.on_date,
        date_diff('day', users.signup_date, items.on_date) as day_number,
        items.happened_at,
        items.section,
        items.item,
        items.detail,
        items.delivery,
        row_number() over (
            partition by items.user_id
            order by items.on_date,
                     case when items.section in ('profile', 'experiment', 'milestone') then 0
                          when items.section in ('message', 'csm_alert') then 2 else 1 end,
                     items.happened_at,
                     case items.section {" ".join(f"when '{s}' then {i}" for i, s in enumerate(SECTIONS))} end,
                     items.item
        ) as seq,
        cast($as_of as date) as as_of_date
    from items
    inner join users on items.user_id = users.user_id
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
    db_path: Path = Settings.from_env().db_path
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
