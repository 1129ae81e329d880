"""The loaders on hand-made files: every malformed kind, dedupe, idempotency, the non-Segment sources."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from dagster_project.ingest import load as load_module
from dagster_project.ingest.inflate import inflate
from dagster_project.ingest.lines import read_file_lines
from dagster_project.ingest.load import begin_bulk, end_bulk, load_batch, load_day, load_many, read_day

from .conftest import DAY, dumps, segment_track


def reasons(con) -> list[tuple[int, str]]:
    return con.execute(
        "select _line, split_part(reason, ':', 1) from raw.quarantine order by _file, _line"
    ).fetchall()


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b'{"type": "track", "event": \n', "invalid_json"),
        (b"[1, 2, 3]\n", "not_an_object"),
        (b'"just a string"\n', "not_an_object"),
        (dumps({k: v for k, v in segment_track("x").items() if k != "messageId"}), "missing_field"),
        (dumps(segment_track("x", user_id=None, anonymousId=None)), "missing_field"),
        (dumps(segment_track("x", event=None)), "missing_field"),
        (dumps(segment_track("x", timestamp="yesterday afternoon")), "bad_timestamp"),
        (dumps(segment_track("x", timestamp="2026-13-45T99:00:00Z")), "bad_timestamp"),
        (dumps(segment_track("x", timestamp="2099-01-01T00:00:00Z")), "future_timestamp"),
        (dumps(segment_track("x", properties="not an object")), "wrong_type"),
        (dumps(segment_track("x", event=42)), "wrong_type"),
        (dumps(segment_track("x", type="teleport")), "wrong_type"),
        (dumps(segment_track("x", padding="y" * 70_000)), "oversized"),
        (b'{"type": "track", "event": "caf\xe9"}\n', "invalid_utf8"),
    ],
)
def test_each_malformed_kind_is_quarantined_with_its_reason(con, write_segment, landing, line, code):
    write_segment([dumps(segment_track("good-1")), line, dumps(segment_track("good-2"))])
    stats = load_day(con, landing, "segment", DAY)
    assert (stats.lines, stats.loaded, stats.quarantined, stats.duplicates) == (3, 2, 1, 0)
    assert reasons(con) == [(2, code)]
    raw_text = con.execute("select raw_text from raw.quarantine").fetchone()[0]
    assert 0 < len(raw_text) <= 2000
    loaded = [
        r[0] for r in con.execute("select message_id from raw.segment_events order by _line").fetchall()
    ]
    assert loaded == ["good-1", "good-2"]


def test_truncated_gzip_keeps_complete_lines_and_quarantines_the_tail(con, landing, write_segment):
    path = write_segment([dumps(segment_track(f"m{i}")) for i in range(400)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    inflated = inflate(path.read_bytes())
    complete = inflated.data.count(b"\n")
    assert inflated.fault and inflated.fault.code == "truncated_gzip" and 0 < complete < 400
    stats = load_day(con, landing, "segment", DAY)
    assert stats.loaded == complete
    assert reasons(con) == [(complete + 1, "truncated_gzip")]


def test_concatenated_gzip_members_are_all_read(tmp_path: Path):
    path = tmp_path / "multi.gz"
    path.write_bytes(gzip.compress(b'{"a": 1}\n') + gzip.compress(b'{"a": 2}\n{"a": 3}\n'))
    lines = read_file_lines(path)
    assert lines.texts.to_pylist() == ['{"a": 1}', '{"a": 2}', '{"a": 3}']
    assert lines.numbers.to_pylist() == [1, 2, 3]
    assert lines.rejects == []


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"\n\n",
        b'{"a": 1}',
        b'{"a": 1}\n{"b": "caf\xc3\xa9 \xf0\x9f\x9a\x80"}\n',
        b'\n  \n\t\n{"a": 1}\r\n \n{"a": 2}\n\n',
        b'{"a": 1}\n{"bad": "\xe9"}\n\n{"a": 3}',
    ],
)
def test_lines_are_those_of_a_plain_python_split(tmp_path: Path, text: bytes):
    """The Arrow split (offsets from numpy, no Python string per line) gives what str.split gives."""
    path = tmp_path / "f.gz"
    path.write_bytes(gzip.compress(text))
    expected, rejected = [], []
    for number, chunk in enumerate(text.split(b"\n"), start=1):
        try:
            line = chunk.decode("utf-8")
        except UnicodeDecodeError:
            rejected.append(number)
            continue
        if line.strip():
            expected.append((number, line))
    lines = read_file_lines(path)
    assert list(zip(lines.numbers.to_pylist(), lines.texts.to_pylist(), strict=True)) == expected
    assert [number for number, _, _ in lines.rejects] == rejected


def test_the_load_child_does_not_import_pandas(tmp_path: Path, landing, write_segment):
    """pyarrow's `pa.array` would import pandas (~45 MB, 0.45 s) into every load child."""
    write_segment([dumps(segment_track("a")), b"not json\n", dumps(segment_track("b"))])
    script = (
        "import sys; from datetime import date; from pathlib import Path; "
        "from dagster_project.ingest.worker import _load_here; "
        f"stats = list(_load_here(Path({str(tmp_path / 'w.duckdb')!r}), Path({str(landing)!r}), "
        f"[('segment', date.fromisoformat({DAY.isoformat()!r}))])); "
        "print(stats[0].loaded, stats[0].quarantined, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "1", "False"]


def test_blank_lines_are_ignored_not_quarantined(con, landing, write_segment):
    write_segment([dumps(segment_track("a")), b"\n", b"   \n", dumps(segment_track("b"))])
    stats = load_day(con, landing, "segment", DAY)
    assert (stats.lines, stats.loaded, stats.quarantined) == (2, 2, 0)
    assert con.execute("select list(_line order by _line) from raw.segment_events").fetchone()[0] == [1, 4]


def test_duplicates_dropped_within_a_day_and_across_days(con, landing, write_segment):
    write_segment([dumps(segment_track("a")), dumps(segment_track("b")), dumps(segment_track("a"))])
    next_day = DAY + timedelta(days=1)
    write_segment([dumps(segment_track("b")), dumps(segment_track("c"))], day=next_day)
    first = load_day(con, landing, "segment", DAY)
    second = load_day(con, landing, "segment", next_day)
    assert (first.loaded, first.duplicates) == (2, 1)
    assert (second.loaded, second.duplicates) == (1, 1)
    rows = con.execute("select message_id, _partition_day from raw.segment_events order by 1").fetchall()
    assert rows == [("a", DAY), ("b", DAY), ("c", next_day)]


def test_read_ahead_loads_in_order_and_checkpoints_once(con, landing, write_segment):
    """load_many reads day n+1 while day n is in DuckDB; the earlier copy of a duplicate still wins."""
    days = [DAY + timedelta(days=i) for i in range(3)]
    for i, day in enumerate(days):
        write_segment([dumps(segment_track(k, user_id=f"u{i}")) for k in ("shared", f"own{i}")], day=day)
    begin_bulk(con)
    assert con.execute("select current_setting('checkpoint_threshold')").fetchone()[0] != "16.0 MiB"
    stats = list(load_many(con, landing, [("segment", d) for d in days]))
    end_bulk(con)
    assert [(s.day, s.loaded, s.duplicates) for s in stats] == [
        (days[0].isoformat(), 2, 0),
        (days[1].isoformat(), 1, 1),
        (days[2].isoformat(), 1, 1),
    ]
    assert con.execute("select user_id from raw.segment_events where message_id = 'shared'").fetchall() == [
        ("u0",)
    ]
    assert con.execute("select current_setting('checkpoint_threshold')").fetchone()[0] == "16.0 MiB"


def test_reloading_a_day_replaces_it(con, landing, write_segment):
    write_segment([dumps(segment_track("a")), b"oops\n", dumps(segment_track("b"))])
    load_day(con, landing, "segment", DAY)
    snapshot = con.execute("select message_id, _file, _line from raw.segment_events order by 1").fetchall()
    again = load_day(con, landing, "segment", DAY)
    assert (again.loaded, again.duplicates, again.quarantined) == (2, 0, 1)
    assert (
        con.execute("select message_id, _file, _line from raw.segment_events order by 1").fetchall()
        == snapshot
    )
    assert con.execute("select count(*) from raw.quarantine").fetchone()[0] == 1
    assert con.execute("select count(*) from raw.load_log").fetchone()[0] == 1


def test_rudderstack_shares_the_segment_table_and_dedupe(con, landing, write_segment):
    write_segment([dumps(segment_track("shared")), dumps(segment_track("seg-only"))])
    folder = landing / "rudderstack" / "rudder-logs" / "rs1" / DAY.strftime("%m-%d-%Y")
    folder.mkdir(parents=True)
    (folder / "1.rs1.json.gz").write_bytes(
        gzip.compress(dumps(segment_track("shared")) + dumps(segment_track("rs")))
    )
    load_day(con, landing, "segment", DAY)
    rs = load_day(con, landing, "rudderstack", DAY)
    assert (rs.loaded, rs.duplicates) == (1, 1)
    rows = con.execute("select message_id, source_system from raw.segment_events order by 1").fetchall()
    assert rows == [("rs", "rudderstack"), ("seg-only", "segment"), ("shared", "segment")]
    load_day(con, landing, "segment", DAY)  # re-loading Segment leaves RudderStack's rows alone
    assert con.execute("select count(*) from raw.segment_events").fetchone()[0] == 3


def write_plain(
    landing: Path, source: str, lines: list[bytes], suffix: str = ".jsonl", day: date = DAY
) -> None:
    folder = landing / source
    folder.mkdir(parents=True, exist_ok=True)
    data = b"".join(lines)
    name = f"{day.isoformat()}{suffix}"
    (folder / name).write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)


