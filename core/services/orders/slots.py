"""Bookable time on an instrument: opening hours, blackouts and the cells an order holds."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.config import OrderRules
from core.errors import Conflict, InvalidInput
from core.models import Blackout, Instrument, OpeningHours, Order, SlotHold

DEFAULT_MINUTES_PER_SAMPLE = 60


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def slot_length(duration_minutes: int | None, samples: int, rules: OrderRules) -> timedelta:
    minutes = (duration_minutes or DEFAULT_MINUTES_PER_SAMPLE) * samples
    return timedelta(minutes=math.ceil(minutes / rules.slot_minutes) * rules.slot_minutes)


def cells(start: datetime, end: datetime, rules: OrderRules) -> list[datetime]:
    step = timedelta(minutes=rules.slot_minutes)
    out, cursor = [], start
    while cursor < end:
        out.append(cursor)
        cursor += step
    return out


def weekly_hours(session: Session, instrument_id: int, rules: OrderRules) -> dict[int, list[tuple[time, time]]]:
    rows = session.scalars(select(OpeningHours).where(OpeningHours.instrument_id == instrument_id)).all()
    if not rows:
        opens, closes = rules.default_hours
        return {day: [(time(opens), time(closes))] for day in range(5)}
    hours: dict[int, list[tuple[time, time]]] = {}
    for row in rows:
        hours.setdefault(row.weekday, []).append((row.opens, row.closes))
    return hours


def check_bookable(session: Session, instrument_id: int, start: datetime, end: datetime, rules: OrderRules,
                   now: datetime) -> None:
    """Raise InvalidInput unless [start, end) is in the future, aligned, inside opening hours and clear of blackouts."""
    start, end = as_utc(start), as_utc(end)
    if start <= now:
        raise InvalidInput("预约时段须在将来。", code="slot_in_past")
    if start.minute % rules.slot_minutes or start.second or start.microsecond:
        raise InvalidInput(f"预约须从整点或整点后 {rules.slot_minutes} 分钟的整数倍开始。",
                           code="slot_not_aligned")
    zone = ZoneInfo(rules.timezone)
    local_start = start.astimezone(zone)
    windows = weekly_hours(session, instrument_id, rules).get(local_start.weekday(), [])
    if not any(_within(start, end, local_start.date(), opens, closes, zone) for opens, closes in windows):
        raise InvalidInput(
            "所选时段不在仪器的开放时间内。", code="slot_outside_opening_hours",
            details={"opening_hours": {str(d): [f"{o:%H:%M}-{c:%H:%M}" for o, c in w]
                                       for d, w in sorted(weekly_hours(session, instrument_id, rules).items())}})
    clash = session.scalar(select(Blackout).where(Blackout.instrument_id == instrument_id,
                                                  Blackout.starts_at < end, Blackout.ends_at > start))
    if clash is not None:
        raise InvalidInput(f"该时段仪器不可预约（{clash.reason or '停机'}）。", code="slot_blackout")


def _within(start: datetime, end: datetime, day: date, opens: time, closes: time, zone: ZoneInfo) -> bool:
    """Whether [start, end) lies inside one opening window of `day`, compared as moments: a slot
    ending at midnight ends on the next day, after any window of this one has closed."""
    window_start = datetime.combine(day, opens, zone).astimezone(timezone.utc)
    window_end = datetime.combine(day, closes, zone).astimezone(timezone.utc)
    return window_start <= start and end <= window_end


def hold(session: Session, order: Order, rules: OrderRules) -> None:
    """Claim the order's cells. The unique key decides races: the loser gets 409 and writes nothing."""
    assert order.slot_start is not None and order.slot_end is not None
    try:
        with session.begin_nested():
            session.add_all(SlotHold(instrument_id=order.instrument_id, cell_start=cell, order_id=order.id)
                            for cell in cells(as_utc(order.slot_start), as_utc(order.slot_end), rules))
            session.flush()
    except IntegrityError:
        raise Conflict("该时段刚被他人预约，请另选时间。",
                       code="slot_taken") from None


def release(session: Session, order_id: int) -> None:
    session.execute(delete(SlotHold).where(SlotHold.order_id == order_id))


@dataclass(frozen=True)
class CalendarDay:
    day: date
    opening_hours: list[tuple[str, str]]
    booked: list[tuple[datetime, datetime, str]]  # start, end, order number
    blackouts: list[tuple[datetime, datetime, str | None]]


def calendar(session: Session, instrument: Instrument, first: date, days: int, rules: OrderRules) -> list[CalendarDay]:
    zone = ZoneInfo(rules.timezone)
    hours = weekly_hours(session, instrument.id, rules)
    lo = datetime.combine(first, time(0), zone).astimezone(timezone.utc)
    hi = lo + timedelta(days=days)
    orders = session.execute(
        select(Order.slot_start, Order.slot_end, Order.number).join(SlotHold, SlotHold.order_id == Order.id)
        .where(SlotHold.instrument_id == instrument.id, SlotHold.cell_start >= lo, SlotHold.cell_start < hi)
        .distinct()).all()
    blackouts = session.execute(select(Blackout.starts_at, Blackout.ends_at, Blackout.reason).where(
        Blackout.instrument_id == instrument.id, Blackout.starts_at < hi, Blackout.ends_at > lo)).all()
    out = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        d_lo = datetime.combine(day, time(0), zone).astimezone(timezone.utc)
        d_hi = d_lo + timedelta(days=1)
        out.append(CalendarDay(
            day=day,
            opening_hours=[(f"{o:%H:%M}", f"{c:%H:%M}") for o, c in hours.get(day.weekday(), [])],
            booked=sorted((as_utc(s), as_utc(e), n) for s, e, n in orders if d_lo <= as_utc(s) < d_hi),
            blackouts=[(as_utc(s), as_utc(e), r) for s, e, r in blackouts if as_utc(s) < d_hi and as_utc(e) > d_lo],
        ))
    return out


def set_opening_hours(session: Session, instrument_id: int, hours: dict[int, list[tuple[time, time]]]) -> None:
    for day, windows in hours.items():
        if not 0 <= day <= 6:
            raise InvalidInput("星期须为 0（周一）到 6（周日）。", code="invalid_weekday")
        for opens, closes in windows:
            if opens >= closes:
                raise InvalidInput(f"开放时间 {opens:%H:%M} 须早于结束时间 {closes:%H:%M}。",
                                   code="invalid_opening_hours")
    session.execute(delete(OpeningHours).where(OpeningHours.instrument_id == instrument_id))
    session.add_all(OpeningHours(instrument_id=instrument_id, weekday=d, opens=o, closes=c)
                    for d, windows in hours.items() for o, c in windows)
    session.flush()


def add_blackout(session: Session, instrument_id: int, starts_at: datetime, ends_at: datetime, reason: str | None) -> Blackout:
    if as_utc(ends_at) <= as_utc(starts_at):
        raise InvalidInput("停机时段的结束须晚于开始。", code="invalid_blackout")
    blackout = Blackout(instrument_id=instrument_id, starts_at=as_utc(starts_at), ends_at=as_utc(ends_at), reason=reason)
    session.add(blackout)
    session.flush()
    return blackout
