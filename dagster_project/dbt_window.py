"""What a dbt step gives dbt: its selection, the partition window as environment variables, and the
profile's values. Apart from `assets/dbt.py` because these are plain functions: importing them needs no
parsed manifest (the asset definitions do), so a fresh checkout's tests and tools can use them.
"""

from collections.abc import Mapping

from .core.settings import Settings
from .dbt_project import dbt_env

# The models the AI assets read, with the seeds they read (the experiments; the forms, whose quit-survey
# answers the themes step classifies); they build in the step before them.
FOUNDATION = "+path:models/staging onboarding_forms"

INDIRECT_SELECTION_ENV = "DBT_INDIRECT_SELECTION"
WINDOW_ENV = {"start_date": "ONBOARDING_WINDOW_START_DATE", "end_date": "ONBOARDING_WINDOW_END_DATE"}


def window_env(window: Mapping[str, str]) -> dict[str, str]:
    """The window as dbt's environment variables (macros/window.sql reads them only while executing).

    Why not `--vars`: dbt hashes the command line's vars into its partial-parse check, so every new
    window re-parsed the whole project (~450 nodes, 8-25 s a step). Environment variables that no file
    reads while parsing are not in that check: the parse of `prepare_manifest` stays valid.
    """
    return {WINDOW_ENV[name]: value for name, value in window.items()}


def dbt_step_env(settings: Settings, window: Mapping[str, str]) -> dict[str, str | None]:
    """dbt's environment for a step: the profile's values exactly as the manifest's parse had them
    (`dbt_project.dbt_env`: else dbt re-parses), the partition window, and `buildable` indirect
    selection (read by dagster-dbt from the environment; a subsetted run's own choice still wins).

    Why buildable, not dbt's default `eager`: a test on two models of different steps (a seed of the
    decisions step related to one of the foundation's) ran in the foundation step too, before its
    other model existed, and failed a fresh warehouse's run; buildable runs a test in the step that
    builds the last of its parents, once, instead of in both steps.
    """
    return {**dbt_env(settings), **window_env(window), INDIRECT_SELECTION_ENV: "buildable"}
