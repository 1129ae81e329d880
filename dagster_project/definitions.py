"""Assembles the code location; the pieces live in assets/, resources/ and partitions.py."""

from __future__ import annotations

from dagster import Definitions, colored_console_logger, in_process_executor

from .assets.ai import ai_assets
from .assets.alerts import alert_sensors
from .assets.checks import asset_checks, checks_job, checks_schedule
from .assets.dbt import dbt_asset_defs
from .assets.ingest import ingest_assets
from .assets.jobs import daily_job, daily_schedule, landing_files_sensor
from .assets.reporting import reporting_assets
from .assets.sync_assets import sync_assets
from .progress import progress_logger
from .resources import build_resources
from .resources_alerts import build_alerts_resource

defs = Definitions(
    assets=[*ingest_assets, *dbt_asset_defs, *ai_assets, *sync_assets, *reporting_assets],
    asset_checks=asset_checks,
    jobs=[daily_job, checks_job],
    schedules=[daily_schedule, checks_schedule],
    sensors=[landing_files_sensor, *alert_sensors],
    resources={**build_resources(), "alerts": build_alerts_resource()},
    loggers={"console": colored_console_logger, "progress": progress_logger},
    # One DuckDB writer at a time: steps run one after another in the run's process.
    executor=in_process_executor,
)
