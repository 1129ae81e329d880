"""Shared by the figures: demo datasets, measured child processes, `onboarding run`, results."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
BIN = Path(sys.executable).parent
# Generated exports are kept between runs (same users/days/seed, same files), outside the repository.
DATA = Path(os.environ.get("BENCH_DATA", Path(tempfile.gettempdir()) / "onboarding-bench"))
DAYS = 61  # 60 days + the day the incremental figure adds
END_DATE = "2026-11-30"  # fixed, so a cached dataset does not depend on the day it was generated
EVENT_SOURCES = ("segment", "rudderstack", "mixpanel")
# Credentials and LLM settings never reach the measured runs: LLM off, every destination dry.
_SECRET_PREFIXES = ("OPENAI_", "INTERCOM_", "SLACK_", "APPCUES_", "CALENDLY_", "SYNC_", "ONBOARDING_")


@dataclass(frozen=True)
class Dataset:
    users: int
    days: int = DAYS

    @property
    def root(self) -> Path:
        return DATA / f"u{self.users}-d{self.days}-{END_DATE}"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.landing / "manifest.json").read_text())

    def ensure(self) -> Dataset:
        if not (self.landing / "manifest.json").exists():
            say(f"generating {self.users:,} users x {self.days} days into {self.landing} ...")
            started = time.monotonic()
            subprocess.run(
                [
                    str(BIN / "onboarding"),
                    "generate",
                    "--users",
                    str(self.users),
                    "--days",
                    str(self.days),
                    "--end-date",
                    END_DATE,
                    "--out",
                    str(self.landing),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                env=child_env(),
                cwd=REPO,
            )
            say(f"  generated in {time.monotonic() - started:.0f} s")
        return self

    def event_lines(self, last_day: date | None = None) -> int:
        """Lines in the event sources' files (Segment + RudderStack + Mixpanel), up to `last_day`."""
        total = 0
        for day, sources in self.manifest()["by_day"].items():
            if last_day is None or date.fromisoformat(day) <= last_day:
                total += sum(sources[s]["lines"] for s in EVENT_SOURCES)
        return total

    def unique_events(self) -> int:
        return int(self.manifest()["unified_events"])

    def days_list(self) -> list[date]:
        first = date.fromisoformat(self.manifest()["start_date"])
        return [first + timedelta(days=i) for i in range(self.days)]


def users_for(events: int, per_user: float) -> int:
    return max(100, round(events / per_user))


