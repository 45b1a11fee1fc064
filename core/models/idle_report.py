"""A published idle-instrument report (闲置仪器通报): an immutable snapshot of what it listed, so that
a later correction of the data never changes what was published; running it again adds a version."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import created_at_column


class IdleReport(Base):
    __tablename__ = "idle_reports"
    __table_args__ = (UniqueConstraint("period_from", "period_to", "version", name="uq_idle_reports"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_from: Mapped[str] = mapped_column(String(7))  # YYYY-MM, both months included
    period_to: Mapped[str] = mapped_column(String(7))
    version: Mapped[int] = mapped_column(Integer)
    generated_by: Mapped[str] = mapped_column(String(100))  # a person's name, or 定时任务
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON)
    # {"instruments": [...], "totals": {...}, "previous": {...} | null}, as the API sends it
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = created_at_column()
