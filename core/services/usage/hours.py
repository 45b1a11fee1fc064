"""Machine-hours from the state intervals, and their match with orders.

On-time inside a booked slot is external service; on-time outside every order
is internal use; the sharing rate is external hours ÷ on hours. A slot that
was booked, accepted and is over, during which the instrument was never on
while its sensor was reporting, is a possible no-show for the lab to confirm.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.models import Instrument, InstrumentStateInterval, Order, OrderStatus, OrderUsage, Role, User
from core.models._types import utcnow
from core.services.people.authz import require_role
from core.services.usage.states import as_utc

# the slot counts as booked from payment on
BOOKED = frozenset({
    OrderStatus.paid, OrderStatus.accepted, OrderStatus.samples_received, OrderStatus.testing,
    OrderStatus.report_issued, OrderStatus.confirmed, OrderStatus.settled, OrderStatus.disputed,
    OrderStatus.no_show,
})
# … and the lab has committed to it from acceptance on
ACCEPTED_OR_LATER = BOOKED - {OrderStatus.paid}
NO_SHOW_MAX_UNOBSERVED = 0.5  # a slot the sensor missed for more than half tells nothing
HOUR_S = 3600.0
STATES = ("on", "standby", "off", "offline")

Span = tuple[datetime, datetime]


# where each hour of a day comes from, for an audit: live readings, readings that came late and amended
# the history, a staff correction, or nothing known (offline, a dead sensor, no data)
AUDIT = ("measured", "amended", "corrected", "unknown")
AUDIT_OF_SOURCE = {"sensor": "measured", "late_data": "amended", "staff": "corrected"}


@dataclass
class DayUsage:
    day: date
    hours: dict[str, float]  # on, standby, off, offline, unknown (no data)
    external_hours: float = 0.0
    audit: dict[str, float] = field(default_factory=dict)  # AUDIT -> hours
    sensor_fault_hours: float = 0.0  # part of offline: the clamp sent zeros


@dataclass
class SlotUsage:
    order_id: int
    number: str
    status: str
    slot_start: datetime
    slot_end: datetime
    on_minutes: float
    unobserved_minutes: float
    possible_no_show: bool


@dataclass
class MonthUsage:
    instrument_code: str
    instrument_name: str
    month: str
    days: list[DayUsage]
    totals: dict[str, float]
    external_hours: float
    internal_hours: float
    sharing_rate: float | None  # None without on-time
    slots: list[SlotUsage] = field(default_factory=list)

    @property
    def possible_no_shows(self) -> list[SlotUsage]:
        return [s for s in self.slots if s.possible_no_show]


def parse_month(month: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{4})-(\d{2})", month or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InvalidInput("month 须为年-月格式，如 2025-03。", code="invalid_month", details={"month": month})
    return int(match.group(1)), int(match.group(2))


def _month_days(year: int, month: int) -> list[date]:
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return [first + timedelta(days=i) for i in range((following - first).days)]


def overlap(a: Span, b: Span) -> float:
    return max(0.0, (min(a[1], b[1]) - max(a[0], b[0])).total_seconds())


def union(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def intersect(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    """The common parts of two sorted lists of disjoint spans."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


@dataclass(frozen=True)
class SourcedSpan:
    state: str
    start: datetime
    end: datetime
    source: str  # sensor | late_data | staff
    reason: str | None


def sourced_spans(session: Session, instrument_id: int, start: datetime, end: datetime,
                  now: datetime) -> list[SourcedSpan]:
    """The stored intervals clipped to [start, min(end, now)), with where each comes from; the open
    interval runs until now."""
    stop = min(end, now)
    table = InstrumentStateInterval
    rows = session.execute(
        select(table.state, table.start_at, table.end_at, table.source, table.reason)
        .where(table.instrument_id == instrument_id, table.start_at < stop,
               or_(table.end_at.is_(None), table.end_at > start))
        .order_by(table.start_at)
    ).all()
    spans = []
    for state, s, e, source, reason in rows:
        lo, hi = max(as_utc(s), start), min(as_utc(e) if e is not None else stop, stop)
        if hi > lo:
            spans.append(SourcedSpan(state, lo, hi, source, reason))
    return spans


