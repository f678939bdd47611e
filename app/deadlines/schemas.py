"""What a caller may send to file a deadline or add a notice."""
from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from app.core.schemas import PagedQuery, StrictInput
from app.incidents.schemas import Code, Moment, Text


class DeadlineMet(StrictInput):
    reference: Annotated[Text, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    met_at: Moment | None = None
    note: Annotated[Text, StringConstraints(max_length=2000)] | None = None


class NoticeCreate(StrictInput):
    kind: Code
    due_at: Moment | None = None
    note: Annotated[Text, StringConstraints(max_length=2000)] | None = None


class DeadlineQuery(PagedQuery):
    organization: Code | None = None
