"""The quarterly content-library report of the day-30 loop, as Markdown.

`marts.content_library_quarterly` (dbt) ranks, per quarter, the themes of the "What nearly made you
quit?" answers with what to add or fix in the onboarding content, the tracks the answers came from and
example quotes. This module renders one quarter of it as `data/reports/content_library_<quarter>.md`
under the working home, for the content team (docs/rules.md, rule 13):

    python -m dagster_project.content_report [--quarter 2026-Q4] [--out DIR]

Why a command and not a Dagster asset: the report is read once a quarter, by people, after the themes
step has classified the quarter's answers; a daily asset would rewrite the same file every day. The
quotes are the themes step's summaries of scrubbed answers (no names, emails, phones or URLs), and are
escaped here so an answer cannot add a link, an image or a table row to the rendered page.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from .core import warehouse
from .core.settings import Settings, SettingsError, onboarding_home

COLUMNS = ("theme_rank", "theme", "answers", "share_pct", "content_action", "content_item", "reason",
           "tracks", "example_quotes")  # fmt: skip
QUOTE_MAX_CHARS = 200
_QUARTER = re.compile(r"^\d{4}-Q[1-4]$")


def md_text(value: Any, limit: int | None = None) -> str:
    """Plain text safe inside a Markdown table cell: one line, no HTML, no link or image syntax."""
    text = " ".join(str(value if value is not None else "").split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    for char, escaped in (("\\", "\\\\"), ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"),
                          ("[", "\\["), ("]", "\\]"), ("`", "\\`"), ("*", "\\*"), ("!", "\\!")):  # fmt: skip
        text = text.replace(char, escaped)
    return text


def quarters(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The quarters the mart has, oldest first."""
    return [
        q
        for (q,) in con.execute(
            "select distinct quarter from marts.content_library_quarterly order by 1"
        ).fetchall()
    ]


def load(con: duckdb.DuckDBPyConnection, quarter: str) -> list[dict[str, Any]]:
    rows = con.execute(
        f"select {', '.join(COLUMNS)} from marts.content_library_quarterly where quarter = ? order by theme_rank",
        [quarter],
    ).fetchall()
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def render(quarter: str, rows: Sequence[dict[str, Any]]) -> str:
    """The report: what to change first, then every theme with its tracks and example quotes."""
    total = sum(int(r["answers"]) for r in rows)
    todo = [r for r in rows if r["content_action"] != "none"]
    lines = [
        f"# Onboarding content library: {quarter}",
        "",
        f'{total} answers to "What nearly made you quit?" this quarter, in {len(rows)} themes. '
        "Ranked by how many answers name the theme; themes that ask for no change come last.",
        "",
        "## What to add or fix first",
        "",
    ]
    if not todo:
        lines.append("Nothing: no answer this quarter asks for a content change.")
    for r in todo:
        lines.append(
            f"{r['theme_rank']}. **{md_text(r['content_action'])}** {md_text(r['content_item'])}: "
            f"{md_text(r['theme'])}, {r['answers']} answers ({r['share_pct']}%)"
        )
    lines += ["", "## Themes", "", "| rank | theme | answers | share | action | tracks | example quotes |",
              "| --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for r in rows:
        quotes = " / ".join(
            f'"{md_text(q, QUOTE_MAX_CHARS)}"'
            for q in str(r["example_quotes"] or "").split(" | ")
            if q.strip()
        )
        lines.append(
            f"| {r['theme_rank']} | {md_text(r['theme'])} | {r['answers']} | {r['share_pct']}% | "
            f"{md_text(r['content_action'])} | {md_text(r['tracks'])} | {quotes} |"
        )
    lines += [
        "",
        "Quotes are the feedback themes step's one-line summaries of scrubbed answers (docs/ai.md).",
        "",
    ]
    return "\n".join(lines)


def write_report(con: duckdb.DuckDBPyConnection, out_dir: Path, quarter: str | None = None) -> Path:
    """Render `quarter` (default: the latest in the mart) into out_dir/content_library_<quarter>.md."""
    known = quarters(con)
    if not known:
        raise LookupError("marts.content_library_quarterly has no answers yet: run the pipeline first")
    quarter = quarter or known[-1]
    if quarter not in known:
        raise LookupError(f"no answers in quarter {quarter}; the mart has {', '.join(known)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"content_library_{quarter}.md"
    path.write_text(render(quarter, load(con, quarter)), encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dagster_project.content_report", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quarter", help="YYYY-Qn (default: the latest quarter with answers)")
    parser.add_argument("--out", type=Path, help="folder of the report (default: <home>/data/reports)")
    args = parser.parse_args(argv)
    if args.quarter is not None and not _QUARTER.match(args.quarter):
        parser.error(f"--quarter must look like 2026-Q4, got {args.quarter!r}")
    try:
        db_path = Settings.from_env().db_path
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not db_path.exists():
        print(f"error: no warehouse at {db_path}: run `onboarding run` first", file=sys.stderr)
        return 2
    out_dir = args.out or onboarding_home() / "data" / "reports"
    try:
        with warehouse.connect(db_path, read_only=True) as con:
            path = write_report(con, out_dir, args.quarter)
    except (LookupError, duckdb.CatalogException) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
