"""Secrets never in logs, ledgers or row results; emails masked in logs; bodies never logged."""

from __future__ import annotations

import logging

import duckdb
import pytest

from sync.masking import get_logger, mask_email, register_secret, scrub
from tests.standins import StandinSet
from tests.standins.marts import demo
from tests.sync.conftest import Warehouse, settings_for, sync

SECRETS = ("standin-intercom-token", "xoxb-standin-token", "standin-appcues-key", "standin-appcues-secret",
           "standin-calendly-token")


def test_mask_email() -> None:
    assert mask_email("jane.doe@example.com") == "j***@example.com"
    assert mask_email("not an email") == "***"
    assert mask_email(None) is None


def test_scrub_removes_registered_secrets_auth_headers_and_emails() -> None:
    register_secret("sk-live-abcdef123456")
    text = ("token sk-live-abcdef123456 rejected; Authorization: Bearer abc.def.ghi123 for bob@corp.io;"
            " slack xoxb-1234-5678-abcdef")
    cleaned = scrub(text)
    assert "sk-live-abcdef123456" not in cleaned
    assert "abc.def.ghi123" not in cleaned
    assert "xoxb-1234-5678-abcdef" not in cleaned
    assert "bob@corp.io" not in cleaned and "b***@corp.io" in cleaned


def test_logger_scrubs_messages_and_arguments(caplog: pytest.LogCaptureFixture) -> None:
    register_secret("super-secret-token-42")
    log = get_logger("sync.test")
    with caplog.at_level(logging.INFO, logger="sync.test"):
        log.info("failed for %s with %s", "carol@example.org", "super-secret-token-42")
    assert caplog.records[-1].getMessage() == "failed for c***@example.org with ***"


def test_a_full_run_leaks_nothing(warehouse: Warehouse, standins: StandinSet,
                                  caplog: pytest.LogCaptureFixture) -> None:
    with duckdb.connect(str(warehouse.path)) as con:
        demo(con, users=8)
    # Provoke error paths too: a rejected message, a 409 and a Slack error echo details back.
    standins.intercom.inject("status", times=1, status=400, match="POST /messages", body={
        "type": "error.list", "errors": [{"code": "parameter_invalid",
                                          "message": "bad request for user00001@example.com"}]})
    standins.slack.inject("slack_error", times=1, error="msg_too_long")
    with caplog.at_level(logging.DEBUG):
        sync(warehouse, settings_for(standins))

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records  # the run did log
    for secret in SECRETS:
        assert secret not in logged
    assert "@example.com" not in logged.replace("***@example.com", "")
    assert "Hello from the onboarding engine" not in logged

    with duckdb.connect(str(warehouse.path)) as con:
        tables = [t for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'sync'").fetchall()]
        dump = "\n".join(str(row) for table in tables for row in con.execute(f"select * from sync.{table}").fetchall())
        errors = "\n".join(e for (e,) in con.execute(
            "select error from sync.row_results where error is not null").fetchall())
    for secret in SECRETS:
        assert secret not in dump
    assert "bad request for u***@example.com" in errors
    assert "user00001@example.com" not in errors
