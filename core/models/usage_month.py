"""A month of an instrument's machine-hours as a report used them: frozen once the idle report or
the evaluation has read it. A later change to that month's history (late data, a staff correction)
never edits a frozen version; it adds the next version with its reason."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import created_at_column


class UsageMonthVersion(Base):
    __tablename__ = "usage_month_versions"
    __table_args__ = (UniqueConstraint("instrument_id", "month", "version", name="uq_usage_month_versions"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"), index=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM in the platform's time zone
    version: Mapped[int] = mapped_column(Integer)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)  # hours per state, external, audit, sensor fault
    purpose: Mapped[str] = mapped_column(String(100))  # what froze it (e.g. 闲置仪器报告 2026-09/10)
    reason: Mapped[str] = mapped_column(String(200))  # version 1: "frozen"; later: why it changed
    created_at: Mapped[datetime] = created_at_column()
