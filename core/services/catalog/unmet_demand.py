"""Logging needs nobody on the platform meets, for the platform staff to act on."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import UnmetDemand


def record_unmet_demand(
    session: Session, query: str, channel: str, user_key: str | None = None, city: str | None = None
) -> UnmetDemand:
    row = UnmetDemand(query=query.strip()[:500], channel=channel, user_key=user_key, city=city)
    session.add(row)
    session.flush()
    return row


def top_unmet_demands(session: Session, limit: int = 20) -> list[tuple[str, int]]:
    stmt = (
        select(UnmetDemand.query, func.count())
        .group_by(UnmetDemand.query)
        .order_by(func.count().desc(), UnmetDemand.query)
        .limit(limit)
    )
    return [(q, int(n)) for q, n in session.execute(stmt)]
