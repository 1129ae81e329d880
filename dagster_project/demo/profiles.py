"""Simulated users: identities in each auth provider's format, and signup profiles with planted gaps.

Random draws are vectorised with numpy; the per-user Python loop only assembles strings (cheap even at
100k users). Missing profile fields come in the three shapes real webhooks use: the key is absent,
``null``, or an empty string, so staging must treat all three as "missing" and apply the seed's
fallbacks (name -> email local part, utm_source -> 'direct', role -> 'unknown', ...).
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import catalog as C
from .experiments import WELCOME_CHECKLIST_V2, bucket

PROVIDERS = ("auth0", "supabase", "firebase")
PROVIDER_WEIGHTS = (0.45, 0.35, 0.20)
_FIREBASE_ALPHABET = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8
)
_ASCII_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "'": "", " ": ""})

# Share of users whose field is missing (absent / null / empty), per profile field.
MISSING_RATES: dict[str, float] = {
    "name": 0.09,
    "utm_source": 0.24,
    "company": 0.05,
    "company_size": 0.05,
    "industry": 0.05,
    "role": 0.07,
    "plan": 0.01,
    "features_enabled": 0.05,
    "team_size": 0.05,
}
_ABSENT = object()


@dataclass
class Users:
    """Column-wise users: numpy arrays drive behaviour, Python lists hold the strings written out."""

    n: int
    provider: np.ndarray  # int8 index into PROVIDERS
    user_id: list[str]
    anon_id: list[str]
    email: list[str]
    name: list[Any]  # str, "" or None; _ABSENT when the key is omitted
    profile: list[dict[str, Any]]  # the profile exactly as sent (missing keys omitted)
    plan: np.ndarray  # int8 index into PLANS (behavioural plan, also when not sent)
    industry: np.ndarray
    role: np.ndarray
    company_size: np.ndarray
    team_size: np.ndarray  # behavioural team size (>= 1)
    treatment: np.ndarray  # bool, welcome_checklist_v2
    ua: np.ndarray  # index into USER_AGENTS
    tz: np.ndarray
    ip: list[str]
    skew_ms: np.ndarray  # client clock offset (<= 0) for originalTimestamp
    extra: dict[str, Any] = field(default_factory=dict)

    def name_is_absent(self, i: int) -> bool:
        """True when the name key must be left out of the payload entirely."""
        return self.name[i] is _ABSENT


def _fold(s: str) -> str:
    """ASCII e-mail local part / domain fragment from a display string (José -> jose, Łukasz -> lukasz)."""
    s = s.translate(_ASCII_FOLD)
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower()


def _missing_value(u: float) -> Any:
    """How a missing field is represented: mostly an absent key, sometimes null, sometimes ''."""
    if u < 0.7:
        return _ABSENT
    return None if u < 0.9 else ""


def _provider_ids(rng: np.random.Generator, provider: np.ndarray) -> list[str]:
    """One id per user in the provider's own format; checked unique because it is the join key."""
    n = len(provider)
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    fb = _FIREBASE_ALPHABET[rng.integers(0, len(_FIREBASE_ALPHABET), size=(n, 28))]
    ids: list[str] = []
    for i in range(n):
        p = provider[i]
        if p == 0:
            ids.append("auth0|" + raw[i, :12].tobytes().hex())
        elif p == 1:
            ids.append(str(uuid.UUID(bytes=raw[i].tobytes(), version=4)))
        else:
            ids.append(fb[i].tobytes().decode())
    if len(set(ids)) != n:  # astronomically unlikely, but ids are keys: fail loudly, never silently
        raise RuntimeError("provider id collision; use another seed")
    return ids


