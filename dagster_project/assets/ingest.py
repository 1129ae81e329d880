"""Ingest assets: one per raw table, partitioned by landing day.

A backfill of many days runs as one run (single-run backfill policy) and loads the days in order, so
duplicates re-delivered on a later day are dropped in favour of the earlier copy.
"""

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
from .retries import STEP_RETRY

# raw table -> the landing sources that feed it
RAW_SOURCES: dict[str, tuple[str, ...]] = {
    "segment_events": ("segment", "rudderstack"),
    "mixpanel_events": ("mixpanel",),
    "signups": ("signups",),
    "support_tickets": ("tickets",),
    "nps_responses": ("nps",),
}


class IngestConfig(Config):
    """Run config of an ingest asset."""

    allow_empty_reload: bool = False
    """Load a day whose landing files are gone even though it has loaded rows, emptying it (as
    ONBOARDING_ALLOW_EMPTY_RELOAD=1 does). Off: such a day fails the step, naming the day and files."""


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
        retry_policy=STEP_RETRY,  # a day is replaced in one transaction: loading it again is the same load
        description=f"raw.{table}: {', '.join(sources)} landing files, deduplicated, bad lines quarantined.",
        kinds={"duckdb", "python"},
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
        totals = _totals(stats)
        return MaterializeResult(
            metadata={
                **{k: MetadataValue.int(v) for k, v in totals.items()},
                "days": MetadataValue.int(len(context.partition_keys)),
                "unplaced_files": MetadataValue.int(len(unplaced)),
            }
        )

    _ingest.__name__ = f"raw_{table}"
    return _ingest


ingest_assets = [build_ingest_asset(table, sources) for table, sources in RAW_SOURCES.items()]
