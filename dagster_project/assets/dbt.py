"""dbt models as Dagster assets; dbt tests become asset checks.

The partition window (one day for the daily schedule, a range for a backfill, which runs as a single
run) is passed to dbt as `--vars {"start_date": ..., "end_date": ...}`, and the incremental models
process only that window.
"""

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from dagster import AssetExecutionContext, BackfillPolicy
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from ..dbt_project import dbt_project
from ..partitions import daily_partitions

FOUNDATION_PREFIXES = ("stg_", "int_events__", "int_users__")


class OnboardingTranslator(DagsterDbtTranslator):
    """Groups by stage: staging (incl. unified events and profiles), decisions, ai, reporting."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        name = dbt_resource_props.get("name", "")
        if "reporting" in fqn:
            return "reporting"
        if "ai" in fqn:
            return "ai"
        if name.startswith(FOUNDATION_PREFIXES):
            return "staging"
        return "decisions"


def window_vars(context: AssetExecutionContext) -> dict[str, str]:
    window = context.partition_time_window
    return {
        "start_date": window.start.date().isoformat(),
        "end_date": (window.end - timedelta(days=1)).date().isoformat(),
    }


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=OnboardingTranslator(),
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
)
def onboarding_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource):
    args = ["build", "--vars", json.dumps(window_vars(context))]
    yield from dbt.cli(args, context=context).stream()
