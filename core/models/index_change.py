"""Outbox of services whose search-index entry is stale.

Written in the same transaction as the change, so the index can never miss an
update that was committed; drained by the index sync after the commit.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import created_at_column


class IndexChange(Base):
    __tablename__ = "search_index_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_code: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = created_at_column()
