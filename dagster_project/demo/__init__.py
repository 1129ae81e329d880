"""Realistic multi-source export generator (Segment, RudderStack, Mixpanel, signups, tickets, NPS).

``generate(out, users, days, seed, end_date, malformed_rate, progress)`` writes the landing files of
docs/data-contracts.md section 1 with planted duplicates and malformed lines (section 2), and a
ground-truth ``manifest.json`` the loaders and models are tested against.
"""

from .core import SOURCES, generate
from .experiments import EXPERIMENTS, assign_variant, bucket

__all__ = ["EXPERIMENTS", "SOURCES", "assign_variant", "bucket", "generate"]
