"""Warehouse values made safe to print on the operator's terminal.

Why this module exists: user ids, names and companies come from signup forms and tracking calls. A
user id like ``u1\\x1b]8;;https://evil.example\\x1b\\\\click\\x1b]8;;\\x1b\\\\`` printed raw by
``onboarding explain`` or the sync plan would draw a hyperlink, recolour the screen, move the cursor
or set the window title of whoever looks at it; a name like ``[link=https://evil.example]x[/link]``
would do the same through Rich's markup. Every warehouse value shown on a terminal goes through
:func:`terminal_text` (plain printing) or :func:`markup_text` (Rich markup strings and table cells).

It lives in ``core`` because both the project CLI (``explain``) and the sync CLI print warehouse
values, and ``core`` is the floor both import; destination escaping (HTML, Slack) is ``sync/escaping.py``.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls (ESC, BEL, CR, backspace, newline...), DEL, C1 controls (CSI 0x9b, OSC 0x9d...), and the
# bidirectional overrides/isolates that reorder what is displayed ("Trojan source").
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal_text(value: Any) -> str:
    """``value`` as one printable line: every control character shown as its escape (``\\x1b``), not sent.

    Shown rather than deleted, so an operator sees that a value carried an escape sequence.
    """
    return _UNSAFE.sub(_visible, "" if value is None else str(value))


def markup_text(value: Any) -> str:
    """:func:`terminal_text`, then escaped for Rich markup (``[red]`` prints as text, not as a style)."""
    from rich.markup import escape

    return escape(terminal_text(value))
