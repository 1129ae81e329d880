"""Daily partitions, one per landing day, starting at the first export day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dagster import DailyPartitionsDefinition

from .core.settings import START_DATE_ENV, Settings
from .ingest.files import LandingError, landing_days


def first_landing_day() -> date:
    """ONBOARDING_START_DATE if set, else the earliest landing day, else 30 days ago.

    Read when the code location loads (Dagster fixes the partitions then), from `Settings`. With the
    exports in a bucket that means listing it in every process that loads the code location (the
    webserver, the daemon, each run), so deployments reading S3 set ONBOARDING_START_DATE. A landing
    that cannot be listed stops the load with its one-line reason rather than guessing a first day:
    partitions that moved would hide the days before them from the sensor and the backfills.
    """
    settings = Settings.from_env()
    if settings.start_date:
        return settings.start_date
    try:
        days = landing_days(settings.landing)
    except LandingError as exc:
        raise LandingError(f"{exc} (or set {START_DATE_ENV} so the partitions need no listing)") from None
    if days:
        return days[0]
    return datetime.now(UTC).date() - timedelta(days=30)


daily_partitions = DailyPartitionsDefinition(start_date=first_landing_day().isoformat(), timezone="UTC")
