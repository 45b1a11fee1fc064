"""仪器: the institution's instruments with their live state, and per instrument the last seven days
as state bands and a month's machine-hours (external service against internal use, the sharing rate,
the possible no-shows) — the same figures as GET /api/v1/instruments/<code>/usage — and how its sensor
is read, with the corrections lab staff made (sensor.py, sensor_actions.py)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from core.errors import AppError, NotFound
from core.models import Instrument, OrderStatus, Role
from core.models._types import utcnow
from core.models.review import APPROVED
from core.report_storage import LocalReportStorage
from core.services.catalog.instrument_photos import PHOTO_MAX_BYTES, photo_of, photos_dir, store_photo
from core.services.catalog.record_fields import record_rows
from core.services.catalog.review import STATUS_LABELS as REVIEW_LABELS
from core.services.orders.lifecycle import STATUS_LABELS
from core.services.usage.hours import STATES, MonthUsage, month_usage, parse_month
from core.services.usage.timeline import DayBands, InstrumentNow, instruments_now, recent_bands, viewable_instrument
from web.session import LAB_ROLES, platform, requires
from web.workbench.blueprint import workbench_bp
from web.workbench.calendar import FormState
from web.workbench.sensor import sensor_card

STATE_LABELS = {"on": "运行", "standby": "待机", "off": "关机", "offline": "离线", "unknown": "无数据"}
STATE_COLOURS = {"on": "#2e9e44", "standby": "#f0a020", "off": "#9aa0a6", "offline": "#d9363e", "unknown": "#dee2e6"}
BADGES = {"on": "text-bg-success", "standby": "text-bg-warning", "off": "text-bg-secondary",
          "offline": "text-bg-danger", "unknown": "text-bg-light border"}
WEEKDAYS = "一二三四五六日"
# what the photo's address shows before a photo is uploaded
NO_PHOTO_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240" viewBox="0 0 320 240">'
                '<rect width="320" height="240" fill="#f1f3f5"/><text x="160" y="126" font-size="18" fill="#868e96" '
                'text-anchor="middle">暂无照片</text></svg>')
EXTERNAL_COLOUR, INTERNAL_COLOUR = "#1f6feb", "#8cc4ff"


def _lasting(since: datetime | None, now: datetime) -> str:
    if since is None:
        return ""
    minutes = int((now - since).total_seconds() // 60)
    days, rest = divmod(max(0, minutes), 24 * 60)
    hours, minutes = divmod(rest, 60)
    return (f"{days} 天 {hours} 小时" if days else f"{hours} 小时 {minutes} 分钟" if hours else f"{minutes} 分钟")


def _offline_reason(item: InstrumentNow) -> str:
    """Why the sensor counts as offline: it reads zero (a sensor fault), or the ingestion heard nothing for a
    few reporting intervals."""
    if item.state != "offline":
        return ""
    if item.reason == "sensor_fault":  # readings still arrive, but read zero: the clamp, not the network
        reason = "传感器读数为零（可能钳表脱落或传感器损坏）"
    else:
        iot = platform().settings.iot
        # each sensor's own reporting rhythm is learned by the ingestion: say it in periods, not seconds
        reason = (f"连续超过 {iot.offline_after_intervals:g} 个上报周期未收到电流传感器数据，"
                  "可能是网关断线、断电或传感器故障")
    return reason + (f"；离线前为{STATE_LABELS[item.state_before]}" if item.state_before else "")


def _row(item: InstrumentNow, now: datetime) -> dict[str, Any]:
    return {"item": item, "label": STATE_LABELS[item.state], "badge": BADGES[item.state],
            "lasting": _lasting(item.since, now), "reason": _offline_reason(item)}


@workbench_bp.get("/instruments")
@requires(*LAB_ROLES)
def instruments():  # type: ignore[no-untyped-def]
    now = utcnow()
    with platform().transaction(write=False) as session:
        items = instruments_now(session, platform().redis, g.user.institution_id)
        review = dict(session.execute(select(Instrument.code, Instrument.review_status).where(
            Instrument.institution_id == g.user.institution_id, Instrument.review_status != APPROVED)).all())
    return render_template("workbench/instruments.html", rows=[_row(i, now) for i in items], labels=STATE_LABELS,
                           review=review, review_labels=REVIEW_LABELS, may_submit=g.user.role == Role.institution_admin)


def _hours_from_midnight(moment: datetime, day: DayBands) -> float:
    return round((moment - day.start).total_seconds() / 3600, 3)


def timeline_option(days: list[DayBands]) -> dict[str, Any]:
    """Each state a series of thick line segments, one per band, on a 0–24 h axis per day: coloured
    bands drawn from JSON alone (a custom series would need a render function in script)."""
    labels = [f"{d.day:%m-%d} 周{WEEKDAYS[d.day.weekday()]}" for d in days]
    series = []
    for state in STATES:
        data: list[Any] = []
        for day, label in zip(days, labels):
            for band in day.bands:
                if band.state == state:
                    data += [[_hours_from_midnight(band.start, day), label],
                             [_hours_from_midnight(band.end, day), label], "-"]
        series.append({"name": STATE_LABELS[state], "type": "line", "data": data, "showSymbol": False,
                       "connectNulls": False, "silent": True, "animation": False,
                       "itemStyle": {"color": STATE_COLOURS[state]},
                       "lineStyle": {"color": STATE_COLOURS[state], "width": 22, "cap": "butt"}})
    return {
        "legend": {"data": [STATE_LABELS[s] for s in STATES], "top": 0, "icon": "rect"},
        "grid": {"left": 90, "right": 20, "top": 40, "bottom": 30},
        "xAxis": {"type": "value", "min": 0, "max": 24, "interval": 3, "axisLabel": {"formatter": "{value}时"},
                  "splitLine": {"show": True}},
        "yAxis": {"type": "category", "data": labels, "inverse": True, "axisTick": {"show": False}},
        "series": series,
    }


def month_option(usage: MonthUsage) -> dict[str, Any]:
    external = [round(d.external_hours, 2) for d in usage.days]
    internal = [round(max(0.0, d.hours["on"] - d.external_hours), 2) for d in usage.days]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": ["对外服务机时", "内部使用机时"], "top": 0},
        "grid": {"left": 50, "right": 20, "top": 40, "bottom": 30},
        "xAxis": {"type": "category", "data": [f"{d.day.day}日" for d in usage.days]},
        "yAxis": {"type": "value", "name": "小时"},
        "series": [{"name": "对外服务机时", "type": "bar", "stack": "运行", "data": external,
                    "itemStyle": {"color": EXTERNAL_COLOUR}},
                   {"name": "内部使用机时", "type": "bar", "stack": "运行", "data": internal,
                    "itemStyle": {"color": INTERNAL_COLOUR}}],
    }


def _month_of(value: str | None, now: datetime, tz: str) -> str:
    if not value:
        return now.astimezone(ZoneInfo(tz)).strftime("%Y-%m")
    year, month = parse_month(value)  # a malformed month is the API's 400, in Chinese
    return f"{year:04d}-{month:02d}"


def _shift(month: str, by: int) -> str:
    year, mon = parse_month(month)
    index = year * 12 + mon - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@workbench_bp.get("/instruments/<code>")
@requires(*LAB_ROLES)
def instrument(code: str):  # type: ignore[no-untyped-def]
    return render_instrument(code)


def render_instrument(code: str, correction_form: FormState | None = None, status: int = 200) -> Any:
    """The instrument page; a refused correction comes back to it with what was typed and why."""
    p = platform()
    tz, now = p.settings.orders.timezone, utcnow()
    month = _month_of(request.args.get("month"), now, tz)
    with p.transaction(write=False) as session:
        found = viewable_instrument(session, g.user, code)  # another institution's: the same 404 as none
        live = instruments_now(session, p.redis, g.user.institution_id, [found.code])[0]
        days = recent_bands(session, found.id, tz, days=7, now=now)
        usage = month_usage(session, g.user, code, month, tz, now=now)
        card = sensor_card(session, g.user, found.code, correction_form)
        record, photo = record_rows(found), found.photo_file
    no_shows = [{"slot": s, "status": STATUS_LABELS.get(OrderStatus(s.status), s.status)}
                for s in usage.possible_no_shows]
    return render_template(
        "workbench/instruments_detail.html", live=_row(live, now), days=days, usage=usage, no_shows=no_shows,
        month=month, previous_month=_shift(month, -1), next_month=_shift(month, 1), labels=STATE_LABELS,
        colours=STATE_COLOURS, states=STATES, timeline_chart=timeline_option(days), month_chart=month_option(usage),
        record=record, photo=photo, photo_max_bytes=PHOTO_MAX_BYTES, **card), status


@workbench_bp.post("/instruments/<code>/photo")
@requires(*LAB_ROLES)
def instrument_photo_upload(code: str):  # type: ignore[no-untyped-def]
    """The record's photo: a JPEG of at most 1 MB; a refusal comes back on the page in Chinese."""
    p = platform()
    storage = LocalReportStorage(photos_dir(p.settings))
    upload = request.files.get("photo")
    data = upload.stream.read(PHOTO_MAX_BYTES + 1) if upload and upload.filename else b""  # never more into memory
    try:
        with p.transaction() as session:
            _, replaced = store_photo(session, g.user, code, data, storage)
    except NotFound:
        raise
    except AppError as exc:
        flash(exc.message, "error")
    else:
        if replaced:
            storage.delete(replaced)  # only now: had the commit failed, the old photo would still be the one
        flash("仪器照片已上传。", "success")
    return redirect(url_for("workbench.instrument", code=code))


@workbench_bp.get("/instruments/<code>/photo")
@requires(*LAB_ROLES)
def instrument_photo(code: str):  # type: ignore[no-untyped-def]
    p = platform()
    with p.transaction(write=False) as session:
        data = photo_of(session, g.user, code, LocalReportStorage(photos_dir(p.settings)))
    # the institution's own staff only: no shared cache may keep it
    headers = {"Cache-Control": "private, no-cache"}
    if data is None:
        return Response(NO_PHOTO_SVG, mimetype="image/svg+xml", headers=headers)
    return Response(data, mimetype="image/jpeg", headers=headers)
