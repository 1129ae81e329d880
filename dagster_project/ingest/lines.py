"""Turn a landing file into numbered text lines, without ever raising on bad bytes.

Decoding happens here (in bulk, not per field) so that the JSON work can happen in DuckDB, vectorised:
a file is decompressed in one go (all gzip members, tolerating a truncated last member), decoded as a
whole when it is valid UTF-8 (the common case), and split on newlines. Lines that cannot even be
decoded come back as rejects with their reason, ready for `raw.quarantine`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

RAW_TEXT_LIMIT = 2000


@dataclass
class FileLines:
    """The decodable lines of a file (1-based numbers) and the lines rejected before parsing."""

    numbers: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
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


def _split(raw: bytes, result: FileLines) -> None:
    """Numbered non-blank lines; invalid UTF-8 is looked for per line only when the file has some."""
    try:
        texts = raw.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        texts = None
    if texts is not None:
        for number, line in enumerate(texts, start=1):
            if line.strip():
                result.numbers.append(number)
                result.texts.append(line)
        return
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
        if line.strip():
            result.numbers.append(number)
            result.texts.append(line)


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
    _split(raw, result)
    if truncated:
        result.rejects.append(
            (
                raw.count(b"\n") + 1,
                _cut(tail.decode("utf-8", errors="replace")),
                "truncated_gzip: the gzip stream ends early; this incomplete last line was not loaded",
            )
        )
    return result
