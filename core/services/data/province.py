"""The province view of the console dashboard: the instrument stock by classification and city, how
much of it is onboarded (入网率), the average 有效机时 and 对外机时 per instrument against the national
averages, the sharing rate, vouchers redeemed and unmet demand per month.

Hours come from the stored monthly figures (instrument_months) of the last twelve full months; the
averages are over instruments with a figure (sensor or 自报) in those months.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.data_rules import DataRules
from core.models import Institution, Instrument, InstrumentMonth, OnboardingStatus, UnmetDemand, VoucherRedemption
from core.models._types import utcnow
from core.models.review import APPROVED
from core.services.catalog.classification import MAJOR
from core.services.data.monthly_hours import last_full_months

TOP_CLASSES = 6  # more 大类 than this in one chart: the rest go together as 其他


@dataclass
class HoursAverage:
    instruments: int  # with a figure in the window
    effective: float  # average 有效机时 per instrument, scaled to a year
    external: float
    national_effective: float
    national_external: float

    @property
    def sharing_rate(self) -> float | None:
        return self.external / self.effective if self.effective > 0 else None


@dataclass
class ProvinceView:
    by_class_city: dict[str, dict[str, int]]  # 大类 → city → instruments
    cities: list[str]
    registered: int
    onboarded: int
    hours: HoursAverage
    months: list[str]  # the window of the hours
    vouchers_per_month: list[tuple[str, int]]  # (YYYY-MM, fen consumed)
    unmet_per_month: list[tuple[str, int]]

    @property
    def onboarding_rate(self) -> float | None:
        return self.onboarded / self.registered if self.registered else None


def stock(session: Session) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Instruments per 大类 and city (the instrument's city, else its institution's)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for code, city, home in session.execute(
            select(Instrument.classification_code, Instrument.city, Institution.city)
            .join(Institution, Institution.id == Instrument.institution_id)):
        counts[MAJOR.get((code or "")[:2], "未分类")][city or home or "未填城市"] += 1
    ranked = sorted(counts, key=lambda k: -sum(counts[k].values()))
    shown = {k: dict(counts[k]) for k in ranked[:TOP_CLASSES]}
    rest: Counter[str] = Counter()
    for k in ranked[TOP_CLASSES:]:
        rest.update(counts[k])
    if rest:
        shown["其他"] = dict(rest)
    cities = sorted({c for by_city in shown.values() for c in by_city}, key=lambda c: -sum(v.get(c, 0) for v in shown.values()))
    return shown, cities


def hours_average(session: Session, months: list[str], rules: DataRules) -> HoursAverage:
    m = InstrumentMonth
    per = session.execute(select(m.instrument_id, func.sum(m.effective_hours), func.sum(m.external_hours),
                                 func.count(m.id))
                          .where(m.month.in_(months), m.effective_source != "none")
                          .group_by(m.instrument_id)).all()
    if not per:
        return HoursAverage(0, 0.0, 0.0, rules.national_effective_hours, rules.national_external_hours)
    # an instrument with figures for fewer months counts at its yearly pace
    effective = sum(float(e or 0) * 12 / n for _, e, _, n in per) / len(per)
    external = sum(float(x or 0) * 12 / n for _, _, x, n in per) / len(per)
    return HoursAverage(len(per), round(effective, 1), round(external, 1), rules.national_effective_hours,
                        rules.national_external_hours)


def _per_month(moments: list[tuple[datetime, int]], zone: ZoneInfo, months: list[str]) -> list[tuple[str, int]]:
    sums: Counter[str] = Counter()
    for moment, amount in moments:
        sums[moment.astimezone(zone).strftime("%Y-%m")] += amount
    return [(month, sums.get(month, 0)) for month in months]


def province_view(session: Session, rules: DataRules, tz: str, now: datetime | None = None) -> ProvinceView:
    now = now or utcnow()
    months = last_full_months(12, tz, now)
    zone = ZoneInfo(tz)
    by_class_city, cities = stock(session)
    registered = session.scalar(select(func.count(Instrument.id))) or 0
    onboarded = session.scalar(select(func.count(Instrument.id)).join(Institution, Institution.id == Instrument.institution_id)
                               .where(Institution.status == OnboardingStatus.approved,
                                      Instrument.review_status == APPROVED)) or 0
    window = months + [f"{now.astimezone(zone):%Y-%m}"]
    vouchers = [(at, fen) for at, fen in session.execute(
        select(VoucherRedemption.closed_at, VoucherRedemption.consumed_cents)
        .where(VoucherRedemption.state == "consumed", VoucherRedemption.closed_at.is_not(None)))]
    unmet = [(at, 1) for (at,) in session.execute(select(UnmetDemand.created_at))]
    return ProvinceView(by_class_city, cities, registered, onboarded, hours_average(session, months, rules), months,
                        _per_month(vouchers, zone, window), _per_month(unmet, zone, window))
