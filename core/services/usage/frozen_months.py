"""Months frozen as reports used them, and new versions when their history changes.

The idle report and the annual evaluation read a month's machine-hours; subsidies follow from them,
so what they read must stay as it was. `freeze_month` stores each instrument's figures for the month
as version 1. A later change to a frozen month's history (readings that came late, a staff
correction) calls `note_history_change`, which recomputes the month and, if a figure moved, stores
the next version with the change's reason; the old versions stay for the audit.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.models import Instrument, UsageMonthVersion
from core.models._types import utcnow
from core.services.usage.hours import AUDIT, MonthUsage, instrument_month, parse_month

FROZEN = "frozen"


def figures_of(usage: MonthUsage) -> dict[str, Any]:
    """What a report reads of a month: hours per state, external and internal hours, the audit split."""
    return {
        "hours": {k: round(v, 2) for k, v in usage.totals.items()},
        "external_hours": round(usage.external_hours, 2),
        "internal_hours": round(usage.internal_hours, 2),
        "audit": {k: round(sum(day.audit[k] for day in usage.days), 2) for k in AUDIT},
        "sensor_fault_hours": round(sum(day.sensor_fault_hours for day in usage.days), 2),
    }


def latest_version(session: Session, instrument_id: int, month: str) -> UsageMonthVersion | None:
    return session.scalar(select(UsageMonthVersion).where(
        UsageMonthVersion.instrument_id == instrument_id, UsageMonthVersion.month == month)
        .order_by(UsageMonthVersion.version.desc()).limit(1))


def month_versions(session: Session, code: str, month: str) -> list[UsageMonthVersion]:
    """Every frozen version of one instrument's month, oldest first (empty: never frozen)."""
    return list(session.scalars(
        select(UsageMonthVersion).join(Instrument, Instrument.id == UsageMonthVersion.instrument_id)
        .where(Instrument.code == code, UsageMonthVersion.month == month).order_by(UsageMonthVersion.version)))


def freeze_month(session: Session, month: str, tz: str, purpose: str, now: datetime | None = None) -> int:
    """Freeze `month` for every instrument not frozen yet (a report is about to read it). Returns how
    many were frozen now; a month that has not ended cannot be frozen."""
    year, mon = parse_month(month)
    now = now or utcnow()
    end = datetime.combine(date(year + mon // 12, mon % 12 + 1, 1), time(0), ZoneInfo(tz)).astimezone(timezone.utc)
    if end > now:
        raise InvalidInput(f"{month} 尚未结束，不能冻结。", code="month_not_over", details={"month": month})
    frozen = set(session.scalars(select(UsageMonthVersion.instrument_id).where(UsageMonthVersion.month == month)))
    count = 0
    for instrument in session.scalars(select(Instrument).order_by(Instrument.id)):
        if instrument.id in frozen:
            continue
        usage = instrument_month(session, instrument, year, mon, tz, now)
        session.add(UsageMonthVersion(instrument_id=instrument.id, month=month, version=1,
                                      figures=figures_of(usage), purpose=purpose[:100], reason=FROZEN))
        count += 1
    session.flush()
    return count


def _months_between(start: datetime, end: datetime, zone: ZoneInfo) -> list[str]:
    first, last = start.astimezone(zone).date().replace(day=1), (end - timedelta(microseconds=1)).astimezone(zone).date()
    months = []
    while first <= last:
        months.append(f"{first:%Y-%m}")
        first = (first + timedelta(days=32)).replace(day=1)
    return months


HistoryChange = tuple[int, datetime, datetime, str]  # instrument id, start, end, reason


def note_history_change(session: Session, instrument_id: int, start: datetime, end: datetime, reason: str,
                        tz: str, now: datetime | None = None) -> list[UsageMonthVersion]:
    """After the history of [start, end) changed: a new version of every frozen month it touches whose
    figures moved."""
    return note_history_changes(session, [(instrument_id, start, end, reason)], tz, now)


def note_history_changes(session: Session, changes: Sequence[HistoryChange], tz: str,
                         now: datetime | None = None) -> list[UsageMonthVersion]:
    """note_history_change for a batch (the ingestion amends many stretches per transaction): one
    indexed query finds the frozen months they touch, and only those are recomputed."""
    zone = ZoneInfo(tz)
    touched: dict[tuple[int, str], str] = {}
    for instrument_id, start, end, reason in changes:
        for month in _months_between(start, end, zone):
            touched.setdefault((instrument_id, month), reason)
    if not touched:
        return []
    frozen = session.execute(
        select(UsageMonthVersion.instrument_id, UsageMonthVersion.month, func.max(UsageMonthVersion.version))
        .where(UsageMonthVersion.instrument_id.in_({iid for iid, _ in touched}),
               UsageMonthVersion.month.in_({month for _, month in touched}))
        .group_by(UsageMonthVersion.instrument_id, UsageMonthVersion.month)).all()
    added = []
    for instrument_id, month, version in frozen:
        if (instrument_id, month) not in touched:
            continue
        instrument = session.get(Instrument, instrument_id)
        latest = latest_version(session, instrument_id, month)
        assert instrument is not None and latest is not None
        year, mon = parse_month(month)
        figures = figures_of(instrument_month(session, instrument, year, mon, tz, now or utcnow()))
        if figures == latest.figures:
            continue
        row = UsageMonthVersion(instrument_id=instrument_id, month=month, version=version + 1, figures=figures,
                                purpose=latest.purpose, reason=touched[(instrument_id, month)][:200])
        session.add(row)
        added.append(row)
    session.flush()
    return added
