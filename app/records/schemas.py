"""What a caller may send for a post-incident record, nothing more."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from app.core.schemas import StrictInput
from app.incidents.schemas import Code, Description, Text


def _stripped_text(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


RecommendationText = Annotated[Text, StringConstraints(max_length=2000), AfterValidator(_stripped_text)]
Status = Literal["proposed", "adopted", "rejected", "done"]


class RecommendationInput(StrictInput):
    id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    text: RecommendationText
    clause: Code | None = None
    status: Status = "proposed"


class RecordInput(StrictInput):
    cause: Description = ""
    impact: Description = ""
    measures: Description = ""
    prevention: Description = ""
    policy_clauses: list[Code] = Field(default_factory=list, max_length=50)
    recommendations: list[RecommendationInput] = Field(default_factory=list, max_length=50)
    version: int | None = Field(default=None, ge=1)


class RecommendationStatus(StrictInput):
    status: Status