def mp(event: str, time: float | str, insert_id: str | None = "i1", distinct_id: str | None = "u1") -> bytes:
    props: dict = {"time": time, "mp_processing_time_ms": 1}
    if distinct_id is not None:
        props["distinct_id"] = distinct_id
    if insert_id is not None:
        props["$insert_id"] = insert_id
    return dumps({"event": event, "properties": props})


def test_mixpanel_seconds_and_milliseconds_and_exact_duplicates(con, landing):
    secs = 1793613600  # 2026-11-02T10:00:00Z
    write_plain(
        landing,
        "mixpanel",
        [
            mp("user.ran_query", secs, "a"),
            mp("user.ran_query", secs * 1000 + 250, "b"),
            mp("user.ran_query", secs, "a"),  # exact duplicate
            mp("user.ran_query", "yesterday", "c"),
            mp("user.ran_query", secs, "d", distinct_id=None),
            dumps({"event": "x", "properties": "nope"}),
        ],
        suffix=".jsonl.gz",
    )
    stats = load_day(con, landing, "mixpanel", DAY)
    assert (stats.loaded, stats.duplicates, stats.quarantined) == (2, 1, 3)
    rows = con.execute("select insert_id, time_ms, event_ts from raw.mixpanel_events order by 1").fetchall()
    assert rows[0][1] == secs * 1000 and rows[1][1] == secs * 1000 + 250
    assert str(rows[1][2]) == "2026-11-02 10:00:00.250000"
    assert [r[1] for r in reasons(con)] == ["wrong_type", "missing_field", "wrong_type"]


