"""Read side of the public catalog: what the mini-program shows."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.models import Institution, Instrument, OnboardingStatus, Service
from core.models.review import APPROVED
from core.services.catalog.visibility import instrument_live, listing_live


def _public(stmt: Select) -> Select:  # type: ignore[type-arg]
    """Only what search may show: active listings on shared instruments of approved institutions."""
    return stmt.where(*listing_live())


def _listing_stmt() -> Select:  # type: ignore[type-arg]
    return _public(
        select(Service, Instrument, Institution)
        .join(Instrument, Service.instrument_id == Instrument.id)
        .join(Institution, Instrument.institution_id == Institution.id)
    )


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int


def service_detail(session: Session, code: str) -> tuple[Service, Instrument, Institution]:
    row = session.execute(_listing_stmt().where(Service.code == code)).first()
    if row is None:
        raise NotFound(f"平台上没有检测服务 {code}。", code="service_not_found")
    return row[0], row[1], row[2]


def instrument_detail(session: Session, code: str) -> tuple[Instrument, Institution, list[Service]]:
    row = session.execute(
        select(Instrument, Institution)
        .join(Institution, Instrument.institution_id == Institution.id)
        .where(Instrument.code == code, *instrument_live())
    ).first()
    if row is None:
        raise NotFound(f"没有开放共享的仪器 {code}。", code="instrument_not_found")
    services = session.scalars(
        select(Service).where(Service.instrument_id == row[0].id, Service.active.is_(True),
                              Service.review_status == APPROVED).order_by(Service.code)
    ).all()
    return row[0], row[1], list(services)


def institution_detail(session: Session, code: str, page: int, per_page: int) -> tuple[Institution, Page]:
    institution = session.scalar(
        select(Institution).where(Institution.code == code, Institution.status == OnboardingStatus.approved)
    )
    if institution is None:
        raise NotFound(f"没有通过审核的机构 {code}。", code="institution_not_found")
    base = select(Instrument).where(Instrument.institution_id == institution.id, Instrument.open_for_sharing.is_(True))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    items = session.scalars(base.order_by(Instrument.code).offset((page - 1) * per_page).limit(per_page)).all()
    return institution, Page(list(items), int(total), page, per_page)


def category_counts(session: Session) -> list[tuple[str, int]]:
    stmt = _public(
        select(Instrument.category, func.count(Service.id))
        .select_from(Service)
        .join(Instrument, Service.instrument_id == Instrument.id)
        .join(Institution, Instrument.institution_id == Institution.id)
    ).group_by(Instrument.category).order_by(Instrument.category)
    return [(c or "其他", int(n)) for c, n in session.execute(stmt)]
