"""The production Dagster instance's files (PostgreSQL storage, one run at a time, run retries) and the
name of the code location every run is recorded under.

Shipped in the package so an installed deployment has them without a checkout: `python -m
dagster_project.deploy` copies `dagster.yaml` and `workspace.yaml` into $DAGSTER_HOME (docs/deploy.md,
section 3).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
INSTANCE_YAML = HERE / "dagster.yaml"
WORKSPACE_YAML = HERE / "workspace.yaml"

# The module that assembles the code location, and the location's name: the same in pyproject.toml's
# [tool.dagster], in workspace.yaml, and on the runs `onboarding run` records (pipeline.py), so the UI
# files those runs under the job it serves (tests/test_definitions.py holds the three together).
DEFINITIONS_MODULE = "dagster_project.definitions"
CODE_LOCATION_NAME = "onboarding"