def test_signup_payloads_of_each_provider(con, landing):
    meta = {"plan": "trial", "utm_source": "google", "company_size": "11-50"}
    write_plain(
        landing,
        "signups",
        [
            dumps(
                {
                    "provider": "auth0",
                    "user": {
                        "user_id": "auth0|1",
                        "email": "a@x.io",
                        "name": "Ann",
                        "created_at": "2026-11-02T09:00:00.000Z",
                        "user_metadata": meta,
                    },
                }
            ),
            dumps(
                {
                    "type": "INSERT",
                    "table": "users",
                    "schema": "auth",
                    "old_record": None,
                    "record": {
                        "id": "0b6c",
                        "email": "b@x.io",
                        "created_at": "2026-11-02T09:30:00+00:00",
                        "raw_user_meta_data": {"name": "Bo", **meta},
                    },
                }
            ),
            dumps(
                {
                    "uid": "fb1",
                    "email": "c@x.io",
                    "displayName": None,
                    "metadata": {"creationTime": "Mon, 02 Nov 2026 11:00:00 GMT"},
                    "customClaims": meta,
                }
            ),
            dumps(
                {
                    "uid": "fb1",
                    "email": "c@x.io",
                    "displayName": None,
                    "metadata": {"creationTime": "Mon, 02 Nov 2026 11:00:00 GMT"},
                    "customClaims": meta,
                }
            ),
            dumps({"hello": "world"}),
        ],
    )
    stats = load_day(con, landing, "signups", DAY)
    assert (stats.loaded, stats.duplicates, stats.quarantined) == (3, 1, 1)
    rows = con.execute(
        "select provider, user_id, email, name, created_at, metadata->>'$.plan' from raw.signups order by 1"
    ).fetchall()
    assert [r[:4] for r in rows] == [
        ("auth0", "auth0|1", "a@x.io", "Ann"),
        ("firebase", "fb1", "c@x.io", None),
        ("supabase", "0b6c", "b@x.io", "Bo"),
    ]
    assert str(rows[1][4]) == "2026-11-02 11:00:00" and {r[5] for r in rows} == {"trial"}


