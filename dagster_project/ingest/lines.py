"""Turn a landing file into numbered text lines, without ever raising on bad bytes.

Decoding happens here (in bulk, not per field) so that the JSON work can happen in DuckDB, vectorised:
a file is decompressed in one go (all gzip members, tolerating a truncated last member) and split on
newlines into Arrow arrays. Lines that cannot even be decoded come back as rejects with their reason,
ready for `raw.quarantine`.

Why Arrow buffers and not Python strings: a valid UTF-8 file (the common case) becomes one string
array whose data is the file's bytes without the newlines and whose offsets come from numpy, with no
Python object per line (5x faster than splitting into `str`s and converting them, and the lines are
held once, not twice). And no `pa.array(...)`: its first call imports pandas (~45 MB and 0.45 s) into
the load child, which has no other use for it (`ingest/arrow.py`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrow import int_array, string_array, to_mask

RAW_TEXT_LIMIT = 2000
NEWLINE = 10


@dataclass
class FileLines:
    """The decodable non-blank lines of a file (1-based numbers) and the lines rejected before parsing."""

    numbers: pa.Array = field(default_factory=lambda: int_array(np.empty(0, dtype=np.int64)))
    texts: pa.Array = field(default_factory=lambda: string_array([]))
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # (line, raw_text, reason)

    @property
    def line_count(self) -> int:
        return len(self.numbers) + len(self.rejects)


def decompress_gzip(data: bytes) -> tuple[bytes, bool]:
    """All gzip members of `data`; the flag says the stream ended early (truncated or corrupt)."""
    out: list[bytes] = []
    rest = data
    while rest:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out.append(inflater.decompress(rest))
        except zlib.error:
            return b"".join(out), True
        if not inflater.eof:
            return b"".join(out), True
        rest = inflater.unused_data.lstrip(b"\x00")
    return b"".join(out), False


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


def read_file_lines(path: Path) -> FileLines:
    """Lines of a landing file; a truncated gzip stream gives one reject for its incomplete tail."""
    raw = path.read_bytes()
    truncated = False
    if path.name.endswith(".gz"):
        raw, truncated = decompress_gzip(raw)
    result = FileLines()
    tail = b""
    if truncated:
        cut = raw.rfind(b"\n") + 1
        raw, tail = raw[:cut], raw[cut:]
    split = _split_valid(raw)
    if split is None:
        _split_per_line(raw, result)
    else:
        result.texts, result.numbers = split
    if truncated:
        result.rejects.append(
            (
                raw.count(b"\n") + 1,
                _cut(tail.decode("utf-8", errors="replace")),
                "truncated_gzip: the gzip stream ends early; this incomplete last line was not loaded",
            )
        )
    return result
