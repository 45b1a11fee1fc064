"""The calendar page's forms: one weekday's opening hours, a blackout, a new slot proposed to a customer,
and the private ICS feed. Each calls the same core service as the lab API; a change that strands
bookings is first refused naming them, then made on confirmation with the customers notified."""
from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from flask import abort, flash, g, redirect, request

from core.errors import AppError, Conflict, InvalidInput, NotFound
from core.models import Order
from core.models._types import utcnow
from core.services.orders import calendar_feed, lab_calendar, slot_proposals, slots
from web.pages import local_time
from web.session import LAB_ROLES, platform, requires
from web.workbench.blueprint import workbench_bp
from web.workbench.calendar import FormState, PageState, calendar_url, parse_day, render_calendar, zone

_WINDOW = re.compile(r"(\d{1,2}):(\d{2})\s*[-–—~～至到]\s*(\d{1,2}):(\d{2})")
_SEPARATORS = re.compile(r"[\s,，;；、]+")
MAX_REASON = 200


def _where() -> tuple[str, date]:
    """The view and day the form was sent from, to come back to."""
    return ("day" if request.form.get("view") == "day" else "week"), parse_day(request.form.get("day"))


def _confirmed() -> bool:
    return request.form.get("confirm") == "1"


def parse_windows(text: str) -> list[tuple[time, time]]:
    """'09:00-12:00, 13:00-17:00' → windows; anything else is refused with the expected format."""
    if _SEPARATORS.sub("", _WINDOW.sub("", text)):
        raise ValueError("格式应为 09:00-12:00，多个时段用逗号分隔，如 09:00-12:00, 13:00-17:00。")
    windows = []
    for h1, m1, h2, m2 in _WINDOW.findall(text):
        try:
            windows.append((time(int(h1), int(m1)), time(int(h2), int(m2))))
        except ValueError:
            raise ValueError("时间须在 00:00 到 23:59 之间。") from None
    return windows


def _conflict(exc: Conflict) -> dict[str, Any]:
    """The refusal as the page shows it: the service's sentence naming the orders, and each order's slot."""
    orders = [{"number": o["number"], "slot": f"{o['slot_start'][:16].replace('T', ' ')}–{o['slot_end'][11:16]}"}
              for o in exc.details.get("orders", [])]
    return {"message": exc.message.split("。")[0] + "。", "orders": orders}


def _notified(stranded: list[Order]) -> str:
    if not stranded:
        return ""
    people = len({o.user_id for o in stranded})
    return f"已通知 {people} 位客户（订单 {'、'.join(o.number for o in stranded)}）。"


@workbench_bp.post("/instruments/<code>/calendar/hours/<weekday>")
@requires(*LAB_ROLES)
def save_day_hours(code: str, weekday: str):  # type: ignore[no-untyped-def]
    if weekday not in {str(d) for d in range(7)}:
        abort(404)
    day_of_week, (view, day) = int(weekday), _where()
    text, closed = (request.form.get("hours") or "").strip()[:300], request.form.get("closed") == "1"
    form = FormState(values={"hours": text, "closed": "1" if closed else ""})
    state = PageState(hours={day_of_week: form})
    try:
        if closed and text:
            raise ValueError("已勾选“当天不开放”，请清空时段，或取消勾选。")
        if not closed and not text:
            raise ValueError("请填写开放时段，或勾选“当天不开放”。")
        windows = [] if closed else parse_windows(text)
    except ValueError as exc:
        form.errors["hours"] = str(exc)
        return render_calendar(code, view, day, state, 400)
    try:
        with platform().transaction() as session:
            instrument = lab_calendar.lab_instrument(session, g.user.institution_id, code)
            _, stranded = slots.set_opening_hours(session, instrument, {day_of_week: windows},
                                                  platform().settings.orders, utcnow(), _confirmed())
            done = _notified(stranded)
    except InvalidInput as exc:
        form.errors["hours"] = exc.message
        return render_calendar(code, view, day, state, 400)
    except Conflict as exc:
        if exc.code != "bookings_affected":
            raise
        form.conflict = _conflict(exc)
        return render_calendar(code, view, day, state, 409)
    name = slots.WEEKDAY_NAMES[day_of_week]
    flash(f"已更新{name}的开放时间：{'不开放' if closed else text}。{done}", "success")
    return redirect(calendar_url(code, view, day))


def _parse_local(text: str, label: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"请填写{label}，如 2026-05-12 09:00。") from None
    if not 2000 <= moment.year <= 2100:
        raise ValueError(f"{label}的年份不对，请检查。")
    return moment.replace(tzinfo=zone()) if moment.tzinfo is None else moment  # typed in local time


