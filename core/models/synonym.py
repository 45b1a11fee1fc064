"""A query-time synonym: a lay word and the technical words it stands for."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import string_list_column, updated_at_column


class Synonym(Base):
    __tablename__ = "synonyms"

    id: Mapped[int] = mapped_column(primary_key=True)
    # stored lower-cased so lookups are case-insensitive on every database
    term: Mapped[str] = mapped_column(String(64), unique=True)
    expansions: Mapped[list[str]] = string_list_column()
    updated_at: Mapped[datetime] = updated_at_column()
