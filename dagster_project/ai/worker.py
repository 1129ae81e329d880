"""The AI assets' child: `run_step` runs one AI step in a child process (see `child.py`).

The step's log lines and its result (the asset metadata and notes) come back as messages. Calls, the
cache and the rows it writes are the step's own business, in the child as they were in process. The
run's settings (the `llm` resource's, the warehouse's memory limit and lock wait) travel in the request
on the child's stdin, never on its command line or in a log: the child resolves no environment.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.child import Emit, run_child, serve
from ..core.settings import Settings
from .client import LLMSettings

# asset name -> the step function, imported in the child only (the parent needs neither it nor openai)
STEPS = {
    "track_assignments": "dagster_project.ai.journey:assign_tracks",
    "playbooks": "dagster_project.ai.playbook:generate_playbooks",
    "feedback_themes": "dagster_project.ai.themes:classify_feedback",
}


def run_step(
    step: str, warehouse: Settings, llm: LLMSettings, log: Callable[[str], None]
) -> tuple[dict[str, Any], list[str]]:
    """Run `step` on the settings' warehouse in a child; returns (metadata, notes), logging as it goes."""
    result: dict[str, Any] | None = None
    request = {
        "step": step,
        "db": str(warehouse.db_path),
        "memory_limit": warehouse.memory_limit,
        "lock_timeout": warehouse.lock_timeout,
        "llm": llm.as_request(),
    }
    for message in run_child(__name__, request):
        if "log" in message:
            log(message["log"])
        else:
            result = message
    if result is None:
        raise RuntimeError(f"AI step {step} ended without a result")
    return result["metadata"], result["notes"]


def _run(request: dict[str, Any], emit: Emit) -> None:
    from dagster_project.core import warehouse

    module, name = STEPS[request["step"]].split(":")
    step = getattr(importlib.import_module(module), name)
    settings = LLMSettings.from_request(request["llm"])
    emit({"log": settings.describe()})
    db = Path(request["db"])
    connection = Settings(db_path=db, memory_limit=request["memory_limit"], lock_timeout=request["lock_timeout"])
    con = warehouse.connect(db, settings=connection)
    try:
        stats = step(con, settings=settings, log=lambda text: emit({"log": text}))
    finally:
        con.close()
    emit({"metadata": stats.metadata(), "notes": stats.notes})


if __name__ == "__main__":
    serve(_run)
