"""Input schemas for stage moves, tasks and notes."""
from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from app.core.schemas import PatchInput, StrictInput
from app.incidents.models import Stage
from app.incidents.schemas import Text, _no_nul

Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$"),
                  AfterValidator(_no_nul)]


class StageMove(StrictInput):
    to: Annotated[str, StringConstraints(max_length=20)]
    reason: Annotated[Text, StringConstraints(max_length=2000)] | None = None
    override: bool = False
    not_incident: bool = False


class TaskUpdate(PatchInput):
    done: bool = None  # true completes, false reopens; null is not a state
    assignee: Email | None = None  # an e-mail of the body's members; null clears


class TaskCreate(StrictInput):
    stage: Stage
    title: Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    guidance: Annotated[Text, StringConstraints(max_length=5000)] = ""
    required: bool = False
    assignee: Email | None = None


class NoteCreate(StrictInput):
    body: Annotated[Text, Field(min_length=1, max_length=50_000)]
