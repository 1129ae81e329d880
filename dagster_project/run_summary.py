"""The one screen `onboarding run` ends with, and the same facts as JSON (`onboarding run --json`).

Why one screen: a run used to print a line per source and day, dbt's whole log and a wide table that
wrapped at 80 columns (1,474 lines for the demo), so the few facts an operator needs were scrolled
away. The screen answers, in about 40 lines at 80 columns: what was loaded (per source: loaded,
duplicates dropped, quarantined, and why), what was decided (users per track, next actions, messages
by trigger, CSM alerts), what the sync did or would do per destination, where the full logs are, how
long it took. Everything is read back from the warehouse after the run, so the screen shows what is
stored, not what a step believed it wrote.

`collect` returns plain data (the `--json` document, docs/deploy.md section 6); `render` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
from rich import box
from rich.console import Console
from rich.table import Table

from sync.cli import destination_table, summary_notes
from sync.ledger import latest_summaries
from sync.outcomes import RunSummary
from sync.settings import DESTINATIONS

from .core.display import markup_text

INGEST_COUNTS = ("days", "files", "lines", "loaded", "duplicates", "quarantined")
LABEL_WIDTH = 12  # the decisions' labels ("next actions"); their counts wrap in the columns after it


@dataclass
class RunReport:
    """What `onboarding run` reports: the run itself, then what the warehouse holds for its days."""

    run_id: str | None
    success: bool
    start: date
    end: date
    seconds: float
    warehouse: Path
    logs: dict[str, str]
    failures: list[str] = field(default_factory=list)
    ingest: list[dict[str, Any]] = field(default_factory=list)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, Any] = field(default_factory=dict)
    sync: list[RunSummary] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The `--json` document (shape in docs/deploy.md section 6): dates ISO, counts integers."""
        return {
            "run_id": self.run_id,
            "success": self.success,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": (self.end - self.start).days + 1,
            "seconds": self.seconds,
            "warehouse": str(self.warehouse),
            "logs": self.logs,
            "failures": self.failures,
            "ingest": self.ingest,
            "quarantine_reasons": self.quarantine_reasons,
            "decisions": self.decisions,
            "sync": [s.model_dump(mode="json") for s in self.sync],
        }


