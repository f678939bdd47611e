"""The review's query: the format, and the page of incidents the JSON answer lists."""
from __future__ import annotations

from typing import Literal

from app.core.schemas import PagedQuery


class ReviewQuery(PagedQuery):
    format: Literal["json", "md", "csv", "xlsx"] = "json"
    part: Literal["incidents", "summary"] = "incidents"  # csv: the incident rows, or every table of the review
