"""dbt models as Dagster assets; dbt tests become asset checks.

The project is split on its `staging` folder: sources renamed and typed, unified events, profiles and
experiment assignments build first, then the Python AI assets read them, then every other model (which
may read the AI results) builds. The
partition window (one day for the daily schedule, a range for a backfill, which runs as a single run)
reaches dbt as ONBOARDING_WINDOW_START_DATE / ONBOARDING_WINDOW_END_DATE in its environment, read by
`macros/window.sql` at execution time; incremental models process only it. Not as `--vars`: dbt puts
the command line's vars into its partial-parse check, so each new window re-parsed the whole project.
"""

from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    MetadataValue,
    Output,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from ..core.settings import temporary_env
from ..dbt_project import dbt_project
from ..dbt_targets import prune_run_targets
from ..dbt_window import FOUNDATION, dbt_step_env
from ..partitions import daily_partitions
from ..resources import WarehouseResource
from .catalog import DAILY_FRESHNESS, stage_tags
from .retries import DBT_RETRY


class OnboardingTranslator(DagsterDbtTranslator):
    """The Dagster group is the model's folder under `models/` (staging, ai, decisions, sync, reporting),
    as dbt_project.yml lays them out; seeds, the rules' parameters, are in `decisions`.

    Source tests (not_null/unique on raw.* and ai.*) become asset checks on the upstream assets (the
    ingest and AI assets). dagster-dbt gives a step the checks of the sources its models read, and the
    step's dbt selection runs exactly those tests: the staging models read raw.*, so the raw tests run
    and are reported in the foundation step, the ai.* tests in the decisions step
    (tests/test_catalog.py checks that every test a step runs is one of its checks, so none is logged
    as a bare observation with a warning).

    The catalog: owners come from the dbt project (`+meta: {dagster: {owners: ...}}` per folder in
    dbt_project.yml, dagster-dbt's default), the tags are the stage (the group) and `pii` for a model
    whose `config.meta.pii` is true; every model in the `marts` schema has the daily freshness policy.
    """

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2:
            return fqn[1]
        # Seeds are the rules' parameters (tracks, templates, roster, experiments).
        return "decisions"

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        meta = {**dbt_resource_props.get("meta", {}), **dbt_resource_props.get("config", {}).get("meta", {})}
        group = self.get_group_name(dbt_resource_props) or "decisions"
        return {**super().get_tags(dbt_resource_props), **stage_tags(group, pii=bool(meta.get("pii")))}

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props.get("resource_type") == "model" and props.get("schema") == "marts":
            spec = spec.replace_attributes(freshness_policy=DAILY_FRESHNESS)
        return spec


def window_vars(context: AssetExecutionContext) -> dict[str, str]:
    window = context.partition_time_window
    return {
        "start_date": window.start.date().isoformat(),
        "end_date": (window.end - timedelta(days=1)).date().isoformat(),
    }


def run_target_path(context: AssetExecutionContext) -> Path:
    """One dbt target folder per Dagster run, shared by its dbt steps (dagster-dbt copies the
    project's partial_parse.msgpack into it, so each step partial-parses; a run's own run_results and
    compiled SQL stay apart from a concurrent run's). Steps of one run are sequential, so they never
    write the folder at the same time.
    """
    return Path(dbt_project.target_path) / f"run-{context.run.run_id[:12]}"  # absolute: never site-packages


def _build(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    prune_run_targets(Path(dbt_project.target_path))
    # dbt unit tests check the SQL on fixed fixtures, not the data: they run in `make test` (and in
    # dbt's own `dbt test --select test_type:unit`), not in every scheduled run, as dbt recommends.
    args = ["build", "--exclude-resource-type", "unit_test"]
    # dbt reads the warehouse file and DuckDB's memory limit from its environment (profiles.yml), and
    # starts with the malloc setting that returns DuckDB's freed blocks to the OS (core/warehouse.py).
    # They come from the warehouse resource; dagster-dbt starts dbt with a copy of os.environ and
    # takes no env argument, so they are in os.environ only while it starts dbt.
    with temporary_env(dbt_step_env(warehouse.settings(), window_vars(context))):
        invocation = dbt.cli(args, context=context, target_path=run_target_path(context))
    yield from with_row_counts(context, invocation, warehouse)


# The dbt materializations whose relation is a table (a view's count would run its query).
_TABLES = {"table", "incremental", "seed"}


def _table_of(context: AssetExecutionContext, key: AssetKey) -> str | None:
    """`schema.name` of the table dbt built for `key`, None for a view."""
    metadata = context.assets_def.specs_by_key[key].metadata
    if metadata.get("dagster-dbt/materialization_type") not in _TABLES or not metadata.get("dagster/table_name"):
        return None
    return ".".join(str(metadata["dagster/table_name"]).split(".")[-2:])


def row_counts(warehouse: WarehouseResource, tables: list[str]) -> dict[str, int]:
    """Rows of each table, in one query (DuckDB keeps a table's row count with its row groups)."""
    if not tables:
        return {}
    con = warehouse.connect(read_only=True)
    try:
        union = " union all ".join(f"select '{t}', count(*) from {t}" for t in tables)
        return {name: count for name, count in con.execute(union).fetchall()}
    finally:
        con.close()


def with_row_counts(context: AssetExecutionContext, invocation: Any, warehouse: WarehouseResource) -> Iterator[Any]:
    """The dbt step's events, each model's materialization carrying `dagster/row_count` (its table's rows
    after the build), the number the catalog shows beside an asset.

    Why held back to the end of the build: dbt's process holds the warehouse's write lock until it
    exits, and DuckDB lets no other process read the file meanwhile, so the counts can only be read
    after the last model; dagster-dbt's own `fetch_row_counts()` reads through a dbt adapter in this
    process, which `DbtCli` leaves out (resources/dbt.py) and which would meet the same lock. The events
    keep their order (a test's check result still follows its model's materialization) and come all
    at once when dbt finishes; one `count(*)` query over the built tables costs milliseconds.
    """
    held: list[Any] = []
    try:
        for event in invocation.stream():
            held.append(event)
    finally:
        # Also when dbt failed: the models it did build are reported, with their counts. Not when this
        # process stopped reading first (an error in handling an event): dbt may still be running and
        # holding the lock, and waiting for it here would wait the whole lock timeout for nothing.
        if invocation.process.poll() is None:
            invocation.process.terminate()
            held = []
        outputs = {i: context.asset_key_for_output(e.output_name) for i, e in enumerate(held) if isinstance(e, Output)}
        tables = {i: _table_of(context, key) for i, key in outputs.items()}
        try:
            counts = row_counts(warehouse, sorted({t for t in tables.values() if t}))
        except Exception as exc:  # a count is a nicety: never lose the build's events over it
            context.log.warning(f"row counts not recorded: {exc}")
            counts = {}
        for i, event in enumerate(held):
            table = tables.get(i)
            if table in counts:
                event = event.with_metadata({**event.metadata, "dagster/row_count": MetadataValue.int(counts[table])})
            yield event


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
