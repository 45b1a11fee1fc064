"""Column helpers shared by the model modules."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, JSON
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def local_days(start: date, end: date, zone: str) -> tuple[datetime, datetime]:
    """The moments [lo, hi) covering the local days start..end: a statement of "December" means
    December where the platform's people are, not December in UTC (eight hours earlier in China)."""
    tz = ZoneInfo(zone)
    lo = datetime(start.year, start.month, start.day, tzinfo=tz)
    hi = datetime(end.year, end.month, end.day, tzinfo=tz) + timedelta(days=1)
    return lo.astimezone(timezone.utc), hi.astimezone(timezone.utc)


def local_today(zone: str, now: datetime | None = None) -> date:
    """Today where the platform's people are (PLATFORM_TIMEZONE), not where the server's clock is."""
    return (now or utcnow()).astimezone(ZoneInfo(zone)).date()


class UtcDateTime(TypeDecorator[datetime]):
    """A moment, stored in UTC and always read back aware.

    SQLite keeps no offset and hands back naive datetimes; left alone they leak
    into the JSON API without an offset and compare wrongly with aware ones.
    Naive input is refused rather than guessed at."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"a moment must carry its time zone: {value!r}")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(UtcDateTime, default=utcnow, nullable=False)


def updated_at_column() -> Mapped[datetime]:
    return mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow, nullable=False)


def string_list_column() -> Mapped[list[str]]:
    return mapped_column(JSON, default=list, nullable=False)


# ids are Integer columns: 32 bits on PostgreSQL (SQLite's are wider); a larger id names no row and must
# be refused at the edge, or the driver overflows (a 500) before the database can say "not found"
MAX_ROW_ID = 2**31 - 1
