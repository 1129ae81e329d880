"""Daily partitions, one per landing day, starting at the first export day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dagster import DailyPartitionsDefinition

from .core.settings import Settings
from .ingest.files import landing_days


def first_landing_day() -> date:
    """ONBOARDING_START_DATE if set, else the earliest landing day, else 30 days ago.

    Read when the code location loads (Dagster fixes the partitions then), from `Settings`.
    """
    settings = Settings.from_env()
    if settings.start_date:
        return settings.start_date
    days = landing_days(settings.landing)
    if days:
        return days[0]
    return datetime.now(UTC).date() - timedelta(days=30)


daily_partitions = DailyPartitionsDefinition(start_date=first_landing_day().isoformat(), timezone="UTC")
