"""Dagster code location, ingestion, generator and command line of the onboarding engine."""
