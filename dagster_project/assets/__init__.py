"""Dagster assets, grouped by stage (ingest, dbt, ai, sync, reporting)."""

import warnings

from dagster import BetaWarning

# Single-run backfill policies are beta in Dagster 1.13; we rely on them knowingly (a backfill of N days
# must be one run, because DuckDB has one writer). Filtered here, before any asset module is imported,
# and not in the top package: the ingest's load child (ingest/worker.py) must start without Dagster.
warnings.filterwarnings("ignore", category=BetaWarning)
