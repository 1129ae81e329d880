"""Decompress a landing file's gzip members as a stream: keep what came before a fault, cap the size.

Why not one `zlib.decompressobj(wbits=31).decompress(data)` call per member (what the loader did):
a corrupt byte raises, and the call hands back nothing of the member, so one damaged byte cost the
whole file (20,000 lines -> one quarantine row; issue 15). Here each member is inflated in steps
(raw deflate; the gzip header and trailer are read here), so:

- an invalid deflate stream keeps every byte produced before the bad byte and says where it was
  (the step that failed is replayed byte by byte from a copy of the inflater taken before it);
- a checksum failure (the common outcome of a flipped bit: deflate decodes on, the CRC-32 at the
  end disagrees) keeps the member's bytes but marks where the damaged member starts, for the line
  splitter to decide which lines it can still trust (`lines.py`);
- the output is bounded (ONBOARDING_MAX_FILE_BYTES, the warehouse resource's `max_file_bytes`,
  given to `inflate` by the caller): a gzip bomb stops at the cap, in bounded memory, and becomes a
  quarantine record instead of an out-of-memory.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

# The setting is resolved with every other one (core/settings.py); named here for the messages.
from ..core.settings import DEFAULT_MAX_FILE_BYTES, MAX_FILE_BYTES_ENV

_STEP = 1 << 18  # compressed bytes per inflate call
_OUT_STEP = 1 << 24  # decompressed bytes per inflate call at most: bounds the overshoot past the cap

TRUNCATED = "truncated_gzip"
CORRUPT = "corrupt_gzip"
OVERSIZED = "oversized_file"


@dataclass(frozen=True)
class Fault:
    """Why the decompressed bytes stop short or cannot all be trusted.

    `trusted` is how many leading bytes of the output are known good: the whole output, except after
    a checksum failure, where it is where the damaged member's output starts.
    """

    code: str  # TRUNCATED, CORRUPT or OVERSIZED
    message: str  # the quarantine reason after `code: `
    trusted: int
    checksum: bool = False  # the member decoded to its end but fails its CRC-32 or length


@dataclass(frozen=True)
class Inflated:
    data: bytes
    fault: Fault | None = None


def _header_end(data: bytes, pos: int) -> int | None:
    """Where the member's deflate data starts; None if the header is cut off. ValueError if no header."""
    if len(data) - pos < 10:
        if not b"\x1f\x8b\x08".startswith(data[pos : pos + 3]):
            raise ValueError("no gzip header")
        return None
    if data[pos : pos + 3] != b"\x1f\x8b\x08":
        raise ValueError("no gzip header")
    flags = data[pos + 3]
    p = pos + 10
    if flags & 4:  # FEXTRA
        if len(data) - p < 2:
            return None
        p += 2 + int.from_bytes(data[p : p + 2], "little")
    for flag in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & flag:
            end = data.find(b"\x00", p)
            if end < 0:
                return None
            p = end + 1
    if flags & 2:  # FHCRC
        p += 2
    return p if p <= len(data) else None


def inflate(data: bytes, limit: int = DEFAULT_MAX_FILE_BYTES) -> Inflated:
    """Every gzip member of `data`, decompressed, up to the first fault (see the module docstring);
    `limit` is the run's `max_file_bytes`."""
    out: list[bytes] = []
    size = 0
    pos = 0
    n = len(data)

    def stop(code: str, message: str, trusted: int | None = None, checksum: bool = False) -> Inflated:
        return Inflated(b"".join(out), Fault(code, message, size if trusted is None else trusted, checksum))

    while True:
        if pos < n and data[pos] == 0:  # zero padding between members, as some writers leave
            pos = n - len(data[pos:].lstrip(b"\x00"))
        if pos >= n:
            return Inflated(b"".join(out))
        try:
            start = _header_end(data, pos)
        except ValueError:
            where = (
                "the file is not gzip" if pos == 0 else f"unexpected bytes after a gzip member, at byte {pos}"
            )
            return stop(CORRUPT, where + _unread(n - pos))
        if start is None:
            return stop(TRUNCATED, f"the file ends inside a gzip header at byte {pos}")
        member_out = size
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        crc = 0
        p = start
        while not inflater.eof:
            feed = data[p : p + _STEP]
            room = min(_OUT_STEP, limit - size + 1)
            saved = inflater.copy()
            try:
                piece = inflater.decompress(feed, room)
            except zlib.error as exc:
                good, bad_at = _replay(saved, feed, limit - size + 1)
                out.append(good)
                size += len(good)
                return stop(
                    CORRUPT,
                    f"invalid compressed data at byte {p + bad_at:,} of the file ({exc}), after {size:,} "
                    "decompressed bytes" + _unread(n - p - bad_at),
                )
            p += len(feed) - len(inflater.unconsumed_tail) - len(inflater.unused_data)
            out.append(piece)
            size += len(piece)
            crc = zlib.crc32(piece, crc)
            if size > limit:
                out.clear()
                return Inflated(
                    b"",
                    Fault(
                        OVERSIZED,
                        f"decompresses to more than {limit:,} bytes ({MAX_FILE_BYTES_ENV}); the file was not "
                        "loaded (a gzip bomb, or raise the limit and load the day again)",
                        0,
                    ),
                )
            if not piece and not feed and not inflater.eof:
                return stop(TRUNCATED, f"the gzip stream ends early, after {size:,} decompressed bytes")
        if n - p < 8:
            return stop(
                TRUNCATED, f"the gzip stream ends before its checksum, after {size:,} decompressed bytes"
            )
        expected_crc = int.from_bytes(data[p : p + 4], "little")
        expected_size = int.from_bytes(data[p + 4 : p + 8], "little")
        if crc != expected_crc or (size - member_out) & 0xFFFFFFFF != expected_size:
            return stop(
                CORRUPT,
                f"the gzip member at byte {pos:,} fails its checksum: a byte in it is damaged, where is "
                "unknown" + _unread(n - p - 8),
                trusted=member_out,
                checksum=True,
            )
        pos = p + 8


def _replay(inflater: zlib._Decompress, feed: bytes, room: int) -> tuple[bytes, int]:
    """The output `feed` gives before its bad byte, and that byte's offset in `feed` (a rare path)."""
    out: list[bytes] = []
    produced = 0
    for i in range(len(feed)):
        try:
            piece = inflater.decompress(feed[i : i + 1])
        except zlib.error:
            return b"".join(out), i
        out.append(piece)
        produced += len(piece)
        if produced >= room:
            break
    return b"".join(out), len(feed)


def _unread(count: int) -> str:
    return f"; the {count:,} compressed bytes from there were not read" if count > 0 else ""
