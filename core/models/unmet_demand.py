"""A need someone asked for that no listing on the platform meets (yet)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import created_at_column


class UnmetDemand(Base):
    __tablename__ = "unmet_demands"

    id: Mapped[int] = mapped_column(primary_key=True)
    query: Mapped[str] = mapped_column(String(500))
    channel: Mapped[str] = mapped_column(String(32))  # wechat, demo, cli, api
    user_key: Mapped[str | None] = mapped_column(String(128), index=True)
    city: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()
