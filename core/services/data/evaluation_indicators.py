"""The figures the platform measures for one institution and one year, and the data indicators' points.

Machine-hours, quota, sensor coverage and income come from the stored monthly rows (instrument_months,
filled by core/services/data/monthly_hours.py); the open rate from the catalog; order completion and
disputes from the orders placed in the year; the rating from the ratings given in the year. "The year"
is the calendar year in PLATFORM_TIMEZONE. docs/indicators.md states each formula."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from core.models import Instrument, InstrumentMonth, Order, OrderEvent, OrderStatus, Rating
from core.models._types import local_days
from core.services.data.evaluation_tree import Indicator, Tree, points_for

SENSOR_SOURCES = ("sensor", "mixed")  # a month in which the instrument's sensor reported
DONE = (OrderStatus.confirmed, OrderStatus.settled)
# statuses of an order that got its report (a dispute comes after the report)
REPORTED = (OrderStatus.report_issued, OrderStatus.confirmed, OrderStatus.settled, OrderStatus.disputed)


@dataclass(frozen=True)
class Figures:
    """What the platform measured; every data indicator is a ratio of two of these."""
    instruments: int  # 在册: the institution's instruments in service by the year's end
    instruments_open: int  # of which open for sharing (and not marked share_mode "none")
    instruments_with_months: int  # with a monthly row in the year
    effective_hours: float
    quota_hours: float
    external_hours: float
    months: int  # instrument-months of the year
    sensor_months: int  # of which the sensor reported (effective_source sensor or mixed)
    income_external_fen: int
    income_internal_fen: int
    value_fen: int  # 仪器原值 of the registered instruments that state one
    orders_completed: int
    orders_failed: int  # rejected, or disputed and not (yet) confirmed
    orders_reported: int  # got a report
    orders_disputed: int
    ratings: int
    stars: int  # the sum of the ratings' stars

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def metric_value(metric: str, f: Figures) -> float | None:
    """The figure a data leaf maps to points; None when there is nothing to measure (scores 0)."""
    values = {
        "open_rate": lambda: _ratio(f.instruments_open, f.instruments),
        "effective_utilisation": lambda: _ratio(f.effective_hours, f.quota_hours),
        "external_hours_avg": lambda: _ratio(f.external_hours, f.instruments_with_months),
        "sensor_coverage": lambda: _ratio(f.sensor_months, f.months),
        "completion_rate": lambda: _ratio(f.orders_completed, f.orders_completed + f.orders_failed),
        "dispute_rate": lambda: _ratio(f.orders_disputed, f.orders_reported),
        "rating_avg": lambda: _ratio(f.stars, f.ratings),
        "external_income_ratio": lambda: _ratio(f.income_external_fen, f.value_fen),
    }
    return values[metric]()


def explain(metric: str, f: Figures) -> str:
    """The figure's computation in words, as the score sheet shows it."""
    value = metric_value(metric, f)
    pct = "—" if value is None else f"{100 * value:.1f}%"
    if metric == "open_rate":
        return f"开放 {f.instruments_open} 台 ÷ 在册 {f.instruments} 台 = {pct}"
    if metric == "effective_utilisation":
        return f"有效机时 {f.effective_hours:.1f} h ÷ 定额机时 {f.quota_hours:.1f} h = {pct}"
    if metric == "external_hours_avg":
        shown = "—" if value is None else f"{value:.1f} h"
        return f"对外机时 {f.external_hours:.1f} h ÷ {f.instruments_with_months} 台 = {shown}"
    if metric == "sensor_coverage":
        return f"传感器上报 {f.sensor_months} 个仪器·月 ÷ {f.months} 个仪器·月 = {pct}"
    if metric == "completion_rate":
        return f"完成 {f.orders_completed} 单 ÷ （完成 {f.orders_completed} + 未完成 {f.orders_failed}）= {pct}"
    if metric == "dispute_rate":
        return f"争议 {f.orders_disputed} 单 ÷ 已出报告 {f.orders_reported} 单 = {pct}"
    if metric == "rating_avg":
        shown = "—" if value is None else f"{value:.2f} 星"
        return f"{f.ratings} 条评价，共 {f.stars} 星，平均 {shown}"
    return f"对外收入 ¥{f.income_external_fen / 100:,.2f} ÷ 仪器原值 ¥{f.value_fen / 100:,.2f} = {pct}"


