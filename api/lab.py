"""Lab staff: their institution's orders (accept, reject, samples, testing, report),
instrument calendars with opening hours and blackouts, group-buys, rating replies."""
from __future__ import annotations

from datetime import date, time

from flask import Blueprint, jsonify, request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import signed_in_user
from api.openapi import documented
from api.order_schemas import (
    BlackoutBody, CalendarDayOut, CalendarOut, CalendarQuery, CampaignBody, CampaignOut, OkOut, OpeningHoursBody,
    OrderOut, ReasonBody, ReplyBody, ReportOut, RatingOut,
)
from api.order_views import campaign_out, order_action, platform, rating_out, report_out
from api.validation import parse_json_body, parse_query
from core.errors import InvalidInput, NotFound
from core.models import Instrument, Role, User
from core.report_storage import LocalReportStorage
from core.services.orders import group_buy, ratings, reports, slots
from core.services.orders import lifecycle as orders
from core.services.people.authz import require_role

lab_bp = Blueprint("lab", __name__, url_prefix="/api/v1/lab")

LAB_ERRORS = (400, 401, 403, 404, 409, 422)
STEPS = {"samples-received": "receive_samples", "start-testing": "start_testing"}


def _body(model: type[BaseModel]):  # type: ignore[no-untyped-def]
    return parse_json_body(model, request.get_json(silent=True))


def _staff(session: Session) -> User:
    return require_role(signed_in_user(session), Role.lab_staff, Role.institution_admin, Role.platform_admin)


@lab_bp.post("/orders/<number>/accept")
@documented("/lab/orders/{number}/accept", "post", "Accept a paid order", OrderOut, errors=LAB_ERRORS,
            body=ReasonBody, signed_in=True)
def accept(number: str):  # type: ignore[no-untyped-def]
    body = _body(ReasonBody)
    return order_action(_staff, lambda s, u, p: orders.accept(s, u, number, body.reason or None,
                                                              p.settings.orders.timezone))


@lab_bp.post("/orders/<number>/reject")
@documented("/lab/orders/{number}/reject", "post", "Reject a paid order with a reason (full refund)", OrderOut,
            errors=LAB_ERRORS, body=ReasonBody, signed_in=True)
def reject(number: str):  # type: ignore[no-untyped-def]
    body = _body(ReasonBody)
    return order_action(_staff, lambda s, u, p: orders.reject(s, u, number, body.reason, p.settings))


@lab_bp.post("/orders/<number>/<step>")
@documented("/lab/orders/{number}/{step}", "post", "samples-received, start-testing or no-show", OrderOut,
            errors=LAB_ERRORS, signed_in=True)
def step(number: str, step: str):  # type: ignore[no-untyped-def]
    if step == "no-show":
        return order_action(_staff, lambda s, u, p: orders.no_show(s, u, number, p.settings))
    if step not in STEPS:
        raise NotFound(f"没有实验室操作 {step!r}，可用的有：{'、'.join([*STEPS, 'no-show'])}。", code="unknown_action")
    return order_action(_staff, lambda s, u, p: orders.lab_step(s, u, number, STEPS[step]))


class ReportUpload(BaseModel):
    file: bytes


@lab_bp.post("/orders/<number>/report")
@documented("/lab/orders/{number}/report", "post", "Upload the report (PDF, multipart field 'file')", ReportOut,
            errors=LAB_ERRORS + (413,), body=ReportUpload, body_media_type="multipart/form-data", signed_in=True)
def upload(number: str):  # type: ignore[no-untyped-def]
    upload_file = request.files.get("file")
    if upload_file is None:
        raise InvalidInput("请以 multipart 表单字段 'file' 上传报告。", code="file_required")
    p = platform()
    limit = p.settings.orders.report_max_bytes
    data = upload_file.stream.read(limit + 1)  # never read more than the limit into memory
    with p.transaction() as session:
        user = _staff(session)
        report = reports.upload_report(session, user, number, upload_file.filename or "report.pdf", data,
                                       LocalReportStorage(p.settings.reports_dir), p.settings)
        out = report_out(report, user)
    return jsonify(out.model_dump(mode="json")), 201


