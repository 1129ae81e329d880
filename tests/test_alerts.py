"""The alert sensors: a real failed run in an ephemeral instance, the sensor evaluated as the daemon
would (its cursor, the instance's run-status events), one `chat.postMessage` to the Slack stand-in over
loopback, which validates the request against Slack's published contract."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    DagsterInstance,
    Definitions,
    asset,
    asset_check,
    build_sensor_context,
    define_asset_job,
    job,
    op,
)

from dagster_project.assets.alerts import failed_checks_slack_alert, failure_text, run_failure_slack_alert
from dagster_project.resources import SyncResource
from dagster_project.resources_alerts import AlertsResource
from tests.standins.slack import SlackStandin

CHANNEL = "#ops-alerts"
TOKEN = "xoxb-standin-token"
UI = "http://dagster.internal:3000"
HOSTILE = ("cannot read landing <!channel> & <@U024BE7LH> <https://evil.example|reset> https://evil.example/x"
           " for jane.doe@example.com with " + TOKEN)


@op
def load_day() -> None:
    raise ValueError(f"{HOSTILE}\nsecond line of the traceback")


@job
def tiny_daily() -> None:
    load_day()


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandin]:
    with SlackStandin(token=TOKEN, channels=(CHANNEL,)) as server:
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_API_BASE", server.base_url)
        for name, value in (("BACKOFF_BASE", "0.01"), ("BACKOFF_MAX", "0.05"), ("TIMEOUT", "5")):
            monkeypatch.setenv(f"SYNC_SLACK_{name}", value)
        yield server


def _alerts(**overrides: str) -> AlertsResource:
    return AlertsResource(**{"slack_channel": CHANNEL, "webserver_url": UI, **overrides})


def _resources(alerts: AlertsResource) -> dict[str, object]:
    """The sensors' resources as the code location builds them: the Slack token from SLACK_BOT_TOKEN."""
    return {"alerts": alerts, "sync": SyncResource.from_environment()}


def _failures_then_tick(instance: DagsterInstance, alerts: AlertsResource, runs: int = 1) -> list[str]:
    """Start the sensor (its first tick only sets the cursor), fail `runs` runs, tick again; run ids."""
    repo = Definitions(jobs=[tiny_daily], sensors=[run_failure_slack_alert]).get_repository_def()
    context = build_sensor_context(instance=instance, repository_def=repo, resources=_resources(alerts))
    run_failure_slack_alert.evaluate_tick(context)
    run_ids = [tiny_daily.execute_in_process(instance=instance, raise_on_error=False,
                                             tags={"dagster/partition": "2026-03-09"}).run_id for _ in range(runs)]
    for _ in range(2):  # the second tick finds nothing new: one post per failure
        context = build_sensor_context(instance=instance, cursor=context.cursor, repository_def=repo,
                                       resources=_resources(alerts))
        run_failure_slack_alert.evaluate_tick(context)
    return run_ids


def test_a_failed_run_posts_one_escaped_message(slack: SlackStandin) -> None:
    with DagsterInstance.ephemeral() as instance:
        (run_id,) = _failures_then_tick(instance, _alerts())
    assert slack.validation_errors == []
    assert len(slack.posts) == 1
    post = slack.posts[0]
    assert post["channel"] == CHANNEL
    assert post["metadata"] == {"event_type": "dagster_run_failure",
                                "event_payload": {"run_id": run_id, "job": "tiny_daily"}}
    text = post["text"]
    assert "*tiny_daily*" in text and f"Run `{run_id}` · days 2026-03-09" in text
    assert "Failed steps: `load_day`" in text
    # The error's first line, inert: no broadcast, mention or link Slack would act on; no email; no token.
    assert "&lt;!channel&gt; &amp; &lt;@U024BE7LH&gt;" in text
    assert "https[:]//evil[.]example" in text
    assert "<!channel>" not in text and "<@U" not in text and "<https://evil" not in text
    assert "jane.doe" not in text and "j***@example[.]com" in text
    assert TOKEN not in text and "second line" not in text
    # The one link: the operator's UI, to this run.
    assert text.endswith(f"<{UI}/runs/{run_id}|Open the run in Dagster>")
    assert text.count("<") == 1


