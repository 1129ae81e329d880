"""`onboarding ai`: evaluate the LLM steps, create the ai tables (the LLM stand-in is dev tooling: tests/standins)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.table import Table

from dagster_project.core import warehouse

from ..core.settings import Settings, SettingsError

ai_app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()


def default_db() -> Path:
    """The warehouse as `onboarding ai` resolves it: the code location's `warehouse` resource's
    resolution, which the project's CLI hands this sub-command as the context's obj (the layering
    keeps this module from importing the resources); `Settings.from_env`, the same parser, alone."""
    ctx = click.get_current_context(silent=True)
    resolvers = ctx.obj if ctx is not None and isinstance(ctx.obj, Mapping) else {}
    try:
        return resolvers.get("warehouse", Settings.from_env)().db_path
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def _print_report(report: dict[str, Any]) -> None:
    tracks, cost = report["tracks"], report["cost"]
    console.print(f"[bold]Signups[/bold] {report['signups']:,}   rule table: {report['rule_table']}")
    agreement = tracks["llm_vs_rules_agreement"]
    console.print(
        "Tracks by source: "
        + ", ".join(f"{k} {v:,}" for k, v in tracks["track_source"].items())
        + (f"   fallback reasons: {tracks['fallback_reasons']}" if tracks["fallback_reasons"] else "")
    )
    console.print(
        f"LLM vs rules agreement: {agreement:.1%} of {tracks['llm_vs_rules_compared']:,} LLM-assigned users"
        if agreement is not None
        else "LLM vs rules agreement: no LLM-assigned users"
    )
    for d in tracks["top_disagreements"]:
        console.print(f"  rules {d['rule_track']} -> llm {d['llm_track']}: {d['users']:,}")
    hit = cost["journey_cache_hit_rate"]
    console.print(
        f"Journey cache hit rate: {hit:.1%} ({cost['distinct_profile_signatures']:,} distinct profile signatures)"
        if hit is not None
        else "Journey cache hit rate: n/a (no LLM track rows)"
    )
    table = Table(title="LLM calls per purpose")
    for col in (
        "purpose",
        "calls",
        "failed",
        "tokens",
        "cost USD",
        "calls/1k signups",
        "tokens/1k signups",
        "USD/1k signups",
    ):
        table.add_column(col, justify="left" if col == "purpose" else "right")
    for purpose, v in cost["by_purpose"].items():
        table.add_row(
            purpose,
            f"{v['calls']:,}",
            f"{v['failed']:,}",
            f"{v['tokens']:,}",
            f"{v['cost_usd']:.4f}",
            f"{v['calls_per_1000_signups']:,}",
            f"{v['tokens_per_1000_signups']:,}",
            f"{v['cost_usd_per_1000_signups']:.4f}",
        )
    table.add_row(
        "all",
        f"{cost['calls']:,}",
        "",
        f"{cost['tokens']:,}",
        f"{cost['cost_usd']:.4f}",
        f"{cost['calls_per_1000_signups']:,}",
        f"{cost['tokens_per_1000_signups']:,}",
        f"{cost['cost_usd_per_1000_signups']:.4f}",
    )
    console.print(table)
    console.print(f"Playbooks: {report['playbooks'] or 'none'}")
    themes = report["themes"]
    console.print(
        f"Feedback themes by source: {themes['by_source'] or 'none'}; by theme: {themes['by_theme']}"
    )
    if themes["keywords_vs_llm_agreement"] is not None:
        console.print(f"Keyword classifier agrees with the LLM on {themes['keywords_vs_llm_agreement']:.1%}")


@ai_app.command("eval")
def eval_command(
    db: Annotated[Path | None, typer.Option(help="Warehouse file (default: ONBOARDING_DB).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Agreement between LLM and rule tracks, cache hit rate, calls and tokens per 1,000 signups."""
    from .evaluate import evaluate

    path = db or default_db()
    if not path.exists():
        console.print(f"[red]No warehouse at {path}[/red]: run `onboarding run` first.")
        raise typer.Exit(2)
    con = warehouse.connect(path, read_only=True)
    try:
        report = evaluate(con)
    finally:
        con.close()
    if as_json:
        print(json.dumps(report, indent=2, default=str))
    else:
        _print_report(report)


@ai_app.command("init")
def init_command(
    db: Annotated[Path | None, typer.Option(help="Warehouse file (default: ONBOARDING_DB).")] = None,
) -> None:
    """Create the `ai` schema and its (empty) tables, e.g. before a plain `dbt build`."""
    from .tables import ensure_ai_tables

    path = db or default_db()
    path.parent.mkdir(parents=True, exist_ok=True)
    con = warehouse.connect(path)
    try:
        ensure_ai_tables(con)
    finally:
        con.close()
    console.print(f"ai tables ready in {path}")
