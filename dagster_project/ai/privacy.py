"""PII minimisation for everything that leaves the warehouse in a prompt.

Two layers, because either alone is not enough:
1. Allow-lists: each prompt is built from a fixed list of non-personal fields (journey.py, playbook.py,
   themes.py). Email, name, company name and user id are never selected in the first place.
2. Scrubbing: free text that does go out (a role typed by the user, an NPS comment) can still contain
   personal data someone typed into it, so emails, phone numbers, URLs and the user's own name and
   company are replaced by placeholders, and the text is length-capped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
# 7+ digits with common separators, optionally with a leading +: phone numbers, not "3x" or "day 14".
PHONE = re.compile(r"(?<![\w])\+?\d[\d ().-]{5,}\d(?![\w])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


def clean_text(value: object, max_len: int) -> str:
    """Plain single-line text: NFC, no control characters, collapsed whitespace, capped length."""
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    text = _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()
    if len(text) > max_len:
        text = text[: max_len - 1].rstrip() + "…"
    return text


def _name_parts(names: Iterable[str | None]) -> list[str]:
    parts: set[str] = set()
    for name in names:
        if not name:
            continue
        name = unicodedata.normalize("NFC", name).strip()
        if len(name) >= 2:
            parts.add(name)
        # each word of a full name on its own ("Emma" of "Emma Smith"), skipping initials
        parts.update(p for p in re.split(r"[\s,]+", name) if len(p) >= 2)
    # longest first, so "Emma Smith" is replaced before "Emma"
    return sorted(parts, key=len, reverse=True)


def redact(text: str, names: Iterable[str | None] = (), companies: Iterable[str | None] = ()) -> str:
    """Replace emails, URLs, phone numbers and the given names/companies with placeholders."""
    text = EMAIL.sub("[email]", text)
    text = URL.sub("[url]", text)
    text = PHONE.sub("[phone]", text)
    for placeholder, values in (("[name]", names), ("[company]", companies)):
        for part in _name_parts(v for v in values if v and v.lower() != "unknown"):
            text = re.sub(rf"(?<!\w){re.escape(part)}(?!\w)", placeholder, text, flags=re.IGNORECASE)
    return text


def contains_email(text: str) -> bool:
    return bool(EMAIL.search(text))


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")
_API_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{6,}")


def safe_base_url(url: str | None) -> str | None:
    """A base URL fit for a log line: credentials (``https://user:secret@host``) and the query removed."""
    if not url:
        return url
    return _USERINFO.sub(r"\1***@", url).split("?", 1)[0]


def scrub_error(text: object, secrets: Iterable[str | None] = (), max_len: int = 300) -> str:
    """An LLM client's error text fit to store in ai.llm_calls: the key, URL credentials, bearer tokens and
    emails removed, control characters gone, capped. Error texts echo requests, URLs and sometimes the key."""
    out = "" if text is None else str(text)
    for secret in sorted((s for s in secrets if s and len(s) >= 6), key=len, reverse=True):
        out = out.replace(secret, "***")
    out = _USERINFO.sub(r"\1***@", out)
    out = _BEARER.sub(lambda m: f"{m.group(1)} ***", out)
    out = EMAIL.sub("[email]", _API_KEY.sub("sk-***", out))
    return clean_text(out, max_len)
