"""Policy replay: what a rule change would have done to the stored history, before anyone sees it.

`onboarding replay --vars '{...}' [--seeds DIR] [--from DATE --to DATE] [--keep] [--json]` answers
"what if the nudge threshold were 0.5?": it builds the decision models with the changed rules over the
stored history and compares them with the marts, per trigger and day (messages added, removed,
changed), per user (track, score band or risk action different) and per CSM alert (added, removed).

How, and why this way (docs/replay.md):
- **A scratch schema in the same warehouse**, `replay_<id>`: dbt builds every node of the selection
  there (a copy of the dbt project whose `generate_schema_name` sends every node to that schema; the
  shipped macro is untouched). Sources stay where they are, so the replay reads the real `raw.*` and
  `ai.*` (the LLM's answers are history too: a replay never calls a model). Nothing is written to the
  main schemas: the marts, the raw tables and the sync ledger keep their bytes (tests/test_replay.py
  checks them before and after). The scratch schema is dropped at the end unless `--keep`.
- **Selected by folder, not by a list**: `+path:models/decisions` and `+path:models/sync` (the decision
  marts, the reverse-ETL feeds that carry the messages and alerts, and everything upstream of them), so
  a new decision model or seed is replayed without a change here. Tests and unit tests are skipped:
  the replay is a what-if, not a deploy.
- **Changed rules** are dbt vars (`--vars`, a JSON object merged over dbt_project.yml's; an unknown name is an error,
  not a silent no-op) and seeds (`--seeds DIR`: each CSV replaces the seed of the same name in the
  copy).
- **Compared with the marts**, which were built from the same history by the daily runs; a no-op replay
  therefore reports zero differences (a test), and any difference it reports is the rule change's.
  The comparison is `--from`/`--to` (decision days) wide; the build always covers the whole history,
  because the decisions carry state from day to day (scores, risk episodes).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer

from .core import warehouse
from .core.settings import DBT_PROJECT_DIR, Settings, dbt_executable, environment_with

# What a replay builds: the decision marts and the sync feeds (messages, CSM alerts), with every
# ancestor. By folder, so J-numbered additions to either folder are replayed without a change here.
SELECT: tuple[str, ...] = ("+path:models/decisions", "+path:models/sync")
# The warehouse's own schemas: a replay never writes to them (and refuses a scratch name among them).
MAIN_SCHEMAS: frozenset[str] = frozenset({"raw", "staging", "intermediate", "ai", "marts", "sync", "seeds", "main"})
DIFFERENCES = "replay_differences"
# State the engine keeps once made, copied into the scratch schema before the build (dbt then runs
# these incremental models on it as a daily run does), so a difference is the rule's, not a re-making
# of that state: the key each message situation was first given (a situation late data moved keeps its
# key; docs/rules.md, "Message keys and late data") and the CSM each user was given (an assigned CSM
# stays; rebuilt from nothing, the round robin would hand other users' CSMs around whenever the rule
# changes who needs one first, and every check-in and booking link naming a CSM would read "changed").
CARRIED_STATE: tuple[str, ...] = ("int_messages__situation_keys", "int_onboarding__csm_assignments")
# A user-day's decisions the report compares (label -> column of user_onboarding_daily): the track in
# effect, the score band (the next-action band the score falls in) and the churn-risk routing.
USER_DIMENSIONS: dict[str, str] = {
    "track": "effective_track",
    "score_band": "next_action",
    "risk_action": "risk_action",
}
# A message is "changed" when its key stays but what the customer would get differs.
MESSAGE_COLUMNS: tuple[str, ...] = ("channel", "subject", "body", "due_at", "template_id", "priority")
_OUTPUT_TAIL = 3000


class ReplayError(Exception):
    """Bad input or a failed build: one line for the user (the CLI exits 2 with it)."""


@dataclass(frozen=True)
class ReplayRequest:
    vars: dict[str, Any]
    seeds: dict[str, Path] = field(default_factory=dict)  # seed name -> replacing CSV
    start: date | None = None
    end: date | None = None
    keep: bool = False
    replay_id: str = field(default_factory=lambda: time.strftime("%Y%m%d_%H%M%S") + "_" + uuid.uuid4().hex[:4])

    @property
    def schema(self) -> str:
        return f"replay_{self.replay_id}"


@dataclass
class ReplayReport:
    schema: str
    kept: bool
    vars: dict[str, Any]
    seeds: list[str]
    start: date | None
    end: date | None
    seconds: float
    messages: list[dict[str, Any]]  # per trigger and day: added, removed, changed
    users: dict[str, dict[str, int]]  # per dimension: users, user_days
    user_examples: list[dict[str, Any]]
    alerts: list[dict[str, Any]]  # per alert type: added, removed

    @property
    def total(self) -> int:
        """Every difference: messages, user-days and alerts (0: the change changes nothing)."""
        return (
            sum(m["added"] + m["removed"] + m["changed"] for m in self.messages)
            + sum(u["user_days"] for u in self.users.values())
            + sum(a["added"] + a["removed"] for a in self.alerts)
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "kept": self.kept,
            "vars": self.vars,
            "seeds": self.seeds,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "seconds": self.seconds,
            "differences": self.total,
            "messages": self.messages,
            "users": self.users,
            "user_examples": self.user_examples,
            "csm_alerts": self.alerts,
        }


# --- inputs ---------------------------------------------------------------------------------------


def project_vars(project_dir: Path = DBT_PROJECT_DIR) -> dict[str, Any]:
    """The vars dbt_project.yml declares (their current values), read with dbt's own YAML loader."""
    from dbt.clients.yaml_helper import load_yaml_text

    document = load_yaml_text((project_dir / "dbt_project.yml").read_text()) or {}
    return dict(document.get("vars") or {})


