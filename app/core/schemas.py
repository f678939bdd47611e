"""What the input schemas of every package share: unknown fields are refused, and lists page alike."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StrictInput(BaseModel):
    """Request data is read into these only, never bound onto models: an unknown field is a 422."""

    model_config = ConfigDict(extra="forbid")


class PagedQuery(StrictInput):
    """`?page=&per_page=` of every paged list (API.md: default 50, at most 200)."""

    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=50, ge=1, le=200)
