"""The rule track (seed step 1.2 as rules) as a pure function, for the eval and the stand-in.

The dbt model `int_onboarding__tracks` is the production rule decision. This module reproduces it in
Python so the eval can report LLM-vs-rules agreement without a dbt run, and so tests can check that
every fallback ends in the rule decision. To avoid two diverging rule sets it reads the same decision
tables the dbt model reads (`dbt_project/seeds/onboarding_track_rules.csv` and
`onboarding_role_groups.csv`) with the same matching semantics; only when those files are absent does it
use the built-in table below, which mirrors the seed workflow's text:

    enterprise plan -> enterprise_custom; trial -> self_service; technical roles (engineer, developer,
    data, product lead/manager, CTO, architect) -> power_user; executives and VPs (CEO, VP, Head of,
    Director, founder) -> business_value; non-technical free users -> guided_handholding;
    else self_service.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..core.settings import DBT_PROJECT_DIR

TRACKS: tuple[str, ...] = (
    "power_user",
    "business_value",
    "guided_handholding",
    "self_service",
    "enterprise_custom",
)

SEEDS_DIR = DBT_PROJECT_DIR / "seeds"


@dataclass(frozen=True)
class RoleGroupRule:
    priority: int
    match_type: str  # exact | prefix | contains
    pattern: str
    role_group: str


@dataclass(frozen=True)
class TrackRule:
    priority: int
    rule_id: str
    track: str
    plan: str | None = None
    role_group: str | None = None
    company_size: str | None = None
    industry: str | None = None
    signup_source: str | None = None


@dataclass(frozen=True)
class RuleTable:
    role_groups: tuple[RoleGroupRule, ...]
    rules: tuple[TrackRule, ...]
    origin: str


# Built-in table: the seed workflow's text (used only when the dbt seeds are not available).
_BUILTIN_ROLE_GROUPS = (
    *(RoleGroupRule(10 + i, "contains", p, "technical") for i, p in enumerate(
        ("engineer", "developer", "data", "product_lead", "product_manager", "architect")
    )),
    RoleGroupRule(20, "exact", "cto", "technical"),
    *(RoleGroupRule(30 + i, "contains", p, "executive") for i, p in enumerate(
        ("ceo", "vp", "vice_president", "head_of", "director", "founder")
    )),
)  # fmt: skip
_BUILTIN_RULES = (
    TrackRule(10, "enterprise_plan", "enterprise_custom", plan="enterprise"),
    TrackRule(20, "trial_default", "self_service", plan="trial"),
    TrackRule(30, "technical_role", "power_user", role_group="technical"),
    TrackRule(40, "executive_role", "business_value", role_group="executive"),
    TrackRule(50, "free_non_technical", "guided_handholding", plan="free"),
    TrackRule(90, "default", "self_service"),
)
BUILTIN = RuleTable(_BUILTIN_ROLE_GROUPS, _BUILTIN_RULES, origin="built-in (seed workflow text)")


def _blank(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


@lru_cache(maxsize=4)
def load_rule_table(seeds_dir: Path = SEEDS_DIR) -> RuleTable:
    """The dbt seeds' decision tables when present and well-formed, else the built-in table."""
    try:
        with open(seeds_dir / "onboarding_role_groups.csv", newline="", encoding="utf-8") as f:
            groups = tuple(
                RoleGroupRule(
                    int(r["priority"]), r["match_type"].strip(), r["pattern"].strip(), r["role_group"].strip()
                )
                for r in csv.DictReader(f)
            )
        with open(seeds_dir / "onboarding_track_rules.csv", newline="", encoding="utf-8") as f:
            rules = tuple(
                TrackRule(
                    priority=int(r["priority"]),
                    rule_id=r["rule_id"].strip(),
                    track=r["track"].strip(),
                    plan=_blank(r.get("plan")),
                    role_group=_blank(r.get("role_group")),
                    company_size=_blank(r.get("company_size")),
                    industry=_blank(r.get("industry")),
                    signup_source=_blank(r.get("signup_source")),
                )
                for r in csv.DictReader(f)
            )
    except (OSError, KeyError, ValueError):
        return BUILTIN
    if not rules or any(rule.track not in TRACKS for rule in rules):
        return BUILTIN
    return RuleTable(
        tuple(sorted(groups, key=lambda g: g.priority)),
        tuple(sorted(rules, key=lambda r: r.priority)),
        origin=f"dbt seeds ({seeds_dir})",
    )


def normalize_role(role: str | None) -> str:
    """As the dbt macro `normalize_role`: lower case, spaces and hyphens as underscores."""
    return (role or "").strip().replace(" ", "_").replace("-", "_").lower()


def role_group(role: str | None, table: RuleTable | None = None) -> str:
    """technical | executive | non_technical | unknown: the first matching pattern by priority."""
    key = normalize_role(role)
    for g in (table or load_rule_table()).role_groups:
        if (
            (g.match_type == "exact" and key == g.pattern)
            or (g.match_type == "prefix" and key.startswith(g.pattern))
            or (g.match_type == "contains" and g.pattern in key)
        ):
            return g.role_group
    return "unknown"


def rule_track(profile: Mapping[str, object], table: RuleTable | None = None) -> tuple[str, str]:
    """(track, rule_id) for a profile with plan, role, company_size, industry, signup_source."""
    table = table or load_rule_table()
    attrs = {
        "plan": profile.get("plan"),
        "role_group": role_group(str(profile.get("role") or ""), table),
        "company_size": profile.get("company_size"),
        "industry": profile.get("industry"),
        "signup_source": profile.get("signup_source"),
    }
    for rule in table.rules:
        if all(getattr(rule, k) is None or getattr(rule, k) == v for k, v in attrs.items()):
            return rule.track, rule.rule_id
    return "self_service", "no_rule_matched"
