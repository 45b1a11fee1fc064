"""Lab staff: their institution's orders (accept, reject, samples, testing, report),
instrument calendars with opening hours, blackouts and a private ICS feed, group-buys, rating replies."""
from __future__ import annotations

import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import signed_in_user
from api.openapi import documented
from api.order_schemas import (
    BlackoutBody, CalendarDayOut, CalendarOut, CalendarQuery, CampaignBody, CampaignOut, OkOut,
    OrderOut, ReasonBody, ReplyBody, ReportOut, RatingOut, Strict,
)
from api.order_views import campaign_out, order_action, platform, rating_out, report_out
from api.validation import parse_json_body, parse_query
from core.errors import InvalidInput, NotFound
from core.models import Instrument, Role, User
from core.models._types import utcnow
from core.report_storage import LocalReportStorage
from core.services.orders import calendar_feed, group_buy, ratings, reports, slots
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
            errors=LAB_ERRORS + (413,), body=ReportUpload, body_media_type="multipart/form-data", signed_in=True,
            status=201)
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
        today = utcnow().astimezone(ZoneInfo(p.settings.orders.timezone)).date()  # the lab's today, not the server's
        days = slots.calendar(session, instrument, query.start or today, query.days, p.settings.orders)
        out = CalendarOut(instrument_code=code, days=[CalendarDayOut(
            day=d.day, opening_hours=[list(w) for w in d.opening_hours],
            booked=[{"start": s, "end": e, "order": n} for s, e, n in d.booked],
            blackouts=[{"start": s, "end": e, "reason": r} for s, e, r in d.blackouts]) for d in days])
    return jsonify(out.model_dump(mode="json"))


_HH_MM = re.compile(r"^\d{2}:\d{2}$")


def _parse_time(text: str) -> time:
    # wall-clock HH:MM only: an offset or seconds would not compare with the stored local hours
    try:
        if _HH_MM.match(text):
            return time.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidInput(f"{text[:20]!r} 不是有效的时间，格式如 09:00。", code="invalid_time")


# [opens, closes] as lists, checked here: pydantic's tuple-length errors would reach people in English
Interval = list[str]
CONFIRM = Field(default=False, strict=True,
                description="make the change even if it strands booked orders (their customers are notified)")


class WeekHoursBody(Strict):
    hours: dict[int, list[Interval]] = Field(
        description='weekday (0 = Monday) -> [["09:00", "12:00"], ["13:00", "17:00"]]; [] closes the day; '
                    "weekdays left out keep their hours")
    confirm: bool = CONFIRM


class DayHoursBody(Strict):
    intervals: list[Interval] = Field(description='[["09:00", "12:00"], ["13:00", "17:00"]]; [] closes the day')
    confirm: bool = CONFIRM


class ConfirmedBlackoutBody(BlackoutBody):  # Moment bounds the years, so the date arithmetic cannot overflow
    confirm: bool = CONFIRM


class OpeningHoursOut(BaseModel):
    ok: bool = True
    instrument_code: str
    hours: dict[int, list[list[str]]] = Field(description="the whole week after the change; 0 = Monday")
    notified_orders: list[str] = Field(description="booked orders left outside the new hours; customers notified")


class BlackoutOut(BaseModel):
    ok: bool = True
    id: int
    starts_at: datetime
    ends_at: datetime
    reason: str | None
    notified_orders: list[str]


class CalendarFeedOut(BaseModel):
    url: str = Field(description="the private ICS address; whoever has it can read the calendar")


SCHEDULE_ERRORS = (400, 401, 403, 404, 409)


def _windows(intervals: list[Interval]) -> list[tuple[time, time]]:
    if any(len(pair) != 2 for pair in intervals):
        raise InvalidInput('每个开放时段须为 [开始, 结束]，如 ["09:00", "17:00"]。', code="invalid_opening_hours")
    return [(_parse_time(o), _parse_time(c)) for o, c in intervals]


def _change_hours(code: str, changes: dict[int, list[Interval]], confirm: bool):  # type: ignore[no-untyped-def]
    parsed = {day: _windows(intervals) for day, intervals in changes.items()}
    p = platform()
    with p.transaction() as session:
        instrument = _own_instrument(session, _staff(session), code)
        week, stranded = slots.set_opening_hours(session, instrument, parsed, p.settings.orders, utcnow(), confirm)
        out = OpeningHoursOut(instrument_code=code, notified_orders=[o.number for o in stranded],
                              hours={d: [[f"{o:%H:%M}", f"{c:%H:%M}"] for o, c in w] for d, w in week.items()})
    return jsonify(out.model_dump(mode="json"))


@lab_bp.put("/instruments/<code>/opening-hours")
@documented("/lab/instruments/{code}/opening-hours", "put",
            "Set the opening hours of the weekdays in the body; weekdays left out keep theirs",
            OpeningHoursOut, errors=SCHEDULE_ERRORS, body=WeekHoursBody, signed_in=True)
