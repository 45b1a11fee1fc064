"""Recording which services the search index must refresh."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.models import IndexChange, Instrument, Service


def services_of_institution(session: Session, institution_id: int) -> list[str]:
    stmt = select(Service.code).join(Instrument).where(Instrument.institution_id == institution_id)
    return list(session.scalars(stmt))


def mark_stale(session: Session, service_codes: Iterable[str]) -> None:
    for code in sorted(set(service_codes)):
        session.add(IndexChange(service_code=code))
    session.flush()


def pending_changes(session: Session, limit: int | None = None) -> list[IndexChange]:
    stmt = select(IndexChange).order_by(IndexChange.id)
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def clear_changes(session: Session, up_to_id: int) -> None:
    session.execute(delete(IndexChange).where(IndexChange.id <= up_to_id))
    session.flush()
