"""The review's query: the format, and the page of incidents the JSON answer lists."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ReviewQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["json", "md", "csv", "xlsx"] = "json"
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=50, ge=1, le=200)
