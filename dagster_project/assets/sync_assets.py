"""Dagster assets for the reverse ETL: one per destination, downstream of the marts it reads.

``sync/<destination>`` runs :func:`sync.engine.run_sync` for that destination against the DuckDB file
of the ``warehouse`` resource, with the ``sync`` resource's settings (credentials, base URL, pacing: the
run's, which its config may override, like every other step's). The connection is opened for the duration
of the sync and closed. The run's counts (planned, sent, unchanged, failed, invalid, in doubt...)
become materialization metadata; a destination that stopped early (bad credentials, missing channel
or mart) fails the asset with the reason. Without credentials the destination runs dry and the asset
succeeds with ``dry_run: true`` - nothing is claimed sent - and says so where a person looks first: its
asset check ``delivered_for_real`` warns (a yellow mark on the asset in the graph and the catalog), the
materialization's first metadata entry reads "DRY RUN - nothing sent: <why>", and it carries the tag
``dry_run`` (docs/deploy.md, "What the UI shows").

``sync/intercom`` also depends on ``sync/calendly`` because the Intercom coaching and introduction
messages carry the single-use Calendly links, and ``sync/sendgrid`` on ``sync/intercom`` because an email
type moved to SendGrid leaves Intercom's outbox first. All of them use the ``duckdb`` concurrency pool: DuckDB
allows one writing process per file, so a second writer would only wait for the lock (which the
asset also does, for a while, if no pool limit is configured).
"""

import duckdb
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from tenacity import retry, retry_if_exception, stop_after_delay, wait_random_exponential

from sync.engine import run_sync
from sync.outcomes import RunSummary
from sync.settings import SyncSettings

from ..core.settings import Settings
from ..resources import SyncResource, WarehouseResource
from .catalog import OWNERS, stage_tags
from .retries import SYNC_RETRY

DEPS: dict[str, list[AssetKey]] = {
    "calendly": [AssetKey(["marts", "triggered_messages"])],
    "intercom": [AssetKey(["marts", "intercom_contacts"]), AssetKey(["marts", "triggered_messages"]), AssetKey(["sync", "calendly"])],
    "appcues": [AssetKey(["marts", "appcues_profiles"]), AssetKey(["marts", "triggered_messages"])],
    "slack": [AssetKey(["marts", "csm_alerts"]), AssetKey(["marts", "triggered_messages"]), AssetKey(["marts", "intercom_contacts"])],
    # After Intercom: an email type routed to SendGrid is withdrawn from Intercom's outbox first.
    "sendgrid": [AssetKey(["marts", "triggered_messages"]), AssetKey(["marts", "intercom_contacts"]), AssetKey(["sync", "intercom"])],
    "salesforce": [AssetKey(["marts", "destination_traits"]), AssetKey(["marts", "salesforce_mql"])],
    "mixpanel": [AssetKey(["marts", "destination_traits"]), AssetKey(["marts", "mixpanel_experiment_events"])],
    "segment": [AssetKey(["marts", "destination_traits"])],
}
DESCRIPTIONS = {
    "calendly": "Single-use Calendly booking links, one per user and episode (sync.booking_links).",
    "intercom": "Intercom contacts (diffed attributes) and customer messages, delivered at most once.",
    "appcues": "Appcues profile attributes that flows target (track, difficulty, flow).",
    "slack": "CSM alerts to #csm-alerts (at least once) and community invites (at most once).",
    "sendgrid": "Customer emails routed to SendGrid (SYNC_EMAIL_CHANNELS; the day-14 playbook), at most once.",
    "salesforce": "Onboarding state on each user's Lead (diffed upserts by external id) and completion -> MQL + AE owner.",
    "mixpanel": "Track, variants, score, stage and churn risk on Mixpanel profiles; decided A/B outcomes as events.",
    "segment": "The same traits as Segment identify calls (batched, deduplicated by messageId).",
}
# Destinations whose requests carry emails or names (contacts, message bodies, alerts, invitees).
PII_DESTINATIONS = {"intercom", "slack", "calendly", "sendgrid", "salesforce"}
DELIVERY_CHECK = "delivered_for_real"


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


@retry(retry=retry_if_exception(_locked), wait=wait_random_exponential(multiplier=1, max=15),
       stop=stop_after_delay(300), reraise=True)
