"""The AI assets' child: `run_step` runs one AI step in a child process (see `child.py`).

The step's log lines and its result (the asset metadata and notes) come back as messages. Calls, the
cache and the rows it writes are the step's own business, in the child as they were in process; the
child inherits OPENAI_* and the DuckDB settings from the environment.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.child import Emit, run_child, serve

# asset name -> the step function, imported in the child only (the parent needs neither it nor openai)
STEPS = {
    "track_assignments": "dagster_project.ai.journey:assign_tracks",
    "playbooks": "dagster_project.ai.playbook:generate_playbooks",
    "feedback_themes": "dagster_project.ai.themes:classify_feedback",
}


def run_step(step: str, db: Path, log: Callable[[str], None]) -> tuple[dict[str, Any], list[str]]:
    """Run `step` on warehouse `db` in a child; returns (metadata, notes), logging as it goes."""
    result: dict[str, Any] | None = None
    for message in run_child(__name__, {"step": step, "db": str(db)}):
        if "log" in message:
            log(message["log"])
        else:
            result = message
    if result is None:
        raise RuntimeError(f"AI step {step} ended without a result")
    return result["metadata"], result["notes"]


def _run(request: dict[str, Any], emit: Emit) -> None:
    from dagster_project.core import warehouse

    from .client import LLMSettings

    module, name = STEPS[request["step"]].split(":")
    step = getattr(importlib.import_module(module), name)
    settings = LLMSettings.from_env()
    emit({"log": settings.describe()})
    con = warehouse.connect(Path(request["db"]))
    try:
        stats = step(con, settings=settings, log=lambda text: emit({"log": text}))
    finally:
        con.close()
    emit({"metadata": stats.metadata(), "notes": stats.notes})


if __name__ == "__main__":
    serve(_run)
