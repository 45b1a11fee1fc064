"""A profit-sharing split (分账) of one frozen payment: the lab's part to its payee, the rest unfrozen."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import UtcDateTime, created_at_column, updated_at_column

# requested -> processing -> finished; failed needs a person
SHARE_REQUESTED, SHARE_PROCESSING, SHARE_FINISHED, SHARE_FAILED = "requested", "processing", "finished", "failed"


class ProfitShare(Base):
    __tablename__ = "profit_shares"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)  # one split per payment
    out_order_no: Mapped[str] = mapped_column(String(64), unique=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # to the lab; may be 0 (only unfreeze)
    status: Mapped[str] = mapped_column(String(16), default=SHARE_REQUESTED, index=True)
    provider_order_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
