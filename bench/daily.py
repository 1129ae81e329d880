"""Issue 20's figures in one invocation: what a daily run costs against the floor and a full refresh,
before and after a change, and that the outputs did not change.

    python -m bench --only daily --daily-events 1 [--before REV]

For each code version (`--before REV`: a git revision, run from `git archive`; then the working tree's
snapshot), on the same dataset, measured from outside (bench/measure.py):

* `setup` (once, the working tree's code): the first 60 days on a fresh warehouse; each version then
  starts from a copy of it: `one`, the 61st day added, then `again`, the same day again with nothing
  new (the daily run's machinery);
* with `--daily-full`, `full`: every landing day (61) on a fresh warehouse per version (the full
  refresh; without it the 60-day setup run stands for it, one day less data).

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


def _version(ds: Dataset, label: str, src: Path, base: Path | None, keep: Path, full: bool) -> dict[str, Any]:
    """The runs of one code version. `base`: a warehouse of the first 60 days to start the one-day runs
    from (a copy; `setup` is then not run again), else this version builds its own."""
    days = ds.days_list()
    last, before = days[-1], days[-2]
    tmp = fresh_dir(f"daily-{label}")
    runs: dict[str, Any] = {}
    try:
        incr_db = tmp / "incr" / "warehouse.duckdb"
        incr_db.parent.mkdir()
        if full:
            full_db = tmp / "full" / "warehouse.duckdb"
            full_db.parent.mkdir()
            runs["full"] = onboarding_run(ds, full_db, f"daily-{label}-full-u{ds.users}", src=src)
            shutil.move(str(full_db), keep / f"{label}-full.duckdb")
        if base is None:
            runs["setup"] = onboarding_run(ds, incr_db, f"daily-{label}-setup-u{ds.users}", as_of=before, src=src)
            shutil.copy(incr_db, keep / "base60.duckdb")
        else:
            shutil.copy(base, incr_db)
        runs["one"] = onboarding_run(ds, incr_db, f"daily-{label}-one-u{ds.users}", start=last, as_of=last, src=src)
        runs["again"] = onboarding_run(ds, incr_db, f"daily-{label}-again-u{ds.users}", start=last, as_of=last, src=src)
        shutil.move(str(incr_db), keep / f"{label}-incr.duckdb")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return runs


def _line(label: str, r: dict[str, Any]) -> str:
    return (
        f"{label}: {r['wall_s']:.1f} s wall, CPU {r['user_s'] + r['sys_s']:.1f} s, "
        f"largest process {r['max_rss_mb']:,.0f} MB, tree peak {r['tree_peak_rss_mb']:,.0f} MB"
    )


def fig_daily(events: int, before: str | None, full: bool = False) -> dict[str, Any]:
    ds = Dataset(users_for(events)).ensure()
    say(f"[daily] {ds.users:,} users, {ds.event_lines():,} event lines, {len(ds.days_list())} days")
    # The working tree's version first: it builds the 60-day warehouse both versions add the day to.
    versions: dict[str, Path] = {"after": source_tree()}
    if before:
        versions["before"] = revision_tree(before)
    keep = fresh_dir("daily-keep")
    result: dict[str, Any] = {"users": ds.users, "event_lines": ds.event_lines()}
    try:
        setup: dict[str, Any] | None = None
        measured_runs: dict[str, dict[str, Any]] = {}
        for label, src in versions.items():
            base = keep / "base60.duckdb" if setup else None
            measured_runs[label] = _version(ds, label, src, base, keep, full)
            setup = setup or measured_runs[label].get("setup")
        # The floor and pandas after the pipeline runs: on a busy machine the runs are what must finish.
        floor = measured([sys.executable, "-m", "bench.floor", str(ds.landing)], f"daily-floor-u{ds.users}")
        say("  " + _line("floor (one DuckDB read per source)", floor))
        pandas = measured(
            [sys.executable, "-m", "bench.pandas_baseline", str(ds.landing)], f"daily-pandas-u{ds.users}"
        )
        say("  " + _line("pandas baseline", pandas))
        result |= {"floor": floor, "pandas": pandas}
        for label, runs in measured_runs.items():
            refresh = runs.get("full") or setup
            assert refresh is not None
            again, one = runs["again"], runs["one"]
            ratios = {
                "again_over_floor": round(again["wall_s"] / floor["wall_s"], 2),
                "again_over_floor_cpu": round(_cpu(again) / _cpu(floor), 2),
                "one_over_full": round(one["wall_s"] / refresh["wall_s"], 3),
                "one_over_full_cpu": round(_cpu(one) / _cpu(refresh), 3),
                "full_is": "61 days" if "full" in runs else "the 60-day setup run (after's code)",
                "pandas_over_full": round(pandas["wall_s"] / refresh["wall_s"], 2),
                "pandas_over_full_cpu": round(_cpu(pandas) / _cpu(refresh), 2),
                "max_rss_over_pandas": round(refresh["max_rss_mb"] / pandas["max_rss_mb"], 3),
                "tree_peak_over_pandas": round(refresh["tree_peak_rss_mb"] / pandas["tree_peak_rss_mb"], 3),
            }
            for name, r in runs.items():
                say(f"  {label} " + _line(name, r) + f"  phases {r.get('phases_s')}")
            say(f"  {label}: {ratios}")
            if full:
                incremental_vs_full = _differences(compare(keep / f"{label}-full.duckdb", keep / f"{label}-incr.duckdb"))
                say(f"  {label}: 60 days + one vs all 61 at once, tables that differ: {incremental_vs_full or 'none'}")
                result[f"{label}_incremental_vs_full"] = incremental_vs_full
            result[label] = {"runs": runs, "ratios": ratios}
        if before:
            names = ("full", "incr") if full else ("incr",)
            for name in names:
                diff = _differences(compare(keep / f"before-{name}.duckdb", keep / f"after-{name}.duckdb"))
                result[f"outputs_{name}_before_vs_after"] = diff
                say(f"  outputs before vs after ({name}): {diff or 'identical'}")
    finally:
        shutil.rmtree(keep, ignore_errors=True)
    write_result("daily", result)
    return result


def _cpu(r: dict[str, Any]) -> float:
    return r["user_s"] + r["sys_s"]