def _has(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    sql = "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    return con.execute(sql, [schema, table]).fetchall()[0][0] > 0


def _counts(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> dict[str, int]:
    return {str(name): int(n) for name, n in con.execute(sql, params).fetchall()}


def collect(report: RunReport, con: duckdb.DuckDBPyConnection) -> RunReport:
    """Fill `report` from the warehouse: the run's days of raw.load_log and raw.quarantine, the
    decisions as of the last decided day, the latest sync run per destination. A table a failed run
    never built is left out (its section stays empty), so a half-run still gets its screen."""
    window = [report.start, report.end]
    if _has(con, "raw", "load_log"):
        rows = con.execute(
            """
            select source, count(distinct _partition_day), sum(files), sum(lines), sum(loaded), sum(duplicates),
                   sum(quarantined)
            from raw.load_log where _partition_day between ? and ? group by source order by source
            """,
            window,
        ).fetchall()
        report.ingest = [{"source": r[0], **{k: int(v or 0) for k, v in zip(INGEST_COUNTS, r[1:], strict=True)}}
                         for r in rows]
    if _has(con, "raw", "quarantine"):
        report.quarantine_reasons = _counts(
            con,
            "select split_part(reason, ':', 1), count(*) from raw.quarantine where _partition_day between ? and ?"
            " group by 1 order by 2 desc, 1",
            window,
        )
    if _has(con, "marts", "user_onboarding"):
        as_of, users, off_track = con.execute(
            "select max(as_of_date), count(*), count(*) filter (where is_off_track) from marts.user_onboarding"
        ).fetchall()[0]
        decisions: dict[str, Any] = {
            "as_of": as_of.isoformat() if as_of else None,
            "users": int(users),
            "off_track": int(off_track),
            "tracks": _counts(con, "select track, count(*) from marts.user_onboarding group by 1 order by 2 desc, 1", []),
            "next_actions": _counts(
                con, "select next_action, count(*) from marts.user_onboarding group by 1 order by 2 desc, 1", []
            ),
        }
        # What the run's days triggered, per kind: (key, mart, the column that names the kind).
        for key, mart, kind in (("messages_by_trigger", "triggered_messages", "trigger"),
                                ("csm_alerts", "csm_alerts", "alert_type")):
            if _has(con, "marts", mart):
                decisions[key] = _counts(
                    con,
                    f"select {kind}, count(*) from marts.{mart} where as_of_date between ? and ?"
                    " group by 1 order by 2 desc, 1",
                    window,
                )
        report.decisions = decisions
    order = {name: i for i, name in enumerate(DESTINATIONS)}
    report.sync = sorted(latest_summaries(con), key=lambda s: order.get(s.destination, len(order)))
    return report


def _pairs(counts: dict[str, int], width: int, tail: str = "") -> str:
    """"name count · name count" in lines of at most `width` characters, broken between pairs only
    (a line break inside "analysis_tip 9" would part a count from its name); `tail` ends the list."""
    lines: list[str] = []
    line = ""
    for pair in [f"{name} {n:,}" for name, n in counts.items()] + ([tail] if tail else []):
        if line and len(line) + len(" · ") + len(pair) + len(" ·") > width:  # room for the " ·" a break adds
            lines.append(line + " ·")
            line = pair
        else:
            line = f"{line} · {pair}" if line else pair
    lines.append(line or "none")
    return "\n".join(markup_text(line) for line in lines)  # warehouse text: no markup, no control characters


def render(report: RunReport, console: Console) -> None:
    """The one screen (40 lines at 80 columns for the demo; tests/test_cli.py holds it to that)."""
    days = (report.end - report.start).days + 1
    verdict = "[green]succeeded[/green]" if report.success else "[bold red]FAILED[/bold red]"
    plural = "day" if days == 1 else "days"
    console.print(f"[bold]Run {report.start} .. {report.end}[/bold] ({days} {plural}) {verdict} in {report.seconds:.1f}s")
    for failure in report.failures:
        console.print(f"[red]failed[/red] {markup_text(failure)}")
    if report.ingest:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        table.add_column("source")
        for column in INGEST_COUNTS:
            table.add_column(column, justify="right")
        for row in report.ingest:
            table.add_row(markup_text(row["source"]), *(f"{row[k]:,}" for k in INGEST_COUNTS))
        totals = [sum(row[k] for row in report.ingest) for k in INGEST_COUNTS[1:]]
        table.add_row("total", "", *(f"{n:,}" for n in totals), style="bold")
        console.print(table)
    width = console.width - LABEL_WIDTH - 1
    if report.quarantine_reasons:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=LABEL_WIDTH, style="yellow")
        grid.add_column()
        grid.add_row("quarantined", _pairs(report.quarantine_reasons, width, "(raw.quarantine)"))
        console.print(grid)
    decisions = report.decisions
    if decisions:
        messages = decisions.get("messages_by_trigger", {})
        console.print()
        console.print(f"[bold]Decisions[/bold] as of {decisions['as_of']}: {decisions['users']:,} users, "
                      f"{decisions['off_track']:,} off track; {sum(messages.values()):,} messages")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=LABEL_WIDTH, style="cyan")
        grid.add_column()
        grid.add_row("tracks", _pairs(decisions["tracks"], width))
        grid.add_row("next actions", _pairs(decisions["next_actions"], width))
        if messages:
            grid.add_row("messages", _pairs(messages, width))
        if decisions.get("csm_alerts"):
            grid.add_row("CSM alerts", _pairs(decisions["csm_alerts"], width))
        console.print(grid)
    if report.sync:
        console.print()
        console.print(destination_table(report.sync))
        for note in summary_notes(report.sync):
            console.print(note)
    console.print()
    if report.logs.get("folder"):
        console.print(f"Logs: {markup_text(_short(report.logs['folder']))}/ (run.log, dbt.log)")
    console.print(f"Warehouse: {markup_text(_short(report.warehouse))} · next: onboarding explain USER_ID, make dev")


def _short(path: str | Path) -> str:
    """A path relative to the current folder when it is below it (`data/logs/...` after `make run`)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
