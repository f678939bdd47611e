"""JSON read from requests, for the API and for Flask's own `request.get_json()` alike.

Python's decoder recurses once per nesting level: a body nested a few thousand deep raised
RecursionError, which no handler expected (a 500). Here it is invalid JSON like any other, and
Flask answers it, like every decoding error, with 400.
"""
from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider


class BoundedJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None
