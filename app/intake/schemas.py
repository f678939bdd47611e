"""What a forwarder may send to POST /api/v1/reports, and the queue's query."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.incidents.schemas import Code, Moment, Title, _no_nul

Body = Annotated[str, StringConstraints(max_length=100_000), AfterValidator(_no_nul)]
DedupKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_nul)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReportCreate(_Input):
    organization: Code
    title: Title
    body: Body = ""
    source: Literal["internal", "external", "agency"] = "agency"
    occurred_at: Moment | None = None
    dedup_key: DedupKey | None = None


class ReportQuery(_Input):
    organization: Code | None = None
    state: Literal["new", "opened", "merged", "dismissed"] = "new"
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=50, ge=1, le=200)
