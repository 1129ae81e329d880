"""`onboarding`: the command line (generate demo exports, run the pipeline, sync, explain)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dagster_project.core import warehouse

from .core.settings import Settings, SettingsError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()


def _mount_subcommands() -> None:
    from sync.cli import sync_app

    from .ai.cli import ai_app
    from .explain import explain_command

    # The sub-commands live below the resources in the layering: they get the resources' resolution
    # of their settings as the context's obj (sync.cli.configured).
    resolved = {"obj": {"warehouse": _resolved("warehouse_settings"), "sync": _resolved("sync_settings")}}
    app.add_typer(sync_app, name="sync", context_settings=resolved)
    app.command(name="explain")(explain_command)
    app.add_typer(
        ai_app,
        name="ai",
        help="LLM journey assignment, playbooks and themes: evaluation, stand-in.",
        context_settings=resolved,
    )


def _resolved(name: str) -> Callable[[], object]:
    """`dagster_project.resources.<name>`, imported when a command calls it (not for --help)."""

    def resolve() -> object:
        from . import resources

        return getattr(resources, name)()

    return resolve


_mount_subcommands()


def settings_or_exit() -> Settings:
    """The settings, resolved once for the command as a run resolves them (the code location's
    `warehouse` resource, dagster_project/resources); a malformed one ends it with its message."""
    from .resources import warehouse_settings

    try:
        return warehouse_settings()
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


@app.command()
def generate(
    users: Annotated[int, typer.Option(help="Number of simulated users.")] = 2000,
    days: Annotated[int, typer.Option(help="Number of days of exports.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 42,
    out: Annotated[Path | None, typer.Option(help="Landing folder (default: ONBOARDING_LANDING).")] = None,
    end_date: Annotated[
        str | None, typer.Option(help="Last export day, YYYY-MM-DD (default: yesterday).")
    ] = None,
    malformed_rate: Annotated[float, typer.Option(help="Share of malformed lines to plant.")] = 0.002,
) -> None:
    """Write realistic Segment, RudderStack, Mixpanel, signup, ticket and NPS exports plus a manifest."""
    from .demo import generate as run_generate

    target = out or settings_or_exit().landing
    started = time.perf_counter()
    with console.status("generating exports...") as status:

        def progress(stage: str, done: int, total: int) -> None:
            status.update(f"generating {stage}: {done}/{total}")

        manifest = run_generate(
            target,
            users=users,
            days=days,
            seed=seed,
            end_date=date.fromisoformat(end_date) if end_date else None,
            malformed_rate=malformed_rate,
            progress=progress,
        )
    table = Table(title=f"Generated {manifest['start_date']} .. {manifest['end_date']} into {target}")
    for column in ("source", "files", "lines", "unique", "duplicates", "malformed"):
        table.add_column(column, justify="right" if column != "source" else "left")
    for source, counts in manifest["sources"].items():
        table.add_row(
            source,
            *(f"{counts.get(k, 0):,}" for k in ("files", "lines", "unique", "duplicates", "malformed")),
        )
    console.print(table)
    console.print(
        f"{manifest['users_signed_up']:,} users, {manifest['unified_events']:,} unique events "
        f"in {time.perf_counter() - started:.1f}s"
    )


@app.command()
def run(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Last landing day to process (default: the latest).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First landing day (default: the first one).")] = None,
) -> None:
    """Ingest every landing day up to --as-of, build the dbt decisions and plan the sync, in one run."""
    from .dbt_project import prepare_manifest
    from .ingest.files import landing_days

    settings = settings_or_exit()
    days = [d for d in landing_days(settings.landing) if not as_of or d <= date.fromisoformat(as_of)]
    if start:
        days = [d for d in days if d >= date.fromisoformat(start)]
    if not days:
        console.print(f"[red]No landing files in {settings.landing}[/red] — run `onboarding generate` first.")
        raise typer.Exit(2)
    started = time.perf_counter()
    with console.status("parsing the dbt project..."):
        prepare_manifest()
    from .pipeline import run_pipeline

    console.print(f"Running {days[0]} .. {days[-1]} ({len(days)} days) into {settings.db_path}")
    with console.status("running...") as status:

        def progress(message: str) -> None:
            console.print(f"  {message}", highlight=False)
            status.update(message[:100])

        result = run_pipeline(days[0], days[-1], progress=progress, settings=settings)
    print_summary(settings.db_path, time.perf_counter() - started)
    print_sync_plan(settings.db_path)
    if not result.success:
        for failure in result.failures:
            console.print(f"[red]failed[/red] {failure}")
        raise typer.Exit(1)


def print_summary(db_path: Path, seconds: float) -> None:
    """Counts per source (loaded / duplicates dropped / quarantined), quarantine reasons, marts."""
    con = warehouse.connect(db_path, read_only=True)
    try:
        table = Table(title="Ingest")
        for column in ("source", "days", "files", "lines", "loaded", "duplicates dropped", "quarantined"):
            table.add_column(column, justify="left" if column == "source" else "right")
        for row in con.execute(
            """
            select source, count(*), sum(files), sum(lines), sum(loaded), sum(duplicates), sum(quarantined)
            from raw.load_log group by source order by source
            """
        ).fetchall():
            table.add_row(row[0], *(f"{v:,}" for v in row[1:]))
        console.print(table)
        reasons = con.execute(
            "select split_part(reason, ':', 1) as code, count(*) from raw.quarantine group by 1 order by 2 desc"
        ).fetchall()
        if reasons:
            console.print(
                "Quarantined: "
                + ", ".join(f"{code} {n:,}" for code, n in reasons)
                + "  (query raw.quarantine for the lines and reasons)"
            )
        relations = con.execute(
            """
            select schema_name, table_name, estimated_size from duckdb_tables()
            where schema_name in ('intermediate', 'marts') order by 1, 2
            """
        ).fetchall()
        if relations:
            console.print("Built: " + ", ".join(f"{s}.{t} ({n:,})" for s, t, n in relations))
    finally:
        con.close()
    console.print(f"Done in {seconds:.1f}s — warehouse: {db_path}")


def print_sync_plan(db_path: Path) -> None:
    """The sync step's outcome per destination, from the run records it stored (sync.runs.summary).

    For a dry run this is the plan: counts per operation and a few sample rows, emails masked.
    """
    from sync.cli import print_summaries
    from sync.ledger import latest_summaries

    with warehouse.connect(db_path, read_only=True) as con:
        summaries = latest_summaries(con)
    if summaries:
        print_summaries(summaries, console)


def main() -> None:  # pragma: no cover - console-script entry
    app()
