"""Column helpers shared by the model modules."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, JSON
from sqlalchemy.orm import Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)


def updated_at_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow, nullable=False)


def string_list_column() -> Mapped[list[str]]:
    return mapped_column(JSON, default=list, nullable=False)
