"""The lab's to-do list: what an institution's staff must act on now, counted from the orders themselves
(not from notifications), so staff created after an order was paid still see it.

Each item is a condition on orders, so the count on 今日待办 and the order list filtered to that item
are the same query and cannot disagree. Days are the platform's days (PLATFORM_TIMEZONE)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.orm import Session

from core.models import Order, OrderEvent, OrderStatus, Rating, Service
from core.models._types import local_today

# samples are expected once the order is paid or accepted, and no longer once received
AWAITING_SAMPLES = (OrderStatus.paid, OrderStatus.accepted)
AWAITING_REPORT = (OrderStatus.samples_received, OrderStatus.testing)


@dataclass(frozen=True)
class TodoKind:
    key: str
    label: str
    hint: str


TODO_KINDS: tuple[TodoKind, ...] = (
    TodoKind("to_accept", "待受理", "已付款，等待接单或拒单"),
    TodoKind("samples_due", "今明到样", "今天或明天送达、预约到场的样品（含逾期未到）"),
    TodoKind("testing", "检测中", "已收样或正在检测"),
    TodoKind("reports_due", "报告今明到期", "按承诺周期今天或明天应出报告"),
    TodoKind("reports_overdue", "报告已逾期", "超过承诺周期仍未出报告"),
    TodoKind("disputes", "纠纷待处理", "用户对报告提出异议"),
    TodoKind("ratings_unreplied", "评价待回复", "用户已评价，实验室尚未回复"),
)
TODO_BY_KEY = {kind.key: kind for kind in TODO_KINDS}


@dataclass(frozen=True)
class TodoCount:
    key: str
    label: str
    hint: str
    count: int


def report_due_day(received_at: datetime, turnaround_days: int, timezone: str) -> date:
    """The day a report is promised by: the local day the samples came in plus the service's turnaround
    in calendar days (the same rule as the staff's overdue alerts in people/staff_deadlines)."""
    aware = received_at if received_at.tzinfo else received_at.replace(tzinfo=ZoneInfo("UTC"))
    return aware.astimezone(ZoneInfo(timezone)).date() + timedelta(days=turnaround_days)


def samples_received_at():  # type: ignore[no-untyped-def]
    """order id -> when its samples were (last) received, from the audit log."""
    return (select(OrderEvent.order_id, func.max(OrderEvent.at).label("at"))
            .where(OrderEvent.to_status == OrderStatus.samples_received.value)
            .group_by(OrderEvent.order_id).subquery())


def _report_due_ids(session: Session, institution_id: int, timezone: str, today: date, overdue: bool) -> list[int]:
    received = samples_received_at()
    rows = session.execute(
        select(Order.id, received.c.at, Service.turnaround_days)
        .join(Service, Service.id == Order.service_id).join(received, received.c.order_id == Order.id)
        .where(Order.institution_id == institution_id, Order.status.in_(AWAITING_REPORT),
               Service.turnaround_days.is_not(None)))
    ids = []
    for order_id, at, days in rows:
        due = report_due_day(at, days, timezone)
        if (due < today) if overdue else (today <= due <= today + timedelta(days=1)):
            ids.append(order_id)
    return ids


def todo_condition(session: Session, institution_id: int, key: str, timezone: str,
                   now: datetime | None = None) -> ColumnElement[bool]:
    """The orders on to-do item `key` (ANDed with the institution by the caller); an unknown key matches none."""
    today = local_today(timezone, now)
    if key == "to_accept":
        return Order.status == OrderStatus.paid
    if key == "samples_due":
        # by the end of tomorrow, local: a mailed parcel's day, or a visit's booked start
        day_after = datetime.combine(today + timedelta(days=2), time(0), tzinfo=ZoneInfo(timezone))
        return and_(Order.status.in_(AWAITING_SAMPLES),
                    or_(Order.delivery_date <= today + timedelta(days=1), Order.slot_start < day_after))
    if key == "testing":
        return Order.status.in_(AWAITING_REPORT)
    if key in ("reports_due", "reports_overdue"):
        return Order.id.in_(_report_due_ids(session, institution_id, timezone, today, key == "reports_overdue"))
    if key == "disputes":
        return Order.status == OrderStatus.disputed
    if key == "ratings_unreplied":
        return Order.id.in_(select(Rating.order_id).where(Rating.lab_reply.is_(None)))
    return false()


def lab_todos(session: Session, institution_id: int, timezone: str = "Asia/Shanghai",
              now: datetime | None = None) -> list[TodoCount]:
    counts = []
    for kind in TODO_KINDS:
        condition = todo_condition(session, institution_id, kind.key, timezone, now)
        count = session.scalar(select(func.count(Order.id)).where(Order.institution_id == institution_id, condition))
        counts.append(TodoCount(kind.key, kind.label, kind.hint, int(count or 0)))
    return counts


def to_accept_count(session: Session, institution_id: int) -> int:
    """The workbench's navigation badge: paid orders waiting for the lab's answer."""
    return int(session.scalar(select(func.count(Order.id)).where(
        Order.institution_id == institution_id, Order.status == OrderStatus.paid)) or 0)
