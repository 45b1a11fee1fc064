"""An order for one testing service, its audit trail and the slot cells it holds."""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Date, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.models._types import UtcDateTime, created_at_column, updated_at_column, utcnow

if TYPE_CHECKING:
    from core.models.service import Service


class OrderStatus(str, enum.Enum):
    created = "created"
    awaiting_payment = "awaiting_payment"
    paid = "paid"
    accepted = "accepted"
    rejected = "rejected"
    samples_received = "samples_received"
    testing = "testing"
    report_issued = "report_issued"
    confirmed = "confirmed"
    settled = "settled"
    cancelled = "cancelled"
    expired = "expired"
    no_show = "no_show"
    disputed = "disputed"
    refunded = "refunded"  # an admin's full refund of a dispute, or a failed group-buy


class DeliveryMode(str, enum.Enum):
    visit = "visit"  # the user comes to the lab: a time slot on the instrument
    mail = "mail"  # samples are sent: a delivery date


def _status_column(default: OrderStatus) -> Mapped[OrderStatus]:
    return mapped_column(Enum(OrderStatus, name="order_status", native_enum=False, length=32), default=default, index=True)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("group_buy_campaigns.id"), index=True)
    samples: Mapped[int] = mapped_column(Integer)
    sample_description: Mapped[str] = mapped_column(Text)
    company_name: Mapped[str] = mapped_column(String(200))
    company_credit_code: Mapped[str | None] = mapped_column(String(18))
    contact_name: Mapped[str] = mapped_column(String(100))
    contact_phone: Mapped[str] = mapped_column(String(32))
    mode: Mapped[DeliveryMode] = mapped_column(Enum(DeliveryMode, name="delivery_mode", native_enum=False, length=8))
    slot_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    slot_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivery_date: Mapped[date | None] = mapped_column(Date)
    # money in cents, computed by the server at creation
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    voucher_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("voucher_applications.id"), index=True)
    status: Mapped[OrderStatus] = _status_column(OrderStatus.created)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    auto_confirm_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    service: Mapped["Service"] = relationship()
    events: Mapped[list["OrderEvent"]] = relationship(order_by="OrderEvent.id", back_populates="order")

    @property
    def cash_cents(self) -> int:
        return self.total_cents - self.voucher_cents


class OrderEvent(Base):
    """The audit log: every transition, who made it, when and why."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(32))  # 'system' for jobs
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="events")


class SlotHold(Base):
    """One fixed-length cell of an instrument's time held by an order. The unique
    key is what makes a slot impossible to sell twice, whatever the number of
    API processes: the second insert of a cell fails in the database."""

    __tablename__ = "slot_holds"
    __table_args__ = (UniqueConstraint("instrument_id", "cell_start", name="uq_slot_holds_instrument_cell"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"))
    cell_start: Mapped[datetime] = mapped_column(UtcDateTime)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
