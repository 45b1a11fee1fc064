"""Months frozen as reports used them, and new versions when their history changes.

The idle report and the annual evaluation read a month's machine-hours; subsidies follow from them,
so what they read must stay as it was. `freeze_month` stores each instrument's figures for the month
as version 1. A later change to a frozen month's history (readings that came late, a staff
correction) calls `note_history_change`, which recomputes the month and, if a figure moved, stores
the next version with the change's reason; the old versions stay for the audit.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.models import Instrument, UsageMonthVersion
from core.models._types import utcnow
from core.services.usage.hours import AUDIT, STATES
from core.services.usage.month_totals import MonthTotals, month_bounds, month_totals

FROZEN = "frozen"


def figures_of(totals: MonthTotals | None, month_hours: float) -> dict[str, Any]:
    """What a report reads of a month: hours per state, external and internal hours, the audit split
    (an instrument without history in the month: all of it unknown)."""
    totals = totals or MonthTotals()
    hours = dict(totals.hours)
    audit = dict(totals.audit)
    if not any(hours[k] for k in STATES):
        hours["unknown"] = audit["unknown"] = month_hours
    return {
        "hours": {k: round(v, 2) for k, v in hours.items()},
        "external_hours": round(totals.external_hours, 2),
        "internal_hours": round(max(0.0, hours["on"] - totals.external_hours), 2),
        "audit": {k: round(audit[k], 2) for k in AUDIT},
        "sensor_fault_hours": round(totals.sensor_fault_hours, 2),
    }


def _month_hours(month: str, tz: str, now: datetime) -> float:
    lo, hi = month_bounds(month, tz)
    return max(0.0, (min(hi, now) - lo).total_seconds() / 3600.0)


def latest_version(session: Session, instrument_id: int, month: str) -> UsageMonthVersion | None:
    return session.scalar(select(UsageMonthVersion).where(
        UsageMonthVersion.instrument_id == instrument_id, UsageMonthVersion.month == month)
        .order_by(UsageMonthVersion.version.desc()).limit(1))


def month_versions(session: Session, code: str, month: str) -> list[UsageMonthVersion]:
    """Every frozen version of one instrument's month, oldest first (empty: never frozen)."""
    return list(session.scalars(
        select(UsageMonthVersion).join(Instrument, Instrument.id == UsageMonthVersion.instrument_id)
        .where(Instrument.code == code, UsageMonthVersion.month == month).order_by(UsageMonthVersion.version)))


def freeze_month(session: Session, month: str, tz: str, purpose: str, now: datetime | None = None,
                 totals: dict[int, MonthTotals] | None = None) -> int:
    """Freeze `month` for every instrument not frozen yet (a report is about to read it). Returns how
    many were frozen now; a month that has not ended cannot be frozen."""
    now = now or utcnow()
    if month_bounds(month, tz)[1] > now:
        raise InvalidInput(f"{month} 尚未结束，不能冻结。", code="month_not_over", details={"month": month})
    frozen = set(session.scalars(select(UsageMonthVersion.instrument_id).where(UsageMonthVersion.month == month)))
    totals = month_totals(session, month, tz, now) if totals is None else totals
    hours = _month_hours(month, tz, now)
    rows = [dict(instrument_id=instrument_id, month=month, version=1, figures=figures_of(totals.get(instrument_id), hours),
                 purpose=purpose[:100], reason=FROZEN, created_at=now)
            for instrument_id in session.scalars(select(Instrument.id).order_by(Instrument.id))
            if instrument_id not in frozen]
    if rows:
        session.execute(UsageMonthVersion.__table__.insert(), rows)
    return len(rows)


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
    now = now or utcnow()
    for instrument_id, month, version in frozen:
        if (instrument_id, month) not in touched:
            continue
        latest = latest_version(session, instrument_id, month)
        assert latest is not None
        totals = month_totals(session, month, tz, now, instrument_ids=[instrument_id]).get(instrument_id)
        figures = figures_of(totals, _month_hours(month, tz, now))
        if figures == latest.figures:
            continue
        row = UsageMonthVersion(instrument_id=instrument_id, month=month, version=version + 1, figures=figures,
                                purpose=latest.purpose, reason=touched[(instrument_id, month)][:200])
        session.add(row)
        added.append(row)
    session.flush()
    return added
