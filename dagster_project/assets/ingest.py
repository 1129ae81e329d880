"""Ingest assets: one per raw table, partitioned by landing day.

A backfill of many days runs as one run (single-run backfill policy) and loads the days in order, so
duplicates re-delivered on a later day are dropped in favour of the earlier copy.
"""

from datetime import date

from dagster import (
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ..ingest.stats import LoadStats
from ..ingest.worker import run_loads
from ..partitions import daily_partitions
from ..resources import WarehouseResource

# raw table -> the landing sources that feed it
RAW_SOURCES: dict[str, tuple[str, ...]] = {
    "segment_events": ("segment", "rudderstack"),
    "mixpanel_events": ("mixpanel",),
    "signups": ("signups",),
    "support_tickets": ("tickets",),
    "nps_responses": ("nps",),
}


def _days(context: AssetExecutionContext) -> list[date]:
    return [date.fromisoformat(key) for key in context.partition_keys]


def _totals(stats: list[LoadStats]) -> dict[str, int]:
    return {
        field: sum(getattr(s, field) for s in stats)
        for field in ("files", "lines", "loaded", "duplicates", "quarantined")
    }


def build_ingest_asset(table: str, sources: tuple[str, ...]):
    @asset(
        key=AssetKey(["raw", table]),
        group_name="ingest",
        partitions_def=daily_partitions,
        backfill_policy=BackfillPolicy.single_run(),
        description=f"raw.{table}: {', '.join(sources)} landing files, deduplicated, bad lines quarantined.",
        kinds={"duckdb", "python"},
    )
    def _ingest(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        stats: list[LoadStats] = []
        settings = warehouse.settings()
        items = [(source, day) for day in _days(context) for source in sources]
        # In a child process, so the memory DuckDB keeps after a load leaves with it (worker.py).
        for s in run_loads(settings.db_path, settings.landing, items):
            stats.append(s)
            context.log.info(
                f"{s.source} {s.day}: {s.loaded} loaded, {s.duplicates} duplicates dropped, "
                f"{s.quarantined} quarantined ({s.files} files, {s.seconds:.2f}s)"
            )
        totals = _totals(stats)
        return MaterializeResult(
            metadata={
                **{k: MetadataValue.int(v) for k, v in totals.items()},
                "days": MetadataValue.int(len(context.partition_keys)),
            }
        )

    _ingest.__name__ = f"raw_{table}"
    return _ingest


ingest_assets = [build_ingest_asset(table, sources) for table, sources in RAW_SOURCES.items()]
