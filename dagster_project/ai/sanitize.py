"""HTML sanitising with nh3 (the Rust `ammonia` sanitiser): an allow-list, never a block-list.

Every playbook email, LLM-written or template, passes through `sanitize_html` as its last step, and
every piece of model text is first reduced to plain text by `text_fragment`. So even a model that was
talked into emitting `<script>`, `<style>`, `onclick=` or a `javascript:` link cannot get it into an
email: those are not on the list, so they are dropped.
"""

from __future__ import annotations

import nh3

ALLOWED_TAGS: frozenset[str] = frozenset(
    {"p", "br", "h1", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "b", "i", "a", "span", "div", "hr"}
)
# No `style` and no event handlers anywhere; `class` only for the CTA button's styling hook.
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href", "title", "class"}, "p": {"class"}, "div": {"class"}}
ALLOWED_URL_SCHEMES: frozenset[str] = frozenset({"https", "mailto"})


def sanitize_html(html: str) -> str:
    """Keep only allow-listed tags, attributes and URL schemes; drop script/style elements with content."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        clean_content_tags={"script", "style"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def text_fragment(text: str) -> str:
    """Model or user text as an HTML-safe text node: every tag removed, entities escaped."""
    return nh3.clean(text, tags=set(), clean_content_tags={"script", "style"})
