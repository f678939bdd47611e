"""What a forwarder may send to POST /api/v1/reports, and the queue's query."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, StringConstraints

from app.core.schemas import PagedQuery, StrictInput
from app.incidents.schemas import Code, Moment, Title, _no_nul

Body = Annotated[str, StringConstraints(max_length=100_000), AfterValidator(_no_nul)]
DedupKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_nul)]


class ReportCreate(StrictInput):
    organization: Code
    title: Title
    body: Body = ""
    source: Literal["internal", "external", "agency"] = "agency"
    occurred_at: Moment | None = None
    dedup_key: DedupKey | None = None


class ReportQuery(PagedQuery):
    organization: Code | None = None
    state: Literal["new", "opened", "merged", "dismissed"] = "new"