def make_users(n: int, rng: np.random.Generator) -> Users:
    """Draw ``n`` users: provider identity, anonymous id, profile, behavioural attributes."""
    provider = rng.choice(3, size=n, p=PROVIDER_WEIGHTS).astype(np.int8)
    user_id = _provider_ids(rng, provider)
    anon_raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    anon_id = [str(uuid.UUID(bytes=anon_raw[i].tobytes(), version=4)) for i in range(n)]

    size = rng.choice(len(C.COMPANY_SIZES), size=n, p=C.COMPANY_SIZE_WEIGHTS).astype(np.int8)
    # Bigger companies skew to paid plans; the demo needs every plan in every size band anyway.
    plan_p = np.tile(np.array(C.PLAN_WEIGHTS), (n, 1))
    plan_p[:, 3] *= np.array([0.2, 0.5, 1.0, 2.5, 5.0])[size]
    plan_p[:, 0] *= np.array([1.5, 1.2, 1.0, 0.7, 0.5])[size]
    plan_p /= plan_p.sum(axis=1, keepdims=True)
    plan = (rng.random(n)[:, None] > np.cumsum(plan_p, axis=1)).sum(axis=1).astype(np.int8)
    plan = np.minimum(plan, 3)
    industry = rng.choice(len(C.INDUSTRIES), size=n, p=C.INDUSTRY_WEIGHTS).astype(np.int8)
    role = rng.choice(len(C.ROLES), size=n, p=C.ROLE_WEIGHTS).astype(np.int8)
    lo = np.array([1, 2, 3, 4, 5])[size]
    hi = np.array([6, 15, 30, 60, 120])[size]
    team_size = (lo + np.floor(rng.random(n) ** 2 * (hi - lo + 1))).astype(np.int32)
    utm = rng.choice(len(C.UTM_SOURCES), size=n, p=C.UTM_WEIGHTS)
    campaign = rng.integers(0, len(C.CAMPAIGNS), size=n)
    first = rng.integers(0, len(C.FIRST_NAMES), size=n)
    last = rng.integers(0, len(C.LAST_NAMES), size=n)
    stem = rng.integers(0, len(C.COMPANY_STEMS), size=n)
    suffix = rng.integers(0, 4, size=n)
    legal = rng.integers(0, len(C.LEGAL_SUFFIX), size=n)
    tld = rng.integers(0, 4, size=n)
    freemail = rng.random(n) < np.where(plan <= 1, 0.35, 0.05)
    freemail_host = rng.integers(0, len(C.FREE_MAIL), size=n)
    feature_mask = rng.random((n, len(C.FEATURES))) < np.array([0.9, 0.8, 0.5, 0.4, 0.35, 0.2, 0.85, 0.1])
    feature_mask[:, 7] &= plan == 3  # SSO is an enterprise feature
    miss_u = rng.random((n, len(MISSING_RATES)))
    miss_shape = rng.random((n, len(MISSING_RATES)))
    ua = rng.integers(0, len(C.USER_AGENTS), size=n).astype(np.int8)
    tz = rng.integers(0, len(C.TIMEZONES), size=n).astype(np.int8)
    ip_octets = rng.integers(1, 255, size=(n, 2))
    ip_block = rng.integers(0, 3, size=n)
    skew = np.where(rng.random(n) < 0.05, -rng.integers(1_000, 90_000, size=n), 0).astype(np.int64)

    emails: list[str] = []
    names: list[Any] = []
    profiles: list[dict[str, Any]] = []
    ips: list[str] = []
    seen: set[str] = set()
    fields = list(MISSING_RATES)
    for i in range(n):
        fn, ln = C.FIRST_NAMES[first[i]], C.LAST_NAMES[last[i]]
        ind = C.INDUSTRIES[industry[i]]
        company = f"{C.COMPANY_STEMS[stem[i]]} {C.INDUSTRY_SUFFIX[ind][suffix[i]]}"
        if C.LEGAL_SUFFIX[legal[i]]:
            company += " " + C.LEGAL_SUFFIX[legal[i]]
        if freemail[i]:
            host = C.FREE_MAIL[freemail_host[i]]
        else:
            host = _fold(C.COMPANY_STEMS[stem[i]] + C.INDUSTRY_SUFFIX[ind][suffix[i]])
            host += (".com", ".io", ".co", ".de")[tld[i]]
        local = f"{_fold(fn)}.{_fold(ln)}"
        email, k = f"{local}@{host}", 1
        while email in seen:  # two Emma Smiths at Acme Shop get distinct addresses
            k += 1
            email = f"{local}{k}@{host}"
        seen.add(email)
        emails.append(email)

        values: dict[str, Any] = {
            "name": f"{fn} {ln}",
            "utm_source": C.UTM_SOURCES[utm[i]],
            "company": company,
            "company_size": C.COMPANY_SIZES[size[i]],
            "industry": ind,
            "role": C.ROLES[role[i]],
            "plan": C.PLANS[plan[i]],
            "features_enabled": [f for f, on in zip(C.FEATURES, feature_mask[i], strict=True) if on],
            "team_size": int(team_size[i]),
        }
        for j, key in enumerate(fields):
            if miss_u[i, j] < MISSING_RATES[key]:
                missing = _missing_value(miss_shape[i, j])
                if key in ("features_enabled", "team_size") and missing == "":
                    missing = None  # an empty string is not a plausible array / integer gap
                values[key] = missing
        names.append(values.pop("name"))
        profiles.append({k: v for k, v in values.items() if v is not _ABSENT})
        ips.append(
            f"{(198, 203, 192)[ip_block[i]]}.{(51, 0, 0)[ip_block[i]]}.{ip_octets[i, 0]}.{ip_octets[i, 1]}"
        )

    treatment = np.fromiter(
        (bucket(WELCOME_CHECKLIST_V2.experiment_id, uid) >= WELCOME_CHECKLIST_V2.split for uid in user_id),
        dtype=bool,
        count=n,
    )
    users = Users(
        n=n,
        provider=provider,
        user_id=user_id,
        anon_id=anon_id,
        email=emails,
        name=names,
        profile=profiles,
        plan=plan,
        industry=industry,
        role=role,
        company_size=size,
        team_size=team_size,
        treatment=treatment,
        ua=ua,
        tz=tz,
        ip=ips,
        skew_ms=skew,
    )
    users.extra["campaign"] = [
        {
            "source": C.UTM_SOURCES[utm[i]],
            "medium": C.UTM_MEDIUM[C.UTM_SOURCES[utm[i]]],
            "name": C.CAMPAIGNS[campaign[i]],
        }
        if isinstance(profiles[i].get("utm_source"), str) and profiles[i]["utm_source"]
        else None
        for i in range(n)
    ]
    return users


def traits(users: Users, i: int) -> dict[str, Any]:
    """Segment identify traits: email, name and the profile, with the same gaps as the signup payload."""
    t: dict[str, Any] = {"email": users.email[i]}
    if not users.name_is_absent(i):
        t["name"] = users.name[i]
    t.update(users.profile[i])
    return t
