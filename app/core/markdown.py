"""Markdown to HTML, always sanitized with nh3 before it reaches a page."""
from __future__ import annotations

import re
import threading

import markdown as md
import nh3
from markupsafe import Markup, escape

ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "del",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}


_local = threading.local()

# Python-Markdown is quadratic on some input, and notes and descriptions are up to 100,000
# characters: bounded here before parsing.
# - Nested quotes and lists are parsed by recursion, in time that grows with the depth squared
#   (2,000 nested list items took minutes, then raised RecursionError): nesting past MAX_NESTING
#   levels is flattened to that level (the text itself is kept).
# - Each `[` is matched by scanning on to its `]`, and each `](` on to its `)` (10,000 nested
#   brackets took 20 seconds, 12,500 unclosed links 40): a text whose scans would add up to more
#   than MAX_LINK_SCAN characters is shown as typed, without Markdown.
MAX_NESTING = 12
MAX_LINK_SCAN = 2_000_000  # about 0.4 s of scanning at worst
_INDENT = re.compile(r"[ \t]*")
_MARKER = re.compile(r">[ \t]?|(?:[-*+]|\d{1,9}[.)])[ \t]+")


def _flattened(text: str) -> str:
    lines = text.split("\n")
    for n, line in enumerate(lines):
        indent = _INDENT.match(line).group()
        levels, pos, kept = len(indent.expandtabs(4)) // 4, len(indent), []
        while (marker := _MARKER.match(line, pos)) is not None:
            pos = marker.end()
            kept.append(marker.group())
        if levels + len(kept) > MAX_NESTING:
            levels = min(levels, MAX_NESTING)
            lines[n] = " " * (4 * levels) + "".join(kept[:MAX_NESTING - levels]) + line[pos:]
    return "\n".join(lines)


def _link_scans_too_long(text: str) -> bool:
    cost, opened = 0, []
    for i, char in enumerate(text):
        if char == "[":
            opened.append(i)
        elif char == "]" and opened:
            cost += i - opened.pop()
    cost += sum(len(text) - i for i in opened)
    position = text.find("](")
    while position >= 0 and cost <= MAX_LINK_SCAN:
        close = text.find(")", position)
        cost += (close if close >= 0 else len(text)) - position
        position = text.find("](", position + 2)
    return cost > MAX_LINK_SCAN


def _as_typed(text: str) -> str:
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "".join(f"<p>{escape(p).replace(chr(10), Markup('<br>'))}</p>" for p in paragraphs if p)


def _parser() -> md.Markdown:
    """One parser per thread, reset between documents (building one costs more than rendering)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = md.Markdown(extensions=["tables", "fenced_code"], output_format="html")
    return parser.reset()


def render_markdown(text: str | None) -> Markup:
    if not text:
        return Markup("")
    try:
        html = _as_typed(text) if _link_scans_too_long(text) else _parser().convert(_flattened(text))
    except Exception:
        _local.parser = None  # a parser that failed half-way rendered the thread's later documents wrongly
        raise
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)
