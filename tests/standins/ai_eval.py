"""`python -m tests.standins ai-eval`: the AI steps on a copy of the warehouse against the LLM stand-in.

Dev tooling, not product: it needs the stand-in (this folder, with the `dev` extra), so it lives here
rather than in `onboarding ai eval`, which reports on a warehouse as it is. The report is the same
`evaluate()` report, plus what the stand-in saw and what an immediate re-run costs (it should be 0).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.ai.evaluate import evaluate
from dagster_project.ai.journey import assign_tracks
from dagster_project.ai.playbook import generate_playbooks
from dagster_project.ai.tables import ensure_ai_tables
from dagster_project.ai.themes import classify_feedback
from dagster_project.core.settings import temporary_env
from dagster_project.resources import llm_settings
from tests.standins.llm import StandIn

AI_TABLES = ("track_assignments", "playbooks", "feedback_themes", "llm_calls", "llm_cache")


def evaluate_with_standin(db_path: Path) -> dict[str, Any]:
    """Copy the warehouse, clear its `ai` tables, run the three steps against the stand-in, report.

    A second pass over the same copy measures what a re-run costs (it should be 0 calls); the warehouse
    at `db_path` is only read.
    """
    steps = (assign_tracks, generate_playbooks, classify_feedback)
    with tempfile.TemporaryDirectory(prefix="ai-eval-") as tmp, StandIn() as server:
        # The same file name: dbt's views name the database after the file's stem.
        copy = Path(tmp) / Path(db_path).name
        shutil.copyfile(db_path, copy)
        with temporary_env({"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": None, "ONBOARDING_LLM_MODEL": None}):
            settings = llm_settings()
            con = duckdb.connect(str(copy))
            try:
                ensure_ai_tables(con)
                for table in AI_TABLES:
                    con.execute(f"delete from ai.{table}")
                for step in steps:
                    step(con, settings=settings)
                first_calls = len(server.requests)
                rerun = [step(con, settings=settings).calls.calls for step in steps]
                report = evaluate(con)
            finally:
                con.close()
    report["standin"] = {"model": settings.model, "http_requests": first_calls, "rerun_calls": sum(rerun)}
    return report
