"""Daily partitions, one per landing day, starting at the first export day."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

from dagster import DailyPartitionsDefinition

from .core.settings import Settings
from .ingest.files import landing_days


def first_landing_day() -> date:
    """ONBOARDING_START_DATE if set, else the earliest landing day, else 30 days ago."""
    if value := os.environ.get("ONBOARDING_START_DATE"):
        return date.fromisoformat(value)
    days = landing_days(Settings.from_env().landing)
    if days:
        return days[0]
    return datetime.now(UTC).date() - timedelta(days=30)


daily_partitions = DailyPartitionsDefinition(start_date=first_landing_day().isoformat(), timezone="UTC")
