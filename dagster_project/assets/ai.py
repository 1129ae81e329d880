"""AI assets (group `ai`): LLM journey assignment, day-14 playbooks and feedback themes.

They sit between the foundation dbt models (profiles, unified events, NPS staging) and the decision
models, which read their tables as the dbt source `ai`. Like the rest of the job they are daily-
partitioned with a single-run backfill policy, but an AI asset does not filter by the partition window:
each run processes everything not yet processed (new users, new day-14 users, new comments), and the
cache makes repeated inputs free. Their settings are the `llm` resource's (model, server, key, budget;
a run's config may override any but the key). With no OPENAI_API_KEY / OPENAI_BASE_URL they make no calls: tracks
stay on the rules, playbooks use the template, themes use the keyword classifier; the tables are
created (empty if need be) either way, so dbt never meets a missing source.
"""

from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ..ai.worker import run_step
from ..partitions import daily_partitions
from ..resources import LlmResource, WarehouseResource
from .catalog import OWNERS, stage_tags
from .retries import STEP_RETRY

PROFILES = AssetKey(["intermediate", "int_users__profiles"])
EVENTS = AssetKey(["intermediate", "int_events__unified"])
NPS = AssetKey(["staging", "stg_nps__responses"])
RULE_TRACKS = AssetKey(["intermediate", "int_onboarding__rule_tracks"])  # the journey's rule decision
PARAMETERS = AssetKey(["intermediate", "int_onboarding__parameters"])  # the playbook's dbt vars
# The day-30 quit survey's answers and the seed naming its form (both built in the foundation step).
TYPEFORM = AssetKey(["staging", "stg_typeform__responses"])
FORMS = AssetKey(["seeds", "onboarding_forms"])


def _metadata(values: dict[str, Any]) -> dict[str, MetadataValue]:
    meta: dict[str, MetadataValue] = {}
    for key, value in values.items():
        if isinstance(value, bool):
            meta[key] = MetadataValue.bool(value)
        elif isinstance(value, int):
            meta[key] = MetadataValue.int(value)
        elif isinstance(value, float):
            meta[key] = MetadataValue.float(value)
        elif isinstance(value, dict):
            meta[key] = MetadataValue.json(value)
        else:
            meta[key] = MetadataValue.text(str(value))
    return meta


def _run(
    context: AssetExecutionContext, warehouse: WarehouseResource, llm: LlmResource, step: str
) -> MaterializeResult:
    # In a child process, so the memory the step's DuckDB work leaves behind goes with it (child.py).
    metadata, notes = run_step(step, warehouse.settings(), llm.llm_settings(), log=context.log.info)
    for note in notes:
        context.log.info(note)
    return MaterializeResult(metadata=_metadata(metadata))


def _ai_asset(step: str, deps: list[AssetKey], description: str, pii: bool = False) -> AssetsDefinition:
    """The asset ``ai.<step>``: the three AI steps differ only in what they read and say, so they share
    one definition (group, partitions, single-run backfill, kinds) and one body (``_run``)."""

    @asset(
        key=AssetKey(["ai", step]),
        group_name="ai",
        partitions_def=daily_partitions,
        backfill_policy=BackfillPolicy.single_run(),
        retry_policy=STEP_RETRY,  # answers cached and accounted: a second attempt asks only what is missing
        deps=deps,
        kinds={"python", "duckdb", "openai"},
        description=description,
        owners=OWNERS["ai"],
        tags=stage_tags("ai", pii=pii),
    )
    def _materialize(
        context: AssetExecutionContext, warehouse: WarehouseResource, llm: LlmResource
    ) -> MaterializeResult:
        return _run(context, warehouse, llm, step)

    return _materialize


ai_track_assignments = _ai_asset(
    "track_assignments",
    [PROFILES, RULE_TRACKS],
    "ai.track_assignments: LLM onboarding track per new user (origin: the journey assignment, "
    "docs/origin.md), validated and cached by profile signature; fallbacks carry their reason. "
    "No row = rule track.",
)
ai_playbooks = _ai_asset(
    "playbooks",
    [PROFILES, EVENTS, PARAMETERS],
    "ai.playbooks: the day-14 'Weeks 3-4 Playbook' HTML email per user (origin: the day-14 playbook, "
    "docs/origin.md), LLM-written or template; sanitised; benchmark percentiles from SQL.",
    pii=True,  # the user's name is added to the email after generation
)
ai_feedback_themes = _ai_asset(
    "feedback_themes",
    [NPS, PROFILES, TYPEFORM, FORMS],
    "ai.feedback_themes: NPS detractor comments and day-30 'what nearly made you quit' answers, "
    "one theme from a fixed taxonomy plus a one-line summary (keyword fallback).",
)

ai_assets = [ai_track_assignments, ai_playbooks, ai_feedback_themes]
