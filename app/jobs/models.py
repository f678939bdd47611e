from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class TickJob(Base):
    """When a job hung on the tick with a period of its own (the mail intake) is next due. Every
    process ticks; the one whose UPDATE moves `due_at` on runs the job, so it runs once per period
    whatever the number of processes (an IMAP login per period, not per process and tick)."""

    __tablename__ = "tick_jobs"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    due_at: Mapped[dt.datetime] = mapped_column()
    started_at: Mapped[dt.datetime | None] = mapped_column()

