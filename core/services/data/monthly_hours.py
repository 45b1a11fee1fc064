"""Each instrument's month as the evaluation rules count it, stored in `instrument_months` so that the
idle report, the evaluation and the purchase check never re-scan the state intervals.

- 有效工作机时 (effective): on-time from the sensor. A month the sensor saw less than
  SENSOR_FULL_SHARE of takes the institution's own figure (自报) for the part it did not see:
  effective = on + self-reported × unseen share (source "mixed"); with no sensor data at all the
  self-report stands alone ("self_report"); with neither it is 0 ("none").
- 对外服务机时 (external): on-time inside booked slots, plus mail-in orders' listed duration ×
  samples, dated when testing started.
- 定额机时 (quota): the classification's yearly quota × the month's days in service ÷ the year's days.
- income: settled orders' amounts net of refunds, inside (the customer belongs to the same
  institution) and outside; counted in the month of settlement.
"""
from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.data_rules import DataRules
from core.models import (DeliveryMode, Instrument, InstrumentMonth, Order, OrderEvent, OrderStatus, Refund,
                         SelfReportedHours, Service, User)
from core.models._types import utcnow
from core.models.refund import REFUND_FAILED
from core.services.usage.hours import parse_month
from core.services.usage.month_totals import MonthTotals, month_bounds, month_totals, months_totals

SENSOR_FULL_SHARE = 0.95  # a sensor that saw this much of a month is the whole truth of it
HOUR_S = 3600.0


@dataclass(frozen=True)
class InstrumentFacts:
    id: int
    institution_id: int
    classification_code: str | None
    in_service: date | None


def quota_for_month(rules: DataRules, classification_code: str | None, month: str, in_service: date | None) -> float:
    """定额机时 of one month: the yearly quota pro-rated by the days the instrument was in service."""
    year, mon = parse_month(month)
    days = calendar.monthrange(year, mon)[1]
    first = date(year, mon, 1)
    if in_service is not None and in_service > first:
        days = max(0, days - (in_service - first).days)
    year_days = 366 if calendar.isleap(year) else 365
    return rules.quota_for(classification_code) * days / year_days


def effective_hours(totals: MonthTotals | None, self_reported: float | None, month_hours: float) -> tuple[float, str]:
    """(有效工作机时, where it comes from) by the rule of the module docstring."""
    if totals is None or totals.observed_hours <= 0:
        return (self_reported, "self_report") if self_reported is not None else (0.0, "none")
    seen = min(1.0, totals.observed_hours / month_hours) if month_hours > 0 else 1.0
    if seen >= SENSOR_FULL_SHARE or self_reported is None:
        return totals.hours["on"], "sensor"
    return totals.hours["on"] + self_reported * (1.0 - seen), "mixed"


def _facts(session: Session) -> list[InstrumentFacts]:
    return [InstrumentFacts(i, inst, code, start or bought) for i, inst, code, start, bought in session.execute(
        select(Instrument.id, Instrument.institution_id, Instrument.classification_code,
               Instrument.in_service_date, Instrument.purchase_date).order_by(Instrument.id))]


def _mail_in_hours(session: Session, lo: datetime, hi: datetime) -> dict[int, float]:
    """Mail-in orders whose testing started in the month: listed duration × samples."""
    started = (select(OrderEvent.order_id, func.min(OrderEvent.at).label("at"))
               .where(OrderEvent.to_status == OrderStatus.testing.value).group_by(OrderEvent.order_id).subquery())
    hours: dict[int, float] = defaultdict(float)
    for instrument_id, minutes, samples in session.execute(
            select(Order.instrument_id, Service.duration_minutes, Order.samples)
            .join(started, started.c.order_id == Order.id).join(Service, Service.id == Order.service_id)
            .where(Order.mode == DeliveryMode.mail, started.c.at >= lo, started.c.at < hi)):
        hours[instrument_id] += (minutes or 0) * samples / 60.0
    return hours