def _instrument_counts(session: Session, institution_id: int, year: int) -> tuple[int, int, int]:
    in_service = or_(Instrument.in_service_date.is_(None), Instrument.in_service_date <= date(year, 12, 31))
    rows = session.execute(select(Instrument.open_for_sharing, Instrument.share_mode, Instrument.value_cny)
                           .where(Instrument.institution_id == institution_id, in_service)).all()
    opened = sum(1 for is_open, mode, _ in rows if is_open and mode != "none")
    value_fen = sum(int(round(value * 100)) for _, _, value in rows if value is not None and value > 0)
    return len(rows), opened, value_fen


def _month_sums(session: Session, institution_id: int, year: int) -> dict[str, Any]:
    sensor = func.sum(case((InstrumentMonth.effective_source.in_(SENSOR_SOURCES), 1), else_=0))
    row = session.execute(
        select(func.count(func.distinct(InstrumentMonth.instrument_id)), func.count(InstrumentMonth.id),
               func.coalesce(func.sum(InstrumentMonth.effective_hours), 0.0),
               func.coalesce(func.sum(InstrumentMonth.quota_hours), 0.0),
               func.coalesce(func.sum(InstrumentMonth.external_hours), 0.0),
               func.coalesce(sensor, 0),
               func.coalesce(func.sum(InstrumentMonth.income_external_fen), 0),
               func.coalesce(func.sum(InstrumentMonth.income_internal_fen), 0))
        .join(Instrument, Instrument.id == InstrumentMonth.instrument_id)
        .where(Instrument.institution_id == institution_id,
               InstrumentMonth.month >= f"{year}-01", InstrumentMonth.month <= f"{year}-12")).one()
    keys = ("instruments", "months", "effective", "quota", "external", "sensor", "income_external", "income_internal")
    return dict(zip(keys, row))


def _order_counts(session: Session, institution_id: int, year: int, tz: str) -> tuple[int, int, int, int]:
    lo, hi = local_days(date(year, 1, 1), date(year, 12, 31), tz)
    disputed_ids = select(OrderEvent.order_id).where(OrderEvent.to_status == OrderStatus.disputed.value)
    reported_ids = select(OrderEvent.order_id).where(OrderEvent.to_status == OrderStatus.report_issued.value)
    rows = session.execute(
        select(Order.status, Order.id.in_(disputed_ids), Order.id.in_(reported_ids))
        .where(Order.institution_id == institution_id, Order.created_at >= lo, Order.created_at < hi)).all()
    completed = failed = reported = disputed = 0
    for status, was_disputed, was_reported in rows:
        was_disputed = bool(was_disputed) or status == OrderStatus.disputed
        if status in DONE:
            completed += 1
        elif status == OrderStatus.rejected or was_disputed:
            failed += 1
        if status in REPORTED or was_reported or was_disputed:
            reported += 1
        disputed += was_disputed
    return completed, failed, reported, disputed


def _rating_counts(session: Session, institution_id: int, year: int, tz: str) -> tuple[int, int]:
    lo, hi = local_days(date(year, 1, 1), date(year, 12, 31), tz)
    count, stars = session.execute(
        select(func.count(Rating.id), func.coalesce(func.sum(Rating.stars), 0))
        .join(Order, Order.id == Rating.order_id)
        .where(Order.institution_id == institution_id, Rating.created_at >= lo, Rating.created_at < hi)).one()
    return int(count), int(stars)


def measure(session: Session, institution_id: int, year: int, tz: str) -> Figures:
    """Every figure of one institution for one year."""
    instruments, opened, value_fen = _instrument_counts(session, institution_id, year)
    months = _month_sums(session, institution_id, year)
    completed, failed, reported, disputed = _order_counts(session, institution_id, year, tz)
    ratings, stars = _rating_counts(session, institution_id, year, tz)
    return Figures(
        instruments=instruments, instruments_open=opened, instruments_with_months=int(months["instruments"]),
        effective_hours=round(float(months["effective"]), 2), quota_hours=round(float(months["quota"]), 2),
        external_hours=round(float(months["external"]), 2), months=int(months["months"]),
        sensor_months=int(months["sensor"]), income_external_fen=int(months["income_external"]),
        income_internal_fen=int(months["income_internal"]), value_fen=value_fen, orders_completed=completed,
        orders_failed=failed, orders_reported=reported, orders_disputed=disputed, ratings=ratings, stars=stars)


@dataclass(frozen=True)
class DataScore:
    leaf: Indicator
    value: float | None
    points: float
    explanation: str


def data_scores(tree: Tree, figures: Figures) -> list[DataScore]:
    """Each data leaf of the tree: its figure, its points and how the figure was computed."""
    scores = []
    for leaf in tree.data_leaves():
        value = metric_value(leaf.metric or "", figures)
        scores.append(DataScore(leaf, value, points_for(leaf, value), explain(leaf.metric or "", figures)))
    return scores
