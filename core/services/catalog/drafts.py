"""New instruments and listings written by an institution's admin in the workbench: they start as
drafts (入网审核), invisible to the public until submitted and approved (review.py)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.models import Institution, Instrument, Role, Service, User
from core.models.review import DRAFT
from core.services.catalog import record_fields as rf
from core.services.catalog.lab_listings import MAX_TEXT, MAX_TURNAROUND_DAYS, _text, parse_price
from core.services.catalog.platform_code import assign_platform_code
from core.services.catalog.review import record
from core.services.people.authz import require_role


@dataclass(frozen=True)
class InstrumentDraft:
    name: str
    model: str = ""
    manufacturer: str = ""
    classification_code: str = ""
    value_wan: str = ""
    in_service_date: str = ""
    specs: str = ""
    functions: str = ""


@dataclass(frozen=True)
class ListingDraft:
    instrument_code: str
    name: str
    price_cny: str
    price_unit: str = "样"
    description: str = ""
    sample_requirements: str = ""
    turnaround_days: str = ""


def _field(parse: Any, field: str, *args: Any) -> Any:
    try:
        return parse(*args)
    except ValueError as exc:
        raise InvalidInput(f"{exc}。", code="invalid_field", details={"field": field}) from None


def _next_code(session: Session, model: Any, prefix: str) -> str:
    """prefix + the next free number: codes of one institution stay readable (T-CQ-FOOD-0004, …-S012)."""
    taken = set(session.scalars(select(model.code).where(model.code.like(f"{prefix}%"))))
    n = len(taken) + 1
    while f"{prefix}{n:04d}" in taken:
        n += 1
    return f"{prefix}{n:04d}"


def create_instrument(session: Session, actor: User | None, draft: InstrumentDraft) -> Instrument:
    user = require_role(actor, Role.institution_admin)
    institution = session.get(Institution, user.institution_id)
    if institution is None:
        raise NotFound("您的账号没有所属机构。", code="institution_not_found")
    name = (draft.name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("请填写仪器名称（最多 200 个字）。", code="invalid_field", details={"field": "name"})
    value = None
    if draft.value_wan.strip():
        try:
            number: Any = float(draft.value_wan)
        except ValueError:
            number = draft.value_wan
        value = _field(rf.parse_value_wan, "value_wan", number)
    instrument = Instrument(
        code=_next_code(session, Instrument, f"{institution.code}-"), institution_id=institution.id, name=name,
        model=(draft.model or "").strip()[:200] or None, manufacturer=(draft.manufacturer or "").strip()[:200] or None,
        classification_code=_field(rf.parse_classification, "classification_code", draft.classification_code or None),
        value_cny=value * rf.WAN if value is not None else None,
        in_service_date=_field(rf.parse_date, "in_service_date", "in_service_date", draft.in_service_date or None),
        specs=_field(rf.parse_text, "specs", "specs", draft.specs or None),
        functions=_field(rf.parse_text, "functions", "functions", draft.functions or None),
        open_for_sharing=True, share_mode="external", review_status=DRAFT, extra={}, disciplines=[])
    session.add(instrument)
    session.flush()
    assign_platform_code(session, instrument, institution)
    record(session, "instrument", instrument.code, "drafted", user)
    session.flush()
    return instrument


def create_listing(session: Session, actor: User | None, draft: ListingDraft) -> Service:
    user = require_role(actor, Role.institution_admin)
    instrument = session.scalar(select(Instrument).where(Instrument.code == draft.instrument_code))
    if instrument is None or instrument.institution_id != user.institution_id:
        raise NotFound(f"您的实验室没有仪器 {draft.instrument_code}。", code="instrument_not_found")
    name = (draft.name or "").strip()
    if not name or len(name) > 300:
        raise InvalidInput("请填写服务名称（最多 300 个字）。", code="invalid_field", details={"field": "name"})
    days = (draft.turnaround_days or "").strip()
    if days and (not days.isdigit() or int(days) > MAX_TURNAROUND_DAYS):
        raise InvalidInput(f"检测周期须为 0 到 {MAX_TURNAROUND_DAYS} 天。", code="invalid_turnaround",
                           details={"field": "turnaround_days"})
    unit = (draft.price_unit or "样").strip()[:32] or "样"
    price: Decimal = parse_price(draft.price_cny or "")
    service = Service(
        code=_next_code(session, Service, f"{instrument.institution.code}-S"), instrument_id=instrument.id, name=name,
        description=_text(draft.description, MAX_TEXT, "description", "服务说明"),
        sample_requirements=_text(draft.sample_requirements, MAX_TEXT, "sample_requirements", "样品要求"),
        price_cny=price, price_unit=unit, turnaround_days=int(days) if days else None, active=True,
        review_status=DRAFT, sample_types=[], analytes=[], standards=[], accreditations=[])
    session.add(service)
    session.flush()
    record(session, "service", service.code, "drafted", user)
    return service
