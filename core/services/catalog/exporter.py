"""Catalog export: the same JSON Lines format that import reads."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.models import Institution, Instrument, Service
from core.services.catalog.record_fields import wan_from_cny


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _drop_empty(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v not in (None, "", [])}


def _institution(inst: Institution) -> dict[str, Any]:
    return _drop_empty({
        "code": inst.code, "name": inst.name, "city": inst.city, "address": inst.address,
        "contact_name": inst.contact_name, "contact_phone": inst.contact_phone, "status": inst.status.value,
    })


def _instrument(ins: Instrument) -> dict[str, Any]:
    return _drop_empty({
        "code": ins.code, "name": ins.name, "name_en": ins.name_en, "model": ins.model,
        "manufacturer": ins.manufacturer, "category": ins.category, "value_cny": _number(ins.value_cny),
        "purchase_date": ins.purchase_date.isoformat() if ins.purchase_date else None,
        "location": ins.location, "specs": ins.specs, "functions": ins.functions,
        "open_for_sharing": ins.open_for_sharing,
        # the national record; value_wan only when it is exact with two decimals (value_cny always is)
        "classification_code": ins.classification_code, "platform_code": ins.platform_code,
        "acquisition": ins.acquisition, "country": ins.country, "value_wan": _number(wan_from_cny(ins.value_cny)),
        "in_service_date": ins.in_service_date.isoformat() if ins.in_service_date else None,
        "disciplines": ins.disciplines, "run_status": ins.run_status, "share_mode": ins.share_mode,
        "fee_standard": ins.fee_standard,
        # false is the default: written only when true, so files of instruments without a record stay as they were
        "customs_supervised": ins.customs_supervised or None,
        "province": ins.province, "city": ins.city, "county": ins.county,
        "contact_name": ins.contact_name, "contact_phone": ins.contact_phone,
    })


def _service(svc: Service) -> dict[str, Any]:
    record = _drop_empty({
        "code": svc.code, "name": svc.name, "description": svc.description,
        "sample_types": svc.sample_types, "analytes": svc.analytes, "standards": svc.standards,
        "price_unit": svc.price_unit, "duration_minutes": svc.duration_minutes,
        "turnaround_days": svc.turnaround_days, "sample_requirements": svc.sample_requirements,
        "accreditations": svc.accreditations, "active": svc.active,
    })
    record["price_cny"] = _number(svc.price_cny)  # required even when 0
    return record


def export_catalog(session: Session) -> Iterator[str]:
    """Yield one JSON line per instrument, ordered by code."""
    stmt = (
        select(Instrument)
        .options(selectinload(Instrument.institution), selectinload(Instrument.services))
        .order_by(Instrument.code)
    )
    for instrument in session.scalars(stmt):
        line = {
            "institution": _institution(instrument.institution),
            "instrument": _instrument(instrument),
            "services": [_service(s) for s in sorted(instrument.services, key=lambda s: s.code)],
        }
        yield json.dumps(line, ensure_ascii=False)
