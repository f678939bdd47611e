"""What the JSON answers of every package share: the base of their shapes, collections and pages.

The shapes are written once, as these models: the OpenAPI document's response schemas are
generated from them (app/api/openapi.py), and the tests check real answers against them. The
serializers still build plain dicts, so nothing is validated on the way out; a field they answer
that no model declares fails those tests (`extra="forbid"`: `additionalProperties: false`).
"""
from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def sometimes(description: str) -> Any:
    """A key answered in some cases only (say which), never as null."""
    return Field(default=None, description=description, json_schema_extra=_no_default)


class Items(Answer, Generic[T]):
    """API.md: a collection answers `{"items": [...], "total": N}`, whole."""

    items: list[T]
    total: int

    @classmethod
    def model_parametrized_name(cls, params: tuple[type[Any], ...]) -> str:
        return f"{params[0].__name__}List"


class Page(Items[T], Generic[T]):
    """One page of a paged list (`?page=&per_page=`): `total` counts every item, not only this page's."""

    page: int
    per_page: int

    @classmethod
    def model_parametrized_name(cls, params: tuple[type[Any], ...]) -> str:
        return f"{params[0].__name__}Page"
