"""A/B experiments known to the product, and the deterministic bucketing shared by every component.

The experiments and their traffic weights are the dbt seeds (``seeds/experiments.csv``,
``seeds/experiment_variants.csv``), read here, so the generator assigns users exactly as
``int_experiments__assignments`` does: the variants split [0, 1) into consecutive slices in
``variant_order``, each as wide as its share of the weights, and a user falls in the slice holding
their md5 bucket. Editing a weight in the seed changes the demo's split too; nothing is 50/50 by fiat.

The generator plants a real effect for ``welcome_checklist_v2`` (treatment users complete the tutorial
and reach milestones more often); the experiment report must recover it. Assignment is a pure function
of (experiment id, user id) so the generator, dbt models and reports agree without storing a table.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..core.settings import DBT_PROJECT_DIR

SEEDS_DIR = DBT_PROJECT_DIR / "seeds"


@dataclass(frozen=True)
class Variant:
    """One variant's slice of the bucket range: ``[start, end)``."""

    name: str
    is_control: bool
    start: float
    end: float


@dataclass(frozen=True)
class Experiment:
    """An experiment: its variants (slices of the md5 bucket, in ``variant_order``) and segment.

    ``split`` is where the first variant's slice ends (the control's share): ``profiles.py`` marks a
    user as treated when ``bucket >= split``, which is the seed's slicing for two variants."""

    experiment_id: str
    description: str
    variants: tuple[Variant, ...]
    segment_plan: str | None = None
    # Planted effect in percentage points (generator only): tutorial completion and other milestones.
    tutorial_uplift_pp: float = 0.0
    milestone_uplift_pp: float = 0.0

    @property
    def split(self) -> float:
        return self.variants[0].end

    def variant_of(self, b: float) -> str:
        """The variant whose slice holds bucket ``b`` (the last one for b at the top, as in SQL)."""
        for v in self.variants:
            if v.start <= b < v.end:
                return v.name
        return self.variants[-1].name


# The generator's planted effects, per experiment id (the seed says nothing about the simulated users).
PLANTED_UPLIFT_PP = {"welcome_checklist_v2": (17.0, 6.0)}


def _slices(rows: list[dict[str, str]]) -> tuple[Variant, ...]:
    rows = sorted(rows, key=lambda r: int(r["variant_order"]))
    weights = [float(r["weight"]) for r in rows]
    total = sum(weights)
    if total <= 0 or any(w <= 0 for w in weights):
        raise ValueError(f"experiment_variants.csv: weights must be > 0 ({rows[0]['experiment_id']})")
    out, cumulative = [], 0.0
    for row, weight in zip(rows, weights, strict=True):
        start = cumulative / total
        cumulative += weight
        out.append(Variant(row["variant"], row["is_control"].strip().lower() == "true", start, cumulative / total))
    return tuple(out)


@cache
def load_experiments(seeds_dir: Path = SEEDS_DIR) -> dict[str, Experiment]:
    """The experiments of the seeds, with their variants' slices (read once per process)."""
    with (seeds_dir / "experiments.csv").open(newline="") as f:
        experiments = list(csv.DictReader(f))
    with (seeds_dir / "experiment_variants.csv").open(newline="") as f:
        variants = list(csv.DictReader(f))
    out = {}
    for row in experiments:
        eid = row["experiment_id"]
        tutorial, milestone = PLANTED_UPLIFT_PP.get(eid, (0.0, 0.0))
        out[eid] = Experiment(
            experiment_id=eid,
            description=row["description"],
            variants=_slices([v for v in variants if v["experiment_id"] == eid]),
            segment_plan=row["segment_plan"] or None,
            tutorial_uplift_pp=tutorial,
            milestone_uplift_pp=milestone,
        )
    return out


EXPERIMENTS: dict[str, Experiment] = load_experiments()
WELCOME_CHECKLIST_V2 = EXPERIMENTS["welcome_checklist_v2"]


def bucket(experiment_id: str, user_id: str) -> float:
    """Uniform [0, 1) bucket: ``int(md5(f"{experiment_id}:{user_id}").hexdigest()[:8], 16) / 16**8``.

    md5 rather than Python's hash() so the value is stable across processes and reproducible in SQL
    (DuckDB: ``('0x' || md5(experiment_id || ':' || user_id)[1:8])::UBIGINT / 16^8``).
    """
    digest = hashlib.md5(f"{experiment_id}:{user_id}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) / 16**8


def assign_variant(experiment_id: str, user_id: str) -> str:
    """The variant of ``user_id`` in ``experiment_id``: the seed's slice that holds the user's bucket."""
    return EXPERIMENTS[experiment_id].variant_of(bucket(experiment_id, user_id))
