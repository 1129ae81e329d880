"""Issue 20's figures in one invocation: what a daily run costs against the floor and a full refresh,
before and after a change, and that the outputs did not change.

    python -m bench --only daily --daily-events 1 [--before REV]

For each code version (`--before REV`: a git revision, run from `git archive`; then the working tree's
snapshot), on the same dataset, measured from outside (bench/measure.py):

* `full`: every landing day (61) on a fresh warehouse (the full refresh);
* `again`: the last day again on that warehouse, with nothing new (the daily run's machinery);
* `setup`: the first 60 days on another fresh warehouse, then `one`: the 61st day added.

Plus, once: the floor (bench/floor.py, one DuckDB read per source over all its files) and the pandas
baseline. The outputs of the versions are compared row for row (raw, quarantine, marts, sync plan;
the columns a run stamps with its own time or id left out), and the incremental warehouse (60 days +
one) against the full refresh.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

import duckdb

from .common import (
    Dataset,
    fresh_dir,
    measured,
    onboarding_run,
    revision_tree,
    say,
    source_tree,
    write_result,
)
from .figures import users_for

# Schemas holding what a run produces for the outside world: raw (+ quarantine, load log), the marts,
# the sync plan and ledger.
COMPARED_SCHEMAS = ("raw", "marts", "sync")
# Columns a run fills with its own clock or identity: never equal between two runs.
RUN_STAMPED = re.compile(
    r"^(_loaded_at|loaded_at|run_id|.*_run_id|generated_at|assigned_at|classified_at|planned_at|created_at|"
    r"updated_at|started_at|finished_at|computed_at|decided_at|last_seen_at|first_seen_at|attempted_at|"
    r"sent_at|queued_at|expired_at|written_at|built_at)$"
)


def compare(a: Path, b: Path) -> dict[str, dict[str, int]]:
    """Rows only in `a` / only in `b` per table of COMPARED_SCHEMAS (multiset difference over the
    columns both have, RUN_STAMPED ones left out)."""
    con = duckdb.connect()
    con.execute(f"attach '{a}' as a (read_only)")
    con.execute(f"attach '{b}' as b (read_only)")
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables where table_catalog = 'a' "
        f"and table_schema in {COMPARED_SCHEMAS} and table_type = 'BASE TABLE' order by 1, 2"
    ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for schema, table in tables:
        columns = [
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns where table_catalog = 'a' and table_schema = ? "
                "and table_name = ? and column_name in (select column_name from information_schema.columns "
                "where table_catalog = 'b' and table_schema = ? and table_name = ?) order by ordinal_position",
                [schema, table, schema, table],
            ).fetchall()
            if not RUN_STAMPED.match(r[0])
        ]
        if not columns:
            continue
        cols = ", ".join(f'"{c}"' for c in columns)
        name = f"{schema}.{table}"
        try:
            only_a, only_b, rows = con.execute(
                f"select (select count(*) from (select {cols} from a.{name} except all select {cols} from b.{name})), "
                f"(select count(*) from (select {cols} from b.{name} except all select {cols} from a.{name})), "
                f"(select count(*) from a.{name})"
            ).fetchone()  # type: ignore[misc]
        except duckdb.Error as exc:  # a table missing on one side
            say(f"  compare {name}: {str(exc).splitlines()[0]}")
            continue
        out[name] = {"rows": rows, "only_first": only_a, "only_second": only_b}
    con.close()
    return out


def _differences(result: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {t: d for t, d in result.items() if d["only_first"] or d["only_second"]}


def _version(ds: Dataset, label: str, src: Path, keep: Path) -> dict[str, Any]:
    days = ds.days_list()
    last, before = days[-1], days[-2]
    tmp = fresh_dir(f"daily-{label}")
    try:
        full_db, incr_db = tmp / "full" / "warehouse.duckdb", tmp / "incr" / "warehouse.duckdb"
        full_db.parent.mkdir()
        incr_db.parent.mkdir()
        runs = {
            "full": onboarding_run(ds, full_db, f"daily-{label}-full-u{ds.users}", src=src),
            "again": onboarding_run(ds, full_db, f"daily-{label}-again-u{ds.users}", start=last, as_of=last, src=src),
            "setup": onboarding_run(ds, incr_db, f"daily-{label}-setup-u{ds.users}", as_of=before, src=src),
            "one": onboarding_run(ds, incr_db, f"daily-{label}-one-u{ds.users}", start=last, as_of=last, src=src),
        }
        for name in ("full", "incr"):
            shutil.move(str(tmp / name / "warehouse.duckdb"), keep / f"{label}-{name}.duckdb")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return runs


def _line(label: str, r: dict[str, Any]) -> str:
    return (
        f"{label}: {r['wall_s']:.1f} s wall, CPU {r['user_s'] + r['sys_s']:.1f} s, "
        f"largest process {r['max_rss_mb']:,.0f} MB, tree peak {r['tree_peak_rss_mb']:,.0f} MB"
    )


def fig_daily(events: int, before: str | None) -> dict[str, Any]:
    ds = Dataset(users_for(events)).ensure()
    say(f"[daily] {ds.users:,} users, {ds.event_lines():,} event lines, {len(ds.days_list())} days")
    floor = measured([sys.executable, "-m", "bench.floor", str(ds.landing)], f"daily-floor-u{ds.users}")
    say("  " + _line("floor (one DuckDB read per source)", floor))
    pandas = measured([sys.executable, "-m", "bench.pandas_baseline", str(ds.landing)], f"daily-pandas-u{ds.users}")
    say("  " + _line("pandas baseline", pandas))
    versions: dict[str, Path] = {}
    if before:
        versions["before"] = revision_tree(before)
    versions["after"] = source_tree()
    keep = fresh_dir("daily-keep")
    result: dict[str, Any] = {"users": ds.users, "event_lines": ds.event_lines(), "floor": floor, "pandas": pandas}
    try:
        for label, src in versions.items():
            runs = _version(ds, label, src, keep)
            full, again, one = runs["full"], runs["again"], runs["one"]
            ratios = {
                "again_over_floor": round(again["wall_s"] / floor["wall_s"], 2),
                "one_over_full": round(one["wall_s"] / full["wall_s"], 3),
                "pandas_over_full": round(pandas["wall_s"] / full["wall_s"], 2),
                "max_rss_over_pandas": round(full["max_rss_mb"] / pandas["max_rss_mb"], 3),
                "tree_peak_over_pandas": round(full["tree_peak_rss_mb"] / pandas["tree_peak_rss_mb"], 3),
            }
            for name, r in runs.items():
                say(f"  {label} " + _line(name, r) + f"  phases {r.get('phases_s')}")
            say(f"  {label}: {ratios}")
            incremental_vs_full = _differences(compare(keep / f"{label}-full.duckdb", keep / f"{label}-incr.duckdb"))
            say(f"  {label}: 60 days + one vs all 61 days at once, tables that differ: {incremental_vs_full or 'none'}")
            result[label] = {"runs": runs, "ratios": ratios, "incremental_vs_full": incremental_vs_full}
        if before:
            for name in ("full", "incr"):
                diff = _differences(compare(keep / f"before-{name}.duckdb", keep / f"after-{name}.duckdb"))
                result[f"outputs_{name}_before_vs_after"] = diff
                say(f"  outputs before vs after ({name}): {diff or 'identical'}")
    finally:
        shutil.rmtree(keep, ignore_errors=True)
    write_result("daily", result)
    return result