def _sync(warehouse: Settings, settings: SyncSettings, destination: str) -> RunSummary:
    """Run one destination; wait (bounded) if another process holds the DuckDB write lock."""
    return run_sync(warehouse.db_path, [destination], settings=settings, connection=warehouse)[0]


def delivery_status(summary: RunSummary) -> str:
    """The line a person reads first: whether anything reached the destination."""
    if summary.dry_run:
        return f"DRY RUN - nothing sent: {summary.dry_reason or 'no credentials'}"
    return f"sent for real: {summary.sent} sent, {summary.unchanged} already in place"


def summary_metadata(summary: RunSummary) -> dict[str, MetadataValue]:
    # First entry: the UI lists metadata in this order.
    metadata: dict[str, MetadataValue] = {"delivery": MetadataValue.text(delivery_status(summary))}
    metadata |= {name: MetadataValue.int(value) for name, value in summary.counts().items()}
    # The records the destination holds from this run's plan (none on a dry run).
    metadata["dagster/row_count"] = MetadataValue.int(summary.sent + summary.unchanged)
    metadata["requests"] = MetadataValue.int(summary.requests)
    metadata["rate_limited"] = MetadataValue.int(summary.rate_limited)
    metadata["dry_run"] = MetadataValue.bool(summary.dry_run)
    metadata["status"] = MetadataValue.text(summary.status)
    metadata["run_id"] = MetadataValue.text(summary.run_id)
    if summary.dry_reason:
        metadata["dry_reason"] = MetadataValue.text(summary.dry_reason)
    if summary.error:
        metadata["error"] = MetadataValue.text(summary.error)
    return metadata


def delivery_check(summary: RunSummary) -> AssetCheckResult:
    """Passes when the run talked to the destination; a dry run is a warning, not an error: planning
    without credentials is the intended demo and test mode, but the asset must not look delivered."""
    return AssetCheckResult(check_name=DELIVERY_CHECK, passed=not summary.dry_run, severity=AssetCheckSeverity.WARN,
                            description=delivery_status(summary),
                            metadata={"dry_run": MetadataValue.bool(summary.dry_run)})


def pace(settings: SyncSettings, destination: str) -> str:
    """The pacing this run used (the `sync` resource's, a run's config override included)."""
    t = settings.for_destination(destination).transport
    return f"{t.rate_limit} requests per {t.rate_window:g}s, {t.concurrency} at once, {t.timeout:g}s timeout"


def _build(destination: str) -> AssetsDefinition:
    key = AssetKey(["sync", destination])
    @asset(
        key=key,
        group_name="sync",
        deps=DEPS[destination],
        description=DESCRIPTIONS[destination],
        kinds={"python", "duckdb"},
        pool="duckdb",
        retry_policy=SYNC_RETRY.get(destination),  # none for Intercom and Slack: docs/deploy.md, 5
        owners=OWNERS["sync"],
        tags=stage_tags("sync", pii=destination in PII_DESTINATIONS),
        check_specs=[AssetCheckSpec(DELIVERY_CHECK, asset=key, description=(
            "Warns when the destination ran dry (no credentials): the plan was computed and stored, nothing sent."))],
    )
    def _asset(context: AssetExecutionContext, warehouse: WarehouseResource, sync: SyncResource) -> MaterializeResult:
        settings = sync.sync_settings()
        summary = _sync(warehouse.settings(), settings, destination)
        metadata = summary_metadata(summary) | {"pace": MetadataValue.text(pace(settings, destination))}
        context.log.info(
            f"{destination}: {summary.status}{' (dry)' if summary.dry_run else ''} planned={summary.planned}"
            f" sent={summary.sent} unchanged={summary.unchanged} failed={summary.failed}"
            f" invalid={summary.invalid} in_doubt={summary.in_doubt}")
        if summary.status != "completed":
            # Not a transient failure (credentials, a channel, alerts given up on): no step retry.
            raise Failure(description=f"sync to {destination} did not complete ({summary.status}): {summary.error}",
                          metadata=metadata, allow_retries=False)
        return MaterializeResult(metadata=metadata, check_results=[delivery_check(summary)],
                                 tags={"dry_run": "true"} if summary.dry_run else None)

    return _asset


sync_assets: list[AssetsDefinition] = [_build(name) for name in DEPS]
