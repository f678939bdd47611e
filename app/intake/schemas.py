"""What a forwarder may send to POST /api/v1/reports, and the queue's query."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, StringConstraints

from app.core.schemas import PagedQuery, StrictInput
from app.incidents.schemas import Code, IncidentFields, Moment, Title, _no_nul

Body = Annotated[str, StringConstraints(max_length=100_000), AfterValidator(_no_nul)]
DedupKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_nul)]


class ReportCreate(StrictInput):
    organization: Code
    title: Title
    body: Body = ""
    source: Literal["internal", "external", "agency"] = "agency"
    occurred_at: Moment | None = None
    dedup_key: DedupKey | None = None


class ReportOpening(IncidentFields):
    """POST /api/v1/reports/{id}/open (and the page): the incident's fields, in the report's body;
    `detected_at` defaults to when the reporter noticed, else to the report's arrival."""

    title: Title
    threat_category: Code
    reported_at: Moment | None = None  # on paper, before the report arrived (as IncidentCreate)
    acknowledged_at: Moment | None = None


class ReportQuery(PagedQuery):
    organization: Code | None = None
    state: Literal["new", "opened", "merged", "dismissed"] = "new"
