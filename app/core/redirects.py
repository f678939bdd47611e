"""The one check for a redirect target that came from the user (`next`): only a path on this site."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit


def _on_site(target: str) -> bool:
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):  # browsers drop tabs and newlines: "/\t/evil"
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str) -> str:
    """`target` when it is a path on this site, else `default`. Checked as given and once decoded
    (`/%5Cevil`, `/%2F/evil`), since a browser or proxy may decode it before following it."""
    if not target or len(target) > 2000:
        return default
    return target if _on_site(target) and _on_site(unquote(target)) else default