@workbench_bp.post("/instruments/<code>/calendar/blackouts")
@requires(*LAB_ROLES)
def add_blackout(code: str):  # type: ignore[no-untyped-def]
    view, day = _where()
    values = {k: (request.form.get(k) or "").strip() for k in ("starts_at", "ends_at", "reason")}
    form = FormState(values=values)
    moments: dict[str, datetime] = {}
    for key, label in (("starts_at", "开始时间"), ("ends_at", "结束时间")):
        try:
            moments[key] = _parse_local(values[key], label)
        except ValueError as exc:
            form.errors[key] = str(exc)
    if len(values["reason"]) > MAX_REASON:
        form.errors["reason"] = f"原因最多 {MAX_REASON} 个字。"
    if form.errors:
        return render_calendar(code, view, day, PageState(blackout=form), 400)
    start, end = moments["starts_at"], moments["ends_at"]
    shown = f"{local_time(start)}–{local_time(end)}"
    try:
        with platform().transaction() as session:
            instrument = lab_calendar.lab_instrument(session, g.user.institution_id, code)
            if lab_calendar.same_blackout(session, instrument.id, start, end) is not None:
                flash(f"停机时段 {shown} 已经添加过，没有重复添加。", "success")
                return redirect(calendar_url(code, "week", start.astimezone(zone()).date()))
            _, stranded = slots.add_blackout(session, instrument, start, end, values["reason"] or None,
                                             platform().settings.orders, utcnow(), _confirmed())
            done = _notified(stranded)
    except InvalidInput as exc:
        form.errors["ends_at"] = exc.message
        return render_calendar(code, view, day, PageState(blackout=form), 400)
    except Conflict as exc:
        if exc.code != "bookings_affected":
            raise
        form.conflict = _conflict(exc)
        return render_calendar(code, view, day, PageState(blackout=form), 409)
    flash(f"已添加停机时段 {shown}（{values['reason'] or '停机'}）。{done}", "success")
    # back to the week of the blackout, where it can be seen
    return redirect(calendar_url(code, "week", start.astimezone(zone()).date()))


@workbench_bp.post("/instruments/<code>/calendar/proposals")
@requires(*LAB_ROLES)
def propose_slot(code: str):  # type: ignore[no-untyped-def]
    view, day = _where()
    number = (request.form.get("order") or "").strip()[:32]
    back = calendar_url(code, view, day, propose_order=number, propose_day=request.form.get("propose_day") or None)
    try:
        start = datetime.fromisoformat(request.form.get("start") or "")
    except ValueError:
        flash("请先选择订单和日期，再选一个可预约的新时段。", "error")
        return redirect(back)
    try:
        with platform().transaction() as session:
            instrument = lab_calendar.lab_instrument(session, g.user.institution_id, code)
            if number not in {o.number for o in lab_calendar.movable_bookings(session, instrument.id, utcnow())}:
                raise NotFound(f"仪器 {code} 上没有可改约的订单 {number}。", code="order_not_found")
            proposal = slot_proposals.propose(session, g.user, number, start, platform().settings.orders,
                                              note=request.form.get("note"))
    except NotFound:
        raise
    except AppError as exc:  # the slot was taken meanwhile, the order moved on …: said on the page
        flash(exc.message, "error")
        return redirect(back)
    flash(f"已向客户提议将订单 {number} 改到 {local_time(proposal.start)}–{local_time(proposal.end, '%H:%M')}，"
          "等待客户在小程序中确认。", "success")
    return redirect(calendar_url(code, view, day))


@workbench_bp.post("/instruments/<code>/calendar/feed")
@requires(*LAB_ROLES)
def rotate_feed(code: str):  # type: ignore[no-untyped-def]
    view, day = _where()
    with platform().transaction() as session:
        instrument = lab_calendar.lab_instrument(session, g.user.institution_id, code)
        had = instrument.calendar_feed_secret is not None
        calendar_feed.rotate_secret(session, instrument)
    flash("已更换订阅地址，旧地址已失效；请在手机日历中改用新地址。" if had else "已生成日历订阅地址。", "success")
    return redirect(calendar_url(code, view, day) + "#feed")


@workbench_bp.post("/instruments/<code>/calendar/feed/revoke")
@requires(*LAB_ROLES)
def revoke_feed(code: str):  # type: ignore[no-untyped-def]
    view, day = _where()
    with platform().transaction() as session:
        calendar_feed.revoke_secret(session, lab_calendar.lab_instrument(session, g.user.institution_id, code))
    flash("已停用日历订阅，原订阅地址不再可用。", "success")
    return redirect(calendar_url(code, view, day) + "#feed")
