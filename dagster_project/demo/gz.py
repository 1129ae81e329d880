"""gzip helpers: deterministic members, and the planted truncated stream with exact accounting.

Members are written with zlib (``wbits=31``: gzip header with mtime 0, no file name) so the same
input always gives the same bytes. A day file may hold several concatenated members (valid gzip:
readers must keep reading after the first member ends, as ``gzip.open`` and DuckDB do).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 1


def gz(data: bytes | memoryview, level: int = LEVEL) -> bytes:
    """One complete gzip member holding ``data``."""
    return gz_member([data], level)


def gz_member(pieces: Sequence[bytes | memoryview], level: int = LEVEL) -> bytes:
    """One gzip member holding the concatenation of ``pieces`` (streamed: no joined copy)."""
    c = zlib.compressobj(level, zlib.DEFLATED, 31)
    out = [c.compress(p) for p in pieces]
    out.append(c.flush())
    return b"".join(out)


@dataclass(frozen=True)
class Truncated:
    """A gzip stream cut mid-way, and what a reader recovers from it."""

    data: bytes  # the cut compressed bytes, written as-is
    complete_lines: int  # lines ending in '\n' a reader recovers (exact duplicates of loaded lines)
    tail: bytes  # the incomplete last line: exactly one quarantine row `truncated_gzip`


def recover(data: bytes) -> bytes:
    """What ``zlib.decompressobj(wbits=31)`` yields from a (possibly cut) single-member stream."""
    d = zlib.decompressobj(wbits=31)
    return d.decompress(data) + d.flush()


def truncate(lines: list[bytes], rng: np.random.Generator) -> Truncated:
    """Compress ``lines`` (each ending in '\\n') and cut the stream so that the recovered tail is a
    non-empty, valid-UTF-8, unparseable prefix of a line. Those conditions make the tail classify
    as truncated_gzip and nothing else, whatever order a loader checks other rules in."""
    body = b"".join(lines)
    full = gz(body)
    for attempt in range(400):
        # mid-stream first; tiny streams (a handful of lines) may need the wider range
        lo, hi = (0.35, 0.9) if attempt < 200 else (0.05, 0.98)
        cut = int(len(full) * rng.uniform(lo, hi))
        out = recover(full[:cut])
        if len(out) >= len(body):
            continue
        nl = out.rfind(b"\n")
        tail = out[nl + 1 :]
        if not tail.strip() or b"\n" in tail:
            continue
        try:
            tail.decode("utf-8")
        except UnicodeDecodeError:
            continue
        try:
            json.loads(tail)
        except ValueError:
            return Truncated(full[:cut], out.count(b"\n"), tail)
    raise RuntimeError("could not find a clean truncation point")  # pragma: no cover
