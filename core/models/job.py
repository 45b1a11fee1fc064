"""The transactional outbox of jobs: work that must happen, written in the same
transaction as the change that calls for it, and delivered until it is done.

Redis only carries a row's id to a worker. If Redis or a worker is lost, the row
is still here, and the relay hands it out again (core.services.jobs)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import UtcDateTime, created_at_column, utcnow

# pending: waits for due_at | enqueued: handed to a queue | running | done
JOB_PENDING, JOB_ENQUEUED, JOB_RUNNING, JOB_DONE = "pending", "enqueued", "running", "done"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))  # dotted path of the job function
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    queue: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=JOB_PENDING)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    handed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # enqueued or started
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
