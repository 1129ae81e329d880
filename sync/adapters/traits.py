"""The engine's decisions as profile traits: one mapping shared by Mixpanel, Segment and Salesforce.

Why one place: the same names go to every analytics tool (cohorts built in Mixpanel and in a Segment
destination agree), and the same list is what the ingest must never read back as a profile change
(an ``identify`` carrying them comes back through the next Segment export). ``ENGINE_TRAITS`` and
``EXPERIMENT_TRAIT_PREFIX`` are that list; ``tests/sync/test_segment_feedback.py`` checks that none of
them is a trait the profile models read (``stg_segment__identifies``), and the dbt unit test of
``int_users__profiles`` that an identify carrying only them changes no profile.

Source: ``marts.destination_traits`` (one row per user, the latest decided day).
"""

from __future__ import annotations

import json
import re
from typing import Any

from sync.adapters.base import bounded_str, to_float, to_int
from sync.outcomes import InvalidRow

ENGINE_TRAITS: tuple[str, ...] = ("onboarding_track", "onboarding_stage", "onboarding_score", "churn_risk",
                                  "churn_risk_band", "onboarding_completed_on")
"""Trait names the engine sets in analytics tools (plus one per experiment, below)."""
EXPERIMENT_TRAIT_PREFIX = "experiment_"
"""``experiment_<experiment_id>`` = the user's variant of that experiment."""
TRAIT_COLUMNS: tuple[str, ...] = (*ENGINE_TRAITS, "experiment_variants")
"""The mart's columns the analytics streams read (``experiment_variants``: a JSON object)."""
MAX_STRING = 255
_EXPERIMENT_ID = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")


def trait_values(row: dict[str, Any]) -> dict[str, Any]:
    """A ``destination_traits`` row as flat traits; ``InvalidRow`` for a value no tool would take."""
    values: dict[str, Any] = {
        "onboarding_track": bounded_str("onboarding_track", row.get("onboarding_track"), MAX_STRING),
        "onboarding_stage": bounded_str("onboarding_stage", row.get("onboarding_stage"), MAX_STRING),
        "onboarding_score": to_int("onboarding_score", row.get("onboarding_score")),
        "churn_risk": to_float("churn_risk", row.get("churn_risk"), digits=4),
        "churn_risk_band": bounded_str("churn_risk_band", row.get("churn_risk_band"), MAX_STRING),
        "onboarding_completed_on": _iso_date(row.get("onboarding_completed_on")),
    }
    values.update(experiment_traits(row.get("experiment_variants")))
    return values


def experiment_traits(raw: Any) -> dict[str, str]:
    """``{"exp_a": "b"}`` (JSON text) -> ``{"experiment_exp_a": "b"}``, sorted for a stable hash."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    try:
        variants = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise InvalidRow("experiment_variants is not JSON") from exc
    if not isinstance(variants, dict):
        raise InvalidRow("experiment_variants is not a JSON object")
    traits: dict[str, str] = {}
    for experiment, variant in sorted(variants.items()):
        if not _EXPERIMENT_ID.fullmatch(str(experiment)) or not isinstance(variant, str) or not variant:
            raise InvalidRow(f"experiment_variants has an unusable entry {str(experiment)[:40]!r}")
        traits[EXPERIMENT_TRAIT_PREFIX + str(experiment)] = variant[:MAX_STRING]
    return traits


def is_engine_trait(name: str) -> bool:
    return name in ENGINE_TRAITS or name.startswith(EXPERIMENT_TRAIT_PREFIX)


def _iso_date(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return str(value.isoformat())[:10]
    text = str(value).strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text[:10]):
        raise InvalidRow("onboarding_completed_on is not a date")
    return text[:10]
