"""What the index knows about one listing, and how it is read from the database."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager

from core.models import Instrument, Service
from core.services.catalog.visibility import listing_live


@dataclass
class IndexDoc:
    id: int
    code: str
    name: str
    price_cny: float
    description: str = ""
    sample_types: list[str] = field(default_factory=list)
    analytes: list[str] = field(default_factory=list)
    standards: list[str] = field(default_factory=list)
    accreditations: list[str] = field(default_factory=list)
    price_unit: str | None = None
    turnaround_days: int | None = None
    instrument_code: str = ""
    instrument_name: str = ""
    instrument_name_en: str = ""
    category: str = ""
    institution_code: str = ""
    institution_name: str = ""
    city: str = ""

    def lexical_fields(self) -> list[tuple[str, int]]:
        """(text, weight) pairs: what a listing is about counts more than its prose."""
        return [
            (self.name, 3),
            (" ".join(self.analytes), 2),
            (" ".join(self.sample_types), 2),
            (" ".join(self.standards), 2),
            (f"{self.instrument_name} {self.instrument_name_en}", 1),
            (self.category.replace("/", " "), 1),
            (" ".join(self.accreditations), 1),
            (self.description, 1),
        ]

    def vector_text(self) -> str:
        parts = [self.name, "、".join(self.sample_types), "、".join(self.analytes), self.instrument_name]
        return "。".join(p for p in parts if p)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "IndexDoc":
        return cls(**data)


def _doc(service: Service) -> IndexDoc:
    instrument = service.instrument
    institution = instrument.institution
    return IndexDoc(
        id=service.id,
        code=service.code,
        name=service.name,
        price_cny=float(service.price_cny),
        description=service.description or "",
        sample_types=list(service.sample_types or []),
        analytes=list(service.analytes or []),
        standards=list(service.standards or []),
        accreditations=list(service.accreditations or []),
        price_unit=service.price_unit,
        turnaround_days=service.turnaround_days,
        instrument_code=instrument.code,
        instrument_name=instrument.name,
        instrument_name_en=instrument.name_en or "",
        category=instrument.category or "",
        institution_code=institution.code,
        institution_name=institution.name,
        city=institution.city or "",
    )


def searchable_docs(session: Session, codes: Iterable[str] | None = None, batch: int = 2000) -> Iterator[IndexDoc]:
    """Listings the public may see (catalog/visibility.py), by id."""
    stmt = (
        select(Service)
        .join(Service.instrument)
        .join(Instrument.institution)
        .options(contains_eager(Service.instrument).contains_eager(Instrument.institution))
        .where(*listing_live())
        .order_by(Service.id)
        .execution_options(yield_per=batch)
    )
    if codes is not None:
        stmt = stmt.where(Service.code.in_(list(codes)))
    for service in session.scalars(stmt):
        yield _doc(service)