def test_slack_500s_are_retried_and_a_down_slack_never_crashes_the_sensor(slack: SlackStandin) -> None:
    slack.inject("status", times=2, status=500)
    with DagsterInstance.ephemeral() as instance:
        _failures_then_tick(instance, _alerts())
    assert len(slack.posts) == 1 and len(slack.requests("POST", "/chat.postMessage")) == 3

    slack.inject("status", times=100, status=500)
    with DagsterInstance.ephemeral() as instance:
        _failures_then_tick(instance, _alerts())  # must not raise
    assert len(slack.posts) == 1  # nothing more got through
    assert len(slack.requests("POST", "/chat.postMessage")) == 3 + 4  # the sensor's capped attempts


def test_without_a_token_or_channel_the_sensor_only_says_it_would_post(slack: SlackStandin,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    with DagsterInstance.ephemeral() as instance:
        _failures_then_tick(instance, _alerts())
        _failures_then_tick(instance, _alerts(slack_channel=""))
    assert slack.received == []
    captured = capfd.readouterr()
    said = [line for line in (captured.out + captured.err).splitlines() if "of tiny_daily failed" in line]
    assert len(said) == 2
    assert said[0].endswith("would post to #ops-alerts (dry: no credentials (SLACK_BOT_TOKEN not set))")
    assert said[1].endswith("would post to no channel (dry: ONBOARDING_ALERT_SLACK_CHANNEL not set)")
    assert not any("jane.doe" in line or "evil" in line for line in said)  # the sensor logs no run error


def test_failure_text_links_only_a_valid_ui_address() -> None:
    assert AlertsResource(webserver_url="http://x|y>").run_url("r1") is None
    assert AlertsResource(webserver_url="https://dagster.example.com/").run_url("r1") == \
        "https://dagster.example.com/runs/r1"
    text = failure_text("daily_onboarding", "r1", None, [f"s{i}" for i in range(12)], "", None)
    assert "and 2 more" in text and "<" not in text


# -------------------------------------------------------------------------------- failed checks

@asset
def tiny_table() -> None:
    return None


@asset_check(asset=tiny_table)
def rows_in_doubt(alerts: AlertsResource) -> AssetCheckResult:
    # The check's verdict follows a setting, so the test can turn it red and green between runs.
    red = alerts.freshness_hours == "1"
    return AssetCheckResult(passed=not red, severity=AssetCheckSeverity.ERROR,
                            description="3 message(s) in doubt <!here>" if red else "none")


def test_checks_that_newly_go_red_are_posted_once(slack: SlackStandin) -> None:
    tiny_job = define_asset_job("tiny_checked", selection="*")
    red, green = _alerts(freshness_hours="1"), _alerts()

    def run(alerts: AlertsResource, instance: DagsterInstance) -> None:
        defs = Definitions(assets=[tiny_table], asset_checks=[rows_in_doubt], jobs=[tiny_job],
                           sensors=[failed_checks_slack_alert], resources=_resources(alerts))
        repo = defs.get_repository_def()
        context = build_sensor_context(instance=instance, repository_def=repo, resources=_resources(alerts),
                                       cursor=cursors.get("c"))
        if "c" not in cursors:
            failed_checks_slack_alert.evaluate_tick(context)
            context = build_sensor_context(instance=instance, repository_def=repo, resources=_resources(alerts),
                                           cursor=context.cursor)
        assert defs.resolve_job_def("tiny_checked").execute_in_process(instance=instance).success
        failed_checks_slack_alert.evaluate_tick(context)
        cursors["c"] = context.cursor

    cursors: dict[str, str | None] = {}
    with DagsterInstance.ephemeral() as instance:
        run(red, instance)    # red: posted
        run(red, instance)    # still red: not again
        run(green, instance)  # green: nothing to say
        run(red, instance)    # red again: posted
    assert slack.validation_errors == []
    assert len(slack.posts) == 2
    text = slack.posts[0]["text"]
    assert "1 check(s) went red" in text and "`tiny_table` rows_in_doubt: 3 message(s) in doubt &lt;!here&gt;" in text
    assert slack.posts[0]["metadata"]["event_type"] == "dagster_checks_failed"
