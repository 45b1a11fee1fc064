"""What the current sensor saw during a booked slot: on-time, and the flag the
lab confirms or dismisses when a slot passed with the instrument never on."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import UtcDateTime, utcnow


class OrderUsage(Base):
    __tablename__ = "order_usage"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"), index=True)
    on_minutes: Mapped[float] = mapped_column(Float)
    # minutes of the slot with no sensor data (offline or before the first reading)
    unobserved_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    possible_no_show: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
