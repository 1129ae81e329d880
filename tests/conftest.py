"""Shared fixtures: a generated dataset run through the real pipeline into a temporary DuckDB file.

The session warehouse is built once per test session, not once per xdist worker: the first worker to
take a file lock in the folder all workers share (the parent of each worker's base temp) builds it,
the others wait and reuse it. It is read-only for the tests: a test that writes copies it first
(`Warehouse.copy_to`); the fixture's teardown fails the session if the file changed under it (a
permission bit would not stop the tests' usual user, root).

Every test that uses a fixture from `SLOW_FIXTURES` (a pipeline run over generated data) is marked
`slow`, so `pytest -m 'not slow'` (`make test-fast`) is the quick lane a developer runs before a commit.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from filelock import FileLock

# Partitions are defined when the code location loads; start them early enough for every fixture.
os.environ.setdefault("ONBOARDING_START_DATE", "2026-01-01")
os.environ.pop("DAGSTER_HOME", None)

E2E_END = date(2026, 10, 20)
E2E_DAYS = 21

# Session fixtures that build a warehouse with the real pipeline (tens of seconds each); a test using
# one, directly or through another fixture, is `slow`.
SLOW_FIXTURES = frozenset({"warehouse", "cli_run"})


@dataclass
class Warehouse:
    db_path: Path
    landing: Path
    manifest: dict
    start: date
    end: date

    def connect(self):
        import duckdb

        return duckdb.connect(str(self.db_path), read_only=True)

    @contextmanager
    def activate(self) -> Iterator[None]:
        """Point ONBOARDING_DB / ONBOARDING_LANDING at this warehouse for the duration."""
        with pointed_at(self.db_path, self.landing):
            yield

    def copy_to(self, folder: Path) -> Warehouse:
        """A writable copy of the warehouse file in `folder` (same landing files, manifest and days)."""
        db_path = folder / self.db_path.name
        shutil.copyfile(self.db_path, db_path)
        return Warehouse(db_path=db_path, landing=self.landing, manifest=self.manifest, start=self.start,
                         end=self.end)


@contextmanager
def pointed_at(db_path: Path, landing: Path) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("ONBOARDING_DB", "ONBOARDING_LANDING")}
    os.environ["ONBOARDING_DB"], os.environ["ONBOARDING_LANDING"] = str(db_path), str(landing)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def shared_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder every xdist worker of this session sees (a fresh one per session without xdist).

    Under xdist each worker's base temp is `<session>/popen-gwN`, so their parent is the session's
    folder; without xdist the base temp is itself the session's folder (its parent holds past sessions).
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.getbasetemp().parent / name
        folder.mkdir(exist_ok=True)
        return folder
    return tmp_path_factory.mktemp(name, numbered=False)


def _build_warehouse(root: Path) -> None:
    """Generate the landing files and run the pipeline over every day into `root/warehouse.duckdb`."""
    from dagster_project.dbt_project import prepare_manifest
    from dagster_project.demo import generate
    from dagster_project.pipeline import run_pipeline

    landing, db_path = root / "landing", root / "warehouse.duckdb"
    generate(landing, users=400, days=E2E_DAYS, seed=7, end_date=E2E_END, malformed_rate=0.01)
    start = E2E_END - timedelta(days=E2E_DAYS - 1)
    with pointed_at(db_path, landing):
        prepare_manifest()
        result = run_pipeline(start, E2E_END)
    if not result.success:
        raise RuntimeError(f"the session warehouse's pipeline run failed: {result.failures}")


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """A few hundred generated users over three weeks, through ingest + dbt build, in one run.

    Built once per session under a file lock; a worker that finds it built (or a failure recorded by
    the worker that tried) does not build again.
    """
    root = shared_folder(tmp_path_factory, "session-warehouse")
    done, failed = root / "built", root / "failed.txt"
    with FileLock(root / "build.lock"):
        if failed.exists():
            pytest.fail(f"the session warehouse could not be built (by another worker): {failed.read_text()}")
        if not done.exists():
            try:
                _build_warehouse(root)
            except BaseException as exc:
                failed.write_text(f"{type(exc).__name__}: {exc}")
                raise
            done.write_text(_signature(root / "warehouse.duckdb"))
    landing = root / "landing"
    yield Warehouse(
        db_path=root / "warehouse.duckdb",
        landing=landing,
        manifest=json.loads((landing / "manifest.json").read_text()),
        start=E2E_END - timedelta(days=E2E_DAYS - 1),
        end=E2E_END,
    )
    if _signature(root / "warehouse.duckdb") != done.read_text():
        pytest.fail("a test wrote to the shared session warehouse; tests that write use Warehouse.copy_to")


# The destinations' credentials, unset for the shared CLI run: every destination runs dry.
CREDENTIALS = ("INTERCOM_ACCESS_TOKEN", "SLACK_BOT_TOKEN", "APPCUES_API_KEY", "APPCUES_ACCOUNT_ID",
               "APPCUES_API_SECRET", "CALENDLY_TOKEN", "CALENDLY_EVENT_TYPE", "SENDGRID_API_KEY",
               "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET", "MIXPANEL_PROJECT_TOKEN",
               "MIXPANEL_SERVICE_ACCOUNT_SECRET", "SEGMENT_WRITE_KEY")
# Two days already loaded, in the middle of the session warehouse's range: the catalog's tests compare
# each day's counts with the other's, and the pipeline's end-to-end test that a re-run of loaded days
# changes nothing compares the copy with the session warehouse (days after the window exist).
CLI_RUN_OFFSET, CLI_RUN_DAYS = 5, 2


@dataclass
class CliRun:
    """What `onboarding run --json` over two of the session warehouse's days printed, and where it wrote:
    a copy of the session warehouse (its own `logs/` beside it) and a Dagster home of its own (the
    project's SQLite dagster.yaml), so the run, its origin and its events can be read back."""

    db_path: Path
    home: Path
    start: date
    end: date
    exit_code: int
    stdout: str
    stderr: str

    @property
    def document(self) -> dict:
        return json.loads(self.stdout)

    @property
    def run_id(self) -> str:
        return self.document["run_id"]

    def connect(self):
        import duckdb

        return duckdb.connect(str(self.db_path), read_only=True)

    @contextmanager
    def instance(self) -> Iterator[object]:
        """The Dagster instance the run was recorded in (read it, do not add runs: tests count them)."""
        from dagster import DagsterInstance

        from dagster_project.core.settings import temporary_env

        # as Dagster's own processes read an instance: with DAGSTER_HOME naming it (the project's
        # dagster.yaml keeps its event logs under $DAGSTER_HOME/history/runs)
        with temporary_env({"DAGSTER_HOME": str(self.home)}), DagsterInstance.from_config(str(self.home)) as instance:
            yield instance


def _cli_run(root: Path, warehouse: Warehouse) -> dict:
    """`onboarding run --start <day> --as-of <day + 1> --json` in this process, as a person types it
    (the CLI's own settings resolution, progress display and closing document), into a copy of the
    session warehouse, every destination dry, with DAGSTER_HOME at a fresh home."""
    from typer.testing import CliRunner

    from dagster_project.cli import app
    from dagster_project.core.settings import temporary_env

    copy = warehouse.copy_to(root)
    home = root / "dagster_home"
    home.mkdir()
    shutil.copyfile(Path(__file__).resolve().parents[1] / "dagster_project" / "dagster.yaml", home / "dagster.yaml")
    start = warehouse.start + timedelta(days=CLI_RUN_OFFSET)
    end = start + timedelta(days=CLI_RUN_DAYS - 1)
    with copy.activate(), temporary_env({"DAGSTER_HOME": str(home), **dict.fromkeys(CREDENTIALS)}):
        result = CliRunner().invoke(app, ["run", "--start", start.isoformat(), "--as-of", end.isoformat(), "--json"])
    return {"db_path": str(copy.db_path), "home": str(home), "start": start.isoformat(),
            "end": end.isoformat(), "exit_code": result.exit_code, "stdout": result.stdout,
            "stderr": result.stderr + (f"\n{result.exception!r}" if result.exit_code and result.exception else "")}


@pytest.fixture(scope="session")
def cli_run(warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """One `onboarding run --json` for the whole session, built once under a file lock like `warehouse`
    and read-only for the tests: the CLI's, the code location's, the catalog's and the re-run tests all
    read it (one pipeline run instead of four)."""
    root = shared_folder(tmp_path_factory, "session-cli-run")
    done = root / "run.json"
    with FileLock(root / "build.lock"):
        if not done.exists():
            done.write_text(json.dumps(_cli_run(root, warehouse)))
    fields = json.loads(done.read_text())
    return CliRun(db_path=Path(fields["db_path"]), home=Path(fields["home"]), start=date.fromisoformat(fields["start"]),
                  end=date.fromisoformat(fields["end"]), exit_code=fields["exit_code"], stdout=fields["stdout"],
                  stderr=fields["stderr"])


def _signature(path: Path) -> str:
    """Size and modification time: enough to notice a write (DuckDB rewrites its header on checkpoint)."""
    info = path.stat()
    return f"{info.st_size}:{info.st_mtime_ns}"


def _uses_slow_fixture(item: pytest.Item) -> bool:
    """Whether the test resolves a fixture of SLOW_FIXTURES to the one defined in this file (the
    ai/ and sync/ folders define small fixtures of the same name that are not slow)."""
    definitions = getattr(item, "_fixtureinfo", None)
    if definitions is None:
        return False
    for name in SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
        chosen = definitions.name2fixturedefs.get(name, ())
        if chosen and chosen[-1].func.__module__ == __name__:
            return True
    return False


# Fixtures that start dbt (a parse or a build, 25-40 s on two cores before the first test runs): the
# AI steps' template warehouse and the reporting tests' dbt harness.
DBT_FIXTURES = {"dbt_template", "dbt_harness"}


# The files of the suite's longest tests, in the order `make test` hands them out (`--dist loadfile
# --no-loadscope-reorder`: a file is one unit, and a worker takes the next when it has two tests left).
# Why: the two workers should each start on a long chain and the short files fill in behind, never a
# worker waiting on the session warehouse's lock while the other builds it, nor a 6-minute file started
# last. The daemon's runs do not use the session warehouse: one worker starts there while the other
# builds the warehouse (the first file that needs it), then the warehouse's readers follow.
LONGEST_FIRST = (
    "tests/deploy/test_daemon_postgres.py",
    "tests/decisions/test_rules_e2e.py",
    "tests/ai/test_pipeline_llm.py",
    "tests/decisions/test_late_data_keys.py",
    "tests/test_pipeline_e2e.py",
    "tests/test_packaging.py",
    "tests/hostile/test_hostile_e2e.py",
    "tests/test_catalog.py",
    "tests/test_cli.py",
    "tests/test_definitions.py",
)


def _file_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::")[0]
    return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_slow_fixture(item) or DBT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    items.sort(key=_file_rank)  # stable: the other files, and the tests within a file, keep their order


@pytest.fixture
def standins() -> Iterator[object]:
    """The loopback stand-ins of every destination, started for one test (tests/standins)."""
    from tests.standins import start_all  # werkzeug and the schemas: only for the tests that use them

    servers = start_all()
    try:
        yield servers
    finally:
        servers.stop()
