"""A testing-service listing offered on one instrument."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.models._types import created_at_column, string_list_column, updated_at_column

if TYPE_CHECKING:
    from core.models.instrument import Instrument


class Service(Base):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    sample_types: Mapped[list[str]] = string_list_column()
    analytes: Mapped[list[str]] = string_list_column()
    standards: Mapped[list[str]] = string_list_column()
    price_cny: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    price_unit: Mapped[str | None] = mapped_column(String(32))
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    turnaround_days: Mapped[int | None] = mapped_column(Integer)
    sample_requirements: Mapped[str | None] = mapped_column(Text)
    accreditations: Mapped[list[str]] = string_list_column()
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # 入网审核: only approved objects are searchable or bookable (core/models/review.py)
    review_status: Mapped[str] = mapped_column(String(20), default="approved", server_default="approved", index=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    instrument: Mapped["Instrument"] = relationship(back_populates="services")
