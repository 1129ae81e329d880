"""``onboarding sync``: run the reverse ETL, list messages in doubt, resolve them.

The lead mounts :data:`sync_app` as the ``sync`` sub-command of the project CLI; ``python -m sync``
runs it stand-alone (the crash test uses that). Usage::

    onboarding sync [--destination NAME ...] [--dry-run] [--db PATH]   # run (all destinations by default)
    onboarding sync in-doubt [--destination NAME] [--db PATH]          # list messages in doubt
    onboarding sync resolve MESSAGE_KEY --as sent|failed|retry          # settle one of them

``--destination`` is repeatable and accepts comma lists. ``--db`` defaults to the warehouse
``onboarding run`` writes (``$ONBOARDING_DB``, else the project's ``data/warehouse.duckdb``, wherever the
command starts: ``Settings`` in dagster_project/core/settings.py). A destination without credentials runs dry and says so. Exit status: 0 when
every destination completed (failed rows are reported, not fatal), 1 when one stopped early (bad
credentials, missing channel or mart), 2 for usage errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import click
import duckdb
import typer
from rich import box
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from dagster_project.core import warehouse
from dagster_project.core.display import markup_text
from dagster_project.core.settings import Settings, SettingsError
from sync import ledger
from sync.engine import parse_destinations, run_sync
from sync.masking import scrub
from sync.outcomes import RunSummary
from sync.settings import SyncConfigError, SyncSettings

sync_app = typer.Typer(
    name="sync",
    help="Reverse ETL: push the onboarding marts to Intercom, Slack, Appcues and Calendly.",
    add_completion=False,
    no_args_is_help=False,
)
console = Console()
err_console = Console(stderr=True)


class Resolution(StrEnum):
    sent = "sent"
    failed = "failed"
    retry = "retry"


T = TypeVar("T")


def configured(name: str, fallback: Callable[[], T]) -> T:
    """The settings `name` ("warehouse", "sync") as the command resolves them.

    `onboarding sync` (dagster_project/cli.py) hands this sub-command the code location's resources'
    resolution as the context's `obj`, so a variable means here what it means in a run; the layering
    keeps this module from importing Dagster's resources itself. `python -m sync` alone parses the
    same variables with the same parsers (`fallback`).
    """
    ctx = click.get_current_context(silent=True)
    resolvers = ctx.obj if ctx is not None and isinstance(ctx.obj, Mapping) else {}
    return resolvers.get(name, fallback)()


def default_db() -> Path:
    """The warehouse `onboarding run` writes: the one resolution of ONBOARDING_DB and its default."""
    try:
        return configured("warehouse", Settings.from_env).db_path
    except SettingsError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def _configure_logging(verbose: bool) -> None:
    handler = RichHandler(console=err_console, show_path=False, show_time=verbose)
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("sync").setLevel(logging.INFO if verbose else logging.WARNING)
    # httpx logs every URL at INFO; keep it quiet unless something is wrong.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


DbOption = Annotated[Path | None, typer.Option(
    "--db", help="DuckDB warehouse (default: $ONBOARDING_DB, else the project's data/warehouse.duckdb).")]


@sync_app.callback(invoke_without_command=True)
def sync(
    ctx: typer.Context,
    destination: Annotated[list[str] | None, typer.Option(
        "--destination", "-d", help="calendly, intercom, appcues or slack; repeatable or comma list.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Compute, store and print the plan; send nothing.")] = False,
    db: DbOption = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Log progress (never tokens or bodies).")] = False,
) -> None:
    """Run the sync (when no sub-command is given)."""
    if ctx.invoked_subcommand is not None:
        return
    _configure_logging(verbose)
    path = db or default_db()
    if not path.exists():
        err_console.print(f"[red]No warehouse at {path}[/red]: build the marts first (or pass --db).")
        raise typer.Exit(2)
    try:
        names = parse_destinations(destination)
        settings = configured("sync", SyncSettings.from_env)
        summaries = run_sync(path, names, True if dry_run else None, settings=settings)
    except SyncConfigError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    except (duckdb.IOException, warehouse.WarehouseLockedError) as exc:
        err_console.print(f"[red]cannot open {path}: {scrub(exc)}[/red] (is another sync or the pipeline writing it?)")
        raise typer.Exit(1) from exc
    print_summaries(summaries)
    if any(s.status != "completed" for s in summaries):
        raise typer.Exit(1)


def print_summaries(summaries: list[RunSummary], out: Console | None = None) -> None:
    """Counts per destination, then for dry runs the plan per operation and a few sample rows."""
    out = out or console
    # One column per destination, one row per count: fits an 80-column terminal.
    table = Table(title="Reverse-ETL run", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("")
    for s in summaries:
        table.add_column(s.destination, justify="right", no_wrap=True)
    table.add_row("mode", *("dry" if s.dry_run else "live" for s in summaries))
    table.add_row("status", *(s.status if s.status == "completed" else f"[red]{s.status}[/red]"
                              for s in summaries))
    for label, name in (("planned", "planned"), ("sent", "sent"), ("unchanged", "unchanged"),
                        ("failed", "failed"), ("invalid", "invalid"), ("in doubt", "in_doubt"),
                        ("waiting", "waiting"), ("withdrawn", "withdrawn"), ("expired", "expired"),
                        ("requests", "requests")):
        table.add_row(label, *(str(getattr(s, name)) for s in summaries))
    out.print(table)
    for s in summaries:
        if s.dry_reason:
            out.print(f"[yellow]{s.destination}: dry[/yellow] - {s.dry_reason}; nothing was sent.")
        if s.error:
            out.print(f"[red]{s.destination}: {scrub(s.error)}[/red]")
        for stream in s.streams:
            if stream.note:
                out.print(f"[yellow]{s.destination}/{stream.stream}[/yellow]: {stream.note}")
        if s.expired:
            out.print(f"{s.destination}: {s.expired} row(s) due before the delivery window expired, never queued"
                      " (SYNC_MESSAGE_MAX_AGE_DAYS; docs/sync.md).")
        if s.in_doubt:
            out.print(f"[bold red]{s.destination}: {s.in_doubt} message(s) in doubt[/bold red] - "
                      "see `onboarding sync in-doubt`, settle with `onboarding sync resolve KEY --as ...`.")
    planned = [(s, st) for s in summaries for st in s.streams if st.dry_run and (st.planned or st.waiting)]
    if not planned:
        return
    plan = Table(title="Plan (dry run: nothing sent)", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("destination", "stream", "operation", "rows"):
        plan.add_column(column, justify="right" if column == "rows" else "left")
    for s, st in planned:
        for operation, count in sorted(st.operations.items()):
            plan.add_row(s.destination, st.stream, operation, str(count))
        if st.waiting:
            plan.add_row(s.destination, st.stream, "waiting", str(st.waiting))
    out.print(plan)
    samples = Table(title="Sample rows (emails masked, bodies never shown)", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("destination", "stream", "key", "operation", "detail"):
        samples.add_column(column, overflow="fold")
    for s, st in planned:
        for sample in st.samples[:2]:
            samples.add_row(s.destination, sample.stream, *map(markup_text, (sample.key, sample.operation,
                                                                             scrub(sample.detail))))
    if samples.row_count:
        out.print(samples)


@sync_app.command("in-doubt")
def in_doubt(
    destination: Annotated[str | None, typer.Option("--destination", "-d", help="Only this destination.")] = None,
    db: DbOption = None,
) -> None:
    """List messages that may or may not have reached the customer (a run died mid-request)."""
    path = db or default_db()
    rows = _list(path, destination)
    if not rows:
        console.print("No messages in doubt.")
        return
    table = Table(title=f"{len(rows)} message(s) in doubt")
    for column in ("destination", "stream", "message_key", "user_id", "attempts", "since", "last error"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["destination"], row["stream"], *map(markup_text, (
            row["message_key"], row["user_id"] or "", row["attempts"], row["sending_at"] or row["updated_at"],
            scrub(row["last_error"] or "", limit=80))))
    console.print(table)
    console.print("Check the destination, then: onboarding sync resolve MESSAGE_KEY --as sent|failed|retry")


def _list(path: Path, destination: str | None) -> list[dict[str, object]]:
    if not path.exists():
        return []
    try:
        con = warehouse.connect(path, read_only=True)
    except (duckdb.IOException, warehouse.WarehouseLockedError) as exc:
        err_console.print(f"[red]{path} is busy (a sync or the pipeline is writing it); try again.[/red]")
        raise typer.Exit(1) from exc
    try:
        return ledger.list_outbox(con, "in_doubt", destination)
    except duckdb.CatalogException:
        return []
    finally:
        con.close()


@sync_app.command("resolve")
def resolve(
    message_key: Annotated[str, typer.Argument(help="The message_key (alert_key) to settle.")],
    as_: Annotated[Resolution, typer.Option(
        "--as", help="sent: it arrived; failed: drop it; retry: send it again.")],
    destination: Annotated[str | None, typer.Option(
        "--destination", "-d", help="Needed only if ambiguous.")] = None,
    db: DbOption = None,
) -> None:
    """Settle a message in doubt (or requeue a failed one) after checking the destination."""
    path = db or default_db()
    if not path.exists():
        err_console.print(f"[red]No warehouse at {path}[/red]")
        raise typer.Exit(2)
    try:
        con = warehouse.connect(path)
    except (duckdb.IOException, warehouse.WarehouseLockedError) as exc:
        err_console.print(f"[red]{path} is busy (a sync or the pipeline is writing it); try again.[/red]")
        raise typer.Exit(1) from exc
    try:
        ledger.ensure_schema(con)
        result = ledger.resolve(con, message_key, as_.value, destination)
    except (KeyError, ValueError) as exc:
        err_console.print(f"[red]{exc.args[0] if exc.args else exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        con.close()
    console.print(f"{result['destination']} {result['message_key']}: {result['previous']} -> {result['status']}")
