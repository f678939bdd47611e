"""What the input schemas and YAML documents of every package share: unknown fields are refused, and lists
page alike."""
from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StrictInput(BaseModel):
    """Request data is read into these only, never bound onto models: an unknown field is a 422."""

    model_config = ConfigDict(extra="forbid")


class StrictDocument(BaseModel):
    """The YAML documents of playbooks/: an unknown field is an error at start-up, and what was
    loaded is shared by every request, so it cannot be changed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _at_least_one_change(schema: dict, model: type[PatchInput]) -> None:
    schema["minProperties"] = len(model.not_a_change & set(model.model_fields)) + 1


class PatchInput(StrictInput):
    """A change (PATCH): `{}` is 422 naming the fields one may send. A field that may be left out
    but not cleared is declared without None and defaulted to None (`done: bool = None`): pydantic
    does not validate defaults, so leaving it out gives None and sending null is 422."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_at_least_one_change)
    not_a_change: ClassVar[frozenset[str]] = frozenset({"version"})  # sent with every change, changes nothing

    @classmethod
    def refusal_of(cls, sent: set[str]) -> str | None:
        """Why a body with these keys changes nothing, or None. (parse_json asks before validating:
        `{}` would otherwise answer only that `version` is missing.)"""
        if sent - cls.not_a_change:
            return None
        names = ", ".join(name for name in cls.model_fields if name not in cls.not_a_change)
        return f"nothing to change: send at least one of {names}"

    @model_validator(mode="after")  # not "before": that would validate JSON input as Python, strictly
    def _something_to_change(self):
        if (refusal := self.refusal_of(self.model_fields_set)) is not None:
            raise ValueError(refusal)
        return self


class PagedQuery(StrictInput):
    """`?page=&per_page=` of every paged list (API.md: default 50, at most 200)."""

    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=50, ge=1, le=200)
