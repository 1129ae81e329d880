"""The ingest under faults (issue 15, items 10-12): damaged gzip, gzip bombs, misplaced and missing files."""

from __future__ import annotations

import gzip
import json
import zlib

from dagster_project.ingest.inflate import CORRUPT, OVERSIZED, TRUNCATED, inflate
from dagster_project.ingest.load import load_day

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


def test_a_gzip_bomb_is_quarantined_with_its_reason_and_the_rest_of_the_day_loads(
    con, landing, write_segment, monkeypatch
):
    monkeypatch.setenv("ONBOARDING_MAX_FILE_BYTES", str(2**20))
    write_segment([json.dumps(segment_track("good")).encode() + b"\n"], name="1.a.gz")
    bomb = write_segment([], name="2.bomb.gz")
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(2**20)
    bomb.write_bytes(b"".join(packer.compress(zeros) for _ in range(64)) + packer.flush())  # 64 MB inside
    assert bomb.stat().st_size < 2**20

    stats = load_day(con, landing, "segment", DAY)

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


def test_an_oversized_plain_file_is_not_read(con, landing, monkeypatch):
    monkeypatch.setenv("ONBOARDING_MAX_FILE_BYTES", "100")
    folder = landing / "signups"
    folder.mkdir(parents=True)
    (folder / f"{DAY.isoformat()}.jsonl").write_bytes(b'{"uid": "x"}\n' * 20)
    stats = load_day(con, landing, "signups", DAY)
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
