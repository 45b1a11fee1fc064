"""A request to buy a new large instrument (新购查重评议): what the institution asked for, the
similar instruments found with their use, the draft opinion with its evidence, and the experts'
conclusion, all kept with the request."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import UtcDateTime, created_at_column


class PurchaseRequest(Base):
    __tablename__ = "purchase_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id", ondelete="SET NULL"), index=True)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    classification_code: Mapped[str | None] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(200))
    specs: Mapped[str | None] = mapped_column(Text)
    price_fen: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str | None] = mapped_column(Text)
    expected_hours: Mapped[float | None] = mapped_column(Float)  # a year
    province: Mapped[str | None] = mapped_column(String(32))
    city: Mapped[str | None] = mapped_column(String(64))
    quotations: Mapped[list[str]] = mapped_column(JSON, default=list)  # stored PDF file names
    similar: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # the evidence, as found
    draft_opinion: Mapped[str] = mapped_column(String(16))  # purchase | share | expert_review
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    split_suspected: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="submitted")  # submitted | concluded
    conclusion: Mapped[str | None] = mapped_column(String(16))  # purchase | share | reject
    conclusion_comment: Mapped[str | None] = mapped_column(Text)
    concluded_by: Mapped[str | None] = mapped_column(String(100))
    concluded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = created_at_column()
