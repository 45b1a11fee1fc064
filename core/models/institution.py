"""An institution (resource unit) that owns instruments and offers services."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Enum, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.models._types import created_at_column, updated_at_column

if TYPE_CHECKING:
    from core.models.instrument import Instrument


class OnboardingStatus(str, enum.Enum):
    draft = "draft"  # being written by its admin
    pending = "pending"  # submitted, waiting for a platform admin
    needs_changes = "needs_changes"  # sent back by a platform admin with what to change
    approved = "approved"
    suspended = "suspended"


class Institution(Base):
    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(64), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[OnboardingStatus] = mapped_column(
        Enum(OnboardingStatus, name="onboarding_status", native_enum=False, length=16),
        default=OnboardingStatus.pending,
    )
    # the lab's rule: share of the fee it keeps when an accepted order is cancelled or a user does not show
    cancellation_fee_pct: Mapped[int] = mapped_column(Integer, default=20, server_default="20")
    # where WeChat Pay profit sharing (分账) sends the lab's part: a merchant id (MERCHANT_ID) or an openid
    payee_type: Mapped[str | None] = mapped_column(String(32))
    payee_account: Mapped[str | None] = mapped_column(String(64))
    payee_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    instruments: Mapped[list["Instrument"]] = relationship(back_populates="institution")
