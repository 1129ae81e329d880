"""Before/after of the ingest loader: the committed `load.py` (git HEAD) against the working tree's.

    python -m bench.ingest_ab LANDING [--days N] [--first YYYY-MM-DD] [--sources segment,mixpanel]

Both versions load the same days into their own fresh warehouse, one after the other in this process
(then re-load the middle day of the first source, the replace path), and the raw tables, quarantine and
load log are compared row for row (all columns but `_loaded_at`): the output must be identical. CPU
seconds (all threads) are the figure to compare on a shared machine; wall seconds are shown too.
Needs git only to read HEAD's file (`git show`, read-only).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from dagster_project.ingest import load as current

from .common import REPO

SOURCES = ("segment", "rudderstack", "mixpanel", "signups", "tickets", "nps")
TABLES = (
    "segment_events",
    "mixpanel_events",
    "signups",
    "support_tickets",
    "nps_responses",
    "quarantine",
    "load_log",
)


def head_module(tmp: Path):
    text = subprocess.run(
        ["git", "show", "HEAD:dagster_project/ingest/load.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    text = text.replace("from .", "from dagster_project.ingest.")
    module_path = tmp / "load_head.py"
    module_path.write_text(text)
    spec = importlib.util.spec_from_file_location("load_head", module_path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["load_head"] = module
    spec.loader.exec_module(module)
    return module


def run(module, db: Path, landing: Path, days: list[date], sources: list[str]) -> dict[str, float]:
    con = duckdb.connect(str(db))
    wall, cpu = time.perf_counter(), time.process_time()
    for day in days:
        for source in sources:
            module.load_day(con, landing, source, day)
    module.load_day(con, landing, sources[0], days[len(days) // 2])
    out = {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2)}
    con.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("landing", type=Path)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--first", type=date.fromisoformat, default=None)
    parser.add_argument("--sources", default=",".join(SOURCES))
    args = parser.parse_args(argv)
    manifest = json.loads((args.landing / "manifest.json").read_text())
    first = args.first or date.fromisoformat(manifest["start_date"])
    days = [first + timedelta(days=i) for i in range(args.days)]
    sources = args.sources.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        before = head_module(Path(tmp))
        result = {
            "days": [str(days[0]), str(days[-1])],
            "sources": sources,
            "before": run(before, Path(tmp) / "before.duckdb", args.landing, days, sources),
            "after": run(current, Path(tmp) / "after.duckdb", args.landing, days, sources),
        }
        con = duckdb.connect()
        con.execute(f"attach '{tmp}/before.duckdb' as b (read_only)")
        con.execute(f"attach '{tmp}/after.duckdb' as a (read_only)")
        differences = {}
        for table in TABLES:
            cols = ", ".join(
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns where table_catalog = 'b' and "
                    "table_schema = 'raw' and table_name = ? and column_name <> '_loaded_at' order by ordinal_position",
                    [table],
                ).fetchall()
            )
            diff = con.execute(f"""select (select count(*) from (select {cols} from b.raw.{table}
                                    except all select {cols} from a.raw.{table})),
                                   (select count(*) from (select {cols} from a.raw.{table}
                                    except all select {cols} from b.raw.{table})),
                                   (select count(*) from a.raw.{table})""").fetchone()
            assert diff is not None
            differences[table] = {"rows": diff[2], "only_before": diff[0], "only_after": diff[1]}
        con.close()
    result["tables"] = differences
    result["identical"] = all(d["only_before"] == 0 and d["only_after"] == 0 for d in differences.values())
    result["cpu_after_over_before"] = round(result["after"]["cpu_s"] / result["before"]["cpu_s"], 3)
    print(json.dumps(result))
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
