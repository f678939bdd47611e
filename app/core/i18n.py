"""Language helpers for data that carries its own labels (profiles, playbooks)."""
from __future__ import annotations

from flask_babel import get_locale


def category_label(category) -> str:
    """A threat category's label in the page's language (the policy's own wording in Japanese)."""
    return category.label_en if str(get_locale()) == "en" else category.label
