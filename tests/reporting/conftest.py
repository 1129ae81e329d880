"""A dbt harness for the reporting tests: the project parsed once, in process, into a temporary target.

`compile_inline` renders a query that calls the project's macros (the statistics are macros, so fixed
counts can be pushed through exactly the SQL the A/B report runs); `compile_model` renders a model, and
`seed` loads seeds into the harness's own DuckDB file, so a model can run on hand-made inputs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from dagster_project.core.settings import DBT_PROJECT_DIR


@dataclass
class DbtHarness:
    db_path: Path
    target: Path
    runner: object

    def _invoke(self, *args: str):
        saved = os.environ.get("ONBOARDING_DB")
        os.environ["ONBOARDING_DB"] = str(self.db_path)
        try:
            result = self.runner.invoke([*args, *_common_args(self.target)])
        finally:
            if saved is None:
                os.environ.pop("ONBOARDING_DB", None)
            else:
                os.environ["ONBOARDING_DB"] = saved
        assert result.success, result.exception
        return result

    def compile_inline(self, sql: str) -> str:
        return self._invoke("compile", "--inline", sql).result.results[0].node.compiled_code

    def compile_model(self, name: str) -> str:
        return self._invoke("compile", "--select", name).result.results[0].node.compiled_code

    def seed(self, *names: str) -> None:
        self._invoke("seed", "--select", *names)

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.db_path))


def _common_args(target: Path) -> list[str]:
    return [
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target / "target"),
        "--log-path", str(target / "logs"),
        "--quiet",
    ]  # fmt: skip


@pytest.fixture(scope="session")
def dbt_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtHarness]:
    from dbt.cli.main import dbtRunner

    root = tmp_path_factory.mktemp("dbt_harness")
    harness = DbtHarness(db_path=root / "harness.duckdb", target=root, runner=dbtRunner())
    manifest = harness._invoke("parse").result
    harness.runner = dbtRunner(manifest=manifest)
    yield harness
