"""What the Dagster UI's catalog says about an asset besides its data: who owns it, its stage, whether
it holds personal data, and how fresh it should be.

One place for the Python assets (ingest, AI, sync, reporting); the dbt assets take their owners and
the `pii` flag from the dbt project (`dbt_project.yml` meta per folder, `config.meta.pii` per model)
through the translator in `assets/dbt.py`, which adds the same stage tag and freshness policy.
tests/test_catalog.py checks that the two agree: one owner per group, every asset owned.

Why these values (docs/deploy.md, "What the UI shows"): the data team runs the pipeline (landing to
staging, the AI steps, the delivery to the vendors); the growth team owns the onboarding rules and
reads the reports. A daily schedule at 02:00 UTC materializes every asset once a day, so an asset
older than 26 hours has missed a run (warn) and one older than 50 hours has missed two (fail).
"""

from __future__ import annotations

from datetime import timedelta

from dagster import FreshnessPolicy

# Dagster group -> owners (a team, as Dagster's "team:" owners; shown on every asset of the group).
OWNERS: dict[str, list[str]] = {
    "ingest": ["team:data"],
    "staging": ["team:data"],
    "ai": ["team:data"],
    "sync": ["team:data"],
    "decisions": ["team:growth"],
    "reporting": ["team:growth"],
}

# The tag an asset that holds emails or people's names carries (value empty: the UI shows "pii").
PII_TAG = "pii"

DAILY_FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(hours=50), warn_window=timedelta(hours=26))
"""For the assets an operator reads: the raw tables and the marts (every asset in the `marts` schema)."""


def stage_tags(group: str, pii: bool = False) -> dict[str, str]:
    """The catalog tags of an asset of `group`: its stage (the group: ingest, staging, ai, decisions,
    sync, reporting), and `pii` when it holds emails or names."""
    return {"stage": group, **({PII_TAG: ""} if pii else {})}
