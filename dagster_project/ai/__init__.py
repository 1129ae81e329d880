"""AI where it pays: LLM journey assignment, day-14 playbooks and feedback themes (docs/ai.md).

Every step is cached, PII-minimised, validated and has a rule fallback; with no OPENAI_API_KEY and no
OPENAI_BASE_URL nothing is called and the decisions stay on the rules.
"""

from __future__ import annotations

from .client import LLMClient, LLMRequest, LLMResult, LLMSettings, price_call
from .journey import assign_tracks, effective_track, validate_answer
from .playbook import generate_playbooks, validate_playbook
from .rules_reference import TRACKS, rule_track
from .sanitize import sanitize_html
from .tables import ensure_ai_tables
from .themes import TAXONOMY, THEME_IDS, classify_feedback, keyword_theme

__all__ = [
    "TAXONOMY",
    "THEME_IDS",
    "TRACKS",
    "LLMClient",
    "LLMRequest",
    "LLMResult",
    "LLMSettings",
    "assign_tracks",
    "classify_feedback",
    "effective_track",
    "ensure_ai_tables",
    "generate_playbooks",
    "keyword_theme",
    "price_call",
    "rule_track",
    "sanitize_html",
    "validate_answer",
    "validate_playbook",
]
