"""Writing and reading what the IoT ingestion learns: state intervals and
per-instrument thresholds (learned, or overridden by an admin)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.models import Instrument, InstrumentLevels, InstrumentStateInterval, Role, User
from core.models._types import utcnow
from core.services.people.authz import require_role

# the live status kept in Redis (instrument_status.py) for each sensor state
PUBLIC_STATUS = {"on": "in_use", "standby": "idle", "off": "off", "offline": "offline"}


@dataclass(frozen=True, slots=True)
class StateChange:
    instrument_id: int
    state: str  # on | standby | off | offline
    at: datetime
    reason: str | None = None  # offline because: "sensor_fault"; None: silence


@dataclass(frozen=True)
class AmendedStretch:
    """Late readings re-derived [start, end) of one instrument: `segments` replace what is stored there."""
    instrument_id: int
    start: datetime
    end: datetime
    segments: Sequence[StateChange]  # the first at start
    source: str = "late_data"  # late_data | sensor (the sensor's own readings read again) | staff


@dataclass(frozen=True)
class LearnedLevels:
    instrument_id: int
    off_below_a: float
    on_above_a: float
    hysteresis: float
    source: str
    note: str
    samples: int
    histogram: list[int]
    method: str = "adaptive"
    bridge_s: float = 0.0
    clock_offset_s: float = 0.0
    explain: str = ""


def as_utc(value: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; they are stored in UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def instrument_ids(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Instrument.code, Instrument.id)).all())


def open_intervals(session: Session) -> list[tuple[int, str, datetime]]:
    """(instrument id, state, since) of every instrument's current interval."""
    rows = session.execute(
        select(InstrumentStateInterval.instrument_id, InstrumentStateInterval.state, InstrumentStateInterval.start_at)
        .where(InstrumentStateInterval.end_at.is_(None))
    ).all()
    return [(iid, state, as_utc(since)) for iid, state, since in rows]


def record_state_changes(session: Session, changes: Sequence[StateChange]) -> int:
    """Close each instrument's open interval at its first change and write the new ones
    (the last one open). Changes of one instrument must come in time order."""
    per_instrument: dict[int, list[StateChange]] = {}
    for change in changes:
        per_instrument.setdefault(change.instrument_id, []).append(change)
    if not per_instrument:
        return 0
    table = InstrumentStateInterval.__table__
    conn = session.connection()
    conn.execute(
        table.update()
        .where(table.c.instrument_id == bindparam("iid"), table.c.end_at.is_(None))
        .values(end_at=bindparam("at")),
        [{"iid": iid, "at": items[0].at} for iid, items in per_instrument.items()],
    )
    rows = []
    for iid, items in per_instrument.items():
        for current, following in zip(items, items[1:]):
            if following.at > current.at:  # a state that lasted no time is no interval
                rows.append({"instrument_id": iid, "state": current.state, "start_at": current.at,
                             "end_at": following.at, "reason": current.reason})
        rows.append({"instrument_id": iid, "state": items[-1].state, "start_at": items[-1].at, "end_at": None,
                     "reason": items[-1].reason})
    conn.execute(table.insert(), rows)
    return len(rows)


def amend_state_history(session: Session, stretches: Sequence[AmendedStretch]) -> int:
    """Replace each stretch of stored history by what late readings showed, marking the new
    intervals amended. Intervals crossing the stretch's ends are cut at them; the live
    (open) interval keeps going from `end`."""
    now = utcnow()
    written = 0
    for stretch in stretches:
        start, end = stretch.start, stretch.end
        rows = session.scalars(
            select(InstrumentStateInterval).where(
                InstrumentStateInterval.instrument_id == stretch.instrument_id,
                InstrumentStateInterval.start_at < end,
                or_(InstrumentStateInterval.end_at.is_(None), InstrumentStateInterval.end_at > start))
        ).all()
        if stretch.source != "staff" and any(row.source == "staff" for row in rows):
            continue  # what staff said about a period stands: late readings do not overwrite it
        for row in rows:
            row_start = as_utc(row.start_at)
            row_end = None if row.end_at is None else as_utc(row.end_at)
            if row_start < start and (row_end is None or row_end > end):  # the stretch lies inside: split
                row.end_at = start
                session.flush()  # the open row is closed before its continuation opens (one open per instrument)
                session.add(InstrumentStateInterval(instrument_id=row.instrument_id, state=row.state, start_at=end,
                                                    end_at=row_end, reason=row.reason, source=row.source,
                                                    amended_at=row.amended_at))
            elif row_start < start:
                row.end_at = start
            elif row_end is None or row_end > end:
                row.start_at = end
            else:
                session.delete(row)
        bounds = [*(seg.at for seg in stretch.segments[1:]), end]
        for segment, until in zip(stretch.segments, bounds):
            if until > segment.at:
                session.add(InstrumentStateInterval(instrument_id=stretch.instrument_id, state=segment.state,
                                                    start_at=segment.at, end_at=until, reason=segment.reason,
                                                    source=stretch.source, amended_at=now))
                written += 1
    session.flush()
    return written


