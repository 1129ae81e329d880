"""Keep secrets and personal data out of logs, error strings and run records.

Why this module exists: the sync touches customers' emails and holds API tokens. Everything that
leaves the process as text (log lines, ``sync.row_results.error``, the CLI's plan table) goes through
:func:`scrub` so that

* a token is never written anywhere (every secret loaded by :mod:`sync.settings` is registered here
  and replaced by ``***`` wherever it appears, even inside an echoed vendor error), and
* an email address is masked (``jane.doe@example.com`` -> ``j***@example.com``): enough to tell two
  customers apart while debugging, not enough to contact them.

Message bodies are never passed to a logger at all; scrubbing is the second line of defence.
"""

from __future__ import annotations

import logging
import re
import threading

from dagster_project.core.display import terminal_text

_EMAIL = re.compile(r"(?P<local>[A-Za-z0-9._%+\-]+)@(?P<domain>[A-Za-z0-9.\-]+\.[A-Za-z]{2,})")
# Bearer/Basic credentials echoed back in an error message or a repr of headers.
_AUTH_HEADER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{6,}")
# Slack tokens have a recognisable shape even when we did not load them ourselves.
_SLACK_TOKEN = re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{6,}")

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a credential so that :func:`scrub` replaces it wherever it shows up.

    Very short values are ignored: replacing a 3-character string everywhere would mangle logs and
    would not protect anything worth protecting.
    """
    if value and len(value) >= 6:
        with _secrets_lock:
            _secrets.add(value)


def mask_email(email: str | None) -> str | None:
    """Mask one address: keep the first character of the local part and the domain."""
    if email is None:
        return None
    match = _EMAIL.fullmatch(email.strip())
    if not match:
        return "***" if email else email
    return f"{match['local'][:1]}***@{match['domain']}"


def mask_name(name: object) -> str | None:
    """Mask a person's name to its initials (``Omar Dubois`` -> ``O*** D***``): enough to tell rows apart."""
    if name is None:
        return None
    return " ".join(f"{part[:1]}***" for part in str(name).split()) or "***"


def mask_emails(text: str) -> str:
    """Mask every email address inside free text."""
    return _EMAIL.sub(lambda m: f"{m['local'][:1]}***@{m['domain']}", text)


def scrub(text: object, limit: int | None = 500) -> str:
    """Return ``text`` safe to log or store: secrets removed, emails masked, length bounded."""
    out = str(text)
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in out:
            out = out.replace(secret, "***")
    out = _AUTH_HEADER.sub(lambda m: f"{m.group(1)} ***", out)
    out = _SLACK_TOKEN.sub("xox?-***", out)
    out = terminal_text(mask_emails(out))  # a user id's escape sequences never reach a terminal
    if limit is not None and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out


class ScrubbingFilter(logging.Filter):
    """Logging filter that rewrites each record through :func:`scrub` before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not take the sync down
            message = str(record.msg)
        record.msg = scrub(message, limit=2000)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks can carry request reprs; keep the type, drop the detail.
            exc = record.exc_info[1]
            record.msg += f" [{type(exc).__name__}: {scrub(exc, limit=300)}]"
            record.exc_info = None
            record.exc_text = None
        return True


_FILTER = ScrubbingFilter()


def get_logger(name: str) -> logging.Logger:
    """A logger whose records are scrubbed; every module of the sync logs through one of these."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger
