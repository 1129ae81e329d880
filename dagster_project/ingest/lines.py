"""Turn a landing file into numbered text lines, without ever raising on bad bytes.

Decoding happens here (in bulk, not per field) so that the JSON work can happen in DuckDB, vectorised:
a file is decompressed (all gzip members, streamed by `inflate.py`, which keeps what precedes a fault
and caps the size) and split on newlines into Arrow arrays. Lines that cannot even be decoded come back as rejects with their reason,
ready for `raw.quarantine`.

Why Arrow buffers and not Python strings: a valid UTF-8 file (the common case) becomes one string
array whose data is the file's bytes without the newlines and whose offsets come from numpy, with no
Python object per line (5x faster than splitting into `str`s and converting them, and the lines are
held once, not twice). And no `pa.array(...)`: its first call imports pandas (~45 MB and 0.45 s) into
the load child, which has no other use for it (`ingest/arrow.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrow import int_array, string_array, to_mask
from .inflate import DEFAULT_MAX_FILE_BYTES, MAX_FILE_BYTES_ENV, OVERSIZED, TRUNCATED, Fault, inflate
from .landing import LandingFile

RAW_TEXT_LIMIT = 2000
NEWLINE = 10


@dataclass
class FileLines:
    """The decodable non-blank lines of a file (1-based numbers) and the lines rejected before parsing."""

    numbers: pa.Array = field(default_factory=lambda: int_array(np.empty(0, dtype=np.int64)))
    texts: pa.Array = field(default_factory=lambda: string_array([]))
    # (line, raw_text, reason); line None: a record about the file, not one of its lines
    rejects: list[tuple[int | None, str, str]] = field(default_factory=list)

    @property
    def line_count(self) -> int:
        return len(self.numbers) + sum(1 for line, _, _ in self.rejects if line is not None)


def _cut(text: str) -> str:
    return text[:RAW_TEXT_LIMIT]


def _non_blank(texts: pa.Array, numbers: np.ndarray, empty: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Drop empty and whitespace-only lines (`utf8_is_space` is false for the empty string).

    The masks stay in numpy: a Python scalar in a compute call (`pc.equal(x, 0)`) would go through
    `pa.scalar` and import pandas (`ingest/arrow.py`).
    """
    if len(empty) and empty[-1]:  # what follows the file's last newline: a slice, not a copy
        texts, numbers, empty = texts.slice(0, len(texts) - 1), numbers[:-1], empty[:-1]
    blank = empty | to_mask(pc.utf8_is_space(texts))
    if not blank.any():
        return texts, int_array(numbers)  # the common case: no copy
    keep = np.flatnonzero(~blank)
    return texts.take(int_array(keep)), int_array(numbers[keep])


