"""Where things live, from the environment (the embedded defaults need no configuration at all).

`ONBOARDING_DB` and `ONBOARDING_LANDING` are resolved to absolute paths and exported, because dbt runs
as a subprocess in `dbt_project/` and must open the same DuckDB file as the Python side.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


@dataclass(frozen=True)
class Settings:
    db_path: Path
    landing: Path

    @classmethod
    def from_env(cls) -> Settings:
        db = Path(os.environ.get("ONBOARDING_DB", PROJECT_ROOT / "data" / "warehouse.duckdb"))
        landing = Path(os.environ.get("ONBOARDING_LANDING", PROJECT_ROOT / "data" / "landing"))
        return cls(db_path=db.expanduser().resolve(), landing=landing.expanduser().resolve())

    def export(self) -> Settings:
        """Make the resolved paths visible to subprocesses (dbt) and create the warehouse folder."""
        os.environ["ONBOARDING_DB"] = str(self.db_path)
        os.environ["ONBOARDING_LANDING"] = str(self.landing)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        return self


def dbt_executable() -> str:
    """The `dbt` of this environment, so `.venv/bin/onboarding` works without an activated venv.

    `sys.prefix` is the venv even when a subprocess (Dagster's code server) starts the interpreter by
    another path; the interpreter's folder and PATH are fallbacks.
    """
    for candidate in (Path(sys.prefix) / "bin" / "dbt", Path(sys.executable).with_name("dbt")):
        if candidate.exists():
            return str(candidate)
    return shutil.which("dbt") or "dbt"


def ensure_dbt_on_path() -> None:
    """Put this environment's bin folder first on PATH (for tools that look `dbt` up on PATH)."""
    bin_dir = str(Path(dbt_executable()).parent)
    if Path(bin_dir, "dbt").exists() and bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


@contextmanager
def temporary_env(values: Mapping[str, str | None]) -> Iterator[None]:
    """os.environ with `values` set (None: unset) for the block, as it was afterwards.

    For settings that reach a library or a process it starts only through the environment (Dagster's
    planned-events switch, the malloc setting dbt starts with, the LLM stand-in), so that nothing else
    this process starts later inherits them.
    """
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
