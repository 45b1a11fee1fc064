"""仪器日历: one instrument's week or day — opening hours, bookings and blackouts by hour — with the
forms that change them (calendar_actions.py), the slot proposals and the private ICS feed."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask import g, render_template, request, url_for

from core.models import Blackout, Instrument
from core.models._types import utcnow
from core.services.orders import lab_calendar, slot_proposals
from core.services.orders.availability import free_starts
from core.services.orders.lab_calendar import Booking
from core.services.orders.slots import WEEKDAY_NAMES, as_utc, weekly_hours
from web.session import LAB_ROLES, platform, requires
from web.workbench.blueprint import workbench_bp

DEFAULT_FIRST_HOUR, DEFAULT_LAST_HOUR = 8, 18


@dataclass
class FormState:
    """What a form shows again after a refusal: what was typed, errors by field, stranded bookings."""
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    conflict: dict[str, Any] | None = None


@dataclass
class PageState:
    hours: dict[int, FormState] = field(default_factory=dict)
    blackout: FormState = field(default_factory=FormState)


@dataclass
class Cell:
    css: str
    bookings: list[Booking]
    blackouts: list[Blackout]


def zone() -> ZoneInfo:
    return ZoneInfo(platform().settings.orders.timezone)


def local_today() -> date:
    return utcnow().astimezone(zone()).date()


def parse_day(text: str | None) -> date:
    """The day asked for; a missing, mistyped or far-off one (year 1 would overflow the week) shows today."""
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        return local_today()
    return day if 2000 <= day.year <= 2100 else local_today()


def calendar_url(code: str, view: str, day: date | None, **extra: Any) -> str:
    return url_for("workbench.instrument_calendar", code=code, view=view,
                   day=day.isoformat() if day else None, **extra)


def _hour_range(days: list[date], hours: dict[int, list[tuple[time, time]]], spans: list[tuple[datetime, datetime]],
                tz: ZoneInfo) -> range:
    """Rows from the earliest opening (or booking, or blackout) to the latest; 08–18 when nothing is set."""
    first, last = DEFAULT_FIRST_HOUR, DEFAULT_LAST_HOUR
    for day in days:
        for opens, closes in hours.get(day.weekday(), []):
            first, last = min(first, opens.hour), max(last, closes.hour + (1 if closes.minute else 0))
    for start, end in spans:
        s, e = start.astimezone(tz), end.astimezone(tz)
        if s.date() in days:
            first = min(first, s.hour)
        if e.date() in days:
            last = max(last, e.hour + (1 if e.minute else 0))
        elif s.date() in days:
            last = 24  # runs past midnight
    return range(max(0, first), min(24, last))


def build_grid(days: list[date], hours: dict[int, list[tuple[time, time]]], bookings: list[Booking],
               blackouts: list[Blackout], tz: ZoneInfo) -> list[tuple[str, list[Cell]]]:
    """Rows of (hour label, one cell per day): open or closed, blacked out, and what starts in the hour."""
    spans = [(b.start, b.end) for b in bookings] + [(as_utc(b.starts_at), as_utc(b.ends_at)) for b in blackouts]
    rows = []
    span = _hour_range(days, hours, spans, tz)
    for hour in span:
        cells = []
        for day in days:
            lo = datetime.combine(day, time(hour), tz)
            hi = lo + timedelta(hours=1)
            is_open = any(datetime.combine(day, o, tz) < hi and datetime.combine(day, c, tz) > lo
                          for o, c in hours.get(day.weekday(), []))
            covering = [b for b in blackouts if as_utc(b.starts_at) < hi and as_utc(b.ends_at) > lo]
            # a blackout is labelled once a day: in its first hour, or in the top row of a day it runs into
            labelled = [b for b in covering if as_utc(b.starts_at) >= lo or hour == span.start]
            starting = [b for b in bookings if lo <= b.start < hi]
            booked = any(b.start < hi and b.end > lo for b in bookings)
            css = ("cal-blackout" if covering else "cal-booked" if booked else "cal-open" if is_open
                   else "cal-closed")
            cells.append(Cell(css, starting, labelled))
        rows.append((f"{hour:02d}:00", cells))
    return rows


def period(start: datetime, end: datetime) -> str:
    """A span as staff read it: the date once when it starts and ends on the same local day."""
    tz = zone()
    s, e = as_utc(start).astimezone(tz), as_utc(end).astimezone(tz)
    return f"{s:%m-%d %H:%M}–{e:%H:%M}" if s.date() == e.date() else f"{s:%m-%d %H:%M}–{e:%m-%d %H:%M}"


def hours_text(windows: list[tuple[time, time]]) -> str:
    return ", ".join(f"{o:%H:%M}-{c:%H:%M}" for o, c in windows)


def _proposal_form(session: Any, instrument: Instrument, now: datetime) -> dict[str, Any]:
    """The propose-a-new-slot form: the movable bookings and, once one and a day are chosen, the free starts."""
    movable = lab_calendar.movable_bookings(session, instrument.id, now)
    chosen = next((o for o in movable if o.number == request.args.get("propose_order")), None)
    day = parse_day(request.args.get("propose_day")) if request.args.get("propose_day") else None
    starts: list[datetime] = []
    if chosen is not None and day is not None:
        found = free_starts(session, instrument.id, chosen.service.duration_minutes, chosen.samples, day, day,
                            platform().settings.orders, now, ignore_order_id=chosen.id)
        current = as_utc(chosen.slot_start)  # type: ignore[arg-type]
        starts = [s for d in found.days for s in d.starts if as_utc(s) != current]
    return {"orders": [{"number": o.number, "label": f"{o.number} · {o.company_name} · {_short(o.slot_start)}"}
                       for o in movable],
            "chosen": chosen.number if chosen else "", "day": day.isoformat() if day else "", "starts": starts,
            "searched": chosen is not None and day is not None}


def _short(moment: datetime | None) -> str:
    return as_utc(moment).astimezone(zone()).strftime("%m-%d %H:%M") if moment else "—"


def render_calendar(code: str, view: str, day: date, state: PageState | None = None, status: int = 200) -> Any:
    state = state or PageState()
    tz, rules, now = zone(), platform().settings.orders, utcnow()
    first = day - timedelta(days=day.weekday()) if view == "week" else day
    days = [first + timedelta(days=i) for i in range(7 if view == "week" else 1)]
    lo = datetime.combine(days[0], time(0), tz).astimezone(timezone.utc)
    hi = datetime.combine(days[-1] + timedelta(days=1), time(0), tz).astimezone(timezone.utc)
    with platform().transaction(write=False) as session:
        instrument = lab_calendar.lab_instrument(session, g.user.institution_id, code)
        hours = weekly_hours(session, instrument.id, rules)
        bookings = lab_calendar.bookings(session, instrument.id, lo, hi)
        blackouts = lab_calendar.blackouts(session, instrument.id, lo, hi)
        for b in blackouts:
            session.expunge(b)
        proposals = slot_proposals.proposals_on_instrument(session, instrument.id, now)
        propose = _proposal_form(session, instrument, now)
        secret = instrument.calendar_feed_secret
        info = {"code": instrument.code, "name": instrument.name, "model": instrument.model,
                "location": instrument.location}
    feed_url = (platform().settings.public_base_url + url_for("lab.calendar_feed_ics", feed=f"{secret}.ics")
                if secret else None)
    step = timedelta(days=7 if view == "week" else 1)
    week_forms = [{"weekday": d, "name": WEEKDAY_NAMES[d],
                   "state": state.hours.get(d) or FormState(values={"hours": hours_text(hours.get(d, [])),
                                                                   "closed": "" if hours.get(d) else "1"})}
                  for d in range(7)]
    return render_template(
        "workbench/calendar.html", instrument=info, view=view, day=day, days=days, today=local_today(),
        rows=build_grid(days, hours, bookings, blackouts, tz), bookings=bookings, blackouts=blackouts,
        weekday_names=WEEKDAY_NAMES, week_forms=week_forms, state=state, proposals=proposals, propose=propose,
        feed_url=feed_url, period=period, prev_url=calendar_url(code, view, day - step), next_url=calendar_url(code, view, day + step),
        today_url=calendar_url(code, view, None), week_url=calendar_url(code, "week", day),
        day_url=calendar_url(code, "day", day),
        day_links=[calendar_url(code, "day", d) for d in days]), status


@workbench_bp.get("/instruments/<code>/calendar")
@requires(*LAB_ROLES)
def instrument_calendar(code: str):  # type: ignore[no-untyped-def]
    view = "day" if request.args.get("view") == "day" else "week"
    return render_calendar(code, view, parse_day(request.args.get("day")))
