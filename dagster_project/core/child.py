"""Run a step's heavy part in a short-lived child process, streaming its messages back.

Why: after a step's DuckDB work ends and its connection is closed, the process that ran it stays
~100-150 MB larger (DuckDB's and the libraries' native heap that glibc does not hand back, and the
library pages the work touched; `malloc_trim` returns ~10 MB; measured in docs/benchmarks.md,
section 2). The pipeline's own process lives through both dbt builds, next to dbt's process, so that
memory would sit in every run's peak. A child gives it all back when it exits, and costs ~0.3-1 s to
start (the ingest's child imports DuckDB and pyarrow, not Dagster).

Protocol: the parent writes one JSON request to the child's stdin (`python -m <module>`); the child
prints one JSON object per line on stdout (progress, log lines, results: the caller decides), and
exits 0. On an error it prints the traceback on stderr and exits 1; `run_child` raises it as
`ChildError`, after the messages already sent (which the caller has handled: a load item reported
is committed).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from dagster_project.core.warehouse import child_env

_STDERR_TAIL = 4000


class ChildError(RuntimeError):
    """A step's child process failed; the message ends with its stderr (the traceback)."""


def run_child(module: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Start `python -m module`, send it `request`, yield each JSON line it prints as it prints it.

    The child inherits the environment (ONBOARDING_DUCKDB_MEMORY_LIMIT, OPENAI_*, ...), plus the
    malloc setting of `dagster_project.core.warehouse.child_env`.
    """
    # stderr goes to a file, not a pipe: a child that writes more than a pipe holds there (warnings,
    # a library's output) while we read stdout would block forever.
    with (
        tempfile.TemporaryFile() as stderr,
        subprocess.Popen(
            [sys.executable, "-m", module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=child_env(),
        ) as child,
    ):
        assert child.stdin and child.stdout
        child.stdin.write(json.dumps(request))
        child.stdin.close()
        for line in child.stdout:
            if line.strip():
                yield json.loads(line)
        if child.wait() != 0:
            size = stderr.seek(0, 2)
            stderr.seek(max(0, size - _STDERR_TAIL))
            tail = stderr.read().decode(errors="replace")
            raise ChildError(f"{module} failed (exit {child.returncode}):\n{tail}")


Emit = Callable[[dict[str, Any]], None]


def serve(handler: Callable[[dict[str, Any], Emit], None]) -> None:
    """Child side: read the request, run `handler(request, emit)`, exit 0, or 1 with the traceback.

    stdout carries the protocol, so anything else the handler prints goes to stderr.
    """
    protocol = sys.stdout
    sys.stdout = sys.stderr

    def emit(message: dict[str, Any]) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    try:
        handler(json.load(sys.stdin), emit)
    except BaseException:  # everything reaches the parent as the exit status and the traceback
        traceback.print_exc()
        sys.exit(1)
    sys.exit(0)