def _income(session: Session, lo: datetime, hi: datetime) -> dict[int, tuple[int, int, int]]:
    """instrument → (inside fen, outside fen, orders) of orders settled in the month, net of refunds."""
    settled = (select(OrderEvent.order_id, func.max(OrderEvent.at).label("at"))
               .where(OrderEvent.to_status == OrderStatus.settled.value).group_by(OrderEvent.order_id).subquery())
    refunded = (select(Refund.order_id, func.sum(Refund.amount_cents).label("cents"))
                .where(Refund.status != REFUND_FAILED).group_by(Refund.order_id).subquery())
    income: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for instrument_id, institution_id, total, refund, customer_institution in session.execute(
            select(Order.instrument_id, Order.institution_id, Order.total_cents, refunded.c.cents, User.institution_id)
            .join(settled, settled.c.order_id == Order.id).join(User, User.id == Order.user_id)
            .outerjoin(refunded, refunded.c.order_id == Order.id)
            .where(settled.c.at >= lo, settled.c.at < hi)):
        row = income[instrument_id]
        row[0 if customer_institution == institution_id else 1] += max(0, total - int(refund or 0))
        row[2] += 1
    return {k: (v[0], v[1], v[2]) for k, v in income.items()}


def refresh_month(session: Session, month: str, rules: DataRules, tz: str, now: datetime | None = None,
                  totals: dict[int, MonthTotals] | None = None) -> int:
    """Recompute every instrument's row of `month` (replacing the previous rows), from `totals` when
    the caller has them already. Returns the rows written."""
    now = now or utcnow()
    lo, hi = month_bounds(month, tz)
    if lo >= now:
        return 0
    month_hours = (min(hi, now) - lo).total_seconds() / HOUR_S
    year, mon = parse_month(month)
    last_day = date(year, mon, calendar.monthrange(year, mon)[1])
    totals = month_totals(session, month, tz, now) if totals is None else totals
    reported = dict(session.execute(select(SelfReportedHours.instrument_id, SelfReportedHours.hours)
                                    .where(SelfReportedHours.month == month)).all())
    mail = _mail_in_hours(session, lo, hi)
    income = _income(session, lo, hi)
    session.execute(delete(InstrumentMonth).where(InstrumentMonth.month == month))
    rows = []
    for facts in _facts(session):
        if facts.in_service is not None and facts.in_service > last_day:
            continue
        figures = totals.get(facts.id)
        effective, source = effective_hours(figures, reported.get(facts.id), month_hours)
        inside, outside, settled = income.get(facts.id, (0, 0, 0))
        hours = figures.hours if figures else {}
        rows.append(dict(
            instrument_id=facts.id, month=month, on_hours=hours.get("on", 0.0), standby_hours=hours.get("standby", 0.0),
            off_hours=hours.get("off", 0.0), offline_hours=hours.get("offline", 0.0),
            unknown_hours=hours.get("unknown", month_hours),
            external_hours=(figures.external_hours if figures else 0.0) + mail.get(facts.id, 0.0),
            self_reported_hours=reported.get(facts.id), effective_hours=effective, effective_source=source,
            quota_hours=quota_for_month(rules, facts.classification_code, month, facts.in_service),
            income_internal_fen=inside, income_external_fen=outside, orders_settled=settled, computed_at=now))
    if rows:
        session.execute(InstrumentMonth.__table__.insert(), rows)
    return len(rows)


def months_of(first: str, last: str) -> list[str]:
    """YYYY-MM from first to last inclusive."""
    year, mon = parse_month(first)
    end = parse_month(last)
    months = []
    while (year, mon) <= end:
        months.append(f"{year:04d}-{mon:02d}")
        year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return months


def ended_months(months: Sequence[str], tz: str, now: datetime) -> list[str]:
    return [m for m in months if month_bounds(m, tz)[1] <= now]


def last_full_months(count: int, tz: str, now: datetime | None = None) -> list[str]:
    """The `count` months that ended last, oldest first (the purchase check's 12 months)."""
    today = (now or utcnow()).astimezone(ZoneInfo(tz)).date()
    year, mon = today.year, today.month
    months = []
    for _ in range(count):
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
        months.append(f"{year:04d}-{mon:02d}")
    return months[::-1]


def refresh_months(session: Session, months: Sequence[str], rules: DataRules, tz: str,
                   now: datetime | None = None, totals: dict[str, dict[int, MonthTotals]] | None = None) -> int:
    """refresh_month for consecutive months, reading the intervals in two passes for all of them."""
    now = now or utcnow()
    totals = months_totals(session, months, tz, now) if totals is None else totals
    return sum(refresh_month(session, month, rules, tz, now, totals.get(month, {})) for month in months)
