"""Which email channel sends an ``intercom_email`` row: Intercom or SendGrid (``SYNC_EMAIL_CHANNELS``).

Why shared SQL: both streams read the same mart rows and must split them without overlap, also when the
routing changes between runs (SendGrid credentials set or removed). A message type routed to SendGrid is
left out of Intercom's query (its pending rows are then withdrawn there), and each side leaves out any
key the other has already attempted - so one message key is only ever sent by one channel.
"""

from __future__ import annotations

# A key the other email channel has attempted (or is attempting) is that channel's for good.
_TAKEN = "('sent', 'sending', 'in_doubt', 'failed')"


def routed_sql(triggers: list[str]) -> str:
    """SQL list of the message types SendGrid sends (``('')`` matches none)."""
    quoted = ", ".join("'" + t.replace("'", "''") + "'" for t in triggers)
    return f"({quoted or chr(39) * 2})"


def taken_by(destination: str, stream: str) -> str:
    """SQL: the message keys ``destination``'s ``stream`` attempted; the other channel skips them."""
    return (f"(select message_key from sync.outbox where destination = '{destination}' and stream = '{stream}'"
            f" and status in {_TAKEN})")