@lab_bp.post("/orders/<number>/rating-reply")
@documented("/lab/orders/{number}/rating-reply", "post", "Reply to the user's rating", RatingOut,
            errors=LAB_ERRORS, body=ReplyBody, signed_in=True)
def rating_reply(number: str):  # type: ignore[no-untyped-def]
    body = _body(ReplyBody)
    with platform().transaction() as session:
        rating = ratings.reply(session, _staff(session), number, body.reply)
        out = rating_out(number, rating)
    return jsonify(out.model_dump(mode="json"))


def _own_instrument(session: Session, user: User, code: str) -> Instrument:
    instrument = session.scalar(select(Instrument).where(Instrument.code == code))
    if instrument is None or (user.role != Role.platform_admin and instrument.institution_id != user.institution_id):
        raise NotFound(f"您的实验室没有仪器 {code}。", code="instrument_not_found")
    return instrument


@lab_bp.get("/instruments/<code>/calendar")
@documented("/lab/instruments/{code}/calendar", "get", "Opening hours, bookings and blackouts, day by day",
            CalendarOut, query=CalendarQuery, errors=(400, 401, 403, 404), signed_in=True)
def calendar(code: str):  # type: ignore[no-untyped-def]
    query = parse_query(CalendarQuery, request.args)
    p = platform()
    with p.transaction(write=False) as session:
        instrument = _own_instrument(session, _staff(session), code)
        days = slots.calendar(session, instrument, query.start or date.today(), query.days, p.settings.orders)
        out = CalendarOut(instrument_code=code, days=[CalendarDayOut(
            day=d.day, opening_hours=[list(w) for w in d.opening_hours],
            booked=[{"start": s, "end": e, "order": n} for s, e, n in d.booked],
            blackouts=[{"start": s, "end": e, "reason": r} for s, e, r in d.blackouts]) for d in days])
    return jsonify(out.model_dump(mode="json"))


def _parse_time(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} 不是有效的时间，格式如 09:00。", code="invalid_time") from None


@lab_bp.put("/instruments/<code>/opening-hours")
@documented("/lab/instruments/{code}/opening-hours", "put", "Replace the weekly opening hours", OkOut,
            errors=(400, 401, 403, 404), body=OpeningHoursBody, signed_in=True)
def opening_hours(code: str):  # type: ignore[no-untyped-def]
    body = _body(OpeningHoursBody)
    hours = {day: [(_parse_time(o), _parse_time(c)) for o, c in windows] for day, windows in body.hours.items()}
    with platform().transaction() as session:
        instrument = _own_instrument(session, _staff(session), code)
        slots.set_opening_hours(session, instrument.id, hours)
    return jsonify(OkOut().model_dump())


@lab_bp.post("/instruments/<code>/blackouts")
@documented("/lab/instruments/{code}/blackouts", "post", "Block a period (maintenance, holidays)", OkOut,
            errors=(400, 401, 403, 404), body=BlackoutBody, signed_in=True)
def blackout(code: str):  # type: ignore[no-untyped-def]
    body = _body(BlackoutBody)
    with platform().transaction() as session:
        instrument = _own_instrument(session, _staff(session), code)
        slots.add_blackout(session, instrument.id, body.starts_at, body.ends_at, body.reason)
    return jsonify(OkOut().model_dump()), 201


@lab_bp.post("/group-buys")
@documented("/lab/group-buys", "post", "Open a group-buy on one of the lab's services", CampaignOut,
            errors=(400, 401, 403, 404), body=CampaignBody, signed_in=True)
def open_group_buy():  # type: ignore[no-untyped-def]
    body = _body(CampaignBody)
    with platform().transaction() as session:
        campaign = group_buy.open_campaign(
            session, _staff(session), body.service_code, min_samples=body.min_samples, max_samples=body.max_samples,
            group_price_cny=body.group_price_cny, deadline=body.deadline, run_date=body.run_date)
        out = campaign_out(group_buy.progress(session, campaign.id))
    return jsonify(out.model_dump(mode="json")), 201
