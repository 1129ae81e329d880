"""Operators are told: a failed run, and checks that newly went red, posted to a Slack channel.

Why through the sync's own Slack adapter and transport: they already know how Slack answers (HTTP 200
with ``ok: false``, ``ratelimited``, the errors that mean bad credentials), retry what is safe to retry
with capped backoff, and send the one bot token the deployment already has (``SLACK_BOT_TOKEN``, the
Slack destination's). Everything taken from a run (job name, step keys, the error's first line) is
escaped with the function the CSM alerts use (`sync.escaping.slack_text`), so an exception message
quoting ``<!channel>`` or a URL pings nobody and links nowhere; secrets and email addresses are scrubbed
(`sync.masking.scrub`) before anything is posted or logged.

- `run_failure_slack_alert`: one message per failed run of this code location: the job, the run id,
  its partitions, the failed steps, the failure's first line and, when ``DAGSTER_WEBSERVER_URL`` is set,
  a link to the run.
- `failed_checks_slack_alert`: after a successful run, one message naming the ERROR checks that went
  red in it and were not already red before (a check that stays red is not posted every hour).

The channel is ``ONBOARDING_ALERT_SLACK_CHANNEL`` (`AlertsResource`). With no channel or no token the
sensors are dry: they log that they would post, and why not, and never claim a post. A post Slack does
not take (a 500 after the transport's retries, a bad token) is a warning in the sensor's log, never an
error of the sensor: the run's failure is in the Dagster UI either way.
"""


import asyncio
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    DagsterEventType,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunStatusSensorContext,
    run_failure_sensor,
    run_status_sensor,
)

from sync.adapters.slack import RETRYABLE_ERRORS, SlackAdapter, slack_error, slack_outcome
from sync.escaping import slack_text
from sync.masking import register_secret, scrub
from sync.outcomes import OutcomeKind
from sync.settings import SyncConfigError, SyncSettings
from sync.transport import TransportError

from ..resources import SyncResource
from ..resources_alerts import AlertsResource

# A sensor tick must end in seconds, not in the sync's two-minute retry budget per request.
MAX_ATTEMPTS = 4
RETRY_BUDGET_SECONDS = 20.0
MAX_STEPS_LISTED = 10
MAX_CHECKS_LISTED = 15
ERROR_LINE_LIMIT = 300
PARTITION_TAG = "dagster/partition"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
# Environment variables whose values are credentials, scrubbed from anything posted or logged even when
# no component registered them (an LLM key quoted in an exception, a database password in a URL).
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|_KEY)$")


@dataclass(frozen=True)
class PostResult:
    """What happened to one alert: posted, dry (with the reason) or not taken (with Slack's answer)."""

    posted: bool
    dry_reason: str | None = None
    error: str | None = None

    def describe(self, channel: str | None) -> str:
        if self.posted:
            return f"posted to {channel}"
        if self.dry_reason:
            return f"would post to {channel or 'no channel'} (dry: {self.dry_reason})"
        return f"not posted to {channel}: {self.error}"


def register_environment_secrets(env: dict[str, str] | None = None) -> None:
    """Register every credential-looking environment value with the scrubber (idempotent)."""
    env = dict(os.environ) if env is None else env
    for name, value in env.items():
        if _SECRET_NAME.search(name.upper()) and len(value.strip()) >= 8:
            register_secret(value.strip())


def first_line(text: str | None) -> str:
    """The first non-blank line of an error, scrubbed and bounded."""
    for line in (text or "").splitlines():
        if line.strip():
            return scrub(line.strip(), limit=ERROR_LINE_LIMIT)
    return ""


def run_partitions(run: DagsterRun) -> str | None:
    """The run's landing days as one string: a day, or a backfill's range."""
    if day := run.tags.get(PARTITION_TAG):
        return day
    start, end = (run.tags.get(tag) for tag in RANGE_TAGS)
    if start and end:
        return start if start == end else f"{start}..{end}"
    return None


