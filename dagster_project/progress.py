"""The command line's progress: the assets' own log lines and step outcomes, without Dagster's chatter.

A module of its own so `definitions.py` (which registers the logger) and `pipeline.py` (which runs the
job and passes the sink) do not import each other.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from dagster import InitLoggerContext, logger

Progress = Callable[[str], None]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# dbt's own lines worth showing: a model or test that finished, and the closing tally.
_DBT_LINE = re.compile(r"^\d+ of \d+ (OK|ERROR|FAIL|WARN|SKIP)|^Done\. PASS=")
progress_sink: list[Progress] = []


class _ProgressHandler(logging.Handler):
    """Forwards the assets' own log lines and step outcomes; drops Dagster's event chatter."""

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", {}) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        if event is None:
            if record.levelno < logging.INFO or not progress_sink:
                return
            message = _ANSI.sub("", str(meta.get("orig_message", record.getMessage()))).strip()
            if step.startswith("dbt_") and not _DBT_LINE.search(message):
                return
            progress_sink[-1](message)
            return
        kind = event.event_type_value
        if kind in ("STEP_SUCCESS", "STEP_FAILURE") and progress_sink:
            status = "done" if kind == "STEP_SUCCESS" else "FAILED"
            progress_sink[-1](f"step {step}: {status}")


@logger(description="Concise progress for the command line.")
def progress_logger(_: InitLoggerContext) -> logging.Logger:
    log = logging.getLogger("onboarding.progress")
    log.setLevel(logging.INFO)
    if not any(isinstance(h, _ProgressHandler) for h in log.handlers):
        log.addHandler(_ProgressHandler())
    log.propagate = False
    return log
