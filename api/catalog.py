"""Read endpoints the mini-program needs: service, instrument and institution
pages, and the category list."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from api.openapi import documented
from api.schemas import (
    CategoryList, InstitutionDetail, RatingItem, RatingSummaryOut, InstitutionRef, InstrumentDetail, InstrumentRef, InstrumentSummary, PageParams,
    ServiceDetail, ServiceSummary,
)
from api.validation import parse_query
from core.db import unit_of_work
from core.models import Institution, Service
from core.services.catalog.queries import category_counts, institution_detail, instrument_detail, service_detail
from core.services.usage.status import live_statuses
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
