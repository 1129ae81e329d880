"""The floor: DuckDB alone reading the landing files into memory (run as a child process).

    python -m bench.floor LANDING [--last-day YYYY-MM-DD]

Every source's files, the columns the ingest keeps (docs/data-contracts.md), JSON objects kept as
JSON, into in-memory tables; no validation, dedupe, lineage or persistence. Malformed lines are
skipped (`ignore_errors`). DuckDB's reader cannot skip a truncated gzip member, so the (few) files that
fail as a whole are read again line by line through Python's gzip, which counts against the floor.
Prints one JSON line: rows per source and seconds.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
import zlib
from datetime import date
from pathlib import Path

import duckdb

from dagster_project.ingest.files import iter_landing_files

TS = "varchar"
COLUMNS: dict[str, dict[str, str]] = {
    "segment": {
        "messageId": "varchar",
        "type": "varchar",
        "event": "varchar",
        "name": "varchar",
        "userId": "varchar",
        "anonymousId": "varchar",
        "timestamp": TS,
        "originalTimestamp": TS,
        "sentAt": TS,
        "receivedAt": TS,
        "context": "json",
        "properties": "json",
        "traits": "json",
    },
    "mixpanel": {"event": "varchar", "properties": "json"},
    "signups": {
        "provider": "varchar",
        "user": "json",
        "record": "json",
        "uid": "varchar",
        "email": "varchar",
        "displayName": "varchar",
        "metadata": "json",
        "customClaims": "json",
    },
    "tickets": {
        "ticket_id": "varchar",
        "user_id": "varchar",
        "status": "varchar",
        "occurred_at": TS,
        "subject": "varchar",
        "channel": "varchar",
    },
    "nps": {
        "response_id": "varchar",
        "user_id": "varchar",
        "survey": "varchar",
        "score": "varchar",
        "comment": "varchar",
        "submitted_at": TS,
    },
}
COLUMNS["rudderstack"] = COLUMNS["segment"]


def _struct(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"


def _salvage(path: Path) -> list[str]:
    """Lines of a file DuckDB refused (a truncated gzip member): whatever decompresses."""
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error):
            raw = zlib.decompressobj(wbits=31).decompress(raw)
    return raw.decode("utf-8", errors="replace").splitlines()


def read_all(landing: Path, last_day: date | None) -> dict[str, int]:
    con = duckdb.connect()
    rows: dict[str, int] = {}
    for source, columns in COLUMNS.items():
        files = [
            str(f.path) for f in iter_landing_files(landing, source) if last_day is None or f.day <= last_day
        ]
        if not files:
            continue
        struct = _struct(columns)

        def reader(paths: list[str], struct: str = struct) -> str:
            return (
                f"read_json({paths}, format = 'newline_delimited', columns = {struct}, "
                "ignore_errors = true, maximum_object_size = 1048576)"
            )

        try:
            con.execute(f"create table {source} as select * from " + reader(files))
        except duckdb.Error:
            # Read file by file; the files DuckDB cannot decompress go through Python.
            con.execute(f"create table {source} as select * from " + reader(files[:1]) + " limit 0")
            for f in files:
                try:
                    con.execute(f"insert into {source} select * from " + reader([f]))
                except duckdb.Error:
                    con.execute("create or replace temp table _lines (line varchar)")
                    con.executemany("insert into _lines values (?)", [[x] for x in _salvage(Path(f))])
                    casts = ", ".join(
                        f"try_cast(line ->> '$.{k}' as {v})" if v != "json" else f"line -> '$.{k}'"
                        for k, v in columns.items()
                    )
                    con.execute(f"insert into {source} select {casts} from _lines where json_valid(line)")
        rows[source] = con.execute(f"select count(*) from {source}").fetchone()[0]  # type: ignore[index]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("landing", type=Path)
    parser.add_argument("--last-day", type=date.fromisoformat, default=None)
    args = parser.parse_args(argv)
    started = time.monotonic()
    rows = read_all(args.landing, args.last_day)
    print(json.dumps({"rows": rows, "seconds": round(time.monotonic() - started, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
