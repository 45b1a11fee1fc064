"""What the lab sees of its instruments' sensors: each one's state now and since when, and the
last days as state bands per local day with the hours spent in each state."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Sequence
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.models import Instrument, InstrumentStateInterval, User
from core.models._types import utcnow
from core.services.usage.hours import HOUR_S, STATES, check_can_view_usage, state_spans
from core.services.usage.states import as_utc
from core.services.usage.status import live_statuses

# the live status in Redis (what the search API shows) back to the sensor state it was made from
SENSOR_STATE = {"in_use": "on", "idle": "standby", "off": "off", "offline": "offline"}


@dataclass(frozen=True)
class InstrumentNow:
    code: str
    name: str
    model: str | None
    location: str | None
    open_for_sharing: bool
    state: str  # on | standby | off | offline | unknown (no sensor data)
    since: datetime | None  # UTC; when the current state began, if the record shows it
    state_before: str | None  # the state it was in before going offline
    reason: str | None = None  # why offline, from the current interval: "sensor_fault" (reads zero); None: silence


@dataclass(frozen=True)
class Band:
    state: str
    start: datetime  # UTC
    end: datetime


@dataclass(frozen=True)
class DayBands:
    day: date  # local
    start: datetime  # UTC instant of the local midnight opening the day
    bands: list[Band]
    hours: dict[str, float]  # on, standby, off, offline, unknown (no data, or not yet elapsed today: 0)


def instruments_now(session: Session, conn: redis.Redis, institution_id: int,
                    codes: Sequence[str] | None = None) -> list[InstrumentNow]:
    """The institution's instruments (or those of `codes` among them) with their live state.

    The state is the one the JSON API shows (Redis, written by the ingestion); where Redis knows
    nothing — it restarted, or is unreachable — the open interval in the database stands in."""
    query = select(Instrument).where(Instrument.institution_id == institution_id).order_by(Instrument.code)
    if codes is not None:
        query = query.where(Instrument.code.in_(list(codes)))
    instruments = list(session.scalars(query))
    if not instruments:
        return []
    open_rows = {iid: (state, as_utc(start), reason) for iid, state, start, reason in session.execute(
        select(InstrumentStateInterval.instrument_id, InstrumentStateInterval.state, InstrumentStateInterval.start_at,
               InstrumentStateInterval.reason)
        .where(InstrumentStateInterval.instrument_id.in_([i.id for i in instruments]),
               InstrumentStateInterval.end_at.is_(None)))}
    live = live_statuses(conn, [i.code for i in instruments])
    out = []
    for instrument in instruments:
        current = open_rows.get(instrument.id)
        state = SENSOR_STATE.get(live[instrument.code]) or (current[0] if current else "unknown")
        since = current[1] if current and current[0] == state else None
        before = _state_before(session, instrument.id, since) if state == "offline" and since else None
        reason = current[2] if current and current[0] == state else None
        out.append(InstrumentNow(instrument.code, instrument.name, instrument.model, instrument.location,
                                 instrument.open_for_sharing, state, since, before, reason))
    return out


def _state_before(session: Session, instrument_id: int, at: datetime) -> str | None:
    return session.scalar(
        select(InstrumentStateInterval.state)
        .where(InstrumentStateInterval.instrument_id == instrument_id, InstrumentStateInterval.end_at <= at)
        .order_by(InstrumentStateInterval.end_at.desc()).limit(1))


def viewable_instrument(session: Session, actor: User | None, code: str) -> Instrument:
    """The instrument if `actor` may see its usage; another institution's is the same 404 as none."""
    instrument = session.scalar(select(Instrument).where(Instrument.code == code))
    if instrument is None:
        raise NotFound(f"没有仪器 {code}。", code="instrument_not_found")
    check_can_view_usage(actor, instrument)
    return instrument


def recent_bands(session: Session, instrument_id: int, tz: str, days: int = 7,
                 now: datetime | None = None) -> list[DayBands]:
    """The last `days` local days up to now (today included, so far), oldest first."""
    now = now or utcnow()
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    dates = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    bounds = [datetime.combine(d, time(0), zone).astimezone(timezone.utc) for d in dates]
    bounds.append(datetime.combine(today + timedelta(days=1), time(0), zone).astimezone(timezone.utc))
    spans = state_spans(session, instrument_id, bounds[0], bounds[-1], now)
    out = []
    for day, lo, hi in zip(dates, bounds, bounds[1:]):
        bands = [Band(state, max(s, lo), min(e, hi)) for state, s, e in spans if s < hi and e > lo]
        hours = {state: 0.0 for state in STATES}
        for band in bands:
            hours[band.state] += (band.end - band.start).total_seconds() / HOUR_S
        elapsed = max(0.0, (min(hi, now) - lo).total_seconds()) / HOUR_S
        hours["unknown"] = max(0.0, elapsed - sum(hours.values()))
        out.append(DayBands(day, lo, bands, {k: round(v, 2) for k, v in hours.items()}))
    return out
