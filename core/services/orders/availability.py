"""Free slot starts of an instrument: what the mini-program offers before the customer books.

Every start offered passes the same tests the booking makes (slots.check_bookable and the
cells slots.hold claims): in the future, aligned to a cell, inside one opening window of its
local day, clear of blackouts and of cells other orders hold."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import OrderRules
from core.models import Blackout, SlotHold
from core.services.orders.slots import as_utc, cells, slot_length, weekly_hours


@dataclass(frozen=True)
class DayStarts:
    day: date
    starts: list[datetime]  # aware, in the platform's time zone


@dataclass(frozen=True)
class Availability:
    length: timedelta
    days: list[DayStarts]


def _aligned_up(moment: datetime, rules: OrderRules) -> datetime:
    """The first cell boundary at or after `moment`, by the same rule check_bookable applies
    (minutes past the hour a multiple of the cell length)."""
    hour = moment.replace(minute=0, second=0, microsecond=0)
    past = (moment - hour).total_seconds() / 60
    return hour + timedelta(minutes=math.ceil(past / rules.slot_minutes) * rules.slot_minutes)


def free_starts(session: Session, instrument_id: int, duration_minutes: int | None, samples: int, first: date,
                last: date, rules: OrderRules, now: datetime, ignore_order_id: int | None = None) -> Availability:
    """The bookable starts of a slot for `samples` samples, day by day from `first` to `last` (local dates).
    `ignore_order_id`: that order's own cells count as free (moving a booking may overlap its old slot)."""
    zone = ZoneInfo(rules.timezone)
    length = slot_length(duration_minutes, samples, rules)
    step = timedelta(minutes=rules.slot_minutes)
    hours = weekly_hours(session, instrument_id, rules)
    lo = datetime.combine(first, time(0), zone).astimezone(timezone.utc)
    hi = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(timezone.utc)
    # one read each for the whole range; a slot never leaves its opening window, so nothing past `hi` matters
    blackouts = [(as_utc(s), as_utc(e)) for s, e in session.execute(
        select(Blackout.starts_at, Blackout.ends_at).where(
            Blackout.instrument_id == instrument_id, Blackout.starts_at < hi, Blackout.ends_at > lo))]
    held_query = select(SlotHold.cell_start).where(
        SlotHold.instrument_id == instrument_id, SlotHold.cell_start >= lo, SlotHold.cell_start < hi)
    if ignore_order_id is not None:
        held_query = held_query.where(SlotHold.order_id != ignore_order_id)
    held = {as_utc(c) for c in session.scalars(held_query)}
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        starts: set[datetime] = set()
        for opens, closes in hours.get(day.weekday(), []):
            window_end = datetime.combine(day, closes, zone).astimezone(timezone.utc)
            start = _aligned_up(datetime.combine(day, opens, zone).astimezone(timezone.utc), rules)
            while start + length <= window_end:
                end = start + length
                if (start > now and not any(s < end and e > start for s, e in blackouts)
                        and held.isdisjoint(cells(start, end, rules))):
                    starts.add(start)
                start += step
        days.append(DayStarts(day, [s.astimezone(zone) for s in sorted(starts)]))
    return Availability(length, days)
