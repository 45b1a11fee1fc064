"""`flask data backfill-demo`: the whole demo history in the caller's one transaction (see demo_history.py).

Order of the work: plan profiles and schedules, plan the orders (their visits become runs), replay the
sensors (the injected SensorReplay, which lives with the tracker in iot/), drive the orders, file the
自报 hours, compute the monthly figures and the idle reports the scheduled job would have made, and
check the ledger. A second run finds the history and does nothing; --force rebuilds it, but never over
orders the backfill did not place.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.config import Settings
from core.errors import BusinessRuleViolation, InvalidInput
from core.models import (IdleReport, InstrumentMonth, InstrumentStateInterval, LedgerPosting, LedgerTransaction,
                         Notification, Order, OrderEvent, OrderUsage, Payment, ProfitShare, Rating, Refund, Report,
                         SelfReportedHours, SlotHold, UsageMonthVersion, User, VoucherRedemption)
from core.models._types import utcnow
from core.report_storage import ReportStorage
from core.services.data import idle_report
from core.services.data.demo_history import (DAY, DEMO_OPENID, SATURATED_HOURS_YEAR, Profile, ProgressFactory,
                                             SensorReplay, Window, institution_admin, plan_history, window_of)
from core.services.data.demo_order_run import CUSTOMER_CITIES, run_orders
from core.services.data.demo_orders import plan_orders
from core.services.data.demo_round import DemoRoundSummary, EncoderFactory, demo_round_and_check, forget_demo_round
from core.services.data.monthly_hours import refresh_months
from core.services.data.self_reports import report_hours
from core.services.orders.ledger import ledger_problems
from core.services.usage.month_totals import month_bounds

MAX_MONTHS = 24
NOTES = {"none": "未接入传感器，按上机登记本统计", "silent": "传感器故障期间按上机登记补报", "low": "按仪器使用登记统计"}


class UnbalancedHistory(RuntimeError):
    """The simulated orders left the books unbalanced: a bug to fix, never a history to keep."""


@dataclass
class BackfillSummary:
    window: Window
    already: str | None = None  # why nothing was done
    profiles: Counter[str] = field(default_factory=Counter)  # usage and sensor kinds
    intervals: int = 0
    bookable: int = 0  # instruments with a listing that can be ordered (approved, shared, active)
    removed_live: int = 0  # intervals the live simulator wrote after the window
    orders: Counter[str] = field(default_factory=Counter)
    ratings: int = 0
    self_reports: int = 0
    idle_reports: list[tuple[str, str, int, int]] = field(default_factory=list)  # from, to, listed, idle
    saturated: list[str] = field(default_factory=list)  # codes at ≥ 1,300 h a year of 有效机时
    zero_hours: list[str] = field(default_factory=list)  # codes with no 有效机时 in the window
    evaluation: DemoRoundSummary | None = None  # the published round and the purchase checks


def _demo_orders(session: Session) -> Sequence[int]:
    return session.scalars(select(Order.id).join(User, User.id == Order.user_id)
                           .where(User.wechat_openid.like(DEMO_OPENID + "%"))).all()


def history_present(session: Session, window: Window) -> str | None:
    """Why the window already has history, or None. The backfill's people (made in the same transaction as
    everything else, even when no listing could be booked) mark a history it wrote."""
    if session.scalar(select(func.count(User.id)).where(User.wechat_openid.like(DEMO_OPENID + "%"))):
        return "演示历史已经回填过，本次不再改动。如需按新参数重建，请加 --force。"
    stored = session.scalar(select(func.count(InstrumentStateInterval.id))
                            .where(InstrumentStateInterval.start_at < window.end))
    if stored:
        return (f"模拟期内已有 {stored} 段传感器状态记录（不是本命令写的），本次不再改动。"
                "如确认都是演示数据，请加 --force 重建。")
    return None


def _chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def forget_demo_history(session: Session, window: Window) -> None:
    """--force: remove what an earlier backfill wrote, refusing if any order was placed by someone else."""
    demo = list(_demo_orders(session))
    real = (session.scalar(select(func.count(Order.id))) or 0) - len(demo)
    if real:
        raise BusinessRuleViolation(f"平台上有 {real} 个不是演示历史生成的订单，--force 不会覆盖真实数据。"
                                    "请在全新的演示数据库上重建（make clean 后 make demo）。", code="real_orders")
    forget_demo_round(session)
    for ids in _chunks(demo):
        transactions = select(LedgerTransaction.id).where(LedgerTransaction.order_id.in_(ids))
        session.execute(delete(LedgerPosting).where(LedgerPosting.transaction_id.in_(transactions)))
        for model in (Notification, Rating, Report, OrderUsage, SlotHold, OrderEvent, Refund, ProfitShare,
                      VoucherRedemption, LedgerTransaction, Payment):
            session.execute(delete(model).where(model.order_id.in_(ids)))
        session.execute(delete(Order).where(Order.id.in_(ids)))
    months = list(window.months)
    session.execute(delete(InstrumentStateInterval))  # the whole sensor history is simulated again
    for model in (UsageMonthVersion, InstrumentMonth, SelfReportedHours):
        session.execute(delete(model).where(model.month.in_(months)))
    session.execute(delete(IdleReport).where(IdleReport.period_from >= months[0], IdleReport.period_to <= months[-1]))
    session.flush()


def _drop_live_after(session: Session, window: Window) -> int:
    """Intervals the live demo simulator wrote after the window: the history is written before them, and
    the tracker can only append, so they go (the live status returns with the simulator's next readings)."""
    removed = session.execute(delete(InstrumentStateInterval)
                              .where(InstrumentStateInterval.start_at >= window.end)).rowcount
    return int(removed or 0)


def file_self_reports(session: Session, profiles: Sequence[Profile], window: Window, seed: int, settings: Settings,
                      now: datetime) -> int:
    """自报 hours, filed by each institution's admin a few days after the month: for instruments without a
    sensor and months a silent sensor missed, what the logbook says; and the little-used institution
    reports ~150 h a month for instruments whose sensors see a small fraction of that."""
    rng = random.Random(f"{seed}:self-reports")
    tz = settings.orders.timezone
    filed = 0
    for p in profiles:
        for month in window.months:
            lo, hi = month_bounds(month, tz)
            true = p.on_hours(lo.timestamp(), hi.timestamp())
            if p.sensor == "none":
                kind, hours = "none", true * rng.uniform(0.9, 1.15)
            elif p.usage == "low":
                kind, hours = "low", rng.uniform(135, 165)
            elif p.silent and p.silent[0] < hi.timestamp() and p.silent[1] > lo.timestamp():
                kind, hours = "silent", true * rng.uniform(0.95, 1.1)
            else:
                continue
            admin = institution_admin(session, p.institution_id, p.institution_code, p.institution_name)
            filed_at = min(now, hi + timedelta(days=rng.uniform(2, 8)))
            report_hours(session, admin, p.code, month, round(hours * 2) / 2, NOTES[kind], tz, now=filed_at)
            filed += 1
    return filed


def compute_reports(session: Session, window: Window, settings: Settings, now: datetime) -> list[IdleReport]:
    """The monthly figures of every simulated month, then each two-month idle report as the scheduled job
    would have made it on the first of the next odd month (oldest first, so each compares with the last)."""
    rules, tz = settings.data, settings.orders.timezone
    refresh_months(session, window.months, rules, tz, now)
    made = []
    for period_from, period_to in window.periods():
        after = month_bounds(period_to, tz)[1].astimezone(ZoneInfo(tz)).date()
        due = datetime.combine(after, time(rules.idle_report_hour), ZoneInfo(tz)).astimezone(timezone.utc)
        made.append(idle_report.generate(session, period_from, period_to, rules, tz, idle_report.SCHEDULED_BY,
                                         now=min(due, now)))
    return made


def _figures(session: Session, summary: BackfillSummary, profiles: Sequence[Profile]) -> None:
    window = summary.window
    ids = {p.instrument_id: p.code for p in profiles}
    days = (window.end - window.start).total_seconds() / DAY
    rows = session.execute(select(InstrumentMonth.instrument_id, func.sum(InstrumentMonth.effective_hours))
                           .where(InstrumentMonth.month.in_(window.months))
                           .group_by(InstrumentMonth.instrument_id)).all()
    for iid, hours in rows:
        if iid in ids and (hours or 0) >= SATURATED_HOURS_YEAR * days / 365:
            summary.saturated.append(ids[iid])
        elif iid in ids and not hours:
            summary.zero_hours.append(ids[iid])
    summary.ratings = session.scalar(select(func.count(Rating.id))) or 0


def backfill(session: Session, settings: Settings, *, months: int = 12, seed: int = 1, instruments: int | None = None,
             force: bool = False, sensor_replay: SensorReplay, storage: ReportStorage, progress: ProgressFactory,
             encoder: EncoderFactory, now: datetime | None = None) -> BackfillSummary:
    """Simulate the last `months` full months for the catalog (or a seeded slice of `instruments`), then
    a published evaluation round and two purchase checks (`encoder` gives the search model's encoder)."""
    if not settings.demo_mode:
        raise BusinessRuleViolation("只有演示模式（DEMO_MODE=1）才能回填演示历史：它会写入模拟的传感器记录、订单和报告，"
                                    "不能出现在真实平台上。", code="demo_mode_off")
    if not 1 <= months <= MAX_MONTHS:
        raise InvalidInput(f"--months 须在 1 到 {MAX_MONTHS} 之间。", code="invalid_months")
    if instruments is not None and instruments < 1:
        raise InvalidInput("--instruments 至少为 1。", code="invalid_instruments")
    now = now or utcnow()
    window = window_of(months, settings.orders.timezone, now)
    summary = BackfillSummary(window)
    if force:
        forget_demo_history(session, window)
    else:
        summary.already = history_present(session, window)
        if summary.already:
            return summary
    summary.removed_live = _drop_live_after(session, window)
    profiles = plan_history(session, window, seed, instruments)
    if not profiles:
        raise BusinessRuleViolation("目录里还没有仪器：先导入目录（flask catalog import data/demo_catalog.jsonl）。",
                                    code="empty_catalog")
    summary.profiles = Counter([p.usage for p in profiles] + [f"sensor:{p.sensor}" for p in profiles])
    plans = plan_orders(session, profiles, window, seed, settings.orders, CUSTOMER_CITIES)
    summary.bookable = sum(p.bookable for p in profiles)
    summary.intervals = sensor_replay(session, profiles, window, seed, progress)
    summary.orders = run_orders(session, plans, window, seed, settings, storage, progress, now)
    summary.self_reports = file_self_reports(session, profiles, window, seed, settings, now)
    with progress("月度机时与闲置仪器通报", len(window.periods()) + 1) as bar:
        reports = compute_reports(session, window, settings, now)
        bar.update(len(reports) + 1)
    summary.idle_reports = [(r.period_from, r.period_to, r.body["totals"]["listed"], r.body["totals"]["idle"])
                            for r in reports]
    _figures(session, summary, profiles)
    with progress("年度评价与新购查重", 1) as bar:
        summary.evaluation = demo_round_and_check(session, settings, window, profiles, seed, encoder, now)
        bar.update(1)
    problems = ledger_problems(session)
    if problems:  # never commit money that does not add up: the whole history is rolled back
        raise UnbalancedHistory("演示历史的账目不平，已全部回滚：" + "; ".join(problems[:10]))
    return summary
