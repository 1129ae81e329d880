"""Escape warehouse text for the destination it is shown in: HTML for Intercom, mrkdwn for Slack.

Why this module exists: names, companies, industries and event properties come from signup forms and
tracking calls, so anyone can type them. A signup named ``<a href=https://evil.example>Reset your
password</a>`` must reach an Intercom email as text, not as a working link, and a company named
``<!channel> https://evil.example`` must not page a Slack channel or show a clickable link in a CSM
alert. Each destination has its own syntax, so each gets its own function, applied where the text is
placed into that syntax (dbt renders the Intercom bodies with the same rules as :func:`html_text`;
the Slack adapter builds its Block Kit with :func:`slack_text`).

Terminal output is not a destination of the sync: see ``dagster_project/core/display.py``.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

# A URL the sync may put into an href: http(s) only, nothing that could leave the attribute.
_SAFE_URL = re.compile(r"https?://[^\s\"'<>`\\{}]+", re.IGNORECASE)
# What Slack turns into a link by itself: a scheme (https://, mailto:...) or a dotted host name.
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*):(?=//|[^\s]*@)")
_HOST_DOT = re.compile(r"(?<=[\w\-])\.(?=[^\W\d_])")
# Broadcast words Slack expands when a client (or link_names=1) parses them.
_BROADCAST = re.compile(r"(?i)(?<![\w@])@(channel|here|everyone)\b")
_ZERO_WIDTH_SPACE = "\u200b"


def html_text(value: Any) -> str:
    """``value`` as an HTML text node or attribute value: ``& < > " '`` and the template braces escaped.

    Braces are escaped too (``{`` -> ``&#123;``) so a value can never spell a placeholder such as
    ``{{booking_link}}`` that a later rendering step would fill.
    """
    text = "" if value is None else str(value)
    return html.escape(text, quote=True).replace("{", "&#123;").replace("}", "&#125;")


def safe_url(value: Any) -> str | None:
    """An http(s) URL fit for an ``href`` (HTML-escaped), or None for anything else (``javascript:``...)."""
    text = "" if value is None else str(value).strip()
    if not _SAFE_URL.fullmatch(text):
        return None
    return html.escape(text, quote=True)


def slack_text(value: Any) -> str:
    """``value`` as inert Slack mrkdwn text.

    Slack's escaping rules (``&`` -> ``&amp;``, ``<`` -> ``&lt;``, ``>`` -> ``&gt;``, in that order) stop
    ``<!channel>``, ``<@U123>``, ``<#C123>`` and ``<https://x|label>``. Slack also links bare URLs, email
    addresses and host names (``evil.example``) by itself, so those are defanged the way security
    teams write them: ``https[:]//evil[.]example``. ``@channel``/``@here``/``@everyone`` get a zero-width
    space after the ``@`` so no client or ``link_names`` setting expands them.
    """
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _SCHEME.sub(r"\1[:]", text)
    text = _HOST_DOT.sub("[.]", text)
    return _BROADCAST.sub(lambda m: "@" + _ZERO_WIDTH_SPACE + m.group(1), text)


_BREAKS = {"br": "\n", "p": "\n\n", "div": "\n", "li": "\n- ", "tr": "\n", "h1": "\n\n", "h2": "\n\n",
           "h3": "\n\n"}


class _TextExtractor(HTMLParser):
    """The readable text of one of our HTML bodies (``<p>``, ``<br>``, ``<a href>``, inline tags)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKS:
            self.parts.append(_BREAKS[tag])
        if tag == "a":
            self._href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href:
            href = self._href.pop()
            if href:
                self.parts.append(f" ({href})")
        elif tag == "p":
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(body: str) -> str:
    """The plain-text part of an email whose HTML part is ``body``.

    Why from the HTML and not from the template: the HTML is what dbt rendered and escaped (values as
    text, links only where the template put them), so the text part says exactly what the HTML says;
    entities are decoded here because a text part is not HTML (a ``&lt;b&gt;`` name reads ``<b>``, inert).
    Links are kept as ``label (url)``; line breaks and paragraphs as newlines.
    """
    parser = _TextExtractor()
    parser.feed(body)
    parser.close()
    text = "".join(parser.parts).replace("\r", "")
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
