"""Read endpoints the mini-program needs: service, instrument and institution
pages, and the category list."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from api.openapi import documented
from api.schemas import (
    CategoryList, InstitutionDetail, RatingItem, RatingSummaryOut, InstitutionRef, InstrumentDetail, InstrumentRef, InstrumentSummary, PageParams,
    ServiceDetail, ServiceSummary,
)
from api.validation import Day, parse_query
from core.db import unit_of_work
from core.errors import InvalidInput
from core.models import Institution, Service
from core.models._types import utcnow
from core.services.catalog.queries import category_counts, institution_detail, instrument_detail, service_detail
from core.services.usage.status import live_statuses
from core.services.orders.availability import free_starts
from core.services.orders.ratings import service_ratings

catalog_bp = Blueprint("catalog", __name__, url_prefix="/api/v1")


def _sessions():  # type: ignore[no-untyped-def]
    return current_app.extensions["platform"].session_factory


def _status(instrument_code: str) -> str:
    return live_statuses(current_app.extensions["platform"].redis, [instrument_code])[instrument_code]


def _summary(svc: Service) -> ServiceSummary:
    return ServiceSummary(
        code=svc.code, name=svc.name, price_cny=float(svc.price_cny), price_unit=svc.price_unit,
        turnaround_days=svc.turnaround_days, accreditations=list(svc.accreditations),
    )


def _institution_ref(inst: Institution) -> InstitutionRef:
    return InstitutionRef(code=inst.code, name=inst.name, city=inst.city)


def _ratings(session, svc: Service) -> RatingSummaryOut:  # type: ignore[no-untyped-def]
    summary = service_ratings(session, svc)
    return RatingSummaryOut(average=summary.average, count=summary.count, recent=[
        RatingItem(stars=r.stars, comment=r.comment, lab_reply=r.lab_reply) for r in summary.recent])


@catalog_bp.get("/services/<code>")
@documented("/services/{code}", "get", "A testing service: method, samples, price, lab, live status", ServiceDetail, errors=(404,))
def get_service(code: str):  # type: ignore[no-untyped-def]
    with unit_of_work(_sessions(), write=False) as session:
        svc, ins, inst = service_detail(session, code)
        body = ServiceDetail(
            **_summary(svc).model_dump(),
            description=svc.description, sample_types=list(svc.sample_types), analytes=list(svc.analytes),
            standards=list(svc.standards), duration_minutes=svc.duration_minutes,
            sample_requirements=svc.sample_requirements,
            instrument=InstrumentRef(code=ins.code, name=ins.name, status=_status(ins.code)),
            institution=_institution_ref(inst), rating=_ratings(session, svc),
        )
    return jsonify(body.model_dump())


@catalog_bp.get("/instruments/<code>")
@documented("/instruments/{code}", "get", "A shared instrument and the services offered on it", InstrumentDetail, errors=(404,))
def get_instrument(code: str):  # type: ignore[no-untyped-def]
    with unit_of_work(_sessions(), write=False) as session:
        ins, inst, services = instrument_detail(session, code)
        body = InstrumentDetail(
            code=ins.code, name=ins.name, name_en=ins.name_en, model=ins.model, manufacturer=ins.manufacturer,
            category=ins.category, location=ins.location, specs=ins.specs, functions=ins.functions,
            status=_status(ins.code), institution=_institution_ref(inst), services=[_summary(s) for s in services],
        )
    return jsonify(body.model_dump())


@catalog_bp.get("/institutions/<code>")
@documented("/institutions/{code}", "get", "An institution and a page of its shared instruments", InstitutionDetail, PageParams, (400, 404))
def get_institution(code: str):  # type: ignore[no-untyped-def]
    paging = parse_query(PageParams, request.args, {
        "page": "page 须为不小于 1 的整数。", "per_page": "per_page 须为 1 到 100 的整数。",
    })
    with unit_of_work(_sessions(), write=False) as session:
        inst, page = institution_detail(session, code, paging.page, paging.per_page)
        body = InstitutionDetail(
            code=inst.code, name=inst.name, city=inst.city, address=inst.address, contact_name=inst.contact_name,
            contact_phone=inst.contact_phone,
            instruments=[InstrumentSummary(code=i.code, name=i.name, model=i.model, category=i.category) for i in page.items],
            total=page.total, page=page.page, per_page=page.per_page,
        )
    return jsonify(body.model_dump())


@catalog_bp.get("/categories")
@documented("/categories", "get", "Instrument categories with the number of services in each", CategoryList, errors=())
def get_categories():  # type: ignore[no-untyped-def]
    with unit_of_work(_sessions(), write=False) as session:
        items = [{"name": name, "services": n} for name, n in category_counts(session)]
    return jsonify(CategoryList.model_validate({"items": items}).model_dump())


AVAILABILITY_MAX_DAYS = 31


class AvailabilityQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first: Day | None = Field(default=None, alias="from", description="first day, YYYY-MM-DD (default: today)")
    last: Day | None = Field(default=None, alias="to", description="last day, at most 31 days on (default: from + 6)")
    # a query string is text, so not the strict Count of a JSON body, but the same bounds
    samples: int = Field(default=1, ge=1, le=100_000, description="samples to test; the same bound as when booking")


class AvailabilityDay(BaseModel):
    day: date
    starts: list[datetime] = Field(description="bookable slot starts, ISO 8601 in the platform's time zone")


class AvailabilityOut(BaseModel):
    service_code: str
    instrument_code: str
    samples: int
    slot_minutes: int = Field(description="how long a slot for this many samples lasts")
    timezone: str
    days: list[AvailabilityDay]


@catalog_bp.get("/services/<code>/availability")
@documented("/services/{code}/availability", "get", "Bookable visit slot starts of a service, day by day",
            AvailabilityOut, AvailabilityQuery, (400, 404))
def get_availability(code: str):  # type: ignore[no-untyped-def]
    query = parse_query(AvailabilityQuery, request.args, {"samples": "samples 须为 1 到 100000 的整数（样品数）。"})
    rules = current_app.extensions["platform"].settings.orders
    now = utcnow()
    first = query.first or now.astimezone(ZoneInfo(rules.timezone)).date()
    last = query.last or first + timedelta(days=6)
    if last < first:
        raise InvalidInput("结束日期（to）不得早于开始日期（from）。", code="invalid_query")
    if (last - first).days >= AVAILABILITY_MAX_DAYS:
        raise InvalidInput(f"一次最多查询 {AVAILABILITY_MAX_DAYS} 天的可预约时段。", code="invalid_query",
                           details={"max_days": AVAILABILITY_MAX_DAYS})
    with unit_of_work(_sessions(), write=False) as session:
        svc, ins, _ = service_detail(session, code)
        found = free_starts(session, ins.id, svc.duration_minutes, query.samples, first, last, rules, now)
        body = AvailabilityOut(
            service_code=svc.code, instrument_code=ins.code, samples=query.samples,
            slot_minutes=int(found.length.total_seconds() // 60), timezone=rules.timezone,
            days=[AvailabilityDay(day=d.day, starts=d.starts) for d in found.days])
    return jsonify(body.model_dump(mode="json"))
