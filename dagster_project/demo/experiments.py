"""A/B experiments known to the product, and the deterministic bucketing shared by every component.

The generator plants a real effect for ``welcome_checklist_v2`` (treatment users complete the tutorial
and reach milestones more often); the experiment report must recover it. Assignment is a pure function
of (experiment id, user id) so the generator, dbt models and reports agree without storing a table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Experiment:
    """An experiment: two variants split at ``split`` of the md5 bucket (bucket < split -> first variant)."""

    experiment_id: str
    description: str
    variants: tuple[str, str] = ("control", "treatment")
    split: float = 0.5
    # Planted effect in percentage points (generator only): tutorial completion and other milestones.
    tutorial_uplift_pp: float = 0.0
    milestone_uplift_pp: float = 0.0


WELCOME_CHECKLIST_V2 = Experiment(
    experiment_id="welcome_checklist_v2",
    description="New in-app welcome checklist (treatment) versus the old product tour (control).",
    tutorial_uplift_pp=17.0,
    milestone_uplift_pp=6.0,
)

EXPERIMENTS: dict[str, Experiment] = {WELCOME_CHECKLIST_V2.experiment_id: WELCOME_CHECKLIST_V2}


def bucket(experiment_id: str, user_id: str) -> float:
    """Uniform [0, 1) bucket: ``int(md5(f"{experiment_id}:{user_id}").hexdigest()[:8], 16) / 16**8``.

    md5 rather than Python's hash() so the value is stable across processes and reproducible in SQL
    (DuckDB: ``('0x' || md5(experiment_id || ':' || user_id)[1:8])::UBIGINT / 16^8``).
    """
    digest = hashlib.md5(f"{experiment_id}:{user_id}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) / 16**8


def assign_variant(experiment_id: str, user_id: str) -> str:
    """The variant of ``user_id`` in ``experiment_id``: control below the split, treatment above."""
    exp = EXPERIMENTS[experiment_id]
    return exp.variants[0] if bucket(experiment_id, user_id) < exp.split else exp.variants[1]
