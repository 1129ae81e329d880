"""dbt models as Dagster assets; dbt tests become asset checks.

The project is split on its `staging` folder: sources renamed and typed, unified events, profiles and
experiment assignments build first, then the Python AI assets read them, then every other model (which
may read the AI results) builds. The
partition window (one day for the daily schedule, a range for a backfill, which runs as a single run)
is passed to dbt as `--vars {"start_date": ..., "end_date": ...}`; incremental models process only it.
"""

import json
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetsDefinition, BackfillPolicy
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from ..core.settings import temporary_env
from ..dbt_project import dbt_project
from ..dbt_targets import prune_run_targets
from ..partitions import daily_partitions
from ..resources import WarehouseResource
from .retries import DBT_RETRY

# The models the AI assets read, with the seeds they read (the experiments); they build in the step before them.
FOUNDATION = "+path:models/staging"


class OnboardingTranslator(DagsterDbtTranslator):
    """The Dagster group is the model's folder under `models/` (staging, ai, decisions, sync, reporting),
    as dbt_project.yml lays them out; seeds, the rules' parameters, are in `decisions`.

    Source tests (freshness-like checks on raw.* and ai.*) become asset checks on the upstream assets
    (the ingest and AI assets), instead of bare observations logged with a warning on every run.
    """

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2:
            return fqn[1]
        # Seeds are the rules' parameters (tracks, templates, roster, experiments).
        return "decisions"


def window_vars(context: AssetExecutionContext) -> dict[str, str]:
    window = context.partition_time_window
    return {
        "start_date": window.start.date().isoformat(),
        "end_date": (window.end - timedelta(days=1)).date().isoformat(),
    }


def run_target_path(context: AssetExecutionContext) -> Path:
    """One dbt target folder per Dagster run, shared by its dbt steps.

    Why: `--vars` differ from the vars of the project's own parse, so dbt cannot partially parse and
    re-parses all ~275 nodes. The run's first dbt step parses with the run's window and leaves its
    partial_parse.msgpack here; the second step has the same vars and parses only what changed
    (nothing). Steps of one run are sequential, so they never write the folder at the same time.
    """
    return Path(dbt_project.target_path) / f"run-{context.run.run_id[:12]}"  # absolute: never site-packages


def _build(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    prune_run_targets(Path(dbt_project.target_path))
    # dbt unit tests check the SQL on fixed fixtures, not the data: they run in `make test` (and in
    # dbt's own `dbt test --select test_type:unit`), not in every scheduled run, as dbt recommends.
    args = ["build", "--vars", json.dumps(window_vars(context)), "--exclude-resource-type", "unit_test"]
    # dbt reads the warehouse file and DuckDB's memory limit from its environment (profiles.yml), and
    # starts with the malloc setting that returns DuckDB's freed blocks to the OS (core/warehouse.py).
    # They come from the warehouse resource; dagster-dbt starts dbt with a copy of os.environ and
    # takes no env argument, so they are in os.environ only while it starts dbt.
    with temporary_env(warehouse.settings().dbt_env()):
        invocation = dbt.cli(args, context=context, target_path=run_target_path(context))
    yield from invocation.stream()


def _dbt_step(name: str, **selection: str) -> AssetsDefinition:
    """One dbt build step over part of the project (``select=`` or ``exclude=``): both steps share the
    translator, partitions, single-run backfill and build; only the selection differs."""

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        name=name,
        dagster_dbt_translator=OnboardingTranslator(),
        partitions_def=daily_partitions,
        backfill_policy=BackfillPolicy.single_run(),
        retry_policy=DBT_RETRY,  # incremental models delete and recompute their window
        **selection,
    )
    def _step(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        yield from _build(context, dbt, warehouse)

    return _step


dbt_foundation = _dbt_step("dbt_foundation", select=FOUNDATION)
dbt_decisions = _dbt_step("dbt_decisions", exclude=FOUNDATION)

dbt_asset_defs = [dbt_foundation, dbt_decisions]
