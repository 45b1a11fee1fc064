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
from typing import Any, Iterable, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Float, case, cast, func, literal, literal_column, or_, select
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


def _extremes(session: Session) -> tuple[Any, Any]:
    """The two-argument least and greatest of the database (SQLite's min/max are scalar with two)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.least, func.greatest
    return func.min, func.max


def _seconds(session: Session, later: ColumnElement[Any], earlier: ColumnElement[Any]) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    # SQLite stores moments as ISO text: julianday reads it
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def month_totals(session: Session, month: str, tz: str, now: datetime,
                 instrument_ids: Iterable[int] | None = None) -> dict[int, MonthTotals]:
    """Every instrument with state history in the month (or the given ones) → its MonthTotals;
    instruments with none are absent. Time after `now` is not counted."""
    return months_totals(session, [month], tz, now, instrument_ids).get(month, {})


def months_totals(session: Session, months: Sequence[str], tz: str, now: datetime,
                  instrument_ids: Iterable[int] | None = None) -> dict[str, dict[int, MonthTotals]]:
    """month_totals for consecutive months in two passes over the intervals, whatever their number:
    each interval is summed into the month it starts in (clipped to that month), and the few that run
    on into later months are read once more and split in Python."""
    months = [m for m in months if month_bounds(m, tz)[0] < now]
    if not months:
        return {}
    # bounds[k] is where months[k] starts; the last is where the last month (or the time counted) ends
    bounds = [month_bounds(m, tz)[0] for m in months] + [min(month_bounds(months[-1], tz)[1], now)]
    t = InstrumentStateInterval
    b = [literal(x, UtcDateTime) for x in bounds]
    last = len(months) - 1
    # the month an interval starts in, and where that month ends; the CASEs are evaluated once per row
    key = (case(*[(t.start_at < b[k + 1], k) for k in range(last)], else_=last) if last else literal(0)).label("k")
    seg_hi = case(*[(t.start_at < b[k + 1], b[k + 1]) for k in range(last)], else_=b[-1]) if last else b[-1]
    least, greatest = _extremes(session)
    clip_start = greatest(t.start_at, b[0])
    clip_end = least(func.coalesce(t.end_at, b[-1]), seg_hi)
    inside = [t.start_at < b[-1], or_(t.end_at.is_(None), t.end_at > b[0])]
    seconds = func.sum(cast(_seconds(session, clip_end, clip_start), Float))
    grouped = (select(key, t.instrument_id, t.state, t.source, t.reason, seconds).where(*inside)
               .group_by(literal_column("k"), t.instrument_id, t.state, t.source, t.reason))
    running_on = (select(t.instrument_id, t.state, t.source, t.reason, t.start_at, t.end_at)
                  .where(*inside, t.start_at < b[-2], func.coalesce(t.end_at, b[-1]) > seg_hi)) if last else None
    wanted = None if instrument_ids is None else sorted(set(instrument_ids))
    parts = [None] if wanted is None else [wanted[i:i + CHUNK] for i in range(0, len(wanted), CHUNK)]
    pieces: list[tuple[int, int, str, str, str | None, float]] = []
    for part in parts:
        where = [] if part is None else [t.instrument_id.in_(part)]
        pieces += [(k, i, st, so, re, float(sec or 0.0)) for k, i, st, so, re, sec in
                   session.execute(grouped.where(*where)).all()]
        if running_on is not None:
            for i, st, so, re, start, end in session.execute(running_on.where(*where)):
                stop = bounds[-1] if end is None else min(as_utc(end), bounds[-1])
                for k in range(1, len(months)):
                    lo, hi = max(as_utc(start), bounds[k]), min(stop, bounds[k + 1])
                    if hi > lo and bounds[k] > as_utc(start):
                        pieces.append((k, i, st, so, re, (hi - lo).total_seconds()))

    out: dict[str, dict[int, MonthTotals]] = {m: defaultdict(MonthTotals) for m in months}
    for k, instrument_id, state, source, reason, secs in pieces:
        hours = max(0.0, secs) / HOUR_S
        figures = out[months[k]][instrument_id]
        figures.hours[state] = figures.hours.get(state, 0.0) + hours
        if state == "offline":
            figures.sensor_fault_hours += hours if reason == "sensor_fault" else 0.0
        else:
            figures.audit[AUDIT_OF_SOURCE.get(source, "measured")] += hours
    for k, month in enumerate(months):
        elapsed = (bounds[k + 1] - bounds[k]).total_seconds() / HOUR_S
        for figures in out[month].values():
            figures.hours["unknown"] = max(0.0, elapsed - sum(figures.hours[s] for s in STATES))
            figures.audit["unknown"] = max(0.0, elapsed - sum(figures.audit[a] for a in AUDIT if a != "unknown"))
        lo, hi = month_bounds(month, tz)
        _add_external(session, out[month], lo, hi, bounds[k + 1])
    return {month: dict(totals) for month, totals in out.items()}


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
