"""`python -m bench`: every figure of issue 7 (see bench/__init__.py and docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from . import figures
from .common import machine, say

FIGURES = ("floor", "pandas", "incremental", "sync", "scale", "daily")


def _millions(text: str) -> list[int]:
    return [int(float(x) * 1_000_000) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["spark"]:  # Spark local[2] beside DuckDB on the same files (bench/spark.py)
        from .spark import main as spark_main

        return spark_main(argv[1:])
    if argv[:1] == ["event_log"]:  # Dagster's SQLite event log against the project's (bench/event_log.py)
        from .event_log import main as event_log_main

        return event_log_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="~50,000 events; bound by the fixed cost of its three pipeline runs (minutes each on a busy machine)",
    )
    parser.add_argument("--only", default=",".join(FIGURES), help=f"comma-separated subset of {FIGURES}")
    parser.add_argument("--floor-events", type=float, help="millions of event lines (default 10, quick 0.05)")
    parser.add_argument("--pandas-events", type=float, help="millions (default 1, quick 0.05)")
    parser.add_argument("--incremental-events", type=float, help="millions (default 10, quick 0.05)")
    parser.add_argument("--scale", help="millions, comma-separated (default 1,3,10; quick 0.05)")
    parser.add_argument("--daily-events", type=float, help="millions for the daily figure (default 1, quick 0.05)")
    parser.add_argument("--before", help="daily figure: also run this git revision, in the same invocation")
    parser.add_argument("--daily-full", action="store_true", help="daily figure: a 61-day full refresh per version")
    parser.add_argument("--drt-contacts", type=int, help="contacts for the drt-core run (default 2,000)")
    parser.add_argument(
        "--no-reuse",
        action="store_true",
        help="re-measure full runs even when bench/results/logs has one for the dataset",
    )
    args = parser.parse_args(argv)
    only = [f.strip() for f in args.only.split(",") if f.strip()]
    unknown = set(only) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figures: {', '.join(sorted(unknown))}")
    q = args.quick
    size = {
        "floor": int((args.floor_events or (0.05 if q else 10)) * 1e6),
        "pandas": int((args.pandas_events or (0.05 if q else 1)) * 1e6),
        "incremental": int((args.incremental_events or (0.05 if q else 10)) * 1e6),
        "daily": int((args.daily_events or (0.05 if q else 1)) * 1e6),
    }
    scale = _millions(args.scale or ("0.05" if q else "1,3,10"))
    reuse = not args.no_reuse
    m = machine()
    say(
        f"machine: {m['nproc']} cores, {m['memory_mb'] / 1024:.0f} GiB, load average {m['load_average']:.1f}, "
        f"{m['date']}"
    )
    started = time.monotonic()
    for name in only:
        t = time.monotonic()
        if name == "floor":
            figures.fig_floor(size["floor"], reuse)
        elif name == "pandas":
            figures.fig_pandas(size["pandas"], reuse)
        elif name == "incremental":
            figures.fig_incremental(size["incremental"], reuse)
        elif name == "sync":
            figures.fig_sync(q, args.drt_contacts)
        elif name == "scale":
            figures.fig_scale(scale, reuse)
        elif name == "daily":
            from .daily import fig_daily

            fig_daily(size["daily"], args.before, args.daily_full)
        say(f"  ({name}: {time.monotonic() - t:.0f} s)")
    say(f"done in {time.monotonic() - started:.0f} s; results in bench/results/")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
