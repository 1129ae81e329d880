"""Hand-made landing files: a few good lines and one file per malformed kind."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

DAY = date(2026, 11, 2)
DAY_MS = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp() * 1000)


def segment_track(
    message_id: str, event: str = "user.ran_query", user_id: str | None = "u1", **extra
) -> dict:
    call = {
        "type": "track",
        "event": event,
        "messageId": message_id,
        "anonymousId": "anon-1",
        "userId": user_id,
        "timestamp": "2026-11-02T10:00:00.000Z",
        "originalTimestamp": "2026-11-02T10:00:00.000Z",
        "sentAt": "2026-11-02T10:00:01.000Z",
        "receivedAt": "2026-11-02T10:00:01.200Z",
        "context": {"library": {"name": "analytics.js", "version": "4.1.0"}},
        "properties": {"n": 1},
    }
    call.update(extra)
    return call


def dumps(obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\n"


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    return tmp_path / "landing"


@pytest.fixture
def write_segment(landing: Path) -> Callable[[list[bytes], str, date], Path]:
    def write(lines: list[bytes], name: str = "1.a.gz", day: date = DAY) -> Path:
        folder_ms = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
        folder = landing / "segment" / "segment-logs" / "src1" / str(folder_ms)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(gzip.compress(b"".join(lines)))
        return path

    return write


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()