def parse_vars(text: str, known: Mapping[str, Any]) -> dict[str, Any]:
    """`--vars`: a JSON object of var names to values, checked against the project's vars."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ReplayError(f"--vars is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ReplayError(f"--vars must be a JSON object like '{{\"name\": value}}', got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in known)
    if unknown:
        raise ReplayError(f"unknown var {', '.join(unknown)} (dbt_project.yml declares {len(known)}; docs/rules.md)")
    if "start_date" in value or "end_date" in value:
        raise ReplayError("start_date/end_date are the run window, not a rule: use --from/--to")
    return value


def seed_overrides(folder: Path | None, project_dir: Path = DBT_PROJECT_DIR) -> dict[str, Path]:
    """`--seeds DIR`: each CSV replaces the project's seed of the same name (any other name is an error)."""
    if folder is None:
        return {}
    if not folder.is_dir():
        raise ReplayError(f"--seeds {folder} is not a folder")
    csvs = {path.stem: path for path in sorted(folder.glob("*.csv"))}
    if not csvs:
        raise ReplayError(f"--seeds {folder} holds no .csv file")
    seeds = {path.stem for path in (project_dir / "seeds").rglob("*.csv")}
    unknown = sorted(set(csvs) - seeds)
    if unknown:
        raise ReplayError(f"--seeds: no seed named {', '.join(unknown)} in the project (seeds/*.csv)")
    return csvs


# --- the build ------------------------------------------------------------------------------------

_SCHEMA_MACRO = """\
{#- Written by `onboarding replay` into its copy of the project: every node goes to the replay's scratch
    schema (the var replay_schema), so nothing of the main schemas is written. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ var('replay_schema') }}
{%- endmacro %}
"""


def scratch_project(folder: Path, seeds: Mapping[str, Path], project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """A copy of the dbt project in `folder`, with the replacing seeds and the scratch-schema macro."""
    copy = folder / "project"
    shutil.copytree(project_dir, copy, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".sqlfluff_libs", ".user.yml"))
    for name, csv in seeds.items():
        for original in (copy / "seeds").rglob(f"{name}.csv"):
            shutil.copyfile(csv, original)
    (copy / "macros" / "generate_schema_name.sql").write_text(_SCHEMA_MACRO)
    return copy


def build(settings: Settings, request: ReplayRequest, folder: Path) -> None:
    """dbt build of SELECT into the scratch schema, tests left out; ReplayError with dbt's last lines."""
    project = scratch_project(folder, request.seeds)
    variables = {**request.vars, "replay_schema": request.schema, "start_date": None, "end_date": None}
    command = [
        dbt_executable(), "build", "--select", *SELECT, "--exclude-resource-type", "test", "unit_test",
        "--vars", json.dumps(variables, default=str), "--project-dir", str(project),
        "--profiles-dir", str(project), "--target-path", str(folder / "target"),
        "--log-path", str(folder / "logs"), "--quiet", "--no-use-colors",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=project, env=environment_with(settings.dbt_env()), capture_output=True, text=True
    )
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).strip()[-_OUTPUT_TAIL:].splitlines() or ["no output"]
        first = next((line for line in lines if "error" in line.lower()), lines[-1])
        raise ReplayError(f"the replay's dbt build failed (exit {done.returncode}): {first.strip()[:300]}")