def state_spans(session: Session, instrument_id: int, start: datetime, end: datetime,
                now: datetime) -> list[tuple[str, datetime, datetime]]:
    """(state, from, to) clipped to [start, min(end, now)); the open interval runs until now."""
    return [(span.state, span.start, span.end) for span in sourced_spans(session, instrument_id, start, end, now)]


def slot_usage(order: Order, spans: Sequence[tuple[str, datetime, datetime]], now: datetime) -> SlotUsage:
    assert order.slot_start is not None and order.slot_end is not None
    slot = (as_utc(order.slot_start), as_utc(order.slot_end))
    length = (slot[1] - slot[0]).total_seconds()
    on = sum(overlap(slot, (s, e)) for state, s, e in spans if state == "on")
    observed = sum(overlap(slot, (s, e)) for state, s, e in spans if state != "offline")
    unobserved = max(0.0, length - observed)
    no_show = (order.status in ACCEPTED_OR_LATER and slot[1] <= now and on < 60.0 and length > 0
               and unobserved <= NO_SHOW_MAX_UNOBSERVED * length)
    return SlotUsage(order.id, order.number, order.status.value, slot[0], slot[1], on / 60.0, unobserved / 60.0,
                     no_show)


def booked_orders(session: Session, instrument_id: int, start: datetime, end: datetime) -> list[Order]:
    return list(session.scalars(
        select(Order).where(Order.instrument_id == instrument_id, Order.slot_start.is_not(None),
                            Order.slot_start < end, Order.slot_end > start, Order.status.in_(BOOKED))
        .order_by(Order.slot_start)
    ))


def period_hours(session: Session, instrument_id: int, start: datetime, end: datetime,
                 now: datetime) -> tuple[float, float]:
    """(on hours, external service hours) of one instrument in [start, min(end, now)), by the rules of
    month_usage: on-time inside a booked slot is external service."""
    spans = state_spans(session, instrument_id, start, end, now)
    on = [(s, e) for state, s, e in spans if state == "on"]
    booked = union((max(as_utc(o.slot_start), start), min(as_utc(o.slot_end), end))  # type: ignore[arg-type]
                    for o in booked_orders(session, instrument_id, start, end))
    external = sum((e - s).total_seconds() for s, e in intersect(booked, on))
    return sum((e - s).total_seconds() for s, e in on) / HOUR_S, external / HOUR_S


def _instrument(session: Session, code: str) -> Instrument:
    instrument = session.scalar(select(Instrument).where(Instrument.code == code))
    if instrument is None:
        raise NotFound(f"没有仪器 {code}。", code="instrument_not_found")
    return instrument


def check_can_view_usage(actor: User | None, instrument: Instrument) -> None:
    """Platform admins see every instrument; an institution's staff see their own."""
    user = require_role(actor, Role.platform_admin, Role.institution_admin, Role.lab_staff)
    if user.role != Role.platform_admin and user.institution_id != instrument.institution_id:
        raise NotFound(f"没有仪器 {instrument.code}。", code="instrument_not_found")


def month_usage(session: Session, actor: User | None, code: str, month: str, tz: str,
                now: datetime | None = None) -> MonthUsage:
    """Hours per state per local day of `month`, and the match with the month's booked slots."""
    year, mon = parse_month(month)
    instrument = _instrument(session, code)
    check_can_view_usage(actor, instrument)
    return instrument_month(session, instrument, year, mon, tz, now or utcnow())


