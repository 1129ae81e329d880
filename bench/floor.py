"""The floor: DuckDB alone reading the landing files into memory (run as a child process).

    python -m bench.floor LANDING [--last-day YYYY-MM-DD]

Every source's files, the columns the ingest keeps (docs/data-contracts.md), JSON objects kept as
JSON, into in-memory tables; no validation, dedupe, lineage or persistence. Malformed lines are
skipped (`ignore_errors`). All files of a source are one DuckDB read (DuckDB decompresses and parses
them in parallel). DuckDB's reader cannot skip a truncated gzip member and then fails the whole read,
naming the file: that file is set aside, read line by line through Python's gzip (which counts against
the floor), and the one read is started again without it. Before issue 20 any such file sent the whole
source to a file-by-file read, which made the floor 83 s instead of ~40 s at 10 M.
Prints one JSON line: rows per source, the files read through Python, and seconds.
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


def _insert_salvaged(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str], path: Path) -> None:
    con.execute("create or replace temp table _lines (line varchar)")
    con.executemany("insert into _lines values (?)", [[x] for x in _salvage(path)])
    casts = ", ".join(
        f"try_cast(line ->> '$.{k}' as {v})" if v != "json" else f"line -> '$.{k}'" for k, v in columns.items()
    )
    con.execute(f"insert into {table} select {casts} from _lines where json_valid(line)")


def read_all(landing: Path, last_day: date | None) -> tuple[dict[str, int], list[str]]:
    con = duckdb.connect()
    rows: dict[str, int] = {}
    salvaged: list[str] = []
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

        con.execute(f"create table {source} as select * from " + reader(files[:1]) + " limit 0")
        readable = list(files)
        while readable:
            try:
                con.execute(f"insert into {source} select * from " + reader(readable))
                break
            except duckdb.Error as exc:
                bad = [f for f in readable if str(exc).rstrip().endswith(f)]
                if not bad:
                    raise
                readable.remove(bad[0])
                salvaged.append(bad[0])
                _insert_salvaged(con, source, columns, Path(bad[0]))
        rows[source] = con.execute(f"select count(*) from {source}").fetchone()[0]  # type: ignore[index]
    return rows, salvaged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("landing", type=Path)
    parser.add_argument("--last-day", type=date.fromisoformat, default=None)
    args = parser.parse_args(argv)
    started = time.monotonic()
    rows, salvaged = read_all(args.landing, args.last_day)
    seconds = round(time.monotonic() - started, 2)
    print(json.dumps({"rows": rows, "read_through_python": len(salvaged), "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
