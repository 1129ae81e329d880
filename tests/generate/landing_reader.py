"""An independent, deliberately naive reader of the landing files (stdlib only, line by line).

It re-implements docs/data-contracts.md sections 1-2 from the text of the contract, not from the
generator's code, so the tests can check the manifest's ground truth against what a contract-
following loader would see: per-line classification in the contract's order, dedupe keys, landing
days from paths, multi-member gzip, and the truncated-gzip rule.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

MAX_LINE_BYTES = 65_536
SEGMENT_TYPES = {"track", "identify", "page", "screen", "group", "alias"}
DAY = timedelta(days=1)


@dataclass
class Counts:
    files: int = 0
    lines: int = 0
    unique: int = 0
    duplicates: int = 0
    malformed: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)

    def as_day(self) -> dict[str, int]:
        return {"files": self.files, "lines": self.lines, "unique": self.unique,
                "duplicates": self.duplicates, "malformed": self.malformed}  # fmt: skip


@dataclass
class Landing:
    totals: dict[str, Counts]
    by_day: dict[str, dict[str, Counts]]
    rows: dict[str, list[tuple[str, date, dict[str, Any]]]]  # source -> (source, day, parsed object)
    truncated: list[tuple[str, Path, int]]  # (source, file, recovered complete lines)


class Bad(Exception):
    """A quarantined line; ``args[0]`` is the reason code."""


def gunzip_members(data: bytes) -> tuple[bytes, bool]:
    """All members of a gzip file; True when the stream ends before its end-of-stream marker."""
    out: list[bytes] = []
    while data:
        d = zlib.decompressobj(wbits=31)
        out.append(d.decompress(data))
        out.append(d.flush())
        if not d.eof:
            return b"".join(out), True
        data = d.unused_data
    return b"".join(out), False


def landing_day(source: str, rel: Path) -> date:
    parts = rel.parts
    if source == "segment":
        folder = parts[3]
        if folder.isdigit():
            return datetime.fromtimestamp(int(folder) / 1000, tz=UTC).date()
        return date.fromisoformat(folder)
    if source == "rudderstack":
        folder = parts[3]
        if len(folder) == 10 and folder[2] == "-":
            return datetime.strptime(folder, "%m-%d-%Y").date()
        return date.fromisoformat(folder)
    return date.fromisoformat(rel.name[:10])


def _empty(v: Any) -> bool:
    return v is None or v == ""


def _iso_ms(v: Any) -> int:
    if not isinstance(v, str):
        raise Bad("bad_timestamp")
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise Bad("bad_timestamp") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _rfc_ms(v: Any) -> int:
    try:
        dt = parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        raise Bad("bad_timestamp") from None
    if dt is None:
        raise Bad("bad_timestamp")
    return int(dt.timestamp() * 1000)


def _check_time(ms: int, day: date) -> None:
    day_end = datetime(day.year, day.month, day.day, tzinfo=UTC) + DAY
    if ms > (day_end + DAY).timestamp() * 1000:
        raise Bad("future_timestamp")


def classify(source: str, raw: bytes, day: date) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """(dedupe key, object) for a loadable line; raises Bad(reason) otherwise. Contract order."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Bad("invalid_utf8") from None
    if len(raw) > MAX_LINE_BYTES:
        raise Bad("oversized")
    try:
        obj = json.loads(text)
    except ValueError:
        raise Bad("invalid_json") from None
    if not isinstance(obj, dict):
        raise Bad("not_an_object")
    if source in ("segment", "rudderstack"):
        if _empty(obj.get("messageId")) or _empty(obj.get("type")):
            raise Bad("missing_field")
        if _empty(obj.get("userId")) and _empty(obj.get("anonymousId")):
            raise Bad("missing_field")
        if obj.get("type") == "track" and _empty(obj.get("event")):
            raise Bad("missing_field")
        if not isinstance(obj["type"], str) or obj["type"] not in SEGMENT_TYPES:
            raise Bad("wrong_type")
        if "event" in obj and not isinstance(obj["event"], str):
            raise Bad("wrong_type")
        for k in ("properties", "traits", "context"):
            if k in obj and not isinstance(obj[k], dict):
                raise Bad("wrong_type")
        _check_time(_iso_ms(obj.get("timestamp")), day)
        return (obj["messageId"],), obj
    if source == "mixpanel":
        props = obj.get("properties")
        props = props if isinstance(props, dict) else {}
        if _empty(obj.get("event")) or _empty(props.get("distinct_id")) or _empty(props.get("time")):
            raise Bad("missing_field")
        if not isinstance(obj["event"], str):
            raise Bad("wrong_type")
        t = props["time"]
        if isinstance(t, bool) or not isinstance(t, int | float):
            raise Bad("wrong_type")
        ms = int(t) if t > 10**11 else int(t * 1000)
        _check_time(ms, day)
        return (obj["event"], props["distinct_id"], ms, props.get("$insert_id")), obj
    if source == "signups":
        if isinstance(obj.get("user"), dict) and obj.get("provider") == "auth0":
            uid, when = obj["user"].get("user_id"), ("iso", obj["user"].get("created_at"))
        elif isinstance(obj.get("record"), dict) and obj.get("type") == "INSERT":
            uid, when = obj["record"].get("id"), ("iso", obj["record"].get("created_at"))
        else:
            meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
            uid, when = obj.get("uid"), ("rfc", meta.get("creationTime"))
        if _empty(uid):
            raise Bad("missing_field")
        ms = _iso_ms(when[1]) if when[0] == "iso" else _rfc_ms(when[1])
        _check_time(ms, day)
        return (uid,), obj
    if source == "tickets":
        if any(_empty(obj.get(k)) for k in ("ticket_id", "user_id", "status")):
            raise Bad("missing_field")
        if obj["status"] not in ("opened", "resolved"):
            raise Bad("wrong_type")
        _check_time(_iso_ms(obj.get("occurred_at")), day)
        return (obj["ticket_id"], obj["status"], obj.get("occurred_at")), obj  # a reopening is a new line
    if source == "nps":
        if any(_empty(obj.get(k)) for k in ("response_id", "user_id", "score")):
            raise Bad("missing_field")
        s = obj["score"]
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= 10:
            raise Bad("wrong_type")
        _check_time(_iso_ms(obj.get("submitted_at")), day)
        return (obj["response_id"],), obj
    if source == "typeform":  # Typeform webhook deliveries (docs/data-contracts.md)
        resp = obj.get("form_response")
        if _empty(obj.get("event_id")) or _empty(obj.get("event_type")) or not isinstance(resp, dict):
            raise Bad("missing_field")
        if _empty(resp.get("form_id")) or _empty(resp.get("token")):
            raise Bad("missing_field")
        if obj["event_type"] != "form_response":
            raise Bad("wrong_type")
        if not isinstance(resp.get("answers", []), list | type(None)) or not isinstance(
            resp.get("hidden", {}), dict | type(None)
        ):
            raise Bad("wrong_type")
        _check_time(_iso_ms(resp.get("submitted_at")), day)
        return (resp["form_id"], resp["token"]), obj
    raise ValueError(source)


