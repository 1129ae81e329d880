"""Ingest assets: one per raw table, partitioned by landing day.

A backfill of many days runs as one run (single-run backfill policy) and loads the days in order, so
duplicates re-delivered on a later day are dropped in favour of the earlier copy. Such a run still
records one materialization per day, each with that day's own counts (the rows of `raw.load_log` for
the table's sources and the day), not the run's totals.
"""

from collections import defaultdict
from datetime import date

from dagster import (
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ..ingest.stats import LoadStats, UnplacedFile
from ..ingest.worker import run_loads
from ..partitions import daily_partitions
from ..resources import WarehouseResource
from .catalog import DAILY_FRESHNESS, OWNERS, stage_tags
from .retries import STEP_RETRY

# raw table -> the landing sources that feed it
RAW_SOURCES: dict[str, tuple[str, ...]] = {
    "segment_events": ("segment", "rudderstack"),
    "mixpanel_events": ("mixpanel",),
    "signups": ("signups",),
    "support_tickets": ("tickets",),
    "nps_responses": ("nps",),
    "typeform_responses": ("typeform",),
}
# Raw tables holding emails or names: signup webhooks, Segment identify calls' traits, and Typeform
# answers (the stakeholder map names colleagues and their emails).
PII_TABLES = {"signups", "segment_events", "mixpanel_events", "typeform_responses"}  # events: invitee emails
COUNTS = ("files", "lines", "loaded", "duplicates", "quarantined")


class IngestConfig(Config):
    """Run config of an ingest asset."""

    allow_empty_reload: bool = False
    """Load a day whose landing files are gone even though it has loaded rows, emptying it (as
    ONBOARDING_ALLOW_EMPTY_RELOAD=1 does). Off: such a day fails the step, naming the day and files."""


def _days(context: AssetExecutionContext) -> list[date]:
    return [date.fromisoformat(key) for key in context.partition_keys]


def day_metadata(stats: list[LoadStats]) -> dict[str, dict[str, MetadataValue]]:
    """Per landing day (a partition key), the counts of that day's loads over the table's sources, and
    `dagster/row_count`: the rows the day now holds in the raw table (the lines loaded, a day being
    replaced whole). A table fed by two sources (Segment and RudderStack) also shows each source's."""
    by_day: dict[str, list[LoadStats]] = defaultdict(list)
    for s in stats:
        by_day[str(s.day)[:10]].append(s)
    metadata: dict[str, dict[str, MetadataValue]] = {}
    for day, loads in by_day.items():
        totals = {field: sum(getattr(s, field) for s in loads) for field in COUNTS}
        entry = {k: MetadataValue.int(v) for k, v in totals.items()}
        entry["dagster/row_count"] = MetadataValue.int(totals["loaded"])
        if len(loads) > 1:
            entry["by_source"] = MetadataValue.json({s.source: {f: getattr(s, f) for f in COUNTS} for s in loads})
        metadata[day] = entry
    return metadata


def build_ingest_asset(table: str, sources: tuple[str, ...]):
    @asset(
        key=AssetKey(["raw", table]),
        group_name="ingest",
        partitions_def=daily_partitions,
        backfill_policy=BackfillPolicy.single_run(),
        retry_policy=STEP_RETRY,  # a day is replaced in one transaction: loading it again is the same load
        description=f"raw.{table}: {', '.join(sources)} landing files, deduplicated, bad lines quarantined.",
        kinds={"duckdb", "python"},
        owners=OWNERS["ingest"],
        tags=stage_tags("ingest", pii=table in PII_TABLES),
        freshness_policy=DAILY_FRESHNESS,
    )
    def _ingest(
        context: AssetExecutionContext, warehouse: WarehouseResource, config: IngestConfig
    ) -> MaterializeResult:
        stats: list[LoadStats] = []
        unplaced: list[UnplacedFile] = []
        settings = warehouse.settings()
        items = [(source, day) for day in _days(context) for source in sources]
        # In a child process, so the memory DuckDB keeps after a load leaves with it (worker.py).
        for s in run_loads(settings.db_path, settings.landing, items, config.allow_empty_reload, settings):
            if isinstance(s, UnplacedFile):
                unplaced.append(s)
                context.log.warning(
                    f"{s.file}: not loaded, it belongs to no landing day ({s.why}); recorded in raw.quarantine"
                )
                continue
            stats.append(s)
            context.log.info(
                f"{s.source} {s.day}: {s.loaded} loaded, {s.duplicates} duplicates dropped, "
                f"{s.quarantined} quarantined ({s.files} files, {s.seconds:.2f}s)"
            )
        # Each partition's materialization gets its own day's counts (a range run records one per day).
        for day, metadata in day_metadata(stats).items():
            if day in context.partition_keys:
                context.add_asset_metadata(metadata, partition_key=day)
        # Files with no landing day belong to no partition: the run's count, on each of its days.
        return MaterializeResult(metadata={"unplaced_files_in_run": MetadataValue.int(len(unplaced))})

    _ingest.__name__ = f"raw_{table}"
    return _ingest


ingest_assets = [build_ingest_asset(table, sources) for table, sources in RAW_SOURCES.items()]
