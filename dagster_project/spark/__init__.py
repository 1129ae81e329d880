"""The Spark side of the warehouse (ONBOARDING_ENGINE=spark; docs/scale-out.md): the session, the ingest
into Parquet raw tables, and reading marts back as Arrow. Imports pyspark: only imported when the
engine is spark (core/engine.py names the extra when it is missing)."""