def failure_text(job: str, run_id: str, partitions: str | None, failed_steps: Sequence[str], error: str,
                 run_url: str | None) -> str:
    """The Slack mrkdwn of a run failure; every value from the run is escaped (`slack_text`)."""
    lines = [f":rotating_light: Dagster run failed: *{slack_text(job)}*",
             f"Run `{slack_text(run_id)}`" + (f" · days {slack_text(partitions)}" if partitions else "")]
    if failed_steps:
        listed = ", ".join(f"`{slack_text(step)}`" for step in failed_steps[:MAX_STEPS_LISTED])
        more = len(failed_steps) - MAX_STEPS_LISTED
        lines.append(f"Failed steps: {listed}" + (f" and {more} more" if more > 0 else ""))
    if error:
        lines.append(f"Error: {slack_text(error)}")
    if run_url:
        # The one link: built from the operator's DAGSTER_WEBSERVER_URL (validated) and a run id.
        lines.append(f"<{run_url}|Open the run in Dagster>")
    return "\n".join(lines)


def _error_of(event: object) -> str:
    data = getattr(event, "event_specific_data", None)
    error = getattr(data, "error", None)
    # Dagster wraps the step's own exception ("Error occurred while executing op ..."): say the cause.
    while error is not None and error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    if error is not None and error.message.strip():
        return error.message
    return str(getattr(event, "message", "") or "")


def slack_settings(sync: SyncResource) -> SyncSettings:
    """The Slack destination's settings (token, base URL, transport: the `sync` resource's, as the sync
    assets get them), with the transport's patience capped for a sensor tick."""
    settings = sync.sync_settings()
    transport = settings.slack.transport
    capped = transport.model_copy(update={"max_attempts": min(transport.max_attempts, MAX_ATTEMPTS),
                                          "retry_budget": min(transport.retry_budget, RETRY_BUDGET_SECONDS)})
    return settings.model_copy(update={"slack": settings.slack.model_copy(update={"transport": capped})})


def post_alert(sync: SyncResource, channel: str | None, text: str, event_type: str,
               payload: dict[str, str]) -> PostResult:
    """Post one operator alert with the Slack destination's bot: `chat.postMessage`, links and media
    not unfurled, the run in the message metadata (a duplicate after a retried 5xx is recognisable)."""
    if not channel:
        return PostResult(False, dry_reason="ONBOARDING_ALERT_SLACK_CHANNEL not set")
    try:
        settings = slack_settings(sync)
    except SyncConfigError as exc:
        return PostResult(False, error=f"Slack settings: {scrub(exc)}")
    adapter = SlackAdapter(settings)
    if reason := adapter.dry_reason():
        return PostResult(False, dry_reason=reason)
    form = {
        "channel": channel,
        "text": text,
        "metadata": json.dumps({"event_type": event_type, "event_payload": payload}),
        "unfurl_links": "false",
        "unfurl_media": "false",
    }

    async def send() -> PostResult:
        # A repeated post is harmless (an operator sees the same failure twice), so a 5xx is retried.
        async with adapter.make_transport() as transport:
            try:
                response = await transport.request(
                    "POST", "/chat.postMessage", idempotent=True, data=form,
                    retry_on=lambda r: slack_error(r) in RETRYABLE_ERRORS)
            except TransportError as exc:
                return PostResult(False, error=scrub(exc, limit=ERROR_LINE_LIMIT))
        outcome = slack_outcome(response, at_most_once=False)
        if outcome.kind == OutcomeKind.SENT:
            return PostResult(True)
        return PostResult(False, error=scrub(outcome.error or f"HTTP {response.status_code}",
                                             limit=ERROR_LINE_LIMIT))

    return asyncio.run(send())


