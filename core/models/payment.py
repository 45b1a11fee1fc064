"""One payment attempt of an order's cash part with a payment provider."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, String
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import UtcDateTime, created_at_column, updated_at_column


class Payment(Base):
    __tablename__ = "payments"
    # refunded_cents is what refunds of this payment add up to: never more than it took in
    __table_args__ = (CheckConstraint("refunded_cents >= 0 AND refunded_cents <= amount_cents", name="refundable"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    out_trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | paid | closed
    provider_transaction_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    refunded_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # the funds stay frozen at the provider until a profit-sharing split releases them
    profit_sharing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
