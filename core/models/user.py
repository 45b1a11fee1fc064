"""A platform user and the role that decides what they may do."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import created_at_column, updated_at_column


class Role(str, enum.Enum):
    enterprise = "enterprise"
    lab_staff = "lab_staff"
    institution_admin = "institution_admin"
    platform_admin = "platform_admin"
    expert = "expert"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str | None] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(Enum(Role, name="user_role", native_enum=False, length=32))
    # lab staff and institution admins belong to one institution
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    wechat_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    # an enterprise user's company (needed for innovation vouchers)
    company_name: Mapped[str | None] = mapped_column(String(200))
    company_credit_code: Mapped[str | None] = mapped_column(String(18))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # tokens and console sessions carry this; bumping it (sign-out, disable, password reset) revokes them all
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # the official account's openid (notifications to staff), bound by scanning a QR code in the workbench
    official_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
