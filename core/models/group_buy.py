"""A group-buy campaign: many small orders pooled into one batch run."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import UtcDateTime, created_at_column


class GroupBuyCampaign(Base):
    __tablename__ = "group_buy_campaigns"
    __table_args__ = (CheckConstraint("joined_samples <= max_samples", name="capacity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    min_samples: Mapped[int] = mapped_column(Integer)
    max_samples: Mapped[int] = mapped_column(Integer)
    # samples of paid orders; a conditional update keeps it under max_samples
    joined_samples: Mapped[int] = mapped_column(Integer, default=0)
    group_price_cents: Mapped[int] = mapped_column(BigInteger)
    deadline: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    run_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | confirmed | failed
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = created_at_column()
