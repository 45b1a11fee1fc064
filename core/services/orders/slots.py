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
from core.models import Blackout, Instrument, OpeningHours, Order, OrderStatus, SlotHold
from core.services.people.notifications import notify, shown_time

DEFAULT_MINUTES_PER_SAMPLE = 60
Windows = list[tuple[time, time]]
WEEKDAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
MAX_WINDOWS_PER_DAY = 12
# orders whose visit is still ahead: a schedule change must not leave them outside bookable time
UPCOMING = (OrderStatus.created, OrderStatus.awaiting_payment, OrderStatus.paid, OrderStatus.accepted)


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
    for row in sorted(rows, key=lambda r: (r.weekday, r.opens)):
        if row.opens < row.closes:  # a closed day's marker row (see set_opening_hours) is no window
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




# --- editing the schedule ------------------------------------------------------------------------
# An edit that would leave an upcoming booking outside bookable time is refused (409) and names the
# orders; with confirm=True it is made and each customer is told, through the inbox and WeChat.

def validate_windows(day: int, windows: Windows) -> Windows:
    """One weekday's windows, sorted; refused unless each opens before it closes and none overlap."""
    if not 0 <= day <= 6:
        raise InvalidInput("星期须为 0（周一）到 6（周日）。", code="invalid_weekday", details={"weekday": day})
    if len(windows) > MAX_WINDOWS_PER_DAY:
        raise InvalidInput(f"每天最多 {MAX_WINDOWS_PER_DAY} 个开放时段。", code="invalid_opening_hours")
    ordered = sorted(windows)
    for opens, closes in ordered:
        if opens >= closes:
            raise InvalidInput(f"{WEEKDAY_NAMES[day]}：开放时间 {opens:%H:%M} 须早于结束时间 {closes:%H:%M}。",
                               code="invalid_opening_hours", details={"weekday": day})
    for (o1, c1), (o2, c2) in zip(ordered, ordered[1:]):
        if o2 < c1:
            raise InvalidInput(f"{WEEKDAY_NAMES[day]}：开放时段 {o1:%H:%M}-{c1:%H:%M} 与 {o2:%H:%M}-{c2:%H:%M} 重叠。",
                               code="overlapping_opening_hours", details={"weekday": day})
    return ordered


def set_opening_hours(session: Session, instrument: Instrument, changes: dict[int, Windows], rules: OrderRules,
                      now: datetime, confirm: bool = False) -> tuple[dict[int, Windows], list[Order]]:
    """Replace the windows of the weekdays in `changes` (an empty list closes the day); the other
    weekdays keep theirs. Answers the resulting week and the bookings the lab confirmed it strands."""
    cleaned = {day: validate_windows(day, windows) for day, windows in changes.items()}
    current = weekly_hours(session, instrument.id, rules)
    week = {**current, **cleaned}
    zone = ZoneInfo(rules.timezone)
    stranded = [o for o in upcoming_bookings(session, instrument.id, now) if not _fits(o, week, zone)]
    _refuse_or_notify(session, instrument, stranded, confirm, "调整了开放时间", rules)
    configured = session.scalar(select(OpeningHours.id).where(OpeningHours.instrument_id == instrument.id).limit(1))
    # the first edit writes down the default week it departs from, so the untouched days keep it;
    # later edits touch only their own days (two staff editing different days do not collide)
    days = sorted(cleaned) if configured is not None else list(range(7))
    session.execute(delete(OpeningHours).where(OpeningHours.instrument_id == instrument.id,
                                               OpeningHours.weekday.in_(days)))
    for day in days:
        # a closed day keeps a zero-length marker row: an instrument closed all week must not
        # read as one that never set its hours (which gets the default week)
        windows = week.get(day) or [(time(0), time(0))]
        session.add_all(OpeningHours(instrument_id=instrument.id, weekday=day, opens=o, closes=c) for o, c in windows)
    session.flush()
    return {day: week.get(day, []) for day in range(7)}, stranded


def add_blackout(session: Session, instrument: Instrument, starts_at: datetime, ends_at: datetime,
                 reason: str | None, rules: OrderRules, now: datetime,
                 confirm: bool = False) -> tuple[Blackout, list[Order]]:
    starts_at, ends_at = as_utc(starts_at), as_utc(ends_at)
    if ends_at <= starts_at:
        raise InvalidInput("停机时段的结束须晚于开始。", code="invalid_blackout")
    stranded = [o for o in upcoming_bookings(session, instrument.id, now)
                if _local(o.slot_start, rules) < ends_at and _local(o.slot_end, rules) > starts_at]
    change = (f"在 {shown_time(starts_at, rules.timezone)} 至 {shown_time(ends_at, rules.timezone)} "
              f"停机（{reason or '停机'}）")
    _refuse_or_notify(session, instrument, stranded, confirm, change, rules)
    blackout = Blackout(instrument_id=instrument.id, starts_at=starts_at, ends_at=ends_at, reason=reason)
    session.add(blackout)
    session.flush()
    return blackout, stranded


def upcoming_bookings(session: Session, instrument_id: int, now: datetime) -> list[Order]:
    return list(session.scalars(select(Order).where(
        Order.instrument_id == instrument_id, Order.status.in_(UPCOMING), Order.slot_start.is_not(None),
        Order.slot_end > now).order_by(Order.slot_start, Order.number)))


def _fits(order: Order, week: dict[int, Windows], zone: ZoneInfo) -> bool:
    """The same test check_bookable makes of a new booking, against the week being set."""
    assert order.slot_start is not None and order.slot_end is not None
    start, end = as_utc(order.slot_start), as_utc(order.slot_end)
    local = start.astimezone(zone)
    return any(_within(start, end, local.date(), o, c, zone) for o, c in week.get(local.weekday(), []))


def _local(moment: datetime | None, rules: OrderRules) -> datetime:
    assert moment is not None  # only orders with a slot are ever stranded
    return as_utc(moment).astimezone(ZoneInfo(rules.timezone))


def _slot_text(order: Order, rules: OrderRules) -> str:
    return f"{_local(order.slot_start, rules):%Y-%m-%d %H:%M}–{_local(order.slot_end, rules):%H:%M}"


def _refuse_or_notify(session: Session, instrument: Instrument, stranded: list[Order], confirm: bool,
                      change: str, rules: OrderRules) -> None:
    if not stranded:
        return
    if not confirm:
        numbers = "、".join(o.number for o in stranded)
        raise Conflict(
            f"此变更会使 {len(stranded)} 个已预约订单（{numbers}）的时段不再可用。如确认变更，请在请求中加上"
            " \"confirm\": true，平台会通知这些订单的用户。", code="bookings_affected",
            details={"orders": [{"number": o.number, "status": o.status.value,
                                 "slot_start": _local(o.slot_start, rules).isoformat(),
                                 "slot_end": _local(o.slot_end, rules).isoformat()} for o in stranded]})
    phone = instrument.institution.contact_phone
    contact = f"请联系实验室（{phone}）改约，或取消订单。" if phone else "请联系实验室改约，或取消订单。"
    for order in stranded:
        notify(session, order.user_id, "booking_affected", "预约时段有变",
               f"实验室{change}，您的订单 {order.number}（{order.service.name}）预约的 "
               f"{_slot_text(order, rules)} 已不在{instrument.name}的可预约时间内。{contact}", order.id)
