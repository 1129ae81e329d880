"""Unit tests of the escaping functions: HTML (Intercom), mrkdwn (Slack), terminal (explain, sync plan)."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from dagster_project.core.display import markup_text, terminal_text
from sync.adapters.slack import alert_blocks
from sync.escaping import html_text, safe_url, slack_text

PHISH = "<a href=https://evil.example>Reset your password</a>"
# What Slack would turn into a link or a ping by itself.
SLACK_ACTIVE = re.compile(r"<[!@#]|<https?:|https?://|\b[\w-]+\.(?:example|com|io)\b|(?<![\w@])@(?:channel|here)\b")


def test_html_text_makes_a_link_inert_and_cannot_spell_a_placeholder() -> None:
    out = html_text(PHISH + ' " \' {{booking_link}}')
    assert "<" not in out and ">" not in out and '"' not in out and "'" not in out
    assert "{{" not in out and "}}" not in out
    assert out.startswith("&lt;a href=https://evil.example&gt;Reset")
    assert html_text(None) == ""


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://x.example/\" onmouseover=x", "data:text/html,x",
                                 "https://evil.example/{{booking_link}}", " ", None])
def test_safe_url_refuses_anything_but_a_plain_http_url(url: str | None) -> None:
    assert safe_url(url) is None


def test_safe_url_escapes_the_ampersand_for_an_href() -> None:
    assert safe_url("https://cal.example/b?a=1&b=2") == "https://cal.example/b?a=1&amp;b=2"


@pytest.mark.parametrize("text", [
    "<!channel> urgent", "<@U024BE7LH> look", "<#C1234|general>", "<https://evil.example|Reset your password>",
    "visit https://evil.example/reset now", "www.evil.example", "Acme evil.com", "mail bob@evil.example",
    "hey @channel and @here", PHISH,
])
def test_slack_text_leaves_nothing_slack_would_link_or_ping(text: str) -> None:
    out = slack_text(text)
    assert not SLACK_ACTIVE.search(out), out
    assert "<" not in out and ">" not in out


def test_slack_text_keeps_numbers_and_plain_words() -> None:
    assert slack_text("score 0.75, 3 tickets & a plan") == "score 0.75, 3 tickets &amp; a plan"


def test_alert_blocks_neutralise_every_user_supplied_field() -> None:
    row = {"alert_type": "churn_risk", "user_name": "<!channel> https://evil.example", "company": "evil.com <@U1>",
           "reason": "see www.evil.example", "churn_risk": 0.8, "alert_key": "k", "csm_slack_id": "<!here>",
           "csm_name": "@everyone"}
    text = str(alert_blocks(row))
    assert not SLACK_ACTIVE.search(text), text
    assert "@everyone" not in text


ANSI = "u\x1b[2J\x1b]0;pwned\x07\x9b31m\u202eevil\r\n"


def test_terminal_text_shows_control_characters_instead_of_sending_them() -> None:
    out = terminal_text(ANSI)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u202e]", out)
    assert out == "u\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202eevil\\x0d\\x0a"


def test_markup_text_prints_markup_and_escapes_literally() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="truecolor", width=200)
    console.print(markup_text("[link=https://evil.example]click[/link] " + ANSI), highlight=False)
    printed = buffer.getvalue()
    assert "[link=https://evil.example]click[/link]" in printed
    assert "\x1b]8;" not in printed and "\x1b[2J" not in printed and "\x07" not in printed
