"""Where things live, from the environment (the embedded defaults need no configuration at all).

`ONBOARDING_DB` and `ONBOARDING_LANDING` are resolved to absolute paths and exported, because dbt runs
as a subprocess in `dbt_project/` and must open the same DuckDB file as the Python side.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
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
    """The `dbt` beside this interpreter, so `.venv/bin/onboarding` works without an activated venv."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"