def test_tickets_and_nps(con, landing):
    write_plain(
        landing,
        "tickets",
        [
            dumps(
                {
                    "ticket_id": "t1",
                    "user_id": "u1",
                    "status": "opened",
                    "occurred_at": "2026-11-02T08:00:00Z",
                }
            ),
            dumps(
                {
                    "ticket_id": "t1",
                    "user_id": "u1",
                    "status": "resolved",
                    "occurred_at": "2026-11-02T09:00:00Z",
                }
            ),
            dumps(
                {
                    "ticket_id": "t1",
                    "user_id": "u1",
                    "status": "resolved",
                    "occurred_at": "2026-11-02T09:00:00Z",
                }
            ),
            dumps(
                {
                    "ticket_id": "t2",
                    "user_id": "u1",
                    "status": "escalated",
                    "occurred_at": "2026-11-02T09:00:00Z",
                }
            ),
        ],
    )
    write_plain(
        landing,
        "nps",
        [
            dumps(
                {
                    "response_id": "r1",
                    "user_id": "u1",
                    "survey": "day_7",
                    "score": 3,
                    "comment": "confusing",
                    "submitted_at": "2026-11-02T08:00:00Z",
                }
            ),
            dumps(
                {
                    "response_id": "r2",
                    "user_id": "u1",
                    "survey": "day_7",
                    "score": "ten",
                    "submitted_at": "2026-11-02T08:00:00Z",
                }
            ),
            dumps(
                {
                    "response_id": "r3",
                    "user_id": "u1",
                    "survey": "day_7",
                    "score": 11,
                    "submitted_at": "2026-11-02T08:00:00Z",
                }
            ),
        ],
    )
    tickets = load_day(con, landing, "tickets", DAY)
    nps = load_day(con, landing, "nps", DAY)
    assert (tickets.loaded, tickets.duplicates, tickets.quarantined) == (2, 1, 1)
    assert (nps.loaded, nps.quarantined) == (1, 2)
    assert con.execute("select score, comment from raw.nps_responses").fetchall() == [(3, "confusing")]
    assert json.loads(json.dumps([r[1] for r in reasons(con)])) == ["wrong_type", "wrong_type", "wrong_type"]


