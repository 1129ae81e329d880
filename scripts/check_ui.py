"""The Dagster UI in a real browser: start `dagster dev` on a small generated dataset, drive headless
Chromium through it, launch a three-day backfill from the UI and wait for it to succeed.

    .venv/bin/python scripts/check_ui.py            # screenshots into docs/img/
    make ui-check                                   # installs Debian's chromium first if missing

What it proves, in order:
0. `dagster dev` loads the code location without an error or a warning in its log;
1. the global asset lineage page draws the asset graph with every group of the code location (and the
   stages the README promises: ingest, staging, decisions, ai, sync, reporting);
2. on the daily_onboarding job page, "Materialize all…" with the custom partition range of the first
   three landing days, then "Launch backfill", starts a backfill (all through the UI) that completes
   with every run successful; the GraphQL API is only used to wait and to read the outcome;
3. an ingest asset's partitions page lists one partition per landing day, three of them materialized;
4. the warehouse then holds exactly those three landing days (raw.load_log).

Everything lives in a temporary folder (DAGSTER_HOME, landing files, warehouse) and `dagster dev` runs
in its own process group on a free port, stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXPECTED_GROUPS = ("ingest", "staging", "decisions", "ai", "sync", "reporting")
JOB = "daily_onboarding"
LANDING_DAYS = 5
BACKFILL_DAYS = 3


@dataclass
class UiCheckResult:
    groups_in_code: list[str]
    groups_shown: list[str]
    partitions_shown: list[str]
    backfill_id: str
    backfill_status: str
    backfill_partitions: list[str]
    run_statuses: list[str]
    loaded_days: list[str]
    load_warnings: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(workdir: Path, users: int = 150) -> dict[str, str]:
    """Generate LANDING_DAYS days of exports ending yesterday and an empty instance; return the env."""
    from dagster_project.demo import generate

    landing, home = workdir / "landing", workdir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster_project" / "dagster.yaml", home / "dagster.yaml")
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    generate(landing, users=users, days=LANDING_DAYS, seed=11, end_date=yesterday, malformed_rate=0.002)
    # PYTHONWARNINGS too: the load-warning check is about what a plain `make dev` shows.
    env = {k: v for k, v in os.environ.items() if k not in ("ONBOARDING_START_DATE", "PYTHONWARNINGS")}
    env |= {
        "DAGSTER_HOME": str(home),
        "ONBOARDING_LANDING": str(landing),
        "ONBOARDING_DB": str(workdir / "warehouse.duckdb"),
        "PYTHONUNBUFFERED": "1",
    }
    return env


def _graphql(base_url: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{base_url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.load(response)
    if payload.get("errors"):
        raise RuntimeError(payload["errors"])
    return payload["data"]


LOCATIONS = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


@contextmanager
def dagster_dev(env: dict[str, str], workdir: Path, timeout: float = 240) -> Iterator[tuple[str, str]]:
    """Run `dagster dev` (own process group) until the code location is loaded; yield (url, location)."""
    port = free_port()
    log = (workdir / "dagster-dev.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster")), "dev", "-m", "dagster_project.definitions",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        location = None
        while location is None:
            if process.poll() is not None:
                raise RuntimeError(f"dagster dev exited ({process.returncode}); see {log.name}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"dagster dev not ready after {timeout:.0f}s; see {log.name}")
            time.sleep(2)
            try:
                entries = _graphql(base_url, LOCATIONS)["workspaceOrError"]["locationEntries"]
            except OSError:
                continue
            for entry in entries:
                kind = (entry["locationOrLoadError"] or {}).get("__typename")
                if kind == "PythonError":
                    raise RuntimeError(
                        f"code location failed to load: {entry['locationOrLoadError']['message']}"
                    )
                if entry["loadStatus"] == "LOADED" and kind == "RepositoryLocation":
                    location = entry["name"]
        yield base_url, location
    finally:
        _stop(process)
        log.close()


# Lines of `dagster dev`'s log that are not about the code location: the CLI itself says `dagster dev` is
# superseded by `dg dev` (dagster-dg-cli, not a dependency here); the second line is its source line.
HARMLESS = ("SupersessionWarning: Function `dev_command` is superseded", "return callback(*args, **kwargs)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def load_warnings(log: Path) -> list[str]:
    """Warnings and errors in the `dagster dev` log so far (read once the code location is loaded)."""
    lines = (ANSI.sub("", line).strip() for line in log.read_text(errors="replace").splitlines())
    flagged = re.compile(r" - (WARNING|ERROR|CRITICAL) - |Warning\b|Error\b|Traceback")
    return [ln for ln in lines if flagged.search(ln) and not any(h in ln for h in HARMLESS)]


def _stop(process: subprocess.Popen) -> None:
    """SIGINT to the group (dagster dev's own shutdown), SIGTERM if that is ignored (a process started in
    the background inherits SIGINT ignored), then SIGKILL whatever of the group is left."""
    for sig, wait in ((signal.SIGINT, 20), (signal.SIGTERM, 10)):
        if process.poll() is not None:
            break
        with suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=wait)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def groups_in_code(env: dict[str, str]) -> list[str]:
    """The groups of the materializable assets (external source tables are not drawn as groups), read in a
    subprocess with the check's environment."""
    code = (
        "from dagster_project.definitions import defs; g = defs.resolve_asset_graph();"
        "print('\\n'.join(sorted({g.get(k).group_name for k in g.get_all_asset_keys() if g.get(k).is_materializable})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


BACKFILLS = """
{ partitionBackfillsOrError(limit: 10) { ... on PartitionBackfills { results {
    id status partitionNames runs(limit: 50) { runId status } } } } }
"""


def _backfills(base_url: str) -> list[dict]:
    return _graphql(base_url, BACKFILLS)["partitionBackfillsOrError"]["results"]


def _dismiss_popups(page) -> None:
    page.wait_for_timeout(1500)
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.first.click()


def drive_ui(
    base_url: str,
    location: str,
    groups: list[str],
    landing_days: list[date],
    shots: Path,
    backfill_timeout: float = 900,
) -> tuple[list[str], list[str], dict, list[Path]]:
    """The browser part: asset graph and groups, partitions, a 3-day backfill launched from the UI."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    shots.mkdir(parents=True, exist_ok=True)
    taken: list[Path] = []
    first, last = landing_days[0], landing_days[BACKFILL_DAYS - 1]
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1600, "height": 1000},
        )  # fmt: skip
        page = browser.new_page()
        page.set_default_timeout(60_000)

        # 1. the asset graph with its groups
        page.goto(f"{base_url}/asset-groups", wait_until="networkidle")
        _dismiss_popups(page)
        page.get_by_text("Global asset lineage").wait_for()
        graph = page.locator("svg foreignObject")  # the graph's nodes (the sidebar lists the groups too)
        graph.get_by_text(groups[0], exact=True).first.wait_for()
        page.wait_for_timeout(2000)  # let the layout settle before the screenshot
        shown = [g for g in groups if graph.get_by_text(g, exact=True).count()]
        taken.append(shots / "dagster-asset-graph.png")
        page.screenshot(path=str(taken[-1]))

        # 2. the backfill, launched from the job page
        before = {b["id"] for b in _backfills(base_url)}
        page.goto(f"{base_url}/locations/__repository__@{location}/jobs/{JOB}", wait_until="networkidle")
        page.get_by_role("button", name="Materialize all…").click()
        dialog = page.locator("[role=dialog]")
        dialog.get_by_text("Partition selection").wait_for()
        dialog.get_by_role("button", name="Custom").click()
        selector = dialog.locator("input[type=text]").first
        selector.fill(f"[{first.isoformat()}...{last.isoformat()}]")
        selector.press("Enter")
        dialog.get_by_text(f"{BACKFILL_DAYS} partitions").wait_for()
        page.wait_for_timeout(1500)  # the partition bar draws after the count
        taken.append(shots / "dagster-backfill-dialog.png")
        page.screenshot(path=str(taken[-1]))
        dialog.get_by_role("button", name="Launch backfill").click()

        deadline = time.monotonic() + backfill_timeout
        backfill: dict | None = None
        while True:
            new = [b for b in _backfills(base_url) if b["id"] not in before]
            backfill = new[0] if new else None
            if backfill and backfill["status"] not in ("REQUESTED", "CANCELING", "FAILING"):
                runs = backfill["runs"]
                if runs and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"backfill not finished after {backfill_timeout:.0f}s: {backfill}")
            time.sleep(5)

        # the backfill's page, as an analyst would look at it
        page.goto(f"{base_url}/runs/b/{backfill['id']}", wait_until="networkidle")
        page.wait_for_timeout(3000)
        taken.append(shots / "dagster-backfill.png")
        page.screenshot(path=str(taken[-1]))

        # 3. partitions of an ingest asset: one per landing day, the backfilled ones materialized
        page.goto(f"{base_url}/assets/raw/signups?view=partitions", wait_until="networkidle")
        page.get_by_text(landing_days[-1].isoformat()).first.wait_for()
        with suppress(PlaywrightTimeout):  # the status counts load after the list
            page.get_by_text(f"Materialized ({BACKFILL_DAYS})").wait_for(timeout=30_000)
        body = page.inner_text("body")
        partitions = [d.isoformat() for d in landing_days if d.isoformat() in body]
        taken.append(shots / "dagster-partitions.png")
        page.screenshot(path=str(taken[-1]))

        browser.close()
    return shown, partitions, backfill, taken


def loaded_days(db_path: str) -> list[str]:
    import duckdb

    with duckdb.connect(db_path, read_only=True) as con:
        rows = con.execute("select distinct _partition_day from raw.load_log order by 1").fetchall()
    return [r[0].isoformat() for r in rows]


def run_check(workdir: Path, shots: Path) -> UiCheckResult:
    from dagster_project.dbt_project import prepare_manifest
    from dagster_project.ingest.files import landing_days as find_landing_days

    env = prepare(workdir)
    prepare_manifest()
    days = find_landing_days(Path(env["ONBOARDING_LANDING"]))
    in_code = groups_in_code(env)
    with dagster_dev(env, workdir) as (base_url, location):
        warnings = load_warnings(workdir / "dagster-dev.log")
        shown, partitions, backfill, taken = drive_ui(base_url, location, in_code, days, shots)
    result = UiCheckResult(
        groups_in_code=in_code,
        groups_shown=[g for g in in_code if g in shown],
        partitions_shown=partitions,
        backfill_id=backfill["id"],
        backfill_status=backfill["status"],
        backfill_partitions=sorted(backfill["partitionNames"] or []),
        run_statuses=[r["status"] for r in backfill["runs"]],
        loaded_days=loaded_days(env["ONBOARDING_DB"]),
        load_warnings=warnings,
        screenshots=taken,
    )
    expected_days = [d.isoformat() for d in days[:BACKFILL_DAYS]]
    checks = [
        (not result.load_warnings, "dagster dev log, loading the code location: " + " | ".join(result.load_warnings)),
        (set(result.groups_shown) == set(in_code), f"groups not shown in the UI: {sorted(set(in_code) - set(shown))}"),
        (set(EXPECTED_GROUPS) <= set(in_code), f"expected groups missing from the code location: "
                                                f"{sorted(set(EXPECTED_GROUPS) - set(in_code))}"),
        (result.partitions_shown == [d.isoformat() for d in days], f"partitions shown: {result.partitions_shown}"),
        (result.backfill_partitions == expected_days, f"backfill partitions: {result.backfill_partitions}"),
        (result.backfill_status in ("COMPLETED", "COMPLETED_SUCCESS"), f"backfill status {result.backfill_status}"),
        (bool(result.run_statuses) and set(result.run_statuses) == {"SUCCESS"}, f"runs: {result.run_statuses}"),
        (result.loaded_days == expected_days, f"landing days in the warehouse: {result.loaded_days}"),
    ]  # fmt: skip
    result.problems = [message for ok, message in checks if not ok]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenshots", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the instance and data here")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found: apt-get install -y chromium (or `make ui-check`)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ui-check-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        result = run_check(workdir, args.screenshots)
    print(f"code location load warnings: {len(result.load_warnings)}")
    print(f"groups in the code location: {', '.join(result.groups_in_code)}")
    print(f"groups shown in the asset graph: {', '.join(result.groups_shown)}")
    print(f"partitions shown: {', '.join(result.partitions_shown)}")
    print(
        f"backfill {result.backfill_id}: {result.backfill_status}, partitions {', '.join(result.backfill_partitions)}, "
        f"runs {', '.join(result.run_statuses)}"
    )
    print(f"landing days in the warehouse: {', '.join(result.loaded_days)}")
    print("screenshots: " + ", ".join(str(p) for p in result.screenshots))
    for problem in result.problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    print("UI check passed" if result.ok else "UI check FAILED")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
