"""``onboarding sync``: run the reverse ETL, list messages in doubt, resolve them.

The lead mounts :data:`sync_app` as the ``sync`` sub-command of the project CLI; ``python -m sync``
runs it stand-alone (the crash test uses that). Usage::

    onboarding sync [--destination NAME ...] [--dry-run] [--db PATH] [--json]  # run (all destinations)
    onboarding sync in-doubt [--destination NAME] [--db PATH] [--json]         # list messages in doubt
    onboarding sync resolve MESSAGE_KEY --as sent|failed|retry                  # settle one of them

``--destination`` is repeatable and accepts comma lists. ``--db`` defaults to the warehouse
``onboarding run`` writes (``$ONBOARDING_DB``, else the project's ``data/warehouse.duckdb``, wherever the
command starts: ``Settings`` in dagster_project/core/settings.py). A destination without credentials runs dry and says so. Exit status: 0 when
every destination completed (failed rows are reported, not fatal), 1 when one stopped early (bad
credentials, missing channel or mart), 2 for usage errors (an unknown destination, no warehouse at the
path): one line on stderr, never a traceback.

A run shows a bar per destination and stream while it sends (rate-limited sends take minutes), or, when
stdout is not a terminal, one line per stream as it ends; then the per-destination table. ``--json``
prints one JSON document on stdout instead (progress goes to stderr); docs/deploy.md section 6 has its
shape.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import click
import duckdb
import typer
from rich import box
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from dagster_project.core import warehouse
from dagster_project.core.display import markup_text
from dagster_project.core.settings import Settings, SettingsError
from sync import ledger
from sync.engine import StreamProgress, parse_destinations, run_sync
from sync.masking import scrub
from sync.outcomes import RunSummary
from sync.settings import DESTINATIONS, SyncConfigError, SyncSettings

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


def usage_error(message: str) -> NoReturn:
    """Bad input ends the command with one line on stderr and exit status 2, never a traceback."""
    err_console.print(f"[red]error:[/red] {markup_text(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(2)


def existing_db(db: Path | None) -> Path:
    """The warehouse to read: ``--db`` or the resolved default, which must exist (else exit 2)."""
    path = db or default_db()
    if not path.exists():
        usage_error(f"no warehouse at {path}: build it with `onboarding run` first (or pass --db)")
    return path


def print_json(document: Any) -> None:
    """One JSON document on stdout and nothing else: what ``--json`` promises a script.

    ASCII only: a warehouse value's control or bidirectional characters (a hostile name) arrive as
    ``\\u`` escapes, never raw on the terminal of whoever runs it by hand."""
    typer.echo(json.dumps(document, default=str))


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
JsonOption = Annotated[bool, typer.Option(
    "--json", help="Print one JSON document on stdout (shape: docs/deploy.md section 6); progress on stderr.")]


class SyncBars:
    """A bar per destination and stream while a run sends; plain lines (one per stream) off a terminal.

    Fed by the engine's progress callback (:class:`sync.engine.StreamProgress`). Why: a live run is
    rate limited (Slack paces one alert a second) and used to print nothing for minutes.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bars = console.is_terminal
        self.progress = Progress(
            TextColumn("{task.description:<22}"), BarColumn(bar_width=24), MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"), TimeElapsedColumn(),
            console=console, transient=False, redirect_stdout=False, redirect_stderr=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, event: StreamProgress) -> None:
        name = f"{event.destination}/{event.stream}"
        note = _stream_note(event)
        if self.bars:
            if name not in self.tasks:
                self.tasks[name] = self.progress.add_task(name, total=None, note="")
            self.progress.update(self.tasks[name], completed=event.done, total=event.total or None, note=note)
            if event.finished:  # a dry stream's plan is complete once made
                done = event.total if event.summary.dry_run else event.done
                self.progress.update(self.tasks[name], total=max(event.total, done), completed=done)
        elif event.finished:
            done = "" if event.summary.dry_run else f"{event.done:,}/{event.total:,} handled, "
            self.console.print(f"{name}: {done}{note}", highlight=False, soft_wrap=True)

    @contextmanager
    def shown(self) -> Iterator[SyncBars]:
        if not self.bars:
            yield self
            return
        with self.progress:
            yield self


def _stream_note(event: StreamProgress) -> str:
    ss = event.summary
    if ss.dry_run:
        return f"planned {ss.planned:,} (dry run)" + (f", {ss.waiting:,} waiting" if ss.waiting else "")
    parts = [f"{ss.sent:,} sent"]
    parts += [f"{n:,} {label}" for n, label in ((ss.failed, "failed"), (ss.in_doubt, "in doubt"),
                                                (ss.throttled, "throttled")) if n]
    return ", ".join(parts)


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
    as_json: JsonOption = False,
) -> None:
    """Run the sync (when no sub-command is given)."""
    if ctx.invoked_subcommand is not None:
        return
    _configure_logging(verbose)
    try:
        names = parse_destinations(destination)
    except SyncConfigError as exc:
        usage_error(str(exc))
    path = existing_db(db)
    bars = SyncBars(err_console if as_json else console)
    try:
        with bars.shown():
            settings = configured("sync", SyncSettings.from_env)
            summaries = run_sync(path, names, True if dry_run else None, settings=settings, progress=bars)
    except SyncConfigError as exc:
        usage_error(str(exc))
    except (duckdb.IOException, warehouse.WarehouseLockedError) as exc:
        err_console.print(f"[red]cannot open {path}: {scrub(exc)}[/red] (is another sync or the pipeline writing it?)",
                          soft_wrap=True)
        raise typer.Exit(1) from exc
    if as_json:
        print_json({"destinations": [s.model_dump(mode="json") for s in summaries]})
    else:
        print_summaries(summaries)
    if any(s.status != "completed" for s in summaries):
        raise typer.Exit(1)