def instrument_month(session: Session, instrument: Instrument, year: int, mon: int, tz: str,
                     now: datetime) -> MonthUsage:
    """month_usage's figures for an instrument already authorised (reports over every instrument)."""
    zone = ZoneInfo(tz)
    days = _month_days(year, mon)
    bounds = [datetime.combine(d, time(0), zone).astimezone(timezone.utc) for d in days]
    bounds.append(datetime.combine(days[-1] + timedelta(days=1), time(0), zone).astimezone(timezone.utc))
    start, end = bounds[0], bounds[-1]
    sourced = sourced_spans(session, instrument.id, start, end, now)
    spans = [(span.state, span.start, span.end) for span in sourced]
    orders = booked_orders(session, instrument.id, start, end)
    booked = union((max(as_utc(o.slot_start), start), min(as_utc(o.slot_end), end))  # type: ignore[arg-type]
                    for o in orders)
    external_spans = intersect(booked, [(s, e) for state, s, e in spans if state == "on"])

    out_days = []
    for d, lo, hi in zip(days, bounds, bounds[1:]):
        day = (lo, hi)
        hours = {state: 0.0 for state in STATES}
        for state, s, e in spans:
            hours[state] += overlap(day, (s, e)) / HOUR_S
        elapsed = max(0.0, (min(hi, now) - lo).total_seconds()) / HOUR_S
        hours["unknown"] = max(0.0, elapsed - sum(hours.values()))
        external = sum(overlap(day, span) for span in external_spans) / HOUR_S
        audit = {key: 0.0 for key in AUDIT}
        fault = 0.0
        for span in sourced:
            share = overlap(day, (span.start, span.end)) / HOUR_S
            if span.state == "offline":
                fault += share if span.reason == "sensor_fault" else 0.0
            else:
                audit[AUDIT_OF_SOURCE.get(span.source, "measured")] += share
        audit["unknown"] = max(0.0, elapsed - audit["measured"] - audit["amended"] - audit["corrected"])
        out_days.append(DayUsage(d, {k: round(v, 4) for k, v in hours.items()}, round(external, 4),
                                 {k: round(v, 4) for k, v in audit.items()}, round(fault, 4)))

    totals = {k: round(sum(day.hours[k] for day in out_days), 4) for k in (*STATES, "unknown")}
    external = round(sum(day.external_hours for day in out_days), 4)
    on = totals["on"]
    return MonthUsage(
        instrument.code, instrument.name, f"{year:04d}-{mon:02d}", out_days, totals, external,
        round(max(0.0, on - external), 4), round(external / on, 4) if on > 0 else None,
        [slot_usage(o, spans, now) for o in orders],
    )


@dataclass
class ReconcileReport:
    checked: int = 0
    possible_no_shows: int = 0


def reconcile_orders(session: Session, since: datetime, until: datetime, now: datetime | None = None) -> ReconcileReport:
    """Record on-time and the possible-no-show flag for every accepted slot that ended in [since, until)."""
    now = now or utcnow()
    until = min(until, now)
    orders = list(session.scalars(
        select(Order).where(Order.slot_end.is_not(None), Order.slot_end >= since, Order.slot_end < until,
                            Order.status.in_(ACCEPTED_OR_LATER))
    ))
    report = ReconcileReport()
    existing = {
        row.order_id: row
        for row in session.scalars(select(OrderUsage).where(OrderUsage.order_id.in_([o.id for o in orders])))
    } if orders else {}
    for order in orders:
        spans = state_spans(session, order.instrument_id, as_utc(order.slot_start), as_utc(order.slot_end), now)  # type: ignore[arg-type]
        usage = slot_usage(order, spans, now)
        row = existing.get(order.id)
        if row is None:
            row = OrderUsage(order_id=order.id, instrument_id=order.instrument_id)
            session.add(row)
        row.on_minutes = round(usage.on_minutes, 2)
        row.unobserved_minutes = round(usage.unobserved_minutes, 2)
        row.possible_no_show = usage.possible_no_show
        row.checked_at = now
        report.checked += 1
        report.possible_no_shows += usage.possible_no_show
    session.flush()
    return report
