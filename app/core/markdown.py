"""Markdown to HTML, always sanitized with nh3 before it reaches a page."""
from __future__ import annotations

import threading

import markdown as md
import nh3
from markupsafe import Markup

ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "del",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}


_local = threading.local()


def _parser() -> md.Markdown:
    """One parser per thread, reset between documents (building one costs more than rendering)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = md.Markdown(extensions=["tables", "fenced_code"], output_format="html")
    return parser.reset()


def render_markdown(text: str | None) -> Markup:
    if not text:
        return Markup("")
    html = _parser().convert(text)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)