def all_levels(session: Session) -> list[InstrumentLevels]:
    return list(session.scalars(select(InstrumentLevels)))


def overrides_since(session: Session, since: datetime) -> list[InstrumentLevels]:
    """Rows whose override was set or cleared after `since`."""
    return list(session.scalars(select(InstrumentLevels).where(InstrumentLevels.override_at > since)))


def save_learned_levels(session: Session, records: Sequence[LearnedLevels]) -> None:
    if not records:
        return
    existing = {
        row.instrument_id: row
        for row in session.scalars(
            select(InstrumentLevels).where(InstrumentLevels.instrument_id.in_([r.instrument_id for r in records]))
        )
    }
    now = utcnow()
    for record in records:
        row = existing.get(record.instrument_id)
        if row is None:
            row = InstrumentLevels(instrument_id=record.instrument_id)
            session.add(row)
        row.off_below_a, row.on_above_a, row.hysteresis = record.off_below_a, record.on_above_a, record.hysteresis
        row.source, row.note, row.samples = record.source, record.note[:300], record.samples
        row.histogram, row.learned_at = record.histogram, now
        row.method, row.bridge_s, row.clock_offset_s = record.method, record.bridge_s, record.clock_offset_s
        row.explain = record.explain[:300]
    session.flush()


def levels_of(session: Session, code: str) -> tuple[Instrument, InstrumentLevels | None]:
    instrument = session.scalar(select(Instrument).where(Instrument.code == code))
    if instrument is None:
        raise NotFound(f"没有仪器 {code}。", code="instrument_not_found")
    row = session.scalar(select(InstrumentLevels).where(InstrumentLevels.instrument_id == instrument.id))
    return instrument, row


def set_thresholds(session: Session, actor: User, code: str, off_below_a: float | None, on_above_a: float | None,
                   hysteresis: float | None) -> InstrumentLevels | None:
    """An admin's thresholds for one instrument; all None clears the override (back to learning)."""
    require_role(actor, Role.platform_admin, Role.institution_admin)
    instrument, row = levels_of(session, code)
    if actor.role == Role.institution_admin and actor.institution_id != instrument.institution_id:
        raise NotFound(f"没有仪器 {code}。", code="instrument_not_found")
    clearing = off_below_a is None and on_above_a is None and hysteresis is None
    if not clearing:
        if off_below_a is None or on_above_a is None:
            raise InvalidInput("请同时给出两个阈值：低于多少为关机、高于多少为运行（安培）。", code="thresholds_incomplete")
        if not 0 < off_below_a < on_above_a:
            raise InvalidInput("阈值须满足 0 < 关机阈值 < 运行阈值（安培）。",
                               code="thresholds_invalid", details={"off_below_a": off_below_a, "on_above_a": on_above_a})
        if hysteresis is not None and not 1.0 <= hysteresis <= 3.0:
            raise InvalidInput("回差系数须在 1（无回差）到 3 之间。", code="thresholds_invalid",
                               details={"hysteresis": hysteresis})
    if row is None:
        if clearing:
            return None
        # nothing learned yet: the learned columns hold the override until learning fills them
        row = InstrumentLevels(instrument_id=instrument.id, off_below_a=off_below_a, on_above_a=on_above_a,
                               hysteresis=hysteresis or 1.25, source="default", note="", samples=0, histogram=[])
        session.add(row)
    row.override_off_below_a = off_below_a
    row.override_on_above_a = on_above_a
    row.override_hysteresis = None if clearing else (hysteresis or row.hysteresis)
    row.override_by = None if clearing else actor.display_name
    row.override_at = utcnow()
    session.flush()
    return row
