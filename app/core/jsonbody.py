"""JSON read from outside: requests (the API and Flask's own `request.get_json()` alike), and
files people hand to the commands (a backup's manifest, checkpoints kept elsewhere).

Python's decoder recurses once per nesting level: a document nested a few thousand deep raised
RecursionError, which no handler expected (a 500, a traceback). Here it is invalid JSON like any
other: ValueError, which Flask answers with 400 and the commands report.
"""
from __future__ import annotations

import json
from typing import Any

from flask.json.provider import DefaultJSONProvider


def loads(text: str | bytes, **kwargs: Any) -> Any:
    try:
        return json.loads(text, **kwargs)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None


class BoundedJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)