# --- the comparison -------------------------------------------------------------------------------


def _window(column: str) -> str:
    return f"($start is null or {column} >= $start) and ($end is null or {column} <= $end)"


def differences_sql(schema: str) -> str:
    """One row per difference between the marts and the scratch schema's copies of them."""
    changed = " or ".join(f"b.{c} is distinct from r.{c}" for c in MESSAGE_COLUMNS)
    users = "\nunion all\n".join(
        f"""
        select 'user' as kind, '{label}' as subject, 'changed' as change, coalesce(b.as_of_date, r.as_of_date) as day,
               coalesce(b.user_id, r.user_id) as key, coalesce(b.user_id, r.user_id) as user_id,
               cast(b.{column} as varchar) as before, cast(r.{column} as varchar) as after
        from marts.user_onboarding_daily as b
        full outer join {schema}.user_onboarding_daily as r on b.user_id = r.user_id and b.as_of_date = r.as_of_date
        where b.{column} is distinct from r.{column} and {_window('coalesce(b.as_of_date, r.as_of_date)')}"""
        for label, column in USER_DIMENSIONS.items()
    )
    return f"""
    with
    base_messages as (select * from marts.triggered_messages where {_window('as_of_date')}),
    replay_messages as (select * from {schema}.triggered_messages where {_window('as_of_date')}),
    base_alerts as (select * from marts.csm_alerts where {_window('as_of_date')}),
    replay_alerts as (select * from {schema}.csm_alerts where {_window('as_of_date')})
    select 'message' as kind, coalesce(b.trigger, r.trigger) as subject,
           case when b.message_key is null then 'added' when r.message_key is null then 'removed' else 'changed' end
               as change,
           coalesce(b.as_of_date, r.as_of_date) as day, coalesce(b.message_key, r.message_key) as key,
           coalesce(b.user_id, r.user_id) as user_id,
           case when b.message_key is not null then b.channel || ': ' || coalesce(b.subject, b.template_id) end as before,
           case when r.message_key is not null then r.channel || ': ' || coalesce(r.subject, r.template_id) end as after
    from base_messages as b
    full outer join replay_messages as r on b.message_key = r.message_key
    where b.message_key is null or r.message_key is null or {changed}
    union all
    select 'csm_alert', coalesce(b.alert_type, r.alert_type),
           case when b.alert_key is null then 'added' else 'removed' end,
           coalesce(b.as_of_date, r.as_of_date), coalesce(b.alert_key, r.alert_key), coalesce(b.user_id, r.user_id),
           b.reason, r.reason
    from base_alerts as b
    full outer join replay_alerts as r on b.alert_key = r.alert_key
    where b.alert_key is null or r.alert_key is null
    union all
    {users}
    """


def compare(con: duckdb.DuckDBPyConnection, request: ReplayRequest) -> dict[str, Any]:
    """Write `<schema>.replay_differences` and summarise it (the parts of the report)."""
    schema, params = request.schema, {"start": request.start, "end": request.end}
    con.execute(f"create or replace table {schema}.{DIFFERENCES} as {differences_sql(schema)}", params)
    table = f"{schema}.{DIFFERENCES}"
    messages = [
        {"trigger": t, "day": d.isoformat(), "added": a, "removed": r, "changed": c}
        for t, d, a, r, c in con.execute(
            f"""select subject, day, count(*) filter (where change = 'added'), count(*) filter (where change = 'removed'),
                       count(*) filter (where change = 'changed')
                from {table} where kind = 'message' group by all order by subject, day"""
        ).fetchall()
    ]
    counted = dict(
        (label, {"users": users, "user_days": days})
        for label, users, days in con.execute(
            f"select subject, count(distinct user_id), count(*) from {table} where kind = 'user' group by all"
        ).fetchall()
    )
    users = {label: counted.get(label, {"users": 0, "user_days": 0}) for label in USER_DIMENSIONS}
    examples = [
        {"user_id": u, "what": s, "first_day": d.isoformat(), "before": b, "after": a}
        for u, s, d, b, a in con.execute(
            f"""select user_id, subject, min(day), arg_min(before, day), arg_min(after, day)
                from {table} where kind = 'user' group by all order by user_id, subject limit 5"""
        ).fetchall()
    ]
    alerts = [
        {"alert_type": t, "added": a, "removed": r}
        for t, a, r in con.execute(
            f"""select subject, count(*) filter (where change = 'added'), count(*) filter (where change = 'removed')
                from {table} where kind = 'csm_alert' group by all order by subject"""
        ).fetchall()
    ]
    return {"messages": messages, "users": users, "user_examples": examples, "alerts": alerts}


