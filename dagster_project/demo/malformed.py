"""Planted bad lines, one quarantine reason each (docs/data-contracts.md section 2).

The loader checks in this order: invalid_utf8 -> oversized -> invalid_json -> not_an_object ->
missing_field -> wrong_type / bad_timestamp / future_timestamp. Each factory below starts from a
*valid* line of the source with fresh ids (so it can never collide with a real row or dedupe
against one), on the day it is planted, and breaks exactly one thing, so every earlier check
passes and no later one could also fire. Notably:

* invalid_utf8 lines are otherwise valid JSON; oversized lines are valid JSON objects > 64 KiB;
* invalid_json text is valid UTF-8 (prefixes are cut on characters, not bytes);
* bad/future timestamp lines have every field well typed; wrong_type lines have good timestamps;
* Mixpanel has no bad_timestamp kind: a missing ``time`` is missing_field and a non-number ``time``
  is wrong_type, so nothing is left that is "unparseable" without being one of those;
* signups have no wrong_type kind (the contract names no typed signup field whose breakage would
  not first be a missing user id); truncated_gzip only exists for the gzipped sources.
"""

from __future__ import annotations

import json
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import numpy as np

from .lines import _EPOCH, RUDDER_LIBRARY, SEGMENT_LIBRARY, iso_ms, jdump, mix64

