"""数据看板: the figures behind the console's charts, each from the platform's own records — orders,
the search counters, the live instrument states, the voucher balances and the machine-hours."""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.models import Institution, Instrument, InstrumentStateInterval, OnboardingStatus
from core.models._types import local_today, utcnow
from core.services.catalog.search_log import searches_per_day
from core.services.orders.stats import (
    MonthFigures, Ranked, VoucherTotals, orders_per_month, top_institutions, top_services, voucher_totals,
)
from core.services.usage.hours import period_hours
from core.services.usage.status import live_statuses

log = logging.getLogger(__name__)

SEARCH_DAYS = 30
TOP = 10
# the live status (usage/status.py) under the sensor state it comes from; unknown: no sensor data
STATE_OF_STATUS = {"in_use": "on", "idle": "standby", "off": "off", "offline": "offline"}
NO_CITY = "未填城市"


@dataclass(frozen=True)
class SearchDay:
    day: date
    searches: int
    empty: int  # found nothing


@dataclass(frozen=True)
class CitySharing:
    city: str
    on_hours: float
    external_hours: float

    @property
    def rate(self) -> float | None:
        """external hours ÷ on hours; None without on-time"""
        return self.external_hours / self.on_hours if self.on_hours > 0 else None


@dataclass(frozen=True)
class Dashboard:
    months: list[MonthFigures]
    ranking_since: date  # first local day of the 12-month window of the rankings
    top_services: list[Ranked]
    top_institutions: list[Ranked]
    searches: list[SearchDay] | None  # None: the counters (Redis) could not be read
    states: dict[str, int]  # on, standby, off, offline, unknown -> instruments
    vouchers: VoucherTotals
    sharing_year: int
    sharing: list[CitySharing]


def twelve_months_start(now: datetime, tz: str) -> datetime:
    """The first moment of the local month eleven months before `now`'s: this month and the 11 before."""
    local = now.astimezone(ZoneInfo(tz))
    year, month = divmod(local.year * 12 + local.month - 1 - 11, 12)
    return datetime(year, month + 1, 1, tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def search_days(conn: redis.Redis, tz: str, days: int = SEARCH_DAYS) -> list[SearchDay] | None:
    try:
        return [SearchDay(day, total, empty) for day, total, empty in searches_per_day(conn, days, local_today(tz))]
    except redis.RedisError as exc:  # the page still shows everything else
        log.warning("search counters unavailable: %s", exc)
        return None


def instrument_states(session: Session, conn: redis.Redis) -> dict[str, int]:
    """Instruments of approved institutions by their live state now."""
    codes = list(session.scalars(
        select(Instrument.code).join(Institution, Institution.id == Instrument.institution_id)
        .where(Institution.status == OnboardingStatus.approved)))
    counts = dict.fromkeys(("on", "standby", "off", "offline", "unknown"), 0)
    for status in live_statuses(conn, codes).values():
        counts[STATE_OF_STATUS.get(status, "unknown")] += 1
    return counts


def sharing_by_city(session: Session, tz: str, now: datetime) -> tuple[int, list[CitySharing]]:
    """External service hours ÷ on hours per city, from local 1 January to now, with the rules of the
    instruments' monthly usage (usage/hours.py); only instruments with sensor data in the year count."""
    year = now.astimezone(ZoneInfo(tz)).year
    start = datetime(year, 1, 1, tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)
    rows = session.execute(
        select(Instrument.id, Institution.city).join(Institution, Institution.id == Instrument.institution_id)
        .where(Instrument.id.in_(
            select(InstrumentStateInterval.instrument_id).where(
                InstrumentStateInterval.start_at < now,
                or_(InstrumentStateInterval.end_at.is_(None), InstrumentStateInterval.end_at > start))))
        .order_by(Instrument.id)).all()
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for instrument_id, city in rows:
        on, external = period_hours(session, instrument_id, start, now, now)
        totals[city or NO_CITY][0] += on
        totals[city or NO_CITY][1] += external
    cities = [CitySharing(city, round(on, 2), round(external, 2)) for city, (on, external) in totals.items()]
    return year, sorted(cities, key=lambda c: (-(c.rate or 0), -c.on_hours, c.city))


def dashboard(session: Session, conn: redis.Redis, tz: str, now: datetime | None = None) -> Dashboard:
    now = now or utcnow()
    since = twelve_months_start(now, tz)
    year, sharing = sharing_by_city(session, tz, now)
    return Dashboard(
        months=orders_per_month(session, tz), ranking_since=since.astimezone(ZoneInfo(tz)).date(),
        top_services=top_services(session, since, TOP), top_institutions=top_institutions(session, since, TOP),
        searches=search_days(conn, tz), states=instrument_states(session, conn), vouchers=voucher_totals(session),
        sharing_year=year, sharing=sharing)
