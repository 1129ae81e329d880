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


def _name(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [Path(a.decode(errors="replace")).name for a in argv[:3] if a]
    return " ".join(words)[:60]


def tree_rss(root: int) -> dict[int, int]:
    """RSS in bytes of every process of the tree rooted at `root`, by pid."""
    sizes: dict[int, int] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            sizes[pid] = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        stack.extend(_children(pid))
    return sizes


def tree_rss_bytes(root: int) -> int:
    return sum(tree_rss(root).values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--cwd", default=None)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    peak = 0
    peak_at = 0.0
    peak_processes: list[dict[str, object]] = []
    started = time.monotonic()
    with open(args.log, "w") as log:
        process = subprocess.Popen(
            command, cwd=args.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        done = threading.Event()

        def sample() -> None:
            # Which processes made up the peak, and when, says where to look for memory savings.
            nonlocal peak, peak_at, peak_processes
            while not done.wait(0.1):
                sizes = tree_rss(process.pid)
                total = sum(sizes.values())
                if total > peak:
                    peak, peak_at = total, time.monotonic() - started
                    peak_processes = [
                        {"pid": pid, "rss_mb": round(rss / 2**20, 1), "process": _name(pid)}
                        for pid, rss in sorted(sizes.items(), key=lambda item: -item[1])
                    ]

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
        "tree_peak_at_s": round(peak_at, 1),
        "tree_peak_processes": peak_processes,
        "load_average_end": round(os.getloadavg()[0], 1),
    }
    Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
