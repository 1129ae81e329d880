"""Dagster code location, ingestion, generator and command line of the onboarding engine."""

import warnings

from dagster import BetaWarning

# Single-run backfill policies are beta in Dagster 1.13; we rely on them knowingly (a backfill of N days
# must be one run, because DuckDB has one writer). Filtered here, before any asset module is imported.
warnings.filterwarnings("ignore", category=BetaWarning)
