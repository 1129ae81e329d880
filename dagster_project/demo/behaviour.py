"""Vectorised behaviour simulation: who is active when, and which events they fire.

Everything is numpy over whole populations (users x days, sessions, events); there is no Python loop
per event, so 100k users x 60 days (~10M events) simulate in seconds. The model:

* each user gets a persona (depends on role and plan, then chance) that sets daily activity,
  session length and event rates: fast_adopter (first query within 5 minutes, several queries a
  day, invite and integration early), steady, slow_starter (first query after 3+ days, well under
  one query a day), silent_churner (active 1-5 days, then never again) and returner (active, idle
  5-10 days, back again);
* milestones (first import, first query, invite, integration, tutorial) are drawn per user with a
  persona-dependent chance and target delay, then snapped into a real session of that user, so a
  milestone never happens on a day the user was away; the welcome_checklist_v2 treatment raises the
  chances (the planted A/B effect);
* repeated query / import / analysis events only happen after the matching first milestone; a few
  milestone events are planted twice (a second completed_tutorial, ...) since scoring must count
  each milestone once;
* silent churners visit billing / downgrade pages and some cancel in their last session;
* support tickets and NPS answers are drawn per user and returned as small arrays (NPS "day_7" is
  answered 7-8.5 days after signup, "day_30" 26-30 days after, so only within the window).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import catalog as C
from .experiments import WELCOME_CHECKLIST_V2
from .profiles import Users

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MIN_MS = 60_000

# Hour-of-day (UTC) weights: a global customer base, busiest in the European / US overlap.
_HOURS = np.array(
    [2, 1.5, 1, 1, 1, 1.5, 2.5, 4, 5.5, 6.5, 7, 7, 7, 7, 7, 7, 6.5, 6, 5, 4.5, 4, 3.5, 3, 2.5], dtype=float
)
HOUR_P = _HOURS / _HOURS.sum()

FAST, STEADY, SLOW, CHURNER, RETURNER = range(5)
PERSONA_BASE = np.array([0.18, 0.30, 0.20, 0.20, 0.12])

# Per persona (fast, steady, slow, churner, returner).
EXTRA_SESSIONS = np.array([0.3, 0.15, 0.08, 0.1, 0.1])
SESSION_MEAN_MIN = np.array([45.0, 30.0, 20.0, 18.0, 25.0])
PAGE_RATE = np.array([1.8, 1.4, 1.1, 1.1, 1.3])
QUERY_RATE = np.array([5.5, 2.5, 1.0, 1.2, 2.0])
ANALYSIS_RATE = np.array([1.0, 0.5, 0.2, 0.2, 0.4])
FEATURE_RATE = np.array([1.3, 0.8, 0.3, 0.3, 0.5])
IMPORT_RATE = np.array([0.2, 0.12, 0.05, 0.05, 0.08])

# Milestone chance per persona: imported_first_data, ran_first_query, invited_teammate,
# created_integration, completed_tutorial.
MILESTONE_P = np.array(
    [
        [0.97, 0.98, 0.80, 0.75, 0.62],
        [0.85, 0.85, 0.45, 0.45, 0.45],
        [0.65, 0.60, 0.20, 0.20, 0.30],
        [0.50, 0.45, 0.08, 0.06, 0.18],
        [0.80, 0.75, 0.35, 0.30, 0.38],
    ]
)
# Target delay after signup, in seconds (low, high), same order as MILESTONE_P columns.
_M, _H, _D = 60, 3600, 86400
MILESTONE_DELAY = np.array(
    [
        [(2 * _M, 30 * _M), (60, 280), (1 * _H, 2 * _D), (1 * _H, 3 * _D), (5 * _M, 1 * _H)],
        [(10 * _M, 1 * _D), (20 * _M, 2 * _D), (1 * _D, 7 * _D), (2 * _D, 10 * _D), (30 * _M, 3 * _D)],
        [
            (1 * _D, 5 * _D),
            (3 * _D + 1 * _H, 8 * _D),
            (5 * _D, 14 * _D),
            (7 * _D, 20 * _D),
            (2 * _D, 10 * _D),
        ],
        [(5 * _M, 2 * _D), (10 * _M, 3 * _D), (1 * _D, 4 * _D), (1 * _D, 4 * _D), (1 * _H, 3 * _D)],
        [(5 * _M, 1 * _D), (10 * _M, 2 * _D), (8 * _D, 15 * _D), (8 * _D, 18 * _D), (1 * _H, 4 * _D)],
    ],
    dtype=float,
)
M_IMPORT, M_QUERY, M_INVITE, M_INTEGRATION, M_TUTORIAL = range(5)
MILESTONE_EVENTS = (
    C.EV["user.imported_first_data"],
    C.EV["user.ran_first_query"],
    C.EV["user.invited_teammate"],
    C.EV["user.created_integration"],
    C.EV["user.completed_tutorial"],
)

INTEGRATION_P = {
    "ecommerce": {"shopify": 0.5, "stripe": 0.25, "hubspot": 0.1, "slack": 0.1, "bigquery": 0.05},
    "saas": {"salesforce": 0.3, "hubspot": 0.25, "slack": 0.2, "snowflake": 0.15, "stripe": 0.1},
    "fintech": {"stripe": 0.35, "snowflake": 0.3, "salesforce": 0.2, "slack": 0.15},
    "healthcare": {"salesforce": 0.3, "snowflake": 0.3, "zendesk": 0.2, "slack": 0.2},
}
MISSING_INTEGRATIONS = ("NetSuite", "Marketo", "SAP", "QuickBooks", "Airtable")

KIND_IDENTIFY, KIND_PAGE, KIND_TRACK = 0, 1, 2
DEST_SEGMENT, DEST_RUDDERSTACK, DEST_MIXPANEL = 0, 1, 2


@dataclass
class Events:
    """One row per real call (identify, page, track) before it is split into source files."""

    u: np.ndarray  # int32; >= users.n for never-identified visitors
    t: np.ndarray  # int64 simulated time (ms); the Segment `timestamp` is derived from it
    kind: np.ndarray  # int8 KIND_*
    code: np.ndarray  # int16 event code (track) or page code (page)
    pint: np.ndarray  # int64 numeric property (records_imported, duration_ms, steps)
    pstr: np.ndarray  # int16 index into STR_POOL or -1
    anon: np.ndarray  # bool: anonymous only (no userId)
    dest: np.ndarray  # int8 DEST_*

    def __len__(self) -> int:
        return len(self.t)


@dataclass
class Simulation:
    """The simulated world: events plus per-user facts, tickets and NPS answers."""

    events: Events
    persona: np.ndarray
    signup_ms: np.ndarray
    n_visitors: int
    tickets: dict[str, np.ndarray]
    nps: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)


class _Builder:
    """Accumulates event column chunks; concatenated once at the end."""

    def __init__(self) -> None:
        self.chunks: list[tuple[np.ndarray, ...]] = []

    def add(
        self,
        u: np.ndarray,
        t: np.ndarray,
        kind: int,
        code: np.ndarray | int,
        pint: np.ndarray | int = 0,
        pstr: np.ndarray | int = -1,
        anon: bool = False,
    ) -> None:
        n = len(u)
        if n == 0:
            return
        self.chunks.append(
            (
                np.asarray(u, dtype=np.int32),
                np.asarray(t, dtype=np.int64),
                np.full(n, kind, dtype=np.int8),
                np.broadcast_to(np.asarray(code, dtype=np.int16), (n,)),
                np.broadcast_to(np.asarray(pint, dtype=np.int64), (n,)),
                np.broadcast_to(np.asarray(pstr, dtype=np.int16), (n,)),
                np.full(n, anon, dtype=bool),
            )
        )

    def build(self) -> tuple[np.ndarray, ...]:
        cols = list(zip(*self.chunks, strict=True))
        return tuple(np.concatenate(c) for c in cols)


def _choose(rng: np.random.Generator, n: int, values: tuple[int, ...], p: tuple[float, ...]) -> np.ndarray:
    return np.asarray(values, dtype=np.int16)[rng.choice(len(values), size=n, p=np.asarray(p) / sum(p))]


def _personas(rng: np.random.Generator, users: Users) -> np.ndarray:
    """Persona per user: technical roles adopt fast, executives start slow, free plans churn more."""
    w = np.tile(PERSONA_BASE, (users.n, 1))
    roles = np.array(C.ROLES)[users.role]
    tech = np.isin(roles, list(C.TECHNICAL_ROLES))
    exe = np.isin(roles, list(C.EXECUTIVE_ROLES))
    w[tech, FAST] *= 2.0
    w[exe, SLOW] *= 1.6
    w[~tech & ~exe, SLOW] *= 1.3
    w[~tech & ~exe, CHURNER] *= 1.2
    w[users.plan == 0, CHURNER] *= 1.5
    w[users.plan == 1, CHURNER] *= 1.3
    w[users.plan == 3, CHURNER] *= 0.5
    w[users.plan == 3, FAST] *= 1.2
    w /= w.sum(axis=1, keepdims=True)
    return np.minimum((rng.random(users.n)[:, None] > np.cumsum(w, axis=1)).sum(axis=1), 4).astype(np.int8)


def simulate(users: Users, start_ms: int, days: int, rng: np.random.Generator) -> Simulation:
    """Simulate ``days`` days from ``start_ms`` (UTC midnight) for ``users``; see the module docstring."""
    n = users.n
    end_ms = start_ms + days * DAY_MS
    cap = end_ms - 60_000  # leaves room for delivery delays so receivedAt stays inside the window
    persona = _personas(rng, users)

    # --- signups: spread over the window, weekdays busier, slight growth ---------------------------
    day_idx = np.arange(days)
    dow = (start_ms // DAY_MS + day_idx + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    weekend = dow >= 5
    w = (1 + 0.4 * day_idx / max(days, 1)) * np.where(weekend, 0.55, 1.0)
    signup_day = rng.choice(days, size=n, p=w / w.sum())
    hour = rng.choice(24, size=n, p=HOUR_P)
    signup_ms = start_ms + signup_day * DAY_MS + hour * HOUR_MS + rng.integers(0, HOUR_MS, size=n)
    signup_ms = np.clip(
        signup_ms, start_ms + 45 * MIN_MS + rng.integers(0, 30 * MIN_MS, size=n), cap - 15 * MIN_MS
    )
    signup_day = (signup_ms - start_ms) // DAY_MS

    # --- daily activity matrix (users x days) ------------------------------------------------------
    k = day_idx[None, :] - signup_day[:, None]
    life = rng.integers(1, 6, size=n)[:, None]  # churners: active days before going silent
    away_from = rng.integers(2, 5, size=n)[:, None]  # returners: idle from this day ...
    away_len = rng.integers(5, 11, size=n)[:, None]  # ... for 5-10 days, then come back
    p = np.zeros((n, days))
    pr = persona[:, None]
    p = np.where(pr == FAST, 0.8, p)
    p = np.where(pr == STEADY, 0.55, p)
    p = np.where(pr == SLOW, np.where(k < 7, 0.25, 0.45), p)
    p = np.where(pr == CHURNER, np.where(k < life, 0.75, 0.0), p)
    p = np.where(
        pr == RETURNER, np.where(k < away_from, 0.75, np.where(k < away_from + away_len, 0.0, 0.6)), p
    )
    p *= np.where(weekend, 0.5, 1.0)[None, :]
    active = ((k > 0) & (rng.random((n, days)) < p)) | (k == 0)
    pu, pd = np.nonzero(active)
    del p, k, active

    # --- sessions ----------------------------------------------------------------------------------
    n_sess = 1 + rng.poisson(EXTRA_SESSIONS[persona[pu]])
    s_pair = np.repeat(np.arange(len(pu)), n_sess)
    first_in_pair = np.ones(len(s_pair), dtype=bool)
    first_in_pair[1:] = s_pair[1:] != s_pair[:-1]
    s_u = pu[s_pair]
    s_day = pd[s_pair]
    on_signup_day = s_day == signup_day[s_u]
    signup_session = on_signup_day & first_in_pair
    day_start = start_ms + s_day.astype(np.int64) * DAY_MS
    normal_start = (
        day_start + rng.choice(24, size=len(s_u), p=HOUR_P) * HOUR_MS + rng.integers(0, HOUR_MS, len(s_u))
    )
    later_same_day = signup_ms[s_u] + rng.integers(30 * MIN_MS, 10 * HOUR_MS, len(s_u))
    s_start = np.where(signup_session, signup_ms[s_u], np.where(on_signup_day, later_same_day, normal_start))
    dur = np.clip(rng.exponential(SESSION_MEAN_MIN[persona[s_u]] * MIN_MS), 3 * MIN_MS, 3 * HOUR_MS)
    dur = np.where(signup_session, np.maximum(dur, 10 * MIN_MS), dur).astype(np.int64)
    s_end = np.minimum(np.minimum(s_start + dur, day_start + DAY_MS - 30_000), cap)
    keep = signup_session | (s_start < s_end - MIN_MS)
    order = np.lexsort((s_start[keep], s_u[keep]))
    s_u, s_start, s_end = s_u[keep][order], s_start[keep][order], s_end[keep][order]
    signup_session = signup_session[keep][order]
    n_s = len(s_u)
    s_key = (s_u.astype(np.int64) << 36) + (s_start - start_ms)
    user_first_sess = np.searchsorted(s_u, np.arange(n))
    user_n_sess = np.searchsorted(s_u, np.arange(n), side="right") - user_first_sess

    def snap(u: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Move each target time into a session of its user: inside the session around it, else early
        in the user's next session. Returns (time, ok); ok is False when the user never came back."""
        target = np.maximum(target, signup_ms[u] + 1_000)
        i = np.searchsorted(s_key, (u.astype(np.int64) << 36) + (target - start_ms), side="right") - 1
        ic = np.clip(i, 0, n_s - 1)
        inside = (i >= 0) & (s_u[ic] == u) & (target <= s_end[ic])
        j = np.clip(i + 1, 0, n_s - 1)
        nxt = (i + 1 < n_s) & (s_u[j] == u)
        t_next = s_start[j] + (rng.uniform(0.05, 0.5, len(u)) * (s_end[j] - s_start[j])).astype(np.int64)
        t = np.where(inside, target, t_next)
        return np.minimum(t, cap), inside | nxt

    b = _Builder()
    lp = C.pool_offset

    # --- signup: anonymous marketing pages, identify, user.signed_up --------------------------------
    has_anon = rng.random(n) < 0.75
    au = np.flatnonzero(has_anon)
    n_pages = np.minimum(rng.poisson(1.2, len(au)), 4)
    pu_ = np.repeat(au, n_pages)
    b.add(
        pu_,
        signup_ms[pu_] - rng.integers(4 * MIN_MS, 40 * MIN_MS, len(pu_)),
        KIND_PAGE,
        _choose(rng, len(pu_), C.MARKETING_PAGES, (0.4, 0.3, 0.2, 0.1)),
        anon=True,
    )
    b.add(
        au, signup_ms[au] - rng.integers(20_000, 3 * MIN_MS, len(au)), KIND_PAGE, C.PG["/signup"], anon=True
    )
    identify_ms = signup_ms + rng.integers(300, 2_000, n)
    all_u = np.arange(n)
    b.add(all_u, identify_ms, KIND_IDENTIFY, 0)
    signup_method = lp(C.SIGNUP_METHODS) + rng.choice(3, size=n, p=(0.6, 0.3, 0.1))
    b.add(
        all_u,
        identify_ms + rng.integers(100, 1_500, n),
        KIND_TRACK,
        C.EV["user.signed_up"],
        pstr=signup_method,
    )
    b.add(all_u, identify_ms + rng.integers(2_000, 6_000, n), KIND_PAGE, C.PG["/welcome"])
    # Some users are re-identified later (trait refresh on a later login): identify is not an event.
    later = np.flatnonzero((rng.random(n) < 0.1) & (user_n_sess > 1))
    ls = user_first_sess[later] + 1 + (rng.random(len(later)) * (user_n_sess[later] - 1)).astype(np.int64)
    b.add(later, s_start[ls] + 1_500, KIND_IDENTIFY, 0)

    # --- per-session activity ----------------------------------------------------------------------
    sp = persona[s_u]
    body_start = np.where(signup_session, s_start + 8_000, s_start)
    span = np.maximum(s_end - body_start, 1_000)

    def in_session(rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cnt = rng.poisson(rate)
        idx = np.repeat(np.arange(n_s), cnt)
        return idx, body_start[idx] + (rng.random(len(idx)) * span[idx]).astype(np.int64)

    login_method = lp(C.LOGIN_METHODS) + rng.choice(4, size=n, p=(0.55, 0.25, 0.12, 0.08))
    ls_ = np.flatnonzero(~signup_session)
    b.add(s_u[ls_], s_start[ls_] + rng.integers(0, 2_000, len(ls_)), KIND_TRACK, C.EV["user.logged_in"],
          pstr=login_method[s_u[ls_]])  # fmt: skip
    b.add(s_u[ls_], s_start[ls_] + rng.integers(2_000, 5_000, len(ls_)), KIND_PAGE, C.PG["/app"])
    idx, t = in_session(PAGE_RATE[sp])
    b.add(s_u[idx], t, KIND_PAGE, _choose(rng, len(idx), C.APP_PAGES, C.APP_PAGE_WEIGHTS))

    # --- milestones --------------------------------------------------------------------------------
    mp = MILESTONE_P[persona].copy()
    uplift = np.full(5, WELCOME_CHECKLIST_V2.milestone_uplift_pp / 100)
    uplift[M_TUTORIAL] = WELCOME_CHECKLIST_V2.tutorial_uplift_pp / 100
    mp[users.treatment] += uplift
    mp[users.team_size < 2, M_INVITE] *= 0.3
    mp = np.clip(mp, 0, 0.98)
    want = rng.random((n, 5)) < mp
    delay = MILESTONE_DELAY[persona]
    target = (
        signup_ms[:, None] + (delay[..., 0] + rng.random((n, 5)) * (delay[..., 1] - delay[..., 0])) * 1000
    )
    m_ts = np.zeros((n, 5), dtype=np.int64)
    m_ok = np.zeros((n, 5), dtype=bool)
    for m in range(5):
        t_m, ok = snap(all_u, target[:, m].astype(np.int64))
        m_ts[:, m], m_ok[:, m] = t_m, ok & want[:, m]

    records = _records(rng, users, n)
    integ = _integration_codes(rng, users)
    steps_done = rng.integers(5, 8, n)
    for m, ev in enumerate(MILESTONE_EVENTS):
        mu = np.flatnonzero(m_ok[:, m])
        pint: np.ndarray | int = 0
        pstr: np.ndarray | int = -1
        if m == M_IMPORT:
            pint = records[mu]
            pstr = lp(C.SOURCE_TYPES) + _source_type(rng, users, mu)
        elif m == M_QUERY:
            pint = rng.integers(40, 4_000, len(mu))
        elif m == M_INVITE:
            pstr = lp(C.INVITEE_ROLES) + rng.choice(3, size=len(mu), p=(0.2, 0.5, 0.3))
        elif m == M_INTEGRATION:
            pstr = integ[mu]
        else:
            pint = steps_done[mu]
        b.add(mu, m_ts[mu, m], KIND_TRACK, ev, pint=pint, pstr=pstr)

    # Planted repeats: a milestone event seen twice must still score once.
    repeat_p = np.array([0.02, 0.02, 0.0, 0.0, 0.05])
    for m, ev in enumerate(MILESTONE_EVENTS):
        if repeat_p[m] == 0:
            continue
        ru = np.flatnonzero(m_ok[:, m] & (rng.random(n) < repeat_p[m]))
        t_r, ok = snap(ru, m_ts[ru, m] + rng.integers(MIN_MS, 3 * DAY_MS, len(ru)))
        ru, t_r = ru[ok], t_r[ok]
        pint = records[ru] if m == M_IMPORT else (steps_done[ru] if m == M_TUTORIAL else 120)
        pstr = lp(C.SOURCE_TYPES) + _source_type(rng, users, ru) if m == M_IMPORT else -1
        b.add(ru, t_r, KIND_TRACK, ev, pint=pint, pstr=pstr)

    # Further invites (bigger teams) and further integrations: realistic repeats of those milestones.
    n_inv = np.where(m_ok[:, M_INVITE] & (users.team_size > 3), np.minimum(rng.poisson(0.8, n), 3), 0)
    iu = np.repeat(all_u, n_inv)
    t_i, ok = snap(iu, m_ts[iu, M_INVITE] + rng.integers(30 * MIN_MS, 6 * DAY_MS, len(iu)))
    b.add(iu[ok], t_i[ok], KIND_TRACK, C.EV["user.invited_teammate"],
          pstr=lp(C.INVITEE_ROLES) + rng.choice(3, size=int(ok.sum()), p=(0.1, 0.5, 0.4)))  # fmt: skip
    gu = np.flatnonzero(m_ok[:, M_INTEGRATION] & (rng.random(n) < 0.3))
    t_g, ok = snap(gu, m_ts[gu, M_INTEGRATION] + rng.integers(HOUR_MS, 7 * DAY_MS, len(gu)))
    b.add(
        gu[ok],
        t_g[ok],
        KIND_TRACK,
        C.EV["user.created_integration"],
        pstr=_integration_codes(rng, users)[gu[ok]],
    )

    # Repeated activity, only after the matching first milestone.
    fq_ok, fq_ts = m_ok[:, M_QUERY], m_ts[:, M_QUERY]
    idx, t = in_session(QUERY_RATE[sp])
    sel = fq_ok[s_u[idx]] & (t > fq_ts[s_u[idx]])
    b.add(
        s_u[idx[sel]],
        t[sel],
        KIND_TRACK,
        C.EV["user.ran_query"],
        pint=rng.integers(30, 9_000, int(sel.sum())),
    )
    idx, t = in_session(ANALYSIS_RATE[sp])
    sel = fq_ok[s_u[idx]] & (t > fq_ts[s_u[idx]])
    b.add(s_u[idx[sel]], t[sel], KIND_TRACK, C.EV["user.ran_analysis"],
          pstr=lp(C.ANALYSIS_TYPES) + rng.integers(0, len(C.ANALYSIS_TYPES), int(sel.sum())))  # fmt: skip
    idx, t = in_session(FEATURE_RATE[sp])
    b.add(s_u[idx], t, KIND_TRACK, C.EV["user.used_feature"],
          pstr=_choose(rng, len(idx), tuple(range(lp(C.FEATURES), lp(C.FEATURES) + len(C.FEATURES))),
                       (0.3, 0.25, 0.15, 0.1, 0.1, 0.05, 0.04, 0.01)))  # fmt: skip
    idx, t = in_session(IMPORT_RATE[sp])
    iu = s_u[idx]
    sel = m_ok[iu, M_IMPORT] & (t > m_ts[iu, M_IMPORT])
    iu, t = iu[sel], t[sel]
    b.add(iu, t, KIND_TRACK, C.EV["user.imported_data"],
          pint=(records[iu] * rng.uniform(0.05, 1.5, len(iu))).astype(np.int64) + 1,
          pstr=lp(C.SOURCE_TYPES) + _source_type(rng, users, iu))  # fmt: skip

    # --- billing, downgrade, cancellation in a churner's last session -------------------------------
    last = np.searchsorted(s_u, all_u, side="right") - 1
    paid = users.plan >= 1
    churner = persona == CHURNER
    visit_billing = np.where(churner, np.where(paid, 0.45, 0.2), 0.08) > rng.random(n)
    bu = np.flatnonzero(visit_billing)
    sess = np.where(
        churner[bu], last[bu], user_first_sess[bu] + (rng.random(len(bu)) * user_n_sess[bu]).astype(np.int64)
    )
    t_b = np.minimum(
        s_start[sess] + (rng.uniform(0.2, 0.8, len(bu)) * (s_end[sess] - s_start[sess])).astype(np.int64), cap
    )
    b.add(bu, t_b, KIND_PAGE, C.PG["/settings/billing"])
    down = np.where(churner[bu], np.where(paid[bu], 0.7, 0.0), 0.25) > rng.random(len(bu))
    du, t_d = bu[down], np.minimum(t_b[down] + rng.integers(20_000, 90_000, int(down.sum())), cap)
    b.add(du, t_d, KIND_PAGE, C.PG["/settings/billing/downgrade"])
    cancel = churner[du] & paid[du] & (rng.random(len(du)) < 0.55)
    cu, t_c = du[cancel], np.minimum(t_d[cancel] + rng.integers(MIN_MS, 5 * MIN_MS, int(cancel.sum())), cap)
    b.add(cu, t_c, KIND_TRACK, C.EV["subscription.cancelled"],
          pstr=lp(C.CANCEL_REASONS) + rng.choice(5, size=len(cu), p=(0.35, 0.2, 0.3, 0.1, 0.05)))  # fmt: skip

    # --- visitors who never sign up (anonymous page calls that never get stitched) -----------------
    n_vis = round(0.3 * n)
    v_pages = 1 + np.minimum(rng.poisson(1.0, n_vis), 3)
    vu = np.repeat(np.arange(n_vis), v_pages)
    v_start = start_ms + rng.integers(0, days, n_vis) * DAY_MS + rng.choice(24, n_vis, p=HOUR_P) * HOUR_MS
    v_t = np.minimum(v_start[vu] + rng.integers(0, 15 * MIN_MS, len(vu)), cap)
    b.add(n + vu, v_t, KIND_PAGE, _choose(rng, len(vu), (*C.MARKETING_PAGES, C.PG["/signup"]), (0.4, 0.3, 0.15, 0.1, 0.05)),
          anon=True)  # fmt: skip

    u, t, kind, code, pint_a, pstr_a, anon = b.build()
    t = np.minimum(t, cap)
    server = np.isin(code, [C.EV[e] for e in C.SERVER_EVENTS]) & (kind == KIND_TRACK)
    mp_only = (kind == KIND_TRACK) & np.isin(code, [C.EV["user.used_feature"], C.EV["user.ran_analysis"]])
    mp_only &= rng.random(len(t)) < 0.04
    dest = np.where(server, DEST_RUDDERSTACK, np.where(mp_only, DEST_MIXPANEL, DEST_SEGMENT)).astype(np.int8)
    events = Events(u=u, t=t, kind=kind, code=code, pint=pint_a, pstr=pstr_a, anon=anon, dest=dest)

    tickets = _tickets(rng, persona, s_start, s_end, user_first_sess, user_n_sess, cap)
    nps = _nps(rng, users, persona, signup_ms, tickets, cap)
    ms = {}
    for m, ev in enumerate(MILESTONE_EVENTS):
        ms[C.EVENT_NAMES[ev]] = {
            "control": int(m_ok[~users.treatment, m].sum()),
            "treatment": int(m_ok[users.treatment, m].sum()),
        }
    stats = {"milestone_users": ms, "sessions": n_s, "visitors": n_vis}
    return Simulation(events, persona, signup_ms, n_vis, tickets, nps, stats)


def _records(rng: np.random.Generator, users: Users, n: int) -> np.ndarray:
    """Records per import: log-normal; ecommerce catalogs are big (many first imports > 10,000)."""
    ecommerce = np.array(C.INDUSTRIES)[users.industry] == "ecommerce"
    mu = np.where(ecommerce, 9.0, 7.0)
    return np.maximum(np.exp(rng.normal(mu, 1.3, n)), 5).astype(np.int64)


def _source_type(rng: np.random.Generator, users: Users, u: np.ndarray) -> np.ndarray:
    ecommerce = np.array(C.INDUSTRIES)[users.industry[u]] == "ecommerce"
    generic = rng.choice(len(C.SOURCE_TYPES), size=len(u), p=(0.45, 0.0, 0.2, 0.15, 0.15, 0.05))
    return np.where(ecommerce & (rng.random(len(u)) < 0.6), 1, generic).astype(np.int16)


def _integration_codes(rng: np.random.Generator, users: Users) -> np.ndarray:
    """One integration per user, biased by industry (ecommerce -> shopify/stripe, saas -> CRM ...)."""
    out = rng.integers(0, len(C.INTEGRATIONS), users.n)
    base = C.pool_offset(C.INTEGRATIONS)
    for ind, probs in INTEGRATION_P.items():
        mask = np.array(C.INDUSTRIES)[users.industry] == ind
        names = list(probs)
        pick = rng.choice(len(names), size=int(mask.sum()), p=np.array(list(probs.values())))
        out[mask] = np.array([C.INTEGRATIONS.index(x) for x in names])[pick]
    return (base + out).astype(np.int16)


def _tickets(
    rng: np.random.Generator,
    persona: np.ndarray,
    s_start: np.ndarray,
    s_end: np.ndarray,
    first_sess: np.ndarray,
    n_sess: np.ndarray,
    cap: int,
) -> dict[str, np.ndarray]:
    """Support tickets opened during a session; most resolved hours later, the rest stay open."""
    n = len(persona)
    p = np.array([0.05, 0.08, 0.16, 0.18, 0.12])[persona]
    n_t = (rng.random(n) < p).astype(np.int64)
    n_t += (n_t > 0) & (rng.random(n) < 0.12)
    tu = np.repeat(np.arange(n), n_t)
    sess = first_sess[tu] + (rng.random(len(tu)) * n_sess[tu]).astype(np.int64)
    opened = np.minimum(
        s_start[sess] + (rng.random(len(tu)) * (s_end[sess] - s_start[sess])).astype(np.int64), cap
    )
    resolve_p = np.array([0.92, 0.88, 0.82, 0.68, 0.85])[persona[tu]]
    resolved = opened + np.exp(rng.normal(np.log(5 * HOUR_MS), 1.0, len(tu))).astype(np.int64) + 20 * MIN_MS
    resolved = np.where((rng.random(len(tu)) < resolve_p) & (resolved <= cap), resolved, -1)
    order = np.lexsort((tu, opened))
    return {
        "user": tu[order],
        "opened": opened[order],
        "resolved": resolved[order],
        "subject": rng.integers(0, len(C.TICKET_SUBJECTS), len(tu))[order],
        "chat": (rng.random(len(tu)) < 0.45)[order],
    }


def _nps(
    rng: np.random.Generator,
    users: Users,
    persona: np.ndarray,
    signup_ms: np.ndarray,
    tickets: dict[str, np.ndarray],
    cap: int,
) -> dict[str, Any]:
    """NPS answers around day 7 and day 30; low scores carry complaint themes in free text."""
    n = users.n
    unresolved = np.zeros(n, dtype=bool)
    unresolved[tickets["user"][tickets["resolved"] < 0]] = True
    rows: list[tuple[int, str, int, int, str, str]] = []  # user, survey, submitted, score, comment, theme
    mean = np.array([9.0, 8.0, 6.5, 4.0, 7.0])[persona] + 0.3 * users.treatment - 2.0 * unresolved
    themes = list(C.DETRACTOR_THEMES)
    theme_p = np.array(
        [
            [0.2, 0.2, 0.1, 0.3, 0.2],
            [0.3, 0.2, 0.2, 0.15, 0.15],
            [0.5, 0.15, 0.1, 0.1, 0.15],
            [0.25, 0.25, 0.3, 0.1, 0.1],
            [0.3, 0.2, 0.15, 0.15, 0.2],
        ]
    )
    for survey, offset, spread, rate in (
        ("day_7", 7 * DAY_MS, 36 * HOUR_MS, np.array([0.4, 0.35, 0.3, 0.2, 0.3])),
        ("day_30", 26 * DAY_MS, 96 * HOUR_MS, np.array([0.35, 0.3, 0.25, 0.15, 0.3])),
    ):
        submitted = signup_ms + offset + rng.integers(HOUR_MS, spread, n)
        answer = (rng.random(n) < rate[persona]) & (submitted <= cap)
        score = np.clip(np.rint(rng.normal(mean, 1.6)), 0, 10).astype(int)
        pick_theme = rng.random(n)
        pick_text = rng.integers(0, 1000, n)
        miss = rng.integers(0, len(MISSING_INTEGRATIONS), n)
        empty = rng.random(n) < 0.08
        for i in np.flatnonzero(answer):
            s = int(score[i])
            theme = ""
            if s <= 6:
                theme = themes[int((pick_theme[i] > np.cumsum(theme_p[persona[i]])).sum())]
                pool = (C.QUIT_THEMES if survey == "day_30" else C.DETRACTOR_THEMES)[theme]
                comment = (
                    ""
                    if empty[i]
                    else pool[pick_text[i] % len(pool)].format(integration=MISSING_INTEGRATIONS[miss[i]])
                )
            elif s <= 8:
                comment = C.PASSIVE_COMMENTS[pick_text[i] % len(C.PASSIVE_COMMENTS)]
            else:
                pool = C.PROMOTER_QUIT_COMMENTS if survey == "day_30" else C.PROMOTER_COMMENTS
                comment = pool[pick_text[i] % len(pool)]
            rows.append((int(i), survey, int(submitted[i]), s, comment, theme))
    rows.sort(key=lambda r: (r[2], r[0]))
    return {"rows": rows}
