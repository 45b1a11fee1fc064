"""An instrument's machine-hours for one month as the evaluation rules count them (有效工作机时,
对外服务机时, 定额机时, income), stored so that reports never re-scan the state intervals; and the
hours an institution reports itself (自报) for months its sensor did not cover."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import UtcDateTime, created_at_column


class InstrumentMonth(Base):
    __tablename__ = "instrument_months"
    __table_args__ = (UniqueConstraint("instrument_id", "month", name="uq_instrument_months"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"), index=True)
    month: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM in the platform's time zone
    # what the sensor saw, hours: the month's elapsed time = on + standby + off + offline + unknown
    on_hours: Mapped[float] = mapped_column(Float, default=0.0)
    standby_hours: Mapped[float] = mapped_column(Float, default=0.0)
    off_hours: Mapped[float] = mapped_column(Float, default=0.0)
    offline_hours: Mapped[float] = mapped_column(Float, default=0.0)
    unknown_hours: Mapped[float] = mapped_column(Float, default=0.0)
    # on-time inside booked slots, plus mail-in orders' listed duration x samples dated at testing
    external_hours: Mapped[float] = mapped_column(Float, default=0.0)
    self_reported_hours: Mapped[float | None] = mapped_column(Float)
    # 有效工作机时 and where it comes from: sensor | self_report | mixed | none
    effective_hours: Mapped[float] = mapped_column(Float, default=0.0)
    effective_source: Mapped[str] = mapped_column(String(16), default="none")
    quota_hours: Mapped[float] = mapped_column(Float, default=0.0)  # 定额机时 pro-rated to the month
    income_internal_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    income_external_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    orders_settled: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SelfReportedHours(Base):
    """Hours an institution says an instrument worked in a month (its sensor missing or silent)."""

    __tablename__ = "self_reported_hours"
    __table_args__ = (UniqueConstraint("instrument_id", "month", name="uq_self_reported_hours"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"), index=True)
    month: Mapped[str] = mapped_column(String(7))
    hours: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(String(200), default="")
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reported_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at_column()
