"""Innovation vouchers: a company's application and, once approved, its balance."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import UtcDateTime, created_at_column, updated_at_column


class VoucherStatus(str, enum.Enum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class VoucherApplication(Base):
    __tablename__ = "voucher_applications"
    # the database refuses a balance spent twice even if a check were skipped
    __table_args__ = (CheckConstraint("reserved_cents + consumed_cents <= approved_cents", name="balance"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)  # the member who applied
    # the voucher belongs to the company; the code and name are copies as they were when applying
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    company_credit_code: Mapped[str] = mapped_column(String(18), index=True)
    company_name: Mapped[str] = mapped_column(String(200))
    requested_cents: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(Text)
    status: Mapped[VoucherStatus] = mapped_column(
        Enum(VoucherStatus, name="voucher_status", native_enum=False, length=16), default=VoucherStatus.pending
    )
    approved_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    consumed_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    @property
    def available_cents(self) -> int:
        return self.approved_cents - self.reserved_cents - self.consumed_cents


class VoucherRedemption(Base):
    """The voucher part of one order: reserved at payment, then consumed or released."""

    __tablename__ = "voucher_redemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("voucher_applications.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    # the company member who spent it (the order's user), kept even after they leave the company
    spent_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # reserved; consumed may be less after a partial refund
    consumed_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(16), default="reserved")  # reserved | consumed | released
    reserved_at: Mapped[datetime] = created_at_column()
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
