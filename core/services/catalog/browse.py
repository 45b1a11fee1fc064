"""The admin's view of the whole catalog: institutions, instruments and listings in every state,
filtered and paged (the public queries in queries.py only ever show what search may show)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from core.models import Institution, Instrument, OnboardingStatus, Service
from core.models.review import APPROVED
from core.services.catalog.synonyms import all_synonyms
from core.services.paging import Paged

PER_PAGE = 20
MAX_TEXT = 100

# status filter values per view (the page's select offers these)
INSTITUTION_STATUSES = tuple(s.value for s in OnboardingStatus)
INSTRUMENT_STATUSES = ("shared", "not_shared")
SERVICE_STATUSES = ("active", "inactive")


@dataclass(frozen=True)
class CatalogFilter:
    city: str | None = None
    institution: str | None = None  # an institution's code
    status: str | None = None
    text: str | None = None
    page: int = 1
    per_page: int = PER_PAGE


@dataclass(frozen=True)
class InstitutionRow:
    code: str
    name: str
    city: str | None
    status: OnboardingStatus
    instruments: int
    services: int


@dataclass(frozen=True)
class InstrumentRow:
    code: str
    name: str
    model: str | None
    category: str | None
    open_for_sharing: bool
    institution_code: str
    institution_name: str
    city: str | None
    services: int


@dataclass(frozen=True)
class ServiceRow:
    code: str
    name: str
    price_cny: float
    price_unit: str | None
    active: bool
    instrument_code: str
    instrument_name: str
    instrument_shared: bool
    institution_code: str
    institution_name: str
    institution_status: OnboardingStatus
    city: str | None
    reviewed: bool = True  # the listing and its instrument approved in review (入网审核)

    @property
    def searchable(self) -> bool:
        return (self.active and self.instrument_shared and self.institution_status == OnboardingStatus.approved
                and self.reviewed)


@dataclass(frozen=True)
class Facets:
    cities: list[str]
    institutions: list[tuple[str, str]] = field(default_factory=list)  # (code, name)


def _like(text: str) -> str:
    # the admin's words are matched literally: % and _ are not wildcards here
    escaped = text.strip()[:MAX_TEXT].lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _text_filter(stmt: Select, text: str | None, *columns: Any) -> Select:  # type: ignore[type-arg]
    if not text or not text.strip():
        return stmt
    pattern = _like(text)
    return stmt.where(or_(*(func.lower(c).like(pattern, escape="\\") for c in columns)))


def _place(stmt: Select, f: CatalogFilter) -> Select:  # type: ignore[type-arg]
    if f.city:
        stmt = stmt.where(Institution.city == f.city)
    if f.institution:
        stmt = stmt.where(Institution.code == f.institution)
    return stmt


def _page(session: Session, stmt: Select, f: CatalogFilter, *order: Any) -> tuple[list[Any], int, int]:  # type: ignore[type-arg]
    total = int(session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    pages = max(1, -(-total // f.per_page))
    page = min(max(1, f.page), pages)  # a page past the end shows the last one
    rows = session.execute(stmt.order_by(*order).offset((page - 1) * f.per_page).limit(f.per_page)).all()
    return list(rows), total, page


def browse_institutions(session: Session, f: CatalogFilter) -> Paged[InstitutionRow]:
    instruments = (select(Instrument.institution_id, func.count(Instrument.id).label("n"))
                   .group_by(Instrument.institution_id).subquery())
    services = (select(Instrument.institution_id, func.count(Service.id).label("n"))
                .join(Service, Service.instrument_id == Instrument.id).group_by(Instrument.institution_id).subquery())
    stmt = (select(Institution, func.coalesce(instruments.c.n, 0), func.coalesce(services.c.n, 0))
            .outerjoin(instruments, instruments.c.institution_id == Institution.id)
            .outerjoin(services, services.c.institution_id == Institution.id))
    stmt = _text_filter(_place(stmt, f), f.text, Institution.name, Institution.code)
    if f.status in INSTITUTION_STATUSES:
        stmt = stmt.where(Institution.status == OnboardingStatus(f.status))
    rows, total, page = _page(session, stmt, f, Institution.code)
    items = [InstitutionRow(i.code, i.name, i.city, i.status, int(n_ins), int(n_srv)) for i, n_ins, n_srv in rows]
    return Paged(items, total, page, f.per_page)


def browse_instruments(session: Session, f: CatalogFilter) -> Paged[InstrumentRow]:
    services = (select(Service.instrument_id, func.count(Service.id).label("n"))
                .group_by(Service.instrument_id).subquery())
    stmt = (select(Instrument, Institution, func.coalesce(services.c.n, 0))
            .join(Institution, Instrument.institution_id == Institution.id)
            .outerjoin(services, services.c.instrument_id == Instrument.id))
    stmt = _text_filter(_place(stmt, f), f.text, Instrument.name, Instrument.code, Instrument.model,
                        Instrument.name_en)
    if f.status in INSTRUMENT_STATUSES:
        stmt = stmt.where(Instrument.open_for_sharing.is_(f.status == "shared"))
    rows, total, page = _page(session, stmt, f, Instrument.code)
    items = [InstrumentRow(ins.code, ins.name, ins.model, ins.category, ins.open_for_sharing, inst.code, inst.name,
                           inst.city, int(n)) for ins, inst, n in rows]
    return Paged(items, total, page, f.per_page)


def browse_services(session: Session, f: CatalogFilter) -> Paged[ServiceRow]:
    stmt = (select(Service, Instrument, Institution)
            .join(Instrument, Service.instrument_id == Instrument.id)
            .join(Institution, Instrument.institution_id == Institution.id))
    stmt = _text_filter(_place(stmt, f), f.text, Service.name, Service.code, Instrument.name)
    if f.status in SERVICE_STATUSES:
        stmt = stmt.where(Service.active.is_(f.status == "active"))
    rows, total, page = _page(session, stmt, f, Service.code)
    items = [ServiceRow(s.code, s.name, float(s.price_cny), s.price_unit, s.active, ins.code, ins.name,
                        ins.open_for_sharing, inst.code, inst.name, inst.status, inst.city,
                        s.review_status == APPROVED and ins.review_status == APPROVED) for s, ins, inst in rows]
    return Paged(items, total, page, f.per_page)


def catalog_facets(session: Session) -> Facets:
    """The values the filters offer: every city and institution in the catalog."""
    cities = [c for c in session.scalars(select(Institution.city).distinct().order_by(Institution.city)) if c]
    institutions = [(code, name) for code, name in session.execute(
        select(Institution.code, Institution.name).order_by(Institution.code))]
    return Facets(cities, institutions)


def browse_synonyms(session: Session, text: str | None = None, page: int = 1,
                    per_page: int = 30) -> Paged[tuple[str, list[str]]]:
    """Dictionary entries whose term or an expansion contains `text` (the dictionary is a few thousand
    entries: filtered here rather than in JSON columns that each database reads differently)."""
    needle = (text or "").strip().lower()[:MAX_TEXT]
    entries = [(term, exp) for term, exp in all_synonyms(session).items()
               if not needle or needle in term or any(needle in e.lower() for e in exp)]
    pages = max(1, -(-len(entries) // per_page))
    page = min(max(1, page), pages)
    return Paged(entries[(page - 1) * per_page:page * per_page], len(entries), page, per_page)
