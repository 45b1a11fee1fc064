"""Order figures for the console: per month in the platform's time zone."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Order, OrderStatus

# orders that never became business: not counted as turnover
_NOT_BUSINESS = (OrderStatus.created, OrderStatus.awaiting_payment, OrderStatus.cancelled, OrderStatus.expired)


@dataclass(frozen=True)
class MonthFigures:
    month: str  # YYYY-MM, local
    orders: int
    turnover_cents: int


def orders_per_month(session: Session, timezone: str) -> list[MonthFigures]:
    """Orders placed and their value per local month (months bucketed in Python: SQLite and PostgreSQL
    disagree on date functions, and a platform's order count fits in memory by month)."""
    zone = ZoneInfo(timezone)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = session.execute(select(Order.created_at, Order.total_cents).where(Order.status.not_in(_NOT_BUSINESS)))
    for created_at, total in rows:
        month = created_at.astimezone(zone).strftime("%Y-%m")
        counts[month][0] += 1
        counts[month][1] += total
    return [MonthFigures(m, c[0], c[1]) for m, c in sorted(counts.items())]
