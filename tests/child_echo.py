"""A step child for tests/test_child.py: echoes its request and environment, or fails on request."""

import os
import sys
from typing import Any

from dagster_project.core.child import Emit, serve


def _echo(request: dict[str, Any], emit: Emit) -> None:
    print("stray output of a library")  # must not break the protocol on stdout
    sys.stderr.write("w" * request.get("stderr_bytes", 0))  # e.g. a warning per row
    emit({"progress": 1})
    if request.get("fail"):
        raise ValueError("asked to fail")
    emit({"request": request, "tunables": os.environ.get("GLIBC_TUNABLES")})


if __name__ == "__main__":
    serve(_echo)