def _split_valid(raw: bytes) -> tuple[pa.Array, pa.Array] | None:
    """Every line of `raw` as one string array; None if `raw` is not valid UTF-8.

    Line i is raw[start_i:end_i], where start_i follows the (i-1)th newline. With the newlines taken
    out of the data, line i starts at start_i - i: the offsets are one numpy expression.
    """
    newlines = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == NEWLINE)
    starts = np.empty(len(newlines) + 2, dtype=np.int64)
    starts[0] = 0
    starts[1:-1] = newlines + 1
    starts[-1] = len(raw) + 1
    offsets = starts - np.arange(len(starts), dtype=np.int64)
    data = raw.replace(b"\n", b"")
    texts = pa.LargeStringArray.from_buffers(len(starts) - 1, pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        texts.validate(full=True)  # checks the UTF-8
    except pa.ArrowInvalid:
        return None
    return _non_blank(texts, np.arange(1, len(starts), dtype=np.int64), np.diff(offsets) == 0)


def _split_per_line(raw: bytes, result: FileLines) -> None:
    """The rare file with invalid UTF-8: each line is decoded on its own and the bad ones rejected."""
    numbers: list[int] = []
    texts: list[str] = []
    for number, chunk in enumerate(raw.split(b"\n"), start=1):
        try:
            line = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            result.rejects.append(
                (
                    number,
                    _cut(chunk.decode("utf-8", errors="replace")),
                    f"invalid_utf8: byte 0x{chunk[exc.start]:02x} at offset {exc.start} is not UTF-8",
                )
            )
            continue
        numbers.append(number)
        texts.append(line)
    result.texts, result.numbers = _non_blank(
        string_array(texts), np.array(numbers, dtype=np.int64), np.array([not t for t in texts], dtype=bool)
    )


def read_file_lines(file: Path | LandingFile, limit: int = DEFAULT_MAX_FILE_BYTES) -> FileLines:
    """Lines of a landing file, and a reject for whatever of it cannot be loaded (`inflate.py`).

    `file` is a local path or a listed `LandingFile` (a local file or an object in a bucket: read the
    same way, whole, its size taken from the listing). A stream that stops early (truncated, or
    invalid compressed data) keeps its complete lines and rejects the incomplete tail; a file over
    `limit` (the run's max_file_bytes) is one file-level record (line None); a member failing its
    checksum is handled by `_split_damaged`.
    """
    result = FileLines()
    if file.name.endswith(".gz"):
        inflated = inflate(file.read_bytes(), limit)
        raw, fault = inflated.data, inflated.fault
    elif (size := file.stat().st_size if isinstance(file, Path) else file.size) > limit:
        raw, fault = (
            b"",
            Fault(OVERSIZED, f"{size:,} bytes, more than {limit:,} ({MAX_FILE_BYTES_ENV}); not loaded", 0),
        )
    else:
        raw, fault = file.read_bytes(), None
    if fault is not None and fault.code == OVERSIZED:
        result.rejects.append((None, "", f"{fault.code}: {fault.message}"))
        return result
    if fault is not None and fault.checksum:
        raw = _split_damaged(raw, fault, result)
        _split(raw, result)
        return result
    tail = b""
    if fault is not None:
        cut = raw.rfind(b"\n") + 1
        raw, tail = raw[:cut], raw[cut:]
    _split(raw, result)
    if fault is not None:
        # A truncated stream's row is kept even when the cut fell on a newline (one row per cut file).
        line: int | None = raw.count(b"\n") + 1
        if tail or fault.code == TRUNCATED:
            reason = f"{fault.code}: {fault.message}; this incomplete last line was not loaded"
        else:  # nothing after the last complete line: a record about the file
            reason, line = f"{fault.code}: {fault.message}", None
        result.rejects.append((line, _cut(tail.decode("utf-8", errors="replace")), reason))
    return result


def _split(raw: bytes, result: FileLines) -> None:
    split = _split_valid(raw)
    if split is None:
        _split_per_line(raw, result)
    else:
        result.texts, result.numbers = split


def _is_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:  # invalid UTF-8 or JSON
        return False


def _split_damaged(raw: bytes, fault: Fault, result: FileLines) -> bytes:
    """A gzip member failed its checksum: some byte of its output is wrong, and gzip cannot say which.

    A damaged deflate stream mostly decodes to garbage from the damage on, so the member's lines are
    kept up to the first that is not a JSON object (where the damage shows) and every line from there
    is rejected with the reason; if every line parses, they are all kept and one file-level record
    says the member was damaged (a changed byte inside a value cannot be told apart). Returns the bytes
    to split as usual.
    """
    begin = raw.rfind(b"\n", 0, fault.trusted) + 1  # the start of the line the damaged member starts in
    line = raw.count(b"\n", 0, begin) + 1
    offset = begin
    for chunk in raw[begin:].split(b"\n"):
        if chunk.strip() and not _is_object(chunk):
            break
        offset += len(chunk) + 1
        line += 1
    else:
        result.rejects.append(
            (
                None,
                "",
                f"{fault.code}: {fault.message}; every line of it parsed and was loaded, but one may "
                "hold a damaged byte: load the day again from a good copy of the file",
            )
        )
        return raw
    first = line
    for chunk in raw[offset:].split(b"\n"):
        if chunk.strip():
            result.rejects.append(
                (
                    line,
                    _cut(chunk.decode("utf-8", errors="replace")),
                    f"{fault.code}: {fault.message}; line {first} is the first of the member that does not "
                    "parse, so it and every line after it were not loaded",
                )
            )
        line += 1
    return raw[:offset]
