"""A period of an instrument's state that lab staff corrected ("这段是在用"): kept as it was
entered, with who and why, and applied to the stored state intervals (source "staff")."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import UtcDateTime, created_at_column


class UsageCorrection(Base):
    __tablename__ = "usage_corrections"
    __table_args__ = (Index("ix_usage_corrections_instrument_start", "instrument_id", "start_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"))
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16))  # on | standby | off: what the instrument really was
    reason: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_name: Mapped[str] = mapped_column(String(100))  # kept if the account goes
    created_at: Mapped[datetime] = created_at_column()