def landing_files(root: Path) -> list[tuple[date, str, str, Path]]:
    found = []
    for source, pattern in (
        ("segment", "segment/segment-logs/*/*/*.gz"),
        ("rudderstack", "rudderstack/rudder-logs/*/*/*.json.gz"),
        ("mixpanel", "mixpanel/*.jsonl.gz"),
        ("signups", "signups/*.jsonl"),
        ("tickets", "tickets/*.jsonl"),
        ("nps", "nps/*.jsonl"),
        ("typeform", "typeform/*.jsonl"),
    ):
        for p in root.glob(pattern):
            rel = p.relative_to(root)
            found.append((landing_day(source, rel), rel.as_posix(), source, p))
    return sorted(found)


def read_landing(root: Path) -> Landing:
    """Load every file in (landing day, path) order, like a loader that has loaded every day."""
    sources = ("segment", "rudderstack", "mixpanel", "signups", "tickets", "nps", "typeform")
    totals = {s: Counts() for s in sources}
    by_day: dict[str, dict[str, Counts]] = {}
    rows: dict[str, list[tuple[str, date, dict[str, Any]]]] = {s: [] for s in sources}
    seen: dict[str, set[tuple[Any, ...]]] = {"segment": set(), "mixpanel": set(), "signups": set(),
                                              "tickets": set(), "nps": set(), "typeform": set()}  # fmt: skip
    truncated: list[tuple[str, Path, int]] = []
    for day, _rel, source, path in landing_files(root):
        table = "segment" if source == "rudderstack" else source
        data = path.read_bytes()
        if path.suffix == ".gz":
            text, cut = gunzip_members(data)
        else:
            text, cut = data, False
        pieces = text.split(b"\n")
        tail = pieces.pop() if cut else None
        if not cut and pieces and pieces[-1] == b"":
            pieces.pop()
        day_counts = by_day.setdefault(day.isoformat(), {s: Counts() for s in sources})[source]
        complete = 0
        for c in (totals[source], day_counts):
            c.files += 1
        for raw in pieces:
            if not raw.strip():
                continue
            complete += 1
            for c in (totals[source], day_counts):
                c.lines += 1
            try:
                key, obj = classify(source, raw, day)
            except Bad as bad:
                for c in (totals[source], day_counts):
                    c.malformed += 1
                totals[source].by_reason[bad.args[0]] += 1
                continue
            if key in seen[table]:
                for c in (totals[source], day_counts):
                    c.duplicates += 1
                continue
            seen[table].add(key)
            for c in (totals[source], day_counts):
                c.unique += 1
            rows[source].append((source, day, obj))
        if tail is not None:
            for c in (totals[source], day_counts):
                c.lines += 1
                c.malformed += 1
            totals[source].by_reason["truncated_gzip"] += 1
            truncated.append((source, path, complete))
    return Landing(totals, by_day, rows, truncated)