def carry_state(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    """Create the scratch schema with copies of the CARRIED_STATE tables found in the main schemas."""
    con.execute(f"create schema {schema}")
    carried = []
    for name in CARRIED_STATE:
        found = con.execute(
            "select table_schema from information_schema.tables where table_name = ? and table_type = 'BASE TABLE'"
            " and table_schema in (select unnest(?::varchar[])) order by table_schema limit 1",
            [name, sorted(MAIN_SCHEMAS)],
        ).fetchall()
        if found:
            con.execute(f'create table {schema}."{name}" as select * from "{found[0][0]}"."{name}"')
            carried.append(name)
    return carried


def drop_scratch(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    if schema in MAIN_SCHEMAS or not schema.startswith("replay_"):
        raise ReplayError(f"refusing to drop {schema}: not a replay schema")
    con.execute(f"drop schema if exists {schema} cascade")


def replay(settings: Settings, request: ReplayRequest) -> ReplayReport:
    """Build, compare, drop (unless kept): the whole replay. ReplayError for anything the user can fix."""
    started = time.perf_counter()
    db_path = settings.db_path
    if not db_path.exists():
        raise ReplayError(f"no warehouse at {db_path}: run `onboarding run` first")
    with warehouse.connect(db_path, read_only=True, settings=settings) as con:
        missing = [t for t in ("user_onboarding_daily", "triggered_messages", "csm_alerts")
                   if not con.execute("select count(*) from information_schema.tables where table_schema = 'marts'"
                                      " and table_name = ?", [t]).fetchall()[0][0]]  # fmt: skip
    if missing:
        raise ReplayError(f"{db_path} has no marts.{missing[0]} to compare with: run `onboarding run` first")
    try:
        with warehouse.connect(db_path, settings=settings) as con:
            carry_state(con, request.schema)
        with tempfile.TemporaryDirectory(prefix="onboarding-replay-") as folder:
            build(settings, request, Path(folder))
        with warehouse.connect(db_path, settings=settings) as con:
            parts = compare(con, request)
            if not request.keep:
                drop_scratch(con, request.schema)
    except BaseException:
        # a failed or interrupted replay leaves no half-built scratch schema behind (--keep or not)
        try:
            with warehouse.connect(db_path, settings=settings) as con:
                drop_scratch(con, request.schema)
        except (duckdb.Error, ReplayError):
            pass
        raise
    return ReplayReport(
        schema=request.schema, kept=request.keep, vars=request.vars, seeds=sorted(request.seeds),
        start=request.start, end=request.end, seconds=round(time.perf_counter() - started, 1), **parts,
    )  # fmt: skip


# --- the screen -----------------------------------------------------------------------------------


def render(report: ReplayReport, console: Any) -> None:
    """The report as tables, like the run summary: messages per trigger (days in the JSON and the mart),
    users per decision, CSM alerts per type."""
    from rich.table import Table

    from .core.display import markup_text as escape

    window = f"{report.start or 'the start'} .. {report.end or 'the end'}"
    changes = ", ".join([*(f"{k}={json.dumps(v, default=str)}" for k, v in report.vars.items()),
                         *(f"seed {s}" for s in report.seeds)]) or "no change"  # fmt: skip
    console.print(f"[bold]Replay[/bold] of {escape(changes)} over {window}", highlight=False, soft_wrap=True)
    if report.total == 0:
        console.print("[green]No differences[/green]: every message, decision and CSM alert stays as it is.")
    per_trigger: dict[str, dict[str, Any]] = {}
    for row in report.messages:
        t = per_trigger.setdefault(row["trigger"], {"added": 0, "removed": 0, "changed": 0, "days": []})
        for k in ("added", "removed", "changed"):
            t[k] += row[k]
        t["days"].append(row["day"])
    if per_trigger:
        table = Table(title="Messages that would change", title_justify="left")
        for column in ("trigger", "added", "removed", "changed", "days"):
            table.add_column(column, justify="left" if column in ("trigger", "days") else "right")
        for trigger, t in sorted(per_trigger.items()):
            days = t["days"]
            span = days[0] if len(days) == 1 else f"{len(days)} days, {days[0]} .. {days[-1]}"
            table.add_row(escape(trigger), f"{t['added']:,}", f"{t['removed']:,}", f"{t['changed']:,}", span)
        console.print(table)
    if any(u["users"] for u in report.users.values()):
        table = Table(title="Users whose decisions would differ", title_justify="left")
        for column in ("decision", "users", "user-days"):
            table.add_column(column, justify="left" if column == "decision" else "right")
        for label, u in report.users.items():
            table.add_row(label.replace("_", " "), f"{u['users']:,}", f"{u['user_days']:,}")
        console.print(table)
        for e in report.user_examples:
            console.print(f"  {escape(e['user_id'])}: {e['what'].replace('_', ' ')} {escape(str(e['before']))} -> "
                          f"{escape(str(e['after']))} from {e['first_day']}", highlight=False)  # fmt: skip
    if report.alerts:
        table = Table(title="CSM alerts that would change", title_justify="left")
        for column in ("alert", "added", "removed"):
            table.add_column(column, justify="left" if column == "alert" else "right")
        for a in report.alerts:
            table.add_row(escape(a["alert_type"]), f"{a['added']:,}", f"{a['removed']:,}")
        console.print(table)
    where = (f"kept: {report.schema}.{DIFFERENCES}" if report.kept
             else f"scratch schema {report.schema} dropped (--keep keeps it)")  # fmt: skip
    console.print(f"{report.total:,} differences in {report.seconds:.1f}s; {where}", highlight=False)


def parse_days(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    days = []
    for value, option in ((start, "--from"), (end, "--to")):
        try:
            days.append(date.fromisoformat(value) if value else None)
        except ValueError:
            raise ReplayError(f"{option} must be a day YYYY-MM-DD, got {value!r}") from None
    first, last = days
    if first and last and first > last:
        raise ReplayError(f"--from {first} is after --to {last}")
    return first, last


def make_request(
    vars_text: str | None, seeds: Path | None, start: str | None, end: str | None, keep: bool
) -> ReplayRequest:
    """The checked request from the command's options (ReplayError: the one line to print)."""
    first, last = parse_days(start, end)
    changes = parse_vars(vars_text or "{}", project_vars())
    replaced = seed_overrides(seeds)
    return ReplayRequest(vars=changes, seeds=replaced, start=first, end=last, keep=keep)


def replay_command(
    vars_: Annotated[
        str | None, typer.Option("--vars", help="Changed rules: dbt vars as a JSON object, e.g. '{\"escalation_wait_days\": 5}'.")
    ] = None,
    seeds: Annotated[
        Path | None, typer.Option("--seeds", help="A folder of CSVs, each replacing the seed of the same name.")
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="First decision day to compare, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last decision day to compare, YYYY-MM-DD.")] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help=f"Keep the scratch schema (replay_<id>, with {DIFFERENCES}).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Preview a rule change: rebuild the decisions with it over the stored history, in a scratch
    schema, and show which messages, decisions and CSM alerts would differ. The marts, the raw tables
    and the sync ledger are not touched."""
    from rich.console import Console

    from sync.cli import print_json, usage_error

    from .core.settings import SettingsError
    from .resources import warehouse_settings  # Dagster, when the command runs (not for --help)

    try:
        request = make_request(vars_, seeds, start, end, keep)
        settings = warehouse_settings()
    except (ReplayError, SettingsError) as exc:
        usage_error(str(exc))
    status = Console(stderr=True)
    try:
        with status.status(f"building the decisions into {request.schema} (a full rebuild: about a dbt run)..."):
            report = replay(settings, request)
    except ReplayError as exc:
        usage_error(str(exc))
    if as_json:
        print_json(report.as_json())
    else:
        render(report, Console())