@run_failure_sensor(
    name="run_failure_slack_alert",
    description="Posts each failed run of this code location to ONBOARDING_ALERT_SLACK_CHANNEL "
    "(dry without a channel or SLACK_BOT_TOKEN).",
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def run_failure_slack_alert(context: RunFailureSensorContext, alerts: AlertsResource, sync: SyncResource) -> None:
    """One Slack message per failed run. Returns nothing, so one tick handles every new failure."""
    register_environment_secrets()
    run = context.dagster_run
    step_failures = context.get_step_failure_events()
    steps = sorted({e.step_key for e in step_failures if e.step_key})
    error = first_line(_error_of(step_failures[0]) if step_failures else _error_of(context.failure_event))
    text = failure_text(run.job_name, run.run_id, run_partitions(run), steps, error,
                        alerts.run_url(run.run_id))
    channel = alerts.channel()
    result = post_alert(sync, channel, text, "dagster_run_failure", {"run_id": run.run_id, "job": run.job_name})
    note = f"run {run.run_id} of {run.job_name} failed ({len(steps)} failed step(s)): {result.describe(channel)}"
    (context.log.info if result.posted or result.dry_reason else context.log.warning)(note)


def newly_failed_checks(context: RunStatusSensorContext) -> tuple[list[AssetCheckEvaluation], int]:
    """ERROR checks that failed in the run and had not failed in their previous evaluation; and how many
    failed but were already red (posted before, not again)."""
    instance = context.instance
    records = instance.get_records_for_run(
        run_id=context.dagster_run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION, limit=10_000).records
    new, still = [], 0
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data  # type: ignore[union-attr]
        if not isinstance(evaluation, AssetCheckEvaluation) or evaluation.passed:
            continue
        if evaluation.severity != AssetCheckSeverity.ERROR:
            continue
        # Newest first; planned-only records (a run that never evaluated the check) say nothing.
        history = instance.event_log_storage.get_asset_check_execution_history(evaluation.asset_check_key, limit=10)
        earlier = [h for h in history
                   if h.run_id != context.dagster_run.run_id and h.status.value in ("SUCCEEDED", "FAILED")]
        if earlier and earlier[0].status.value == "FAILED":
            still += 1
        else:
            new.append(evaluation)
    return new, still


def checks_text(job: str, run_id: str, failed: Sequence[AssetCheckEvaluation], still: int,
                run_url: str | None) -> str:
    """The Slack mrkdwn of newly failed checks; check names and descriptions escaped."""
    lines = [f":large_red_square: {len(failed)} check(s) went red in a run of *{slack_text(job)}*"
             f" (run `{slack_text(run_id)}`)"]
    for evaluation in failed[:MAX_CHECKS_LISTED]:
        what = f"`{slack_text(evaluation.asset_key.to_user_string())}` {slack_text(evaluation.check_name)}"
        if evaluation.description:
            what += f": {slack_text(first_line(evaluation.description))}"
        lines.append(f"• {what}")
    if len(failed) > MAX_CHECKS_LISTED:
        lines.append(f"… and {len(failed) - MAX_CHECKS_LISTED} more")
    if still:
        lines.append(f"{still} other check(s) are still red (posted before).")
    if run_url:
        lines.append(f"<{run_url}|Open the run in Dagster>")
    return "\n".join(lines)


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    name="failed_checks_slack_alert",
    description="After each successful run, posts the ERROR asset checks that newly went red to "
    "ONBOARDING_ALERT_SLACK_CHANNEL (dry without a channel or SLACK_BOT_TOKEN).",
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def failed_checks_slack_alert(context: RunStatusSensorContext, alerts: AlertsResource,
                              sync: SyncResource) -> None:
    """One Slack message per successful run with newly failed ERROR checks; none otherwise."""
    failed, still = newly_failed_checks(context)
    if not failed:
        return None
    register_environment_secrets()
    run = context.dagster_run
    text = checks_text(run.job_name, run.run_id, failed, still, alerts.run_url(run.run_id))
    channel = alerts.channel()
    result = post_alert(sync, channel, text, "dagster_checks_failed", {"run_id": run.run_id, "job": run.job_name})
    note = f"run {run.run_id} of {run.job_name}: {len(failed)} check(s) newly red: {result.describe(channel)}"
    (context.log.info if result.posted or result.dry_reason else context.log.warning)(note)
    return None


alert_sensors = [run_failure_slack_alert, failed_checks_slack_alert]
