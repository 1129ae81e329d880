"""`onboarding`: the command line (generate demo exports, run the pipeline, sync, explain)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dagster_project.core import warehouse
from sync.cli import print_json, usage_error

from .core.settings import Settings, SettingsError
from .run_summary import RunReport, collect, render

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()


def _mount_subcommands() -> None:
    from sync.cli import sync_app

    from .ai.cli import ai_app
    from .explain import explain_command
    from .replay import replay_command

    # The sub-commands live below the resources in the layering: they get the resources' resolution
    # of their settings as the context's obj (sync.cli.configured).
    resolved = {"obj": {"warehouse": _resolved("warehouse_settings"), "sync": _resolved("sync_settings")}}
    app.add_typer(sync_app, name="sync", context_settings=resolved)
    app.command(name="explain")(explain_command)
    app.command(name="replay")(replay_command)
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
    users: Annotated[int, typer.Option(help="Number of simulated users.")] = 1000,
    days: Annotated[int, typer.Option(help="Number of days of exports.")] = 90,
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
    if not isinstance(target, Path):  # an object-store URI: the generator writes a local folder only
        usage_error(f"onboarding generate writes a local folder, not {target}: pass --out DIR and upload it")
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


# The job `onboarding run` runs (assets/jobs.py); its steps give each stage's bar its step count.
JOB_NAME = "daily_onboarding"


def parse_day(value: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option, or one line on stderr and exit status 2 (never a traceback)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        usage_error(f"{option} must be a day YYYY-MM-DD, got {value!r}")


@app.command()
def run(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Last landing day to process (default: the latest).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First landing day (default: the first one).")] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Stream every log line and dbt line (they also go to the run's log).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout (docs/deploy.md section 6); progress on stderr.")
    ] = False,
) -> None:
    """Ingest every landing day up to --as-of, build the dbt decisions and plan the sync, in one run.

    Shows a bar per stage while it runs (plain lines when stdout is not a terminal), then one screen:
    per source loaded / duplicates / quarantined, the decisions, the sync per destination, the logs.
    """
    last, first = parse_day(as_of, "--as-of"), parse_day(start, "--start")
    if first and last and first > last:
        usage_error(f"--start {first} is after --as-of {last}")
    from .dbt_project import prepare_manifest
    from .ingest.files import LandingError, landing_days

    settings = settings_or_exit()
    # The terminal's streams, held before the run's own stdout and stderr are captured into its log.
    out = Console(file=sys.stdout)
    shown = Console(file=sys.stderr) if as_json else out
    try:
        landed = landing_days(settings.landing)
    except LandingError as exc:  # a bucket that cannot be listed: its one-line reason
        usage_error(str(exc))
    days = [d for d in landed if (not last or d <= last) and (not first or d >= first)]
    if not days:
        usage_error(f"no landing files in {settings.landing}"
                    + (f" from {first or 'the start'} to {last or 'the end'}" if first or last else "")
                    + ": run `onboarding generate` first")
    started = time.perf_counter()
    with shown.status("parsing the dbt project..."):
        prepare_manifest()
    from .assets.ingest import RAW_SOURCES
    from .definitions import defs
    from .pipeline import run_pipeline
    from .progress import RunDisplay, RunLog, captured_output

    steps = [node.name for node in defs.resolve_job_def(JOB_NAME).graph.nodes]
    ingest_items = len(days) * sum(len(sources) for sources in RAW_SOURCES.values())
    display = RunDisplay(shown, steps, ingest_items, RunLog(settings.db_path.parent / "logs"), verbose)
    shown.print(f"Running {days[0]} .. {days[-1]} ({len(days)} days) into {settings.db_path}",
                highlight=False, soft_wrap=True)
    with display.shown(), captured_output(display):
        result = run_pipeline(days[0], days[-1], progress=display, settings=settings)
    report = RunReport(
        run_id=result.run_id, success=result.success, start=days[0], end=days[-1],
        seconds=round(time.perf_counter() - started, 1), warehouse=settings.db_path,
        logs=log_paths(display.log.folder, result.run_id), failures=display.step_failures or result.failures,
    )
    if settings.db_path.exists():
        with warehouse.connect(settings.db_path, read_only=True) as con:
            collect(report, con)
    if as_json:
        print_json(report.as_json())
    else:
        render(report, out)
        if verbose:
            print_sync_plan(settings.db_path)
    if not result.success:
        raise typer.Exit(1)


def log_paths(folder: Path | None, run_id: str) -> dict[str, str]:
    """Where a run's lines are: its folder under the data folder (run.log: every step's lines and
    outcomes; dbt.log: what dbt printed), and dbt's own debug log (JSON lines), which dagster-dbt
    points into the run's dbt target folder (DBT_LOG_PATH = assets/dbt.py's run_target_path)."""
    from .dbt_project import dbt_project

    paths = {}
    if folder is not None:
        paths = {"folder": str(folder), "run": str(folder / "run.log"), "dbt": str(folder / "dbt.log")}
    debug = Path(dbt_project.target_path) / f"run-{run_id[:12]}" / "dbt.log"
    if debug.exists():
        paths["dbt_debug"] = str(debug)
    return paths


def print_sync_plan(db_path: Path) -> None:
    """The sync step's outcome per destination, from the run records it stored (sync.runs.summary).

    For a dry run this is the plan: counts per operation and a few sample rows, emails masked
    (`onboarding run --verbose` ends with it; the one screen keeps only the per-destination table).
    """
    from sync.cli import print_summaries
    from sync.ledger import latest_summaries

    with warehouse.connect(db_path, read_only=True) as con:
        summaries = latest_summaries(con)
    if summaries:
        print_summaries(summaries, console)


def main() -> None:  # pragma: no cover - console-script entry
    app()