def say(message: str) -> None:
    print(message, flush=True)


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SECRET_PREFIXES) and k != "DAGSTER_HOME"}
    env.update({"COLUMNS": "250", "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "TERM": "dumb"})
    env.update(extra)
    return env


def measured(
    command: list[str],
    name: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
) -> dict[str, Any]:
    """Run `command` under bench/measure.py (a separate process) and return its measurements."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    logs = RESULTS / "logs"
    logs.mkdir(exist_ok=True)
    out, log = logs / f"{name}.json", logs / f"{name}.log"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.measure",
            "--out",
            str(out),
            "--log",
            str(log),
            "--cwd",
            str(cwd or REPO),
            "--",
            *command,
        ],
        check=True,
        env=env or child_env(),
        cwd=REPO,
    )
    result = json.loads(out.read_text())
    result["log"] = str(log.relative_to(REPO))
    if check and result["returncode"] != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
        raise RuntimeError(f"{name} failed (exit {result['returncode']}):\n{tail}")
    return result


_STEP = re.compile(r"^\s*([\d.]+)\s+step (\S+): (done|FAILED)")
_LOAD = re.compile(r"^\s*[\d.]+\s+(\w+) (\d{4}-\d{2}-\d{2}): .*\(\d+ files?, ([\d.]+)s\)")


def step_timings(log: Path) -> dict[str, Any]:
    """Per-step seconds from a measured `onboarding run` log (time between step completions)."""
    steps: dict[str, float] = {}
    previous = None
    load_seconds: dict[str, float] = {}
    for line in log.read_text().splitlines():
        if m := _STEP.match(line):
            at = float(m[1])
            if previous is None:
                previous = _first_stamp(log)
            steps[m[2]] = round(at - previous, 2)
            previous = at
        elif m := _LOAD.match(line):
            load_seconds[m[1]] = round(load_seconds.get(m[1], 0.0) + float(m[3]), 2)
    return {"steps_s": steps, "load_day_s_by_source": load_seconds, "phases_s": phases(log)}


def phases(log: Path) -> dict[str, float]:
    """Wall seconds of the run's phases, from the time stamps of the lines that open each one."""
    marks: list[tuple[str, float]] = []
    dbt_runs = 0
    for line in log.read_text().splitlines():
        parts = line.split(maxsplit=1)
        if len(parts) < 2:
            continue
        try:
            at = float(parts[0])
        except ValueError:
            continue
        text = parts[1]
        if text.startswith("Running ") and not marks:
            marks.append(("startup (imports, dbt parse)", at))
        elif text.startswith("Running with dbt"):
            dbt_runs += 1
            marks.append(("ingest" if dbt_runs == 1 else "ai steps (LLM off)", at))
        elif text.startswith("Finished running") and dbt_runs == 1:
            marks.append(("dbt foundation (staging, unified events, profiles)", at))
        elif text.startswith("Finished running") and dbt_runs == 2:
            marks.append(("dbt decisions and marts", at))
        elif text.startswith("Done in"):
            marks.append(("sync plan, reporting", at))
    out: dict[str, float] = {}
    previous = 0.0
    for name, at in marks:
        out[name] = round(at - previous, 1)
        previous = at
    return out


def _first_stamp(log: Path) -> float:
    for line in log.read_text().splitlines():
        if "Running " in line:
            return float(line.split()[0])
    return 0.0


def dbt_timings(since: float, src: Path = REPO) -> list[dict[str, Any]]:
    """Model/test execution times from the dbt invocations that started after `since` (epoch s)."""
    out: list[dict[str, Any]] = []
    target = src / "dbt_project" / "target"
    for path in target.glob("*/run_results.json"):
        if path.stat().st_mtime < since:
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        started = data.get("metadata", {}).get("invocation_started_at") or ""
        try:
            if datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp() < since - 1:
                continue
        except ValueError:
            continue
        for r in data.get("results", []):
            out.append(
                {
                    "node": r["unique_id"],
                    "status": r["status"],
                    "seconds": round(r.get("execution_time") or 0.0, 2),
                    "invocation": path.parent.name,
                }
            )
    return sorted(out, key=lambda r: -r["seconds"])


_snapshot: list[Path] = []
_revisions: dict[str, Path] = {}
_SHIPPED = ("dagster_project", "dbt_project", "sync")


def revision_tree(rev: str) -> Path:
    """The shipped code of git revision `rev` (e.g. the commit before a change), for an A/B run in
    the same invocation as the working tree's: the tree as committed, nobody's uncommitted edits."""
    if rev not in _revisions:
        root = Path(tempfile.mkdtemp(prefix=f"onboarding-bench-{rev[:10]}-"))
        archive = subprocess.run(
            ["git", "archive", rev, *_SHIPPED, "pyproject.toml"], cwd=REPO, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
        _revisions[rev] = root
        say(f"  (revision {rev} in {root})")
    return _revisions[rev]


def source_tree() -> Path:
    """The code the runs execute: a copy of the working tree taken at the first run (BENCH_SNAPSHOT=0
    runs the working tree itself; BENCH_SNAPSHOT=git:REV a committed revision, e.g. HEAD, without
    anyone's uncommitted edits). Other people edit dbt models while a long benchmark runs; a dbt
    invocation that reads a half-edited project fails, and a run that mixes two versions measures
    neither."""
    if os.environ.get("BENCH_SNAPSHOT", "1") == "0":
        return REPO
    if os.environ.get("BENCH_SNAPSHOT", "").startswith("git:"):
        return revision_tree(os.environ["BENCH_SNAPSHOT"].removeprefix("git:"))
    if not _snapshot:
        root = Path(tempfile.mkdtemp(prefix="onboarding-bench-src-"))
        ignore = shutil.ignore_patterns("target", "logs", "dbt_packages", "__pycache__", ".user.yml")
        for name in _SHIPPED:
            shutil.copytree(REPO / name, root / name, ignore=ignore)
        shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
        _snapshot.append(root)
        say(f"  (running the pipeline from a snapshot of the working tree: {root})")
    return _snapshot[0]


def onboarding_run(
    dataset: Dataset,
    db: Path,
    name: str,
    start: date | None = None,
    as_of: date | None = None,
    extra_env: dict[str, str] | None = None,
    check: bool = True,
    src: Path | None = None,
) -> dict[str, Any]:
    """`onboarding run` in a measured child process on `dataset`, warehouse `db`, no Dagster home;
    `src`: the code to run (default `source_tree()`)."""
    src = src or source_tree()
    command = [str(BIN / "onboarding"), "run"]
    if src != REPO:  # the same console script, importing the snapshot's packages
        command = [
            sys.executable,
            "-c",
            "import sys; from dagster_project.cli import app; sys.argv[0] = 'onboarding'; app()",
            "run",
        ]
    if start:
        command += ["--start", start.isoformat()]
    if as_of:
        command += ["--as-of", as_of.isoformat()]
    env = child_env(ONBOARDING_DB=str(db), ONBOARDING_LANDING=str(dataset.landing), **(extra_env or {}))
    if src != REPO:
        env["PYTHONPATH"] = str(src)
    since = time.time()
    result = measured(command, name, env=env, cwd=src, check=check)
    result["source"] = str(src)
    result.update(step_timings(REPO / result["log"]))
    dbt = dbt_timings(since, src)
    result["dbt_slowest"] = dbt[:15]
    result["dbt_total_s"] = round(sum(r["seconds"] for r in dbt), 1)
    return result


def machine() -> dict[str, Any]:
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) // 1024
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "nproc": nproc,
        "memory_mb": mem,
        "python": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": os.getloadavg()[0],
    }


def write_result(figure: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{figure}.json"
    path.write_text(json.dumps({"figure": figure, "machine": machine(), **result}, indent=2, default=str))
    return path


def verdict(value: float, goal: float, at_most: bool) -> str:
    met = value <= goal if at_most else value >= goal
    return f"goal {'<=' if at_most else '>='} {goal:g}: {'met' if met else 'NOT met'}"


def fresh_dir(name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"onboarding-bench-{name}-"))
    return path