REASONS = (
    "invalid_utf8",
    "oversized",
    "invalid_json",
    "not_an_object",
    "missing_field",
    "bad_timestamp",
    "future_timestamp",
    "wrong_type",
    "truncated_gzip",
)
APPLICABLE: dict[str, tuple[str, ...]] = {
    "segment": REASONS,
    "rudderstack": REASONS,
    "mixpanel": tuple(r for r in REASONS if r != "bad_timestamp"),
    "signups": tuple(r for r in REASONS if r not in ("wrong_type", "truncated_gzip")),
    "tickets": tuple(r for r in REASONS if r != "truncated_gzip"),
    "nps": tuple(r for r in REASONS if r != "truncated_gzip"),
}
# Relative frequency of the line-level kinds (truncated_gzip is counted per truncated file).
WEIGHTS = {
    "invalid_utf8": 0.06,
    "oversized": 0.03,
    "invalid_json": 0.25,
    "not_an_object": 0.08,
    "missing_field": 0.2,
    "bad_timestamp": 0.13,
    "future_timestamp": 0.1,
    "wrong_type": 0.15,
}
MIN_PER_KIND = 2
MAX_OVERSIZED = 20
BAD_BYTES = (b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xe2\x82\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80")
BAD_TIMESTAMPS = (
    "not-a-timestamp",
    "2026-13-45T25:61:00Z",
    "31/02/2026 25:00",
    "tomorrow-ish",
    "0000-00-00T00:00:00Z",
)
_PLACEHOLDER = "@@INVALID_UTF8@@"
FUTURE_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z
FRESH_BASE = 1 << 40  # fresh ids live above every real row index


def allocate(source: str, n_lines: int, rate: float, rng: np.random.Generator) -> dict[str, int]:
    """How many malformed lines of each kind to plant: ~rate x lines, at least MIN_PER_KIND each."""
    if rate <= 0:
        return {}
    kinds = [k for k in APPLICABLE[source] if k != "truncated_gzip"]
    total = rate * n_lines
    wsum = sum(WEIGHTS[k] for k in kinds)
    out = {k: max(MIN_PER_KIND, round(total * WEIGHTS[k] / wsum)) for k in kinds}
    out["oversized"] = min(out["oversized"], MAX_OVERSIZED)
    if "truncated_gzip" in APPLICABLE[source]:
        out["truncated_gzip"] = int(min(3, max(1, round(total / 2000))))
    return out


class Factory:
    """Builds malformed lines for one source. ``line(kind, day_ms)`` -> bytes (no trailing newline)."""

    def __init__(self, source: str, rng: np.random.Generator, users: Any, salt: int) -> None:
        self.source = source
        self.rng = rng
        self.users = users
        self.salt = np.uint64(salt)
        self.counter = 0

    # --- helpers ---------------------------------------------------------------------------------
    def _fresh_hex(self) -> str:
        self.counter += 1
        h = mix64(np.array([FRESH_BASE + self.counter], dtype=np.uint64) + self.salt)[0]
        h2 = mix64(np.array([h], dtype=np.uint64))[0]
        return f"{int(h2):016x}{int(h):016x}"

    def _user(self) -> int:
        return int(self.rng.integers(0, self.users.n))

    def _when(self, day_ms: int) -> int:
        return day_ms + int(self.rng.integers(10 * 60_000, 86_400_000 - 10 * 60_000))

    def _pick(self, options: tuple[Any, ...] | list[Any]) -> Any:
        return options[int(self.rng.integers(0, len(options)))]

    # --- valid templates -------------------------------------------------------------------------
    def template(self, day_ms: int) -> dict[str, Any]:
        t = self._when(day_ms)
        i = self._user()
        uid = self.users.user_id[i]
        if self.source in ("segment", "rudderstack"):
            hexid = self._fresh_hex()
            server = self.source == "rudderstack"
            mid = (
                f"{hexid[:8]}-{hexid[8:12]}-4{hexid[13:16]}-{hexid[16:20]}-{hexid[20:32]}"
                if server
                else "ajs-next-" + hexid
            )
            call: dict[str, Any] = {
                "type": "track",
                "event": "user.ran_query",
                "messageId": mid,
                "userId": uid,
                "timestamp": iso_ms(t),
                "originalTimestamp": iso_ms(t),
                "sentAt": iso_ms(t + 150),
                "receivedAt": iso_ms(t + 420),
                "context": {"library": json.loads(RUDDER_LIBRARY if server else SEGMENT_LIBRARY)},
                "properties": {"duration_ms": int(self.rng.integers(30, 5000))},
                "integrations": {},
                "version": 2,
                "channel": "server" if server else "client",
            }
            if not server:
                call["anonymousId"] = self.users.anon_id[i]
            return call
        if self.source == "mixpanel":
            return {
                "event": "user.used_feature",
                "properties": {
                    "time": t // 1000,
                    "distinct_id": uid,
                    "$insert_id": self._fresh_hex(),
                    "mp_processing_time_ms": t + 900,
                    "mp_lib": "web",
                    "feature": "dashboards",
                },
            }
        if self.source == "signups":
            return self._signup(t)
        if self.source == "tickets":
            return {
                "ticket_id": "T" + self._fresh_hex()[:12],
                "user_id": uid,
                "status": "opened",
                "occurred_at": iso_ms(t)[:19] + "Z",
                "subject": "Dashboard not loading",
                "channel": "email",
            }
        return {
            "response_id": "nps_" + self._fresh_hex()[:20],
            "user_id": uid,
            "survey": "day_7",
            "score": int(self.rng.integers(0, 11)),
            "comment": "Import kept failing.",
            "submitted_at": iso_ms(t),
        }

    def _signup(self, t: int) -> dict[str, Any]:
        h = self._fresh_hex()
        email = f"quarantine.{h[:8]}@example.org"
        kind = int(self.rng.integers(0, 3))
        meta = {"company": "Globex Labs", "plan": "trial", "role": "Data Engineer", "team_size": 4}
        if kind == 0:
            return {
                "provider": "auth0",
                "user": {"user_id": "auth0|" + h[:24], "email": email, "name": "Test User",
                         "created_at": iso_ms(t), "user_metadata": meta},
            }  # fmt: skip
        if kind == 1:
            uid = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"
            return {
                "type": "INSERT", "table": "users", "schema": "auth",
                "record": {"id": uid, "email": email, "created_at": _pg_ts(t),
                           "raw_user_meta_data": {"name": "Test User", **meta}},
                "old_record": None,
            }  # fmt: skip
        return {
            "uid": "Q" + h[:27],
            "email": email,
            "displayName": "Test User",
            "metadata": {"creationTime": _rfc1123(t)},
            "customClaims": meta,
        }

    # --- breakers --------------------------------------------------------------------------------
    def line(self, kind: str, day_ms: int) -> bytes:
        """One malformed line of ``kind`` for a file of landing day ``day_ms`` (UTC midnight)."""
        obj = self.template(day_ms)
        return getattr(self, "_" + kind)(obj)

    def _invalid_utf8(self, obj: dict[str, Any]) -> bytes:
        self._set_text(obj, _PLACEHOLDER)
        return jdump(obj).encode().replace(_PLACEHOLDER.encode(), b"caf" + self._pick(BAD_BYTES) + b"s")

    def _oversized(self, obj: dict[str, Any]) -> bytes:
        words = ("select", "from", "orders", "join", "customers", "where", "group", "by", "sum", "amount")
        n = int(self.rng.integers(70_000, 90_000)) // 6
        filler = " ".join(words[int(i)] for i in self.rng.integers(0, len(words), n))
        self._set_text(obj, filler)
        out = jdump(obj).encode()
        assert len(out) > 65_536
        return out

    def _invalid_json(self, obj: dict[str, Any]) -> bytes:
        text = jdump(obj)
        variant = int(self.rng.integers(0, 3))
        if variant == 0:  # cut on a character boundary: valid UTF-8, unterminated object
            return text[: int(len(text) * self.rng.uniform(0.3, 0.9))].encode()
        if variant == 1:  # a Python dict repr (single quotes) logged instead of JSON
            return repr(obj).encode()
        # '=' instead of ':' after the first key. (No trailing-comma or NaN variants: DuckDB's
        # json_valid accepts those, so a DuckDB-based loader would disagree with the contract.)
        return text.replace('":', '"=', 1).encode()

    def _not_an_object(self, obj: dict[str, Any]) -> bytes:
        variant = int(self.rng.integers(0, 3))
        if variant == 0:
            return jdump([obj]).encode()  # a batch array instead of one call
        if variant == 1:
            return jdump(jdump(obj)).encode()  # double-encoded JSON string
        return self._pick((b"42", b"null", b'"ok"', b"[]", b"true"))

    def _missing_field(self, obj: dict[str, Any]) -> bytes:
        s = self.source
        if s in ("segment", "rudderstack"):
            v = int(self.rng.integers(0, 4))
            if v == 0:
                del obj["messageId"]
            elif v == 1:
                obj["messageId"] = ""
            elif v == 2:
                obj.pop("anonymousId", None)
                del obj["userId"]
            elif self.rng.random() < 0.5:
                obj["event"] = ""
            else:
                del obj["event"]
        elif s == "mixpanel":
            v = int(self.rng.integers(0, 4))
            if v == 0:
                del obj["properties"]["distinct_id"]
            elif v == 1:
                obj["properties"]["distinct_id"] = ""
            elif v == 2:
                del obj["properties"]["time"]
            else:
                del obj["event"]
        elif s == "signups":
            if "user" in obj:
                del obj["user"]["user_id"]
            elif "record" in obj:
                obj["record"]["id"] = ""
            else:
                del obj["uid"]
        elif s == "tickets":
            key = self._pick(("ticket_id", "user_id", "status"))
            if self.rng.random() < 0.5 and key != "status":
                obj[key] = ""
            else:
                del obj[key]
        else:
            key = self._pick(("response_id", "user_id", "score"))
            if key == "score" or self.rng.random() < 0.5:
                del obj[key]
            else:
                obj[key] = ""
        return jdump(obj).encode()

    def _wrong_type(self, obj: dict[str, Any]) -> bytes:
        s = self.source
        if s in ("segment", "rudderstack"):
            v = int(self.rng.integers(0, 5))
            if v == 0:
                obj["properties"] = "duration_ms=120"
            elif v == 1:
                obj["context"] = ["analytics.js"]
            elif v == 2:
                obj["type"] = "purchase"  # an unknown Segment call type
            elif v == 3:
                obj["event"] = 42
            else:
                obj["type"] = "identify"
                del obj["event"]
                del obj["properties"]
                obj["traits"] = "plan=pro;role=admin"
        elif s == "mixpanel":
            if self.rng.random() < 0.5:
                obj["event"] = 1001
            else:
                obj["properties"]["time"] = str(obj["properties"]["time"])
        elif s == "tickets":
            obj["status"] = self._pick(("closed", "pending", "in_progress"))
        else:
            obj["score"] = self._pick((11, -1, "9", 7.5, 42))
        return jdump(obj).encode()

    def _bad_timestamp(self, obj: dict[str, Any]) -> bytes:
        bad = self._pick(BAD_TIMESTAMPS)
        self._set_time(obj, bad, bad)
        return jdump(obj).encode()

    def _future_timestamp(self, obj: dict[str, Any]) -> bytes:
        t = FUTURE_MS - int(self.rng.integers(0, 365 * 86_400_000))  # some day in 2099
        self._set_time(obj, t, None)
        return jdump(obj).encode()

    # --- field setters per source ----------------------------------------------------------------
    def _set_text(self, obj: dict[str, Any], text: str) -> None:
        """Put ``text`` into a free-text field of the line (a property, name, subject or comment)."""
        s = self.source
        if s in ("segment", "rudderstack"):
            obj["properties"]["sql"] = text
        elif s == "mixpanel":
            obj["properties"]["note"] = text
        elif s == "signups":
            if "user" in obj:
                obj["user"]["name"] = text
            elif "record" in obj:
                obj["record"]["raw_user_meta_data"]["name"] = text
            else:
                obj["displayName"] = text
        elif s == "tickets":
            obj["subject"] = text
        else:
            obj["comment"] = text

    def _set_time(self, obj: dict[str, Any], value: int | str, bad: str | None) -> None:
        """Replace the event time (``value`` is epoch ms, or the garbage string ``bad``)."""
        s = self.source
        if s in ("segment", "rudderstack"):
            txt = bad if bad is not None else iso_ms(int(value))
            obj["timestamp"] = txt
            obj["originalTimestamp"] = txt
        elif s == "mixpanel":
            ms = int(value)
            obj["properties"]["time"] = ms if self.rng.random() < 0.3 else ms // 1000
        elif s == "signups":
            if "user" in obj:
                obj["user"]["created_at"] = bad if bad is not None else iso_ms(int(value))
            elif "record" in obj:
                obj["record"]["created_at"] = bad if bad is not None else _pg_ts(int(value))
            else:
                obj["metadata"]["creationTime"] = bad if bad is not None else _rfc1123(int(value))
        elif s == "tickets":
            obj["occurred_at"] = bad if bad is not None else iso_ms(int(value))[:19] + "Z"
        else:
            obj["submitted_at"] = bad if bad is not None else iso_ms(int(value))


def _pg_ts(ms: int) -> str:
    """Postgres timestamptz as Supabase webhooks render it: ``2026-11-01T10:00:00.123000+00:00``."""
    return iso_ms(ms)[:23] + "000+00:00"


def _rfc1123(ms: int) -> str:
    """Firebase UserRecord metadata time: ``Sat, 01 Nov 2026 10:00:00 GMT``."""
    return format_datetime(_EPOCH + timedelta(milliseconds=int(ms)), usegmt=True)


def plan_lines(
    factory: Factory, counts: dict[str, int], day_weights: np.ndarray, day0_ms: int
) -> dict[int, list[tuple[str, bytes]]]:
    """Draw the line-level malformed lines and spread them over days (weighted by each day's volume).
    Returns {day index: [(reason, line bytes), ...]}; truncated_gzip is handled by the writer."""
    rng = factory.rng
    w = day_weights.astype(float) + 1e-9
    w /= w.sum()
    out: dict[int, list[tuple[str, bytes]]] = {}
    for kind in REASONS:
        if kind == "truncated_gzip":
            continue
        for _ in range(counts.get(kind, 0)):
            d = int(rng.choice(len(w), p=w))
            out.setdefault(d, []).append((kind, factory.line(kind, day0_ms + d * 86_400_000)))
    return out
