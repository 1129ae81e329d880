"""Typeform webhook deliveries (`typeform/<day>.jsonl`): the enterprise stakeholder map and the
end-of-onboarding "What nearly made you quit?" survey, in Typeform's `form_response` payload shape
(docs/data-contracts.md).

Why these two forms: an enterprise primary contact gets the stakeholder-map link the day after signup
(seed `onboarding_forms`), and names the colleagues who need access with their roles; some of them are
demo users who sign up later (so the team-progress mart has stages and scores to show), the others have
not signed up yet. Users who reach the survey day (seed send_day) inside the window may answer the
quit survey with a free-text answer drawn from PII-free phrases. One retried delivery (an exact copy, Typeform's retry) and, when
malformed lines are asked for, one delivery without its token and one cut-off line are planted and
counted in the manifest's ledger like every source's.

Randomness comes from its own ``numpy`` generator seeded with (seed, 19), so adding this source does not
move any other source's draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import catalog as C
from .lines import iso_ms, jdump
from .profiles import Users

DAY_MS = 86_400_000
# The forms as the seed dbt_project/seeds/onboarding_forms.csv configures them (a test keeps them equal).
STAKEHOLDER_FORM_ID = "stkmap01"
QUIT_SURVEY_FORM_ID = "quit30"
STAKEHOLDER_SEND_DAY = 1
# The quit survey goes out with the last onboarding week (seed send_day 28: a 30-day demo window still
# holds answers); the trigger that sends it (issue 19 item 5) reads the same seed row.
QUIT_SURVEY_DAY = 28
MAX_STAKEHOLDERS = 4
ROLE_CHOICES = ("Engineer", "Data analyst", "Executive", "Marketing", "Operations", "Admin / IT")
RESPONSE_SHARE = 0.75  # of enterprise primary contacts who fill the stakeholder map
QUIT_RESPONSE_SHARE = 0.35
QUIT_PHRASES = (
    "The first data import kept failing on our large CSV files.",
    "I could not find where to share a dashboard with my team.",
    "Writing the first query took longer than expected; the examples did not match our data.",
    "The pricing page was unclear about what the trial includes.",
    "Setting up the Salesforce integration needed help from our admin.",
    "Too many emails in the first week.",
    "Nothing really, the onboarding videos were helpful.",
    "The AI analysis results were hard to trust without seeing the query behind them.",
)


def _field(ref: str, ftype: str, title: str) -> dict[str, Any]:
    return {"id": ref.replace("_", "")[:12], "title": title, "type": ftype, "ref": ref}


def _definition(form_id: str, title: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": form_id, "title": title, "fields": fields}


def _answer(ref: str, ftype: str, kind: str, value: Any) -> dict[str, Any]:
    return {"type": kind, kind: value, "field": {"id": ref.replace("_", "")[:12], "type": ftype, "ref": ref}}


def _iso(ms: int) -> str:
    """Typeform's timestamps: ISO 8601 UTC to the second."""
    return iso_ms(ms)[:19] + "Z"