def _all_rows(con) -> list[tuple]:
    return (
        con.execute(
            "select message_id, user_id, source_system, _partition_day, _file, _line from raw.segment_events order by all"
        ).fetchall()
        + con.execute(
            "select source, _partition_day, files, lines, loaded, duplicates, quarantined from raw.load_log order by all"
        ).fetchall()
        + con.execute("select source, _file, _line, reason from raw.quarantine order by all").fetchall()
    )


def _two_sources_three_days(landing, write_segment) -> list[tuple[str, date]]:
    days = [DAY + timedelta(days=i) for i in range(3)]
    for i, day in enumerate(days):
        write_segment(
            [dumps(segment_track("shared", user_id=f"seg{i}")), dumps(segment_track(f"s{i}")), b"{\n"],
            day=day,
        )
        folder = landing / "rudderstack" / "rudder-logs" / "rs1" / day.strftime("%m-%d-%Y")
        folder.mkdir(parents=True)
        (folder / "1.rs1.json.gz").write_bytes(
            gzip.compress(dumps(segment_track(f"s{i}", user_id="rs")) + dumps(segment_track(f"r{i}")))
        )
    return [(source, day) for day in days for source in ("segment", "rudderstack")]


def test_a_batch_gives_what_loading_item_by_item_gives(tmp_path, landing, write_segment, monkeypatch):
    """Segment and RudderStack, three days, duplicates across days and sources, bad lines: one batch,
    batches of one item, and load_day one by one all leave the same rows, stats and quarantine."""
    items = _two_sources_three_days(landing, write_segment)
    results = []
    for name, batch_bytes in (("one", 2**30), ("many", 1)):
        monkeypatch.setattr(load_module, "BATCH_BYTES", batch_bytes)
        with duckdb.connect(str(tmp_path / f"{name}.duckdb")) as c:
            stats = [
                (s.source, s.day, s.lines, s.loaded, s.duplicates, s.quarantined)
                for s in load_many(c, landing, items)
            ]
            results.append((stats, _all_rows(c)))
    with duckdb.connect(str(tmp_path / "by_day.duckdb")) as c:
        stats = [
            (s.source, s.day, s.lines, s.loaded, s.duplicates, s.quarantined)
            for s in (load_day(c, landing, source, day) for source, day in items)
        ]
        results.append((stats, _all_rows(c)))
    assert results[0] == results[1] == results[2]
    stats, rows = results[0]
    # the first copy wins: Segment's on the first day for "shared", Segment's before RudderStack's for s<i>
    assert stats[:2] == [
        ("segment", DAY.isoformat(), 3, 2, 0, 1),
        ("rudderstack", DAY.isoformat(), 2, 1, 1, 0),
    ]
    assert [r[:3] for r in rows if r[0] == "shared"] == [("shared", "seg0", "segment")]
    assert [r[:3] for r in rows if r[0] == "s1"] == [("s1", "u1", "segment")]


def test_a_batch_checks_each_line_against_its_own_landing_day(con, landing, write_segment):
    """The future-timestamp rule is relative to the line's landing day, not to the batch's first day."""
    later = DAY + timedelta(days=5)
    stamp = f"{later.isoformat()}T10:00:00.000Z"
    write_segment([dumps(segment_track("early", timestamp=stamp))], day=DAY)
    write_segment([dumps(segment_track("on-time", timestamp=stamp))], day=later)
    stats = list(load_many(con, landing, [("segment", DAY), ("segment", later)]))
    assert [(s.loaded, s.quarantined) for s in stats] == [(0, 1), (1, 0)]
    reason = con.execute("select reason from raw.quarantine").fetchone()[0]
    assert reason.startswith("future_timestamp")


def test_a_batch_is_one_raw_table_and_each_item_once(con, landing, write_segment):
    write_segment([dumps(segment_track("a"))])
    lines = read_day(landing, "segment", DAY)
    with pytest.raises(ValueError, match="one raw table"):
        load_batch(con, [("segment", DAY, lines), ("mixpanel", DAY, lines)])
    with pytest.raises(ValueError, match="once"):
        load_batch(con, [("segment", DAY, lines), ("segment", DAY, lines)])
