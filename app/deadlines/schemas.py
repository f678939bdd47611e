"""What a caller may send to file a deadline or add a notice."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.incidents.schemas import Code, Moment, Text


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeadlineMet(_Input):
    reference: Annotated[Text, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    met_at: Moment | None = None
    note: Annotated[Text, StringConstraints(max_length=2000)] | None = None


class NoticeCreate(_Input):
    kind: Code
    due_at: Moment | None = None
    note: Annotated[Text, StringConstraints(max_length=2000)] | None = None


class DeadlineQuery(_Input):
    organization: Code | None = None
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=50, ge=1, le=200)
