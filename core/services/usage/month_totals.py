"""A month's machine-hours for every instrument at once: one grouped query over the state intervals
instead of one scan per instrument, for the monthly figures the reports read.

The figures are those of `instrument_month` (hours.py) summed over the month: hours per state, the
audit split (measured, amended by late data, corrected by staff, unknown), the sensor-fault share of
offline time, and on-time inside booked slots. tests/usage/test_month_totals.py holds the two equal.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import Float, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core.models import InstrumentStateInterval, Order
from core.models._types import UtcDateTime
from core.services.usage.hours import (AUDIT, AUDIT_OF_SOURCE, BOOKED, HOUR_S, STATES, intersect, parse_month,
                                       union)
from core.services.usage.states import as_utc

CHUNK = 500  # instrument ids per IN (...) list


@dataclass
class MonthTotals:
    hours: dict[str, float] = field(default_factory=lambda: {k: 0.0 for k in (*STATES, "unknown")})
    audit: dict[str, float] = field(default_factory=lambda: {k: 0.0 for k in AUDIT})
    sensor_fault_hours: float = 0.0
    external_hours: float = 0.0  # on-time inside booked slots

    @property
    def observed_hours(self) -> float:
        """Hours the sensor told a state other than offline."""
        return self.hours["on"] + self.hours["standby"] + self.hours["off"]


def month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    """[first moment, first moment of the next month) of a local month, in UTC."""
    year, mon = parse_month(month)
    zone = ZoneInfo(tz)
    lo = datetime.combine(date(year, mon, 1), time(0), zone)
    hi = datetime.combine(date(year + mon // 12, mon % 12 + 1, 1), time(0), zone)
    return lo.astimezone(timezone.utc), hi.astimezone(timezone.utc)


def _seconds(session: Session, later: ColumnElement[Any], earlier: ColumnElement[Any]) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    # SQLite stores moments as ISO text: julianday reads it
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def month_totals(session: Session, month: str, tz: str, now: datetime,
                 instrument_ids: Iterable[int] | None = None) -> dict[int, MonthTotals]:
    """Every instrument with state history in the month (or the given ones) → its MonthTotals;
    instruments with none are absent. Time after `now` is not counted."""
    lo, hi = month_bounds(month, tz)
    stop = min(hi, now)
    if stop <= lo:
        return {}
    t = InstrumentStateInterval
    lo_p, stop_p = literal(lo, UtcDateTime), literal(stop, UtcDateTime)
    clip_start = case((t.start_at < lo_p, lo_p), else_=t.start_at)
    clip_end = case((or_(t.end_at.is_(None), t.end_at > stop_p), stop_p), else_=t.end_at)
    seconds = func.sum(cast(_seconds(session, clip_end, clip_start), Float))
    query = (select(t.instrument_id, t.state, t.source, t.reason, seconds)
             .where(t.start_at < stop_p, or_(t.end_at.is_(None), t.end_at > lo_p))
             .group_by(t.instrument_id, t.state, t.source, t.reason))
    wanted = None if instrument_ids is None else sorted(set(instrument_ids))
    rows: list[Any] = []
    for part in ([None] if wanted is None else [wanted[i:i + CHUNK] for i in range(0, len(wanted), CHUNK)]):
        rows += session.execute(query if part is None else query.where(t.instrument_id.in_(part))).all()

    totals: dict[int, MonthTotals] = defaultdict(MonthTotals)
    for instrument_id, state, source, reason, secs in rows:
        hours = max(0.0, float(secs or 0.0)) / HOUR_S
        figures = totals[instrument_id]
        figures.hours[state] = figures.hours.get(state, 0.0) + hours
        if state == "offline":
            figures.sensor_fault_hours += hours if reason == "sensor_fault" else 0.0
        else:
            figures.audit[AUDIT_OF_SOURCE.get(source, "measured")] += hours
    elapsed = (stop - lo).total_seconds() / HOUR_S
    for figures in totals.values():
        figures.hours["unknown"] = max(0.0, elapsed - sum(figures.hours[k] for k in STATES))
        figures.audit["unknown"] = max(0.0, elapsed - sum(figures.audit[k] for k in AUDIT if k != "unknown"))
    _add_external(session, totals, lo, hi, stop)
    return dict(totals)


def _add_external(session: Session, totals: dict[int, MonthTotals], lo: datetime, hi: datetime,
                  stop: datetime) -> None:
    """On-time inside booked slots: few instruments have slots in a month, so their on-intervals are
    read and matched here (slots of a group-buy overlap: their union counts once)."""
    slots: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for instrument_id, start, end in session.execute(
            select(Order.instrument_id, Order.slot_start, Order.slot_end)
            .where(Order.slot_start.is_not(None), Order.slot_start < hi, Order.slot_end > lo,
                   Order.status.in_(BOOKED))):
        if instrument_id in totals:
            slots[instrument_id].append((max(as_utc(start), lo), min(as_utc(end), hi)))
    ids = sorted(slots)
    t = InstrumentStateInterval
    for i in range(0, len(ids), CHUNK):
        on: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        for instrument_id, start, end in session.execute(
                select(t.instrument_id, t.start_at, t.end_at)
                .where(t.instrument_id.in_(ids[i:i + CHUNK]), t.state == "on", t.start_at < stop,
                       or_(t.end_at.is_(None), t.end_at > lo))
                .order_by(t.instrument_id, t.start_at)):
            s, e = max(as_utc(start), lo), min(as_utc(end) if end is not None else stop, stop)
            if e > s:
                on[instrument_id].append((s, e))
        for instrument_id, spans in on.items():
            inside = intersect(union(slots[instrument_id]), spans)
            totals[instrument_id].external_hours = sum((e - s).total_seconds() for s, e in inside) / HOUR_S