def destination_table(summaries: list[RunSummary]) -> Table:
    """One row per destination: dry or live and the counts that matter. Fits 80 columns (``onboarding
    run`` ends with it too)."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("sync", no_wrap=True)
    table.add_column("mode", no_wrap=True)
    # Always the plan and its outcome; a column of trouble only when some destination has any.
    counts = ["planned", "sent", "unchanged", "expired"] + [
        name for name in ("failed", "invalid", "in_doubt", "throttled") if any(getattr(s, name) for s in summaries)]
    for name in counts:
        table.add_column(name.replace("_", " "), justify="right", no_wrap=True)
    for s in summaries:
        mode = "dry" if s.dry_run else "live"
        if s.status != "completed":
            mode += f" [red]{s.status}[/red]"
        table.add_row(s.destination, mode, *(f"{getattr(s, name):,}" for name in counts))
    return table


def summary_notes(summaries: list[RunSummary], detailed: bool = False) -> list[str]:
    """The lines under the table: why destinations ran dry, errors, stream notes (throttled, planned
    only), messages expired for age and messages in doubt. Rich markup.

    Why dry: one line per reason; `detailed` keeps each destination's own (which variables are not
    set), as `onboarding sync` prints it; the run's one screen groups "no credentials" in one line.
    """
    notes: list[str] = []
    reasons: dict[str, list[str]] = {}
    for s in summaries:
        if s.dry_run and s.dry_reason:
            grouped = not detailed and s.dry_reason.startswith("no credentials")
            reasons.setdefault("no credentials" if grouped else s.dry_reason, []).append(s.destination)
    for reason, destinations in reasons.items():
        # Eight destinations do not fit one line: "every destination" when none was live.
        named = "every destination" if len(destinations) == len(summaries) > 4 else ", ".join(destinations)
        notes.append(f"[yellow]dry[/yellow] ({markup_text(reason)}): {named}; nothing sent")
    for s in summaries:
        if s.error:
            notes.append(f"[red]{s.destination}: {markup_text(scrub(s.error))}[/red]")
        for stream in s.streams:
            if stream.note:
                notes.append(f"[yellow]{s.destination}/{stream.stream}[/yellow]: {markup_text(stream.note)}")
    expired = [st for s in summaries for st in s.streams if st.expired]
    if expired:
        cutoffs = sorted({f"{st.expired_before:%Y-%m-%d %H:%M}" for st in expired if st.expired_before})
        due = f"due before {' or '.join(cutoffs)}" if cutoffs else "due before the delivery window"
        notes.append(f"expired: {due} (SYNC_MESSAGE_MAX_AGE_DAYS), never sent.")
    for s in summaries:
        if s.in_doubt:
            notes.append(f"[bold red]{s.destination}: {s.in_doubt} message(s) in doubt[/bold red] - "
                         "see `onboarding sync in-doubt`, settle with `onboarding sync resolve KEY --as ...`.")
    return notes


def print_summaries(summaries: list[RunSummary], out: Console | None = None) -> None:
    """The per-destination table and its notes, then for dry runs the plan per operation and a few
    sample rows (emails masked, bodies never shown)."""
    out = out or console
    out.print(destination_table(summaries))
    for note in summary_notes(summaries, detailed=True):
        out.print(note)
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
    as_json: JsonOption = False,
) -> None:
    """List messages that may or may not have reached the customer (a run died mid-request)."""
    if destination is not None:
        destination = destination.strip().lower()
        if destination not in DESTINATIONS:
            usage_error(f"unknown destination {destination!r}; expected one of {', '.join(DESTINATIONS)}")
    path = existing_db(db)
    rows = _list(path, destination)
    if as_json:
        print_json({"in_doubt": [_in_doubt_row(row) for row in rows]})
        return
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


def _in_doubt_row(row: dict[str, Any]) -> dict[str, Any]:
    """A message in doubt for ``--json``: where, which key and user, since when, the last error (scrubbed)."""
    return {"destination": row["destination"], "stream": row["stream"], "message_key": row["message_key"],
            "user_id": row["user_id"], "attempts": row["attempts"], "since": row["sending_at"] or row["updated_at"],
            "last_error": scrub(row["last_error"]) if row["last_error"] else None}


def _list(path: Path, destination: str | None) -> list[dict[str, Any]]:
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
    path = existing_db(db)
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
