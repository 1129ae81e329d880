"""Run one command and measure it from outside: wall time, CPU, peak memory.

    python -m bench.measure --out result.json --log output.txt -- command args...

Peak memory is reported two ways:
- `max_rss_mb`: `getrusage(RUSAGE_CHILDREN).ru_maxrss`, the high-water mark of the largest single
  process of the tree (the kernel's figure; `/usr/bin/time -v` reports the same number);
- `tree_peak_rss_mb`: the largest sum of the RSS of every process of the tree, sampled from /proc every
  100 ms (`onboarding run` runs dbt as a subprocess next to itself, so the sum is what the machine needs).

The child's output lines go to --log, each prefixed with seconds since the start, so step timings can
be read back from it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def tree_rss_bytes(root: int) -> int:
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        stack.extend(_children(pid))
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--cwd", default=None)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    peak = 0
    started = time.monotonic()
    with open(args.log, "w") as log:
        process = subprocess.Popen(
            command, cwd=args.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.1):
                peak = max(peak, tree_rss_bytes(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        assert process.stdout is not None
        for line in process.stdout:
            log.write(f"{time.monotonic() - started:9.2f} {line}")
        returncode = process.wait()
        wall = time.monotonic() - started
        done.set()
        sampler.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "command": command,
        "returncode": returncode,
        "wall_s": round(wall, 2),
        "user_s": round(usage.ru_utime, 2),
        "sys_s": round(usage.ru_stime, 2),
        "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "tree_peak_rss_mb": round(max(peak, usage.ru_maxrss * 1024) / 2**20, 1),
        "load_average_end": round(os.getloadavg()[0], 1),
    }
    Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
