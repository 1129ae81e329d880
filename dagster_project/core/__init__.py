"""The floor every stage stands on: settings, the warehouse connection, child processes.

It imports no stage (ingest, ai, assets, sync, demo) and no Dagster, so every stage, the sync engine
and the command line can share it without depending on one another.
"""
