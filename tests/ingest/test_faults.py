"""The ingest under faults (issue 15, items 10-12): damaged gzip, gzip bombs, misplaced and missing files."""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import timedelta

import duckdb
import pytest

from dagster_project.core.child import ChildError
from dagster_project.core.settings import Settings
from dagster_project.ingest.inflate import CORRUPT, OVERSIZED, TRUNCATED, inflate
from dagster_project.ingest.load import load_day
from dagster_project.ingest.stats import LoadStats, UnplacedFile
from dagster_project.ingest.worker import run_loads

from .conftest import DAY, segment_track

N = 20_000


def numbered_lines(n: int = N) -> list[bytes]:
    """Distinct, realistic lines (random-looking ids and values compress like real exports)."""
    return [
        json.dumps(
            segment_track(
                f"m{i:05d}-{(i * 2654435761) % 2**32:08x}",
                user_id=f"u{i * 7919 % 997}",
                properties={"n": i * 104729 % 1_000_003},
            )
        ).encode()
        + b"\n"
        for i in range(n)
    ]


def loaded_rows(con) -> dict[str, str]:
    return dict(con.execute("select message_id, properties::varchar from raw.segment_events").fetchall())


def test_a_flipped_bit_keeps_the_lines_before_the_damage_and_records_the_rest(con, landing, write_segment):
    """One corrupt byte inside a single-member gzip: before, the whole file became one quarantine row."""
    lines = numbered_lines()
    path = write_segment(lines)
    data = bytearray(path.read_bytes())
    data[len(data) * 6 // 10] ^= 0x10
    path.write_bytes(bytes(data))

    stats = load_day(con, landing, "segment", DAY)

    rows = loaded_rows(con)
    originals = {json.loads(line)["messageId"]: json.loads(line) for line in lines}
    assert N // 2 < stats.loaded < N  # the lines before the damage (~60% of the file) are kept
    assert stats.loaded == len(rows)
    for message_id, properties in rows.items():  # and each of them is exactly what was sent
        assert json.loads(properties) == originals[message_id]["properties"]
    first_bad = con.execute(
        "select min(_line), count(*) from raw.quarantine where reason like 'corrupt_gzip:%'"
    ).fetchone()
    assert first_bad[0] == stats.loaded + 1 + (stats.quarantined - first_bad[1])
    reason = con.execute(
        "select any_value(reason) from raw.quarantine where reason like 'corrupt_gzip:%'"
    ).fetchone()[0]
    assert "fails its checksum" in reason and f"line {first_bad[0]} is the first" in reason
    assert stats.lines >= N - 1  # every line decompressed is loaded or quarantined


def test_invalid_deflate_data_keeps_everything_decompressed_before_it(con, landing, write_segment):
    """A stream that cannot be decoded past a byte: the output before that byte is kept, the offset named."""
    lines = numbered_lines(3000)
    body = b"".join(lines)
    packer = zlib.compressobj(0, zlib.DEFLATED, 31)  # stored blocks: a block header is easy to find and break
    data = bytearray(packer.compress(body) + packer.flush())
    first_len = int.from_bytes(data[11:13], "little")
    second = 10 + 5 + first_len
    data[second + 3] ^= 0xFF  # the second block's NLEN no longer complements its LEN
    path = write_segment([])
    path.write_bytes(bytes(data))

    inflated = inflate(bytes(data), 10**9)
    assert inflated.data == body[:first_len]
    assert inflated.fault and inflated.fault.code == CORRUPT and not inflated.fault.checksum
    at = int(inflated.fault.message.split("at byte ")[1].split(" ")[0].replace(",", ""))
    assert second <= at < second + 5  # the broken block header, where decoding stops

    stats = load_day(con, landing, "segment", DAY)
    complete = body[:first_len].count(b"\n")
    assert stats.loaded == complete
    ((line, reason),) = con.execute("select _line, reason from raw.quarantine").fetchall()
    assert line == complete + 1 and reason.startswith("corrupt_gzip: invalid compressed data at byte")


def test_a_gzip_bomb_is_quarantined_with_its_reason_and_the_rest_of_the_day_loads(con, landing, write_segment):
    write_segment([json.dumps(segment_track("good")).encode() + b"\n"], name="1.a.gz")
    bomb = write_segment([], name="2.bomb.gz")
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(2**20)
    bomb.write_bytes(b"".join(packer.compress(zeros) for _ in range(64)) + packer.flush())  # 64 MB inside
    assert bomb.stat().st_size < 2**20

    stats = load_day(con, landing, "segment", DAY, settings=Settings(max_file_bytes=2**20))

    assert (stats.files, stats.loaded, stats.lines) == (2, 1, 1)
    rows = con.execute("select _file, _line, reason from raw.quarantine").fetchall()
    assert len(rows) == 1 and rows[0][0].endswith("2.bomb.gz") and rows[0][1] is None
    assert rows[0][2].startswith(
        "oversized_file: decompresses to more than 1,048,576 bytes (ONBOARDING_MAX_FILE_BYTES)"
    )


def test_inflate_stops_at_the_cap_without_holding_the_whole_output():
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    data = b"".join(packer.compress(bytes(2**20)) for _ in range(64)) + packer.flush()
    inflated = inflate(data, 2**20)
    assert inflated.fault and inflated.fault.code == OVERSIZED and inflated.data == b""


def test_an_oversized_plain_file_is_not_read(con, landing):
    folder = landing / "signups"
    folder.mkdir(parents=True)
    (folder / f"{DAY.isoformat()}.jsonl").write_bytes(b'{"uid": "x"}\n' * 20)
    stats = load_day(con, landing, "signups", DAY, settings=Settings(max_file_bytes=100))
    assert stats.loaded == 0
    assert con.execute("select split_part(reason, ':', 1), _line from raw.quarantine").fetchall() == [
        ("oversized_file", None)
    ]


def test_a_truncated_stream_and_good_multi_member_files_read_as_before():
    body = b"".join(numbered_lines(500))
    whole = gzip.compress(body[:1000]) + b"\x00\x00" + gzip.compress(body[1000:])
    assert inflate(whole, 10**9).data == body and inflate(whole, 10**9).fault is None
    cut = inflate(whole[: len(whole) - 5000], 10**9)
    assert cut.fault and cut.fault.code == TRUNCATED and body.startswith(cut.data)


def test_a_file_that_is_not_gzip_is_recorded(con, landing, write_segment):
    path = write_segment([])
    path.write_bytes(b'{"type": "track"}\n')
    stats = load_day(con, landing, "segment", DAY)
    assert (stats.lines, stats.loaded) == (0, 0)
    ((line, reason),) = con.execute("select _line, reason from raw.quarantine").fetchall()
    assert line is None and reason.startswith("corrupt_gzip: the file is not gzip")


def test_a_day_whose_files_are_gone_is_not_emptied_by_a_rerun(tmp_path, landing, write_segment, monkeypatch):
    """Issue 15 item 10: re-running a day whose landing files are gone deleted its rows (50 -> 0)."""
    monkeypatch.delenv("ONBOARDING_ALLOW_EMPTY_RELOAD", raising=False)
    path = write_segment([json.dumps(segment_track(f"m{i}")).encode() + b"\n" for i in range(50)])
    db = tmp_path / "w.duckdb"
    assert [s.loaded for s in run_loads(db, landing, [("segment", DAY)])] == [50]
    path.unlink()

    with pytest.raises(
        ChildError, match=r"EmptyReloadError: segment 2026-11-02: the landing day has no files"
    ) as err:
        list(run_loads(db, landing, [("segment", DAY)]))
    assert "segment/segment-logs/src1/" in str(err.value) and "ONBOARDING_ALLOW_EMPTY_RELOAD=1" in str(
        err.value
    )
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from raw.segment_events").fetchone() == (50,)

    # A day that never had rows still loads empty (no files is no error), and the operator can empty one.
    assert [s.loaded for s in run_loads(db, landing, [("segment", DAY + timedelta(days=1))])] == [0]
    assert [s.loaded for s in run_loads(db, landing, [("segment", DAY)], allow_empty_reload=True)] == [0]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from raw.segment_events").fetchone() == (0,)


def test_files_that_belong_to_no_day_are_recorded_and_reported(tmp_path, landing, write_segment):
    """Issue 15 item 12: files with no readable date or at the wrong depth were skipped without a word."""
    write_segment([json.dumps(segment_track("a")).encode() + b"\n"])
    logs = landing / "segment" / "segment-logs"
    (logs / "src1" / "not-a-day").mkdir()
    (logs / "src1" / "not-a-day" / "1.b.gz").write_bytes(b"x")
    (logs / "src1" / "stray.gz").write_bytes(b"x")
    (landing / "signups").mkdir()
    (landing / "signups" / "latest.jsonl").write_bytes(b"{}\n")
    db = tmp_path / "w.duckdb"

    results = list(run_loads(db, landing, [("segment", DAY), ("signups", DAY)]))
    unplaced = {(r.source, r.file): r.why for r in results if isinstance(r, UnplacedFile)}
    assert set(unplaced) == {
        ("segment", "segment/segment-logs/src1/not-a-day/1.b.gz"),
        ("segment", "segment/segment-logs/src1/stray.gz"),
        ("signups", "signups/latest.jsonl"),
    }
    assert unplaced[("segment", "segment/segment-logs/src1/stray.gz")].startswith("at folder depth 3, not 4")
    assert unplaced[("signups", "signups/latest.jsonl")].startswith("no readable date in its name")
    assert [r.loaded for r in results if isinstance(r, LoadStats)] == [1, 0]

    def recorded() -> list[tuple]:
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute(
                "select _file, _partition_day, split_part(reason, ':', 1) from raw.quarantine order by 1"
            ).fetchall()

    assert [r[2] for r in recorded()] == ["unplaced_file"] * 3
    # Re-running is idempotent, and a file put in its place is no longer listed.
    (logs / "src1" / "stray.gz").unlink()
    list(run_loads(db, landing, [("segment", DAY)]))
    assert [r[0] for r in recorded()] == [
        "segment/segment-logs/src1/not-a-day/1.b.gz",
        "signups/latest.jsonl",
    ]