def _delivery(rng: np.random.Generator, form_id: str, user_id: str, submitted_ms: int,
              definition: dict[str, Any], answers: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    return {
        "event_id": "01" + "".join(f"{int(x):02X}" for x in rng.integers(0, 256, 12)),
        "event_type": "form_response",
        "form_response": {
            "form_id": form_id,
            "token": "".join(f"{int(x):02x}" for x in rng.integers(0, 256, 16)),
            "landed_at": _iso(submitted_ms - int(rng.integers(60_000, 900_000))),
            "submitted_at": _iso(submitted_ms),
            "hidden": {"user_id": user_id},
            "definition": definition,
            "answers": answers,
        },
    }


def stakeholder_deliveries(
    users: Users, signup_ms: np.ndarray, end_ms: int, rng: np.random.Generator
) -> tuple[list[tuple[int, dict[str, Any]]], dict[str, int]]:
    """(submitted ms, payload) per stakeholder-map response, and counts for the manifest."""
    enterprise = np.flatnonzero(users.plan == C.PLANS.index("enterprise"))
    order = enterprise[np.argsort(signup_ms[enterprise], kind="stable")]
    named: set[int] = set(int(i) for i in order)  # a primary contact is never someone else's stakeholder
    out: list[tuple[int, dict[str, Any]]] = []
    stats = {"responses": 0, "stakeholders": 0, "stakeholders_signed_up": 0}
    fields = []
    for k in range(1, MAX_STAKEHOLDERS + 1):
        fields += [
            _field(f"stakeholder_{k}_name", "short_text", f"Colleague {k}: name"),
            _field(f"stakeholder_{k}_email", "email", f"Colleague {k}: work email"),
            _field(f"stakeholder_{k}_role", "multiple_choice", f"Colleague {k}: role"),
        ]
    definition = _definition(STAKEHOLDER_FORM_ID, "Who else needs access? What are their roles?", fields)
    for p in order:
        p = int(p)
        submitted = int(signup_ms[p]) + STAKEHOLDER_SEND_DAY * DAY_MS + int(rng.integers(2, 48)) * 3_600_000
        if rng.random() >= RESPONSE_SHARE or submitted >= end_ms - 3_600_000:
            continue
        host = users.email[p].split("@", 1)[1]
        later = np.flatnonzero(signup_ms > signup_ms[p])
        answers = []
        for k in range(1, int(rng.integers(1, MAX_STAKEHOLDERS + 1)) + 1):
            role = ROLE_CHOICES[int(rng.integers(0, len(ROLE_CHOICES)))]
            pick = -1
            if len(later) and rng.random() < 0.6:
                cand = int(later[int(rng.integers(0, len(later)))])
                pick = -1 if cand in named else cand
            if pick >= 0:
                named.add(pick)
                name = users.name[pick] if isinstance(users.name[pick], str) and users.name[pick] else ""
                email = users.email[pick]
                stats["stakeholders_signed_up"] += 1
            else:
                fn = C.FIRST_NAMES[int(rng.integers(0, len(C.FIRST_NAMES)))]
                ln = C.LAST_NAMES[int(rng.integers(0, len(C.LAST_NAMES)))]
                name = f"{fn} {ln}"
                local = "".join(
                    ch for ch in f"{fn}.{ln}".lower() if ch.isascii() and (ch.isalnum() or ch == ".")
                )
                email = f"{local}.{p}{k}@{host}"
            answers += [
                _answer(f"stakeholder_{k}_name", "short_text", "text", name or email.split("@")[0]),
                _answer(f"stakeholder_{k}_email", "email", "email", email),
                _answer(f"stakeholder_{k}_role", "multiple_choice", "choice", {"label": role}),
            ]
            stats["stakeholders"] += 1
        out.append(
            (submitted, _delivery(rng, STAKEHOLDER_FORM_ID, users.user_id[p], submitted, definition, answers))
        )
        stats["responses"] += 1
    return out, stats


def quit_survey_deliveries(
    users: Users, signup_ms: np.ndarray, end_ms: int, rng: np.random.Generator
) -> tuple[list[tuple[int, dict[str, Any]]], dict[str, int]]:
    """Day-30 "What nearly made you quit?" answers: free text without names or emails."""
    definition = _definition(
        QUIT_SURVEY_FORM_ID,
        "What nearly made you quit?",
        [_field("nearly_quit", "long_text", "What nearly made you quit in your first month?")],
    )
    out: list[tuple[int, dict[str, Any]]] = []
    for u in range(users.n):
        submitted = int(signup_ms[u]) + QUIT_SURVEY_DAY * DAY_MS + int(rng.integers(1, 30)) * 3_600_000
        if submitted >= end_ms - 3_600_000 or rng.random() >= QUIT_RESPONSE_SHARE:
            continue
        text = QUIT_PHRASES[int(rng.integers(0, len(QUIT_PHRASES)))]
        answers = [_answer("nearly_quit", "long_text", "text", text)]
        out.append(
            (submitted, _delivery(rng, QUIT_SURVEY_FORM_ID, users.user_id[u], submitted, definition, answers))
        )
    return out, {"responses": len(out)}


def write_typeform(run: Any, users: Users, signup_ms: np.ndarray, seed: int) -> dict[str, Any]:
    """Write `typeform/<day>.jsonl` files through the run's writer and count them in its ledger.

    ``run`` is core's ``_Run`` (writer, ledger, window, malformed rate); returns the manifest entry."""
    rng = np.random.default_rng([seed, 19])
    win, ledger = run.win, run.ledger
    n_days = len(win.days)
    end_ms = win.start_ms + n_days * DAY_MS
    stake, s_stats = stakeholder_deliveries(users, signup_ms, end_ms, rng)
    quit_, q_stats = quit_survey_deliveries(users, signup_ms, end_ms, rng)
    items = sorted(stake + quit_, key=lambda x: (x[0], x[1]["event_id"]))
    per_day: list[list[bytes]] = [[] for _ in range(n_days)]
    for ms, payload in items:
        per_day[(ms - win.start_ms) // DAY_MS].append(jdump(payload).encode() + b"\n")
    busy = [d for d in range(n_days) if per_day[d]]
    dup_day = busy[int(rng.integers(0, len(busy)))] if busy else -1
    bad_day = busy[int(rng.integers(0, len(busy)))] if busy and run.rate > 0 else -1
    for d in range(n_days):
        lines = list(per_day[d])
        unique = len(lines)
        dups = 0
        bad: list[str] = []
        if d == dup_day:  # a retried delivery: Typeform resends the same body
            lines.insert(int(rng.integers(0, len(lines) + 1)), lines[0])
            dups = 1
        if d == bad_day:
            broken = {"event_id": "01BROKEN", "event_type": "form_response",
                      "form_response": {"form_id": STAKEHOLDER_FORM_ID, "submitted_at": _iso(win.day_ms(d) + 60_000)}}  # fmt: skip
            lines.append(jdump(broken).encode() + b"\n")
            lines.append(lines[0][: len(lines[0]) // 2].rstrip(b"\n") + b"\n")
            bad = ["missing_field", "invalid_json"]
        if lines:
            run.writer.submit(f"typeform/{win.days[d].isoformat()}.jsonl", raw=b"".join(lines))
            ledger.add("typeform", d, files=1)
        ledger.add("typeform", d, unique=unique, dups=dups, malformed=bad)
        run.report("typeform", d + 1, n_days)
    return {
        "forms": {STAKEHOLDER_FORM_ID: s_stats, QUIT_SURVEY_FORM_ID: q_stats},
        "stakeholder_form_id": STAKEHOLDER_FORM_ID,
        "quit_survey_form_id": QUIT_SURVEY_FORM_ID,
    }
