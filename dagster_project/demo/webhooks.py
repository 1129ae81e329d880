"""Plain JSON-lines sources: signup webhooks (Auth0 / Supabase / Firebase), support tickets, NPS.

These are small (one line per user, ticket status change or answer), so they are rendered with
``json.dumps`` per line; only the event streams need the vectorised DuckDB path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import catalog as C
from .lines import iso_ms, jdump, mix64
from .malformed import _pg_ts, _rfc1123
from .profiles import Users


def signup_payload(users: Users, i: int, created_ms: int, micros: int) -> dict[str, Any]:
    """The webhook body each provider sends for a new user (contract section 1, "Signup webhooks")."""
    email = users.email[i]
    profile = users.profile[i]
    name_absent = users.name_is_absent(i)
    provider = int(users.provider[i])
    if provider == 0:
        user: dict[str, Any] = {"user_id": users.user_id[i], "email": email, "email_verified": False}
        if not name_absent:
            user["name"] = users.name[i]
        user["created_at"] = iso_ms(created_ms)
        user["identities"] = [
            {"connection": "Username-Password-Authentication", "provider": "auth0", "isSocial": False}
        ]
        user["user_metadata"] = profile
        return {"provider": "auth0", "user": user}
    if provider == 1:
        meta: dict[str, Any] = {}
        if not name_absent:
            meta["name"] = users.name[i]
        meta.update(profile)
        created = _pg_ts(created_ms)[:23] + f"{micros:03d}+00:00"
        record = {
            "id": users.user_id[i],
            "aud": "authenticated",
            "role": "authenticated",
            "email": email,
            "created_at": created,
            "raw_user_meta_data": meta,
        }
        return {"type": "INSERT", "table": "users", "schema": "auth", "record": record, "old_record": None}
    fb: dict[str, Any] = {"uid": users.user_id[i], "email": email, "emailVerified": False}
    if not name_absent:
        fb["displayName"] = users.name[i]
    fb["disabled"] = False
    fb["metadata"] = {"creationTime": _rfc1123(created_ms), "lastSignInTime": _rfc1123(created_ms)}
    fb["customClaims"] = profile
    fb["providerData"] = [{"providerId": "password", "uid": email, "email": email}]
    return fb


def signup_lines(users: Users, signup_ms: np.ndarray, rng: np.random.Generator) -> list[tuple[int, bytes]]:
    """(created ms, line) per user, in user order."""
    micros = rng.integers(0, 1000, users.n)
    return [
        (int(signup_ms[i]), jdump(signup_payload(users, i, int(signup_ms[i]), int(micros[i]))).encode())
        for i in range(users.n)
    ]


def ticket_lines(
    users: Users, tickets: dict[str, np.ndarray]
) -> tuple[list[tuple[int, bytes]], dict[str, int]]:
    """One line per status change: 'opened', and 'resolved' for tickets closed inside the window."""
    out: list[tuple[int, bytes]] = []
    for k in range(len(tickets["user"])):
        base = {
            "ticket_id": f"T{100_000 + k}",
            "user_id": users.user_id[int(tickets["user"][k])],
            "status": "opened",
            "occurred_at": iso_ms(int(tickets["opened"][k]))[:19] + "Z",
            "subject": C.TICKET_SUBJECTS[int(tickets["subject"][k])],
            "channel": "chat" if tickets["chat"][k] else "email",
        }
        out.append((int(tickets["opened"][k]), jdump(base).encode()))
        resolved = int(tickets["resolved"][k])
        if resolved >= 0:
            base = {**base, "status": "resolved", "occurred_at": iso_ms(resolved)[:19] + "Z"}
            out.append((resolved, jdump(base).encode()))
    n_res = int((tickets["resolved"] >= 0).sum())
    stats = {
        "tickets": len(tickets["user"]),
        "resolved": n_res,
        "unresolved": len(tickets["user"]) - n_res,
        "users_with_unresolved": len(np.unique(tickets["user"][tickets["resolved"] < 0])),
    }
    return out, stats


def nps_lines(users: Users, nps: dict[str, Any], salt: int) -> tuple[list[tuple[int, bytes]], dict[str, Any]]:
    """One line per answer; the response id is a bijective hash of the answer's index (unique)."""
    rows = nps["rows"]
    ids = mix64(np.arange(len(rows), dtype=np.uint64) + np.uint64(salt))
    out: list[tuple[int, bytes]] = []
    themes: dict[str, dict[str, int]] = {"day_7": {}, "day_30": {}}
    cats = {"detractor": 0, "passive": 0, "promoter": 0}
    surveys = {"day_7": 0, "day_30": 0}
    for k, (u, survey, submitted, score, comment, theme) in enumerate(rows):
        line = {
            "response_id": f"nps_{int(ids[k]):016x}",
            "user_id": users.user_id[u],
            "survey": survey,
            "score": score,
            "comment": comment,
            "submitted_at": iso_ms(submitted),
        }
        out.append((submitted, jdump(line).encode()))
        if theme:
            themes[survey][theme] = themes[survey].get(theme, 0) + 1
        cats["detractor" if score <= 6 else "passive" if score <= 8 else "promoter"] += 1
        surveys[survey] += 1
    stats = {"responses": len(rows), "by_survey": surveys, "by_category": cats, "detractor_themes": themes}
    return out, stats