def opening_hours(code: str):  # type: ignore[no-untyped-def]
    body = _body(WeekHoursBody)
    return _change_hours(code, body.hours, body.confirm)


@lab_bp.put("/instruments/<code>/opening-hours/<weekday>")
@documented("/lab/instruments/{code}/opening-hours/{weekday}", "put",
            "Set one weekday's opening hours (0 = Monday … 6 = Sunday); other days are unchanged",
            OpeningHoursOut, errors=SCHEDULE_ERRORS, body=DayHoursBody, signed_in=True)
def opening_hours_of_day(code: str, weekday: str):  # type: ignore[no-untyped-def]
    if weekday not in {str(d) for d in range(7)}:
        raise InvalidInput("星期须为 0（周一）到 6（周日）。", code="invalid_weekday")
    body = _body(DayHoursBody)
    return _change_hours(code, {int(weekday): body.intervals}, body.confirm)


@lab_bp.post("/instruments/<code>/blackouts")
@documented("/lab/instruments/{code}/blackouts", "post", "Block a period (maintenance, holidays)", BlackoutOut,
            errors=SCHEDULE_ERRORS, body=ConfirmedBlackoutBody, signed_in=True, status=201)
def blackout(code: str):  # type: ignore[no-untyped-def]
    body = _body(ConfirmedBlackoutBody)
    p = platform()
    with p.transaction() as session:
        instrument = _own_instrument(session, _staff(session), code)
        made, stranded = slots.add_blackout(session, instrument, body.starts_at, body.ends_at, body.reason,
                                            p.settings.orders, utcnow(), body.confirm)
        zone = ZoneInfo(p.settings.orders.timezone)
        out = BlackoutOut(id=made.id, starts_at=made.starts_at.astimezone(zone), ends_at=made.ends_at.astimezone(zone),
                          reason=made.reason, notified_orders=[o.number for o in stranded])
    return jsonify(out.model_dump(mode="json")), 201


@lab_bp.post("/instruments/<code>/calendar-feed")
@documented("/lab/instruments/{code}/calendar-feed", "post",
            "Create or rotate the instrument's private ICS feed (the old address stops working)",
            CalendarFeedOut, errors=(400, 401, 403, 404), signed_in=True, status=201)
def rotate_calendar_feed(code: str):  # type: ignore[no-untyped-def]
    p = platform()
    with p.transaction() as session:
        secret = calendar_feed.rotate_secret(session, _own_instrument(session, _staff(session), code))
    return jsonify(CalendarFeedOut(url=f"{p.settings.public_base_url}/api/v1/lab/calendar/{secret}.ics")
                   .model_dump()), 201


@lab_bp.delete("/instruments/<code>/calendar-feed")
@documented("/lab/instruments/{code}/calendar-feed", "delete", "Revoke the instrument's ICS feed", OkOut,
            errors=(401, 403, 404), signed_in=True)
def revoke_calendar_feed(code: str):  # type: ignore[no-untyped-def]
    with platform().transaction() as session:
        calendar_feed.revoke_secret(session, _own_instrument(session, _staff(session), code))
    return jsonify(OkOut().model_dump())


# no sign-in: calendar apps cannot send one, so the unguessable secret in the address is the credential
@lab_bp.get("/calendar/<feed>")
@documented("/lab/calendar/{feed}", "get", "An instrument's bookings and blackouts as ICS ({feed} is <secret>.ics)",
            OkOut, errors=(404,), media_type="text/calendar")
def calendar_feed_ics(feed: str):  # type: ignore[no-untyped-def]
    secret = feed.removesuffix(".ics") if feed.endswith(".ics") else ""
    p = platform()
    with p.transaction(write=False) as session:
        ics = calendar_feed.feed(session, calendar_feed.instrument_for_secret(session, secret), p.settings.orders,
                                 utcnow())
    return Response(ics, mimetype="text/calendar", headers={
        "Content-Disposition": "inline; filename=calendar.ics", "Cache-Control": "private, no-store"})


@lab_bp.post("/group-buys")
@documented("/lab/group-buys", "post", "Open a group-buy on one of the lab's services", CampaignOut,
            errors=(400, 401, 403, 404), body=CampaignBody, signed_in=True, status=201)
def open_group_buy():  # type: ignore[no-untyped-def]
    body = _body(CampaignBody)
    with platform().transaction() as session:
        campaign = group_buy.open_campaign(
            session, _staff(session), body.service_code, min_samples=body.min_samples, max_samples=body.max_samples,
            group_price_cny=body.group_price_cny, deadline=body.deadline, run_date=body.run_date)
        out = campaign_out(group_buy.progress(session, campaign.id))
    return jsonify(out.model_dump(mode="json")), 201
